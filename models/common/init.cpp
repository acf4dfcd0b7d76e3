// HF-style weight init and seeded dropout modules (see init.h).
#include "models/common/init.h"

#include <atomic>

#include "engine/autograd/grad_mode.h"
#include "engine/core/error.h"

namespace models::common {
using engine::Tensor;

void normal_init(Tensor& t, double std) {
  engine::NoGradGuard no_grad;
  engine::copy_(t, engine::normal(t.shape(), 0.0, std, engine::DType::f32));
}

void init_bert_like(engine::nn::Module& root, double std) {
  engine::NoGradGuard no_grad;
  const auto modules = root.named_modules();
  for (const auto& [name, module] : modules) {
    const std::string type = module->type_name();
    if (type == "Linear" || type == "Conv1D") {
      normal_init(module->param("weight"), std);
      if (module->has_param("bias")) engine::fill_(module->param("bias"), 0.0);
    } else if (type == "LayerNorm") {
      if (module->has_param("weight")) engine::fill_(module->param("weight"), 1.0);
      if (module->has_param("bias")) engine::fill_(module->param("bias"), 0.0);
    }
  }
  // Embeddings last: HF ties output layers to the input embedding after init, so a tied
  // decoder ends up with the embedding's values (padding row zero included).
  for (const auto& [name, module] : modules) {
    if (module->type_name() != "Embedding") continue;
    auto* emb = static_cast<engine::nn::Embedding*>(module.get());
    normal_init(emb->weight(), std);
    if (emb->padding_idx() >= 0) engine::fill_(emb->weight().select(0, emb->padding_idx()), 0.0);
  }
}

std::shared_ptr<engine::nn::Dropout> make_dropout(double p) {
  static std::atomic<uint64_t> counter{0};
  const uint64_t n = counter.fetch_add(1);
  return std::make_shared<engine::nn::Dropout>(p, 0x5eed0000ull + n * 0x9E3779B97F4A7C15ull);
}

}  // namespace models::common
