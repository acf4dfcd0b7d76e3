// BOFT on Linear layers (see layer.h and README.md).
#include "peft/methods/boft/layer.h"

#include <algorithm>
#include <cmath>

#include "engine/engine.h"
#include "peft/methods/boft/butterfly.h"
#include "peft/methods/oft/cayley.h"

namespace peft::boft {

namespace nn = engine::nn;
using engine::ConfigError;
using engine::DType;

namespace {

// peft's update_layer checks: returns (block_size, block_num) resolved for `in` features.
std::pair<int64_t, int64_t> resolve_blocks(int64_t in, const BoftSettings& s) {
  const int64_t m = s.n_butterfly_factor - 1, step = int64_t{1} << std::max<int64_t>(m, 0);
  int64_t size = s.block_size, num = s.block_num;
  if (size == 0) {
    engine::check<ConfigError>(num > 0 && in % num == 0, "[BOFT] in_features (", in, ") must be divisible by boft_block_num (", num, ")");
    engine::check<ConfigError>(m == 0 || (m <= static_cast<int64_t>(std::log2(num)) && num % step == 0),
                               "[BOFT] boft_block_num (", num, ") does not allow boft_n_butterfly_factor ", s.n_butterfly_factor);
    size = in / num;
  } else {
    engine::check<ConfigError>(in % size == 0, "[BOFT] in_features (", in, ") must be divisible by boft_block_size (", size, ")");
    engine::check<ConfigError>(m == 0 || (in >= size * step && in % (size * step) == 0), "[BOFT] in_features (", in,
                               ") must be a multiple of boft_block_size·2^(boft_n_butterfly_factor−1) (", size * step, ")");
    num = in / size;
  }
  engine::check<ConfigError>(m == 0 || (num % 2 == 0 && size % 2 == 0), "[BOFT] with butterfly factors, boft_block_num (",
                             num, ") and boft_block_size (", size, ") must be even");
  return {size, num};
}

}  // namespace

BoftLinear::BoftLinear(nn::ModulePtr base) : TunerLayer(std::move(base)) {
  nn::Linear* linear = base_linear();
  engine::check<engine::ValueError>(linear != nullptr, "[BOFT] cannot wrap a ", base_layer().type_name());
  in_ = linear->in_features();
  out_ = linear->out_features();
  R_ = register_module("boft_R", std::make_shared<ParameterDict>());
  s_ = register_module("boft_s", std::make_shared<ParameterDict>());
}

void BoftLinear::add_adapter(const std::string& name, const BoftSettings& s, engine::Generator& gen) {
  engine::check<engine::ValueError>(!has_adapter(name), "[BOFT] layer already has adapter '", name, "'");
  const auto [size, num] = resolve_blocks(in_, s);
  const int64_t factors = s.n_butterfly_factor;  // peft's boft_n_butterfly_factor + 1
  std::vector<Tensor> perms;
  for (int64_t i = 0; i < factors; ++i)
    perms.push_back(perm_matrix(block_butterfly_perm(in_, num >> i, size / 2, factors - 1)));
  P_[name] = engine::stack(perms, 0);  // [m, in, in]
  const engine::Shape r_shape = {factors, num, size, size};
  R_->add(name, s.init_weights ? engine::zeros(r_shape) : engine::normal(r_shape, 0.0, 0.1, DType::f32, gen));
  s_->add(name, s.init_weights ? engine::ones({out_, 1}) : engine::normal({out_, 1}, 1.0, 0.1, DType::f32, gen));
  dropout_[name] = s.dropout;
  rng_.seed(gen.seed() + 7919 * (gen.advance(1) + 1));
}

void BoftLinear::remove_adapter(const std::string& name) {
  if (!has_adapter(name)) return;
  R_->erase(name);
  s_->erase(name);
  P_.erase(name);
  dropout_.erase(name);
}

std::vector<std::pair<std::string, Tensor>> BoftLinear::adapter_tensors(const std::string& name) const {
  return {{"boft_P", P_.at(name)}, {"boft_R", R_->at(name)}, {"boft_s", s_->at(name)}};
}

std::string BoftLinear::merge_refusal(const std::string& name) const {
  if (std::string why = TunerLayer::merge_refusal(name); !why.empty()) return why;
  for (double v : s_->at(name).to_vector<double>())
    if (v == 0.0) return "boft_s has a zero entry, so unmerging could not restore the weight";
  return "";
}

Tensor BoftLinear::orthogonal_blocks(const std::string& name, bool dropout) {
  const Tensor& r = R_->at(name);
  const int64_t m = r.size(0), d = r.size(1), h = r.size(2);
  Tensor q = oft::cayley(r.reshape({m * d, h, h})).reshape({m, d, h, h});
  const double p = dropout_.at(name);
  if (!dropout || p <= 0) return q;
  // peft's MultiplicativeDropoutLayer: in one random factor, int(p·d) random blocks become I.
  std::vector<float> mask(static_cast<size_t>(m * d), 0.0f);
  std::vector<int64_t> order(static_cast<size_t>(d));
  for (int64_t j = 0; j < d; ++j) order[j] = j;
  std::shuffle(order.begin(), order.end(), rng_);
  const int64_t factor = static_cast<int64_t>(rng_() % static_cast<uint64_t>(m));
  for (int64_t j = 0; j < static_cast<int64_t>(p * d); ++j) mask[factor * d + order[j]] = 1.0f;
  Tensor keep = engine::from_vector(mask, {m, d, 1, 1}).to(q.device());
  return q * engine::rsub(1.0, keep) + keep * oft::eye(h).to(q.device());
}

Tensor BoftLinear::rotate_input(const Tensor& x, const std::string& name, bool dropout) {
  const Tensor q = orthogonal_blocks(name, dropout);  // [m, blocks, b, b]
  const Tensor& p = P_.at(name);
  Tensor z = x;
  // x·R = x·B_{m-1}···B_0, and x·B_i = ((x·P_i)·BD_i)·P_iᵀ: P_i and P_iᵀ are gathers.
  for (int64_t i = q.size(0) - 1; i >= 0; --i) {
    const std::vector<int64_t> perm = perm_from_matrix(p.select(0, i), "boft_P");
    std::vector<int64_t> inverse(perm.size());
    for (size_t k = 0; k < perm.size(); ++k) inverse[perm[k]] = static_cast<int64_t>(k);
    const int64_t n = static_cast<int64_t>(perm.size());
    z = engine::index_select(z, -1, engine::from_vector(inverse, {n}).to(z.device()));   // x·P_i
    z = oft::block_diag_apply(z, q.select(0, i));                        // ·BD_i
    z = engine::index_select(z, -1, engine::from_vector(perm, {n}).to(z.device()));      // ·P_iᵀ
  }
  return z;
}

Tensor BoftLinear::adapted_forward(const Tensor& x, const std::vector<std::string>& adapters) {
  nn::Linear& linear = *base_linear();
  Tensor z = x;                                   // [..., in]
  Tensor scale;                                   // [out]
  for (auto it = adapters.rbegin(); it != adapters.rend(); ++it) {  // the last adapter's R acts first on x
    z = rotate_input(z, *it, is_training());
    const Tensor s = s_->at(*it).reshape({out_});
    scale = scale.defined() ? scale * s : s;
  }
  Tensor y = engine::linear(z, linear.weight(), {}, linear.layout()) * scale;  // [..., out], frozen W
  const Tensor bias = linear.bias();
  return bias.defined() ? y + bias : y;
}

Tensor BoftLinear::base_weight_out_in() const {
  nn::Linear& linear = *base_linear();
  const Tensor& w = linear.weight();
  return engine::to_dtype(linear.layout() == engine::WeightLayout::out_in ? w : w.t(), DType::f32);
}

void BoftLinear::set_base_weight(const Tensor& w_out_in) {
  nn::Linear& linear = *base_linear();
  engine::copy_(linear.weight(), linear.layout() == engine::WeightLayout::out_in ? w_out_in : w_out_in.t());
}

void BoftLinear::merge_into_base(const std::string& name) {
  engine::NoGradGuard no_grad;
  const Tensor r = rotate_input(oft::eye(in_).to(R_->at(name).device()), name, /*dropout=*/false);  // I·R = R [in, in]
  set_base_weight(engine::matmul(base_weight_out_in(), r.t()) * s_->at(name));  // (W·Rᵀ) ⊙ s
}

void BoftLinear::unmerge_from_base(const std::string& name) {
  engine::NoGradGuard no_grad;
  const Tensor r = rotate_input(oft::eye(in_).to(R_->at(name).device()), name, /*dropout=*/false);  // [in, in]
  set_base_weight(engine::matmul(base_weight_out_in() / s_->at(name), r));  // (W' ⊘ s)·R, Rᵀ·R = I
}

}  // namespace peft::boft
