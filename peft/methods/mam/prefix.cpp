// MAM / UniPELT's prefix part (see prefix.h).
#include "peft/methods/mam/prefix.h"

#include "engine/engine.h"
#include "peft/methods/prompt_common/batch_edit.h"

namespace peft::mam {

namespace {

int64_t prefix_layers(const models::PretrainedModel& model) {
  if (!model.is_encoder_decoder()) return model.num_layers();
  const auto& c = model.config();  // T5: the decoder's blocks
  auto it = c.find("num_decoder_layers");
  return it != c.end() && it->is_number_integer() ? it->get<int64_t>() : model.num_layers();
}

}  // namespace

Prefix::Prefix(const models::PretrainedModel& model, int64_t length, int64_t bottleneck, engine::Generator& gen)
    : length_(length), layers_(prefix_layers(model)), heads_(model.num_heads()) {
  const int64_t width = 2 * layers_ * heads_ * model.head_dim();  // K and V of every layer
  encoder_ = std::make_shared<prefix_tuning::ProjectedPrefixEncoder>(length, model.hidden_size(), bottleneck, width, gen);
}

std::vector<models::LayerKV> Prefix::layer_kv() const {
  return prefix_tuning::layer_prefixes(encoder_->table(), layers_, heads_, 1);  // [n, 2L·H·d] -> L × [1,H,n,d]
}

NamedTensors Prefix::tensors(const std::string& key_prefix) const {
  NamedTensors out;
  for (const auto& [name, t] : encoder_->named_parameters()) out.emplace_back(key_prefix + "." + name, t);
  return out;
}

void apply_prefix(ForwardContext& ctx, std::vector<models::LayerKV> kv, int64_t n, const models::PretrainedModel& model,
                  const std::string& task_type) {
  engine::check<engine::ValueError>(ctx.prefix.empty(), "[", model.architecture(),
                                    "] two adapters give prefixes in one forward pass");
  ctx.prefix = std::move(kv);
  prompt::extend_masks_for_prefix(ctx, n, model.is_encoder_decoder(), task_type);
}

}  // namespace peft::mam
