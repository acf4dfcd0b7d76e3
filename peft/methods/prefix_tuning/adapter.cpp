// Prefix tuning's encoder, K/V layout and batch edits (see adapter.h).
#include "peft/methods/prefix_tuning/adapter.h"

#include "engine/engine.h"
#include "peft/methods/prompt_common/batch_edit.h"

namespace peft::prefix_tuning {

ProjectedPrefixEncoder::ProjectedPrefixEncoder(int64_t rows, int64_t dim, int64_t hidden, int64_t width,
                                               engine::Generator& gen)
    : PromptEncoder(rows, dim, gen) {
  register_module("transform", std::make_shared<prompt::MlpHead>(std::vector<int64_t>{dim, hidden, width}, "tanh", gen));
}

Tensor ProjectedPrefixEncoder::table() const {
  return child_as<prompt::MlpHead>("transform")->forward(embedding().weight());  // [n,D] -> [n,2L·D]
}

std::vector<models::LayerKV> layer_prefixes(const Tensor& table, int64_t layers, int64_t heads, int64_t submodules) {
  const int64_t n = table.size(0), blocks = 2 * layers;
  engine::check<engine::ShapeError>(table.dim() == 2 && table.size(1) % (blocks * heads) == 0, "[PREFIX_TUNING] table ",
                                    engine::shape_str(table.shape()), " is not [n, 2·", layers, "·", heads, "·d]");
  const int64_t d = table.size(1) / (blocks * heads);
  const Tensor kv = table.view({n, blocks, heads, d}).permute({1, 2, 0, 3});  // [2L,H,n,d]
  std::vector<models::LayerKV> out;
  for (int64_t l = 0; l < layers; ++l) {
    const int64_t k = (2 * submodules * l) % blocks;  // even, so V = k + 1 stays in range
    out.push_back({kv.select(0, k).unsqueeze(0), kv.select(0, k + 1).unsqueeze(0)});  // [1,H,n,d] each
  }
  return out;
}

std::shared_ptr<prompt::PromptEncoder> PrefixTuningAdapter::make_encoder(models::PretrainedModel& model,
                                                                         engine::Generator& gen) {
  (void)model;
  auto& c = static_cast<PrefixTuningConfig&>(mutable_prompt_config());
  if (!c.encoder_hidden_size) c.encoder_hidden_size = c.dim();  // _prepare_prompt_learning_config
  c.validate();  // token_dim divisible by the heads, now that both are known
  const int64_t n = c.virtual_tokens(), width = 2 * c.layers() * c.dim();
  // PEFT builds the projection only for training; a loaded adapter is the [n, 2L·D] table.
  if (c.prefix_projection && !c.inference_mode)
    return std::make_shared<ProjectedPrefixEncoder>(n, c.dim(), *c.encoder_hidden_size, width, gen);
  return std::make_shared<prompt::PromptEncoder>(n, width, gen);
}

void PrefixTuningAdapter::prepare(ForwardContext& ctx) const {
  const PrefixTuningConfig& c = prefix_config();
  ctx.prefix = layer_prefixes(prompt_table(), c.layers(), c.heads(), c.submodules());
  prompt::extend_masks_for_prefix(ctx, c.virtual_tokens(), model().is_encoder_decoder(), config().task_type.value_or(""));
}

}  // namespace peft::prefix_tuning
