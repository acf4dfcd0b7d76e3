// The PHM layer (see phm.h).
#include "peft/methods/compacter/phm.h"

#include <cmath>

#include "engine/engine.h"

namespace peft::compacter {

namespace {

// nn.init.xavier_normal_ on each [a, b] slice of a [n, a, b] tensor: std = √(2/(a+b)). It is
// adapter-hub's effective W init for every hypercomplex_nonlinearity (its init_W tests the
// value's truthiness first).
Tensor xavier_normal_slices(const engine::Shape& shape, engine::Generator& gen) {
  const double std = std::sqrt(2.0 / static_cast<double>(shape[1] + shape[2]));
  return engine::normal(shape, 0.0, std, engine::DType::f32, gen);
}

}  // namespace

Tensor PhmLayer::init_rule(const CompacterConfig& c, engine::Generator& gen) {
  const int64_t n = c.phm_dim;
  return c.phm_c_init == "normal" ? engine::normal({n, n, n}, 0.0, c.phm_init_range, engine::DType::f32, gen)
                                  : engine::uniform({n, n, n}, -1.0, 1.0, engine::DType::f32, gen);
}

PhmLayer::PhmLayer(const CompacterConfig& c, int64_t in, int64_t out, const Tensor& shared_rule, engine::Generator& gen)
    : n_(c.phm_dim), factorized_(c.factorized_phm_W), shared_rule_(shared_rule) {
  engine::check<engine::ConfigError>(in % n_ == 0 && out % n_ == 0, "[COMPACTER] phm_dim ", n_,
                                     " must divide the PHM layer's sizes ", in, " -> ", out,
                                     " (choose reduction_factor so the bottleneck is a multiple of phm_dim)");
  const int64_t a = in / n_, b = out / n_;
  if (factorized_) {
    register_parameter("W_left", xavier_normal_slices({n_, a, c.phm_rank}, gen));   // [n, in/n, r]
    register_parameter("W_right", xavier_normal_slices({n_, c.phm_rank, b}, gen));  // [n, r, out/n]
  } else {
    register_parameter("W", xavier_normal_slices({n_, a, b}, gen));  // [n, in/n, out/n]
  }
  if (!shared_rule_.defined()) register_parameter("phm_rule", init_rule(c, gen), c.learn_phm);
  if (c.phm_bias) register_parameter("b", engine::zeros({out}));
}

Tensor PhmLayer::kron_sum(const Tensor& rule, const Tensor& W) {
  const int64_t n = rule.size(0), a = W.size(1), b = W.size(2);
  Tensor r5 = engine::reshape(rule, {n, n, 1, n, 1});  // rule[i,p,q]
  Tensor w5 = engine::reshape(W, {n, 1, a, 1, b});     // W[i,r,s]
  Tensor k = engine::reshape(r5 * w5, {n, n * a, n * b});  // [i, p·a+r, q·b+s] = kron(rule[i], W[i])
  return engine::sum(k, {0});                              // [n·a, n·b]
}

Tensor PhmLayer::kronecker_weight() {
  Tensor W = factorized_ ? engine::matmul(param("W_left"), param("W_right")) : param("W");  // [n,a,r]@[n,r,b] -> [n,a,b]
  return kron_sum(shared_rule_.defined() ? shared_rule_ : param("phm_rule"), W);
}

Tensor PhmLayer::forward(const Tensor& x) {
  Tensor bias = has_param("b") ? param("b") : Tensor{};
  return engine::linear(x, kronecker_weight(), bias, engine::WeightLayout::in_out);  // [..., in] @ [in, out]
}

}  // namespace peft::compacter
