// The standard layers. Parameter names match torch.nn's (weight, bias) so HF checkpoints
// load by name; Linear knows its weight layout (torch [out,in] or GPT-2 Conv1D [in,out]).
#pragma once
#include <memory>

#include "engine/nn/module.h"
#include "engine/ops/linalg.h"

namespace engine::nn {

// Parameters start at zero (a checkpoint usually overwrites them); reset_parameters gives
// torch's random init.
class Linear : public UnaryModule {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true,
         WeightLayout layout = WeightLayout::out_in, DType dtype = DType::f32);
  std::string type_name() const override { return layout_ == WeightLayout::out_in ? "Linear" : "Conv1D"; }
  Tensor forward(const Tensor& x) override;
  ModulePtr clone() const override;
  int64_t in_features() const { return in_; }
  int64_t out_features() const { return out_; }
  WeightLayout layout() const { return layout_; }
  Tensor& weight() { return param("weight"); }
  Tensor bias() const;  // undefined when the layer has none
  // torch's default init: Kaiming-uniform(a=√5) weight, U(±1/√in) bias, from `gen`.
  void reset_parameters(Generator& gen);

 private:
  int64_t in_, out_;
  WeightLayout layout_;
};

class Embedding : public UnaryModule {
 public:
  Embedding(int64_t num_embeddings, int64_t dim, int64_t padding_idx = -1, DType dtype = DType::f32);
  std::string type_name() const override { return "Embedding"; }
  Tensor forward(const Tensor& ids) override;  // ids [...] -> [..., dim]
  ModulePtr clone() const override;
  Tensor& weight() { return param("weight"); }
  int64_t num_embeddings() const { return num_; }
  int64_t embedding_dim() const { return dim_; }
  int64_t padding_idx() const { return padding_idx_; }
  // torch's default init: N(0, 1), the padding row zeroed.
  void reset_parameters(Generator& gen);

 private:
  int64_t num_, dim_, padding_idx_;
};

class LayerNorm : public UnaryModule {
 public:
  explicit LayerNorm(int64_t dim, double eps = 1e-5, bool affine = true, DType dtype = DType::f32);
  std::string type_name() const override { return "LayerNorm"; }
  Tensor forward(const Tensor& x) override;
  ModulePtr clone() const override;
  double eps() const { return eps_; }

 private:
  int64_t dim_;
  double eps_;
};

// T5's LayerNorm: x·rsqrt(mean(x²)+eps)·weight, no mean subtraction and no bias.
class RMSNorm : public UnaryModule {
 public:
  explicit RMSNorm(int64_t dim, double eps = 1e-6, DType dtype = DType::f32);
  std::string type_name() const override { return "RMSNorm"; }
  Tensor forward(const Tensor& x) override;
  ModulePtr clone() const override;

 private:
  int64_t dim_;
  double eps_;
};

// Inverted dropout in training mode, identity in eval mode. Draws from its own seeded
// Philox stream so runs are reproducible.
class Dropout : public UnaryModule {
 public:
  explicit Dropout(double p, uint64_t seed = 0);
  std::string type_name() const override { return "Dropout"; }
  Tensor forward(const Tensor& x) override;
  ModulePtr clone() const override;
  double p() const { return p_; }
  Generator& generator() { return gen_; }

 private:
  double p_;
  Generator gen_;
};

// An activation by its HF name: "gelu" (erf), "gelu_new"/"gelu_pytorch_tanh" (tanh),
// "relu", "silu"/"swish", "tanh", "gelu_fast"... (ConfigError for unknown names).
Tensor activation(const std::string& name, const Tensor& x);

}  // namespace engine::nn
