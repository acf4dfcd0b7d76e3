// T5Attention and its relative position buckets (see t5_attention.h).
#include "models/t5/t5_attention.h"

#include <cmath>

#include "engine/engine.h"
#include "engine/nn/module_device.h"
#include "engine/ops/attention.h"
#include "models/common/attention_utils.h"
#include "models/common/init.h"

namespace models::t5 {
using engine::nn::Embedding;
using engine::nn::Linear;

int64_t relative_position_bucket(int64_t relative_position, bool bidirectional, int64_t num_buckets,
                                 int64_t max_distance) {
  int64_t bucket = 0, n = relative_position;
  if (bidirectional) {
    num_buckets /= 2;
    if (n > 0) bucket += num_buckets;  // keys after the query use the upper half
    n = std::abs(n);
  } else {
    n = -std::min<int64_t>(n, 0);  // the decoder never sees later keys: they share bucket 0
  }
  const int64_t max_exact = num_buckets / 2;
  if (n < max_exact) return bucket + n;
  // torch evaluates log(n.float() / max_exact) / math.log(max_distance / max_exact) *
  // (num_buckets - max_exact) in float32 and truncates; the same float32 steps truncate
  // ratios that are whole numbers in exact arithmetic (distance 16 of 32 buckets) the same way.
  const float ratio = std::log(float(n) / float(max_exact)) / float(std::log(double(max_distance) / double(max_exact)));
  const int64_t large = max_exact + int64_t(ratio * float(num_buckets - max_exact));
  return bucket + std::min(large, num_buckets - 1);
}

Tensor relative_position_buckets(int64_t q_len, int64_t k_len, int64_t q_offset, bool bidirectional,
                                 int64_t num_buckets, int64_t max_distance) {
  std::vector<int64_t> buckets(size_t(q_len * k_len));
  for (int64_t i = 0; i < q_len; ++i)
    for (int64_t j = 0; j < k_len; ++j)
      buckets[size_t(i * k_len + j)] = relative_position_bucket(j - (q_offset + i), bidirectional, num_buckets, max_distance);
  return engine::from_vector(buckets, {q_len, k_len});
}

T5Attention::T5Attention(const T5Config& c, bool is_decoder, bool has_relative_attention_bias)
    : is_decoder_(is_decoder),
      has_bias_(has_relative_attention_bias),
      num_heads_(c.num_heads),
      num_buckets_(c.relative_attention_num_buckets),
      max_distance_(c.relative_attention_max_distance),
      dropout_(common::make_dropout(c.dropout_rate)) {
  register_module("q", std::make_shared<Linear>(c.d_model, c.inner_dim(), false));
  register_module("k", std::make_shared<Linear>(c.d_model, c.inner_dim(), false));
  register_module("v", std::make_shared<Linear>(c.d_model, c.inner_dim(), false));
  register_module("o", std::make_shared<Linear>(c.inner_dim(), c.d_model, false));
  if (has_bias_) register_module("relative_attention_bias", std::make_shared<Embedding>(num_buckets_, num_heads_));
}

Tensor T5Attention::position_bias(int64_t q_len, int64_t k_len, int64_t q_offset) const {
  engine::check<engine::ValueError>(has_bias_, "[T5Attention] position_bias asked of a layer without "
                                               "relative_attention_bias (only layer 0 of each stack has one)");
  // The encoder's buckets are bidirectional, the decoder's causal (T5Attention.compute_bias).
  Tensor buckets = relative_position_buckets(q_len, k_len, q_offset, !is_decoder_, num_buckets_, max_distance_);
  // Buckets are computed on the host and follow the table (which PEFT may have wrapped).
  const engine::Device device = engine::nn::module_device(*child("relative_attention_bias"));
  Tensor values = call("relative_attention_bias", buckets.to(device));  // [Tq,Tk] -> [Tq,Tk,H]
  return values.permute({2, 0, 1}).unsqueeze(0);              // [1,H,Tq,Tk]
}

namespace {

// K/V of this call, joined with / stored in the cache. Cross-attention computes them from
// the encoder output once; self-attention appends this call's keys to the cached ones.
LayerKV keys_values(const T5Attention& self, const Tensor& hidden, const T5AttentionArgs& a,
                           int64_t num_heads) {
  const bool cross = a.key_value_states.defined();
  if (cross && a.cache && a.cache->k.defined()) return *a.cache;
  const Tensor& source = cross ? a.key_value_states : hidden;
  LayerKV kv{common::split_heads(self.call("k", source), num_heads),  // [B,Tk,H*d] -> [B,H,Tk,d]
             common::split_heads(self.call("v", source), num_heads)};
  if (!a.cache) return kv;
  if (!cross && a.cache->k.defined())
    kv = {engine::concat({a.cache->k, kv.k}, 2), engine::concat({a.cache->v, kv.v}, 2)};  // [B,H,C+T,d]
  *a.cache = kv;
  return kv;
}

}  // namespace

Tensor T5Attention::forward(const Tensor& hidden, const T5AttentionArgs& args) const {
  Tensor q = common::split_heads(call("q", hidden), num_heads_);  // [B,T,H*d] -> [B,H,T,d]
  LayerKV kv = keys_values(*this, hidden, args, num_heads_);
  engine::AttentionOptions opt;
  opt.mask = args.mask;
  opt.bias = args.position_bias;
  opt.causal = args.causal;  // queries are the last T positions: offset by prefix + cache
  opt.scale = 1.0;           // T5 folds 1/√d into the initialisation of q (Mesh TensorFlow)
  opt.dropout_p = is_training() ? dropout_->p() : 0.0;
  opt.generator = &dropout_->generator();
  opt.prefix_k = args.prefix.k, opt.prefix_v = args.prefix.v;
  Tensor context = engine::scaled_dot_product_attention(q, kv.k, kv.v, opt);  // [B,H,T,d]
  return call("o", common::merge_heads(context));                             // [B,T,H*d] -> [B,T,D]
}

}  // namespace models::t5
