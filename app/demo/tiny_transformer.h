// The engine demo's model: a two-block causal transformer over a small vocabulary, built
// only from engine/nn layers, and a rank-r low-rank adapter that wraps any of its Linear
// layers in place (the smallest LoRA, to show injection by module name and the engine's
// frozen-gradient masking; the full PEFT methods live in peft/).
#pragma once
#include <memory>

#include "engine/engine.h"
#include "engine/nn/layers.h"

namespace app::demo {

struct TinyConfig {
  int64_t vocab = 64, dim = 128, heads = 4, layers = 2, ffn = 512, seq = 32;
};

class TinyTransformer : public engine::nn::Module {
 public:
  TinyTransformer(const TinyConfig& cfg, engine::Generator& gen);
  std::string type_name() const override { return "TinyTransformer"; }
  // ids [B,T] -> logits [B,T,vocab]
  engine::Tensor forward(const engine::Tensor& ids) const;
  const TinyConfig& config() const { return cfg_; }

 private:
  engine::Tensor block(int64_t i, const engine::Tensor& h) const;
  TinyConfig cfg_;
};

// y = base(x) + (alpha / r) · B(A(x)), with A ~ Kaiming-uniform and B = 0 so training starts
// exactly at the base model. Only A and B train.
class LowRankAdapter : public engine::nn::UnaryModule {
 public:
  LowRankAdapter(std::shared_ptr<engine::nn::Linear> base, int64_t rank, double alpha, engine::Generator& gen);
  std::string type_name() const override { return "LowRankAdapter"; }
  engine::Tensor forward(const engine::Tensor& x) override;

 private:
  double scale_;
};

}  // namespace app::demo
