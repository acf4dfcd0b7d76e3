// Head splitting, past length, padding masks and per-layer prefixes (see attention_utils.h).
#include "models/common/attention_utils.h"

#include "engine/core/error.h"
#include "engine/ops/shape.h"

namespace models::common {

Tensor split_heads(const Tensor& x, int64_t num_heads) {
  const int64_t B = x.size(0), T = x.size(1), C = x.size(2);
  engine::check<engine::ShapeError>(C % num_heads == 0, "[split_heads] hidden size ", C,
                                    " is not divisible by ", num_heads, " heads");
  return x.view({B, T, num_heads, C / num_heads}).permute({0, 2, 1, 3});  // [B,H,T,D]
}

Tensor merge_heads(const Tensor& x) {
  const int64_t B = x.size(0), H = x.size(1), T = x.size(2), D = x.size(3);
  return x.permute({0, 2, 1, 3}).reshape({B, T, H * D});  // [B,T,H*D]
}

int64_t past_length(const ForwardOptions& options) {
  int64_t n = options.cache ? options.cache->length() : 0;
  if (options.prefix && !options.prefix->empty() && (*options.prefix)[0].k.defined())
    n += (*options.prefix)[0].k.size(2);
  return n;
}

Tensor key_padding_mask(const Tensor& attention_mask, int64_t batch, int64_t length, engine::Device device) {
  // The all-ones default is made on the model's device (the attention op wants one device).
  if (!attention_mask.defined()) return engine::ones({batch, length}, engine::DType::f32, device);
  engine::check<engine::ShapeError>(attention_mask.dim() == 2 && attention_mask.size(1) == length,
                                    "[attention] attention_mask ", engine::shape_str(attention_mask.shape()),
                                    " does not cover ", length, " tokens");
  return attention_mask;
}

LayerKV layer_prefix(const ForwardOptions& options, int64_t layer, int64_t num_heads, int64_t head_dim) {
  if (!options.prefix || options.prefix->empty()) return {};
  engine::check<engine::ShapeError>(layer < int64_t(options.prefix->size()), "[attention] prefix has ",
                                    options.prefix->size(), " layers, layer ", layer, " needs one");
  const LayerKV& kv = (*options.prefix)[size_t(layer)];
  for (const Tensor* t : {&kv.k, &kv.v})
    engine::check<engine::ShapeError>(t->defined() && t->dim() == 4 && t->size(1) == num_heads &&
                                          t->size(3) == head_dim,
                                      "[attention] layer ", layer, " prefix must be [B,", num_heads, ",P,",
                                      head_dim, "], got ",
                                      t->defined() ? engine::shape_str(t->shape()) : std::string("nothing"));
  return kv;
}

}  // namespace models::common
