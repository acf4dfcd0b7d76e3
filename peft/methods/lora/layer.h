// LoRA layers: y = base(x) + s · B(A(dropout(x))), per adapter, on a Linear (either weight
// layout: GPT-2's Conv1D is `fan_in_fan_out`) or an Embedding; DoRA on Linear. The common
// case (one plain adapter on a plain Linear) runs as one fused op, engine::lowrank_linear.
#pragma once
#include <map>
#include <memory>
#include <string>

#include "engine/nn/layers.h"
#include "peft/core/module_dict.h"
#include "peft/core/tuner_layer.h"

namespace peft::lora {

// The fused forward (engine/ops/lowrank_linear.h) is on by default; tests and the benchmark
// switch it off to compare against the composite base(x) + s·B(A(x)). Process-wide.
void set_fused_forward(bool on);
bool fused_forward();

// One adapter's hyper-parameters on one layer (rank_pattern / alpha_pattern resolved).
struct LoraSettings {
  int64_t r = 8;
  double scaling = 1.0;  // α/r or α/√r
  double dropout = 0.0;
  bool use_dora = false;
  bool lora_bias = false;
};

class LoraLinear : public TunerLayer {
 public:
  explicit LoraLinear(engine::nn::ModulePtr base);  // a Linear or GPT-2 Conv1D
  std::string type_name() const override { return "LoraLinear"; }
  int64_t in_features() const { return in_; }
  int64_t out_features() const { return out_; }

  // Adds adapter `name`: A [r,in] Kaiming-uniform(a=√5) from `gen`, B [out,r] zero (the
  // identity start); DoRA's magnitude starts at the column norms of W.
  void add_adapter(const std::string& name, const LoraSettings& settings, engine::Generator& gen);
  void remove_adapter(const std::string& name) override;
  bool has_adapter(const std::string& name) const override { return settings_.count(name) > 0; }
  std::vector<std::pair<std::string, Tensor>> adapter_tensors(const std::string& name) const override;
  Tensor delta_weight(const std::string& name) const override;  // s·B·A, [out,in]

  const LoraSettings& settings(const std::string& name) const { return settings_.at(name); }
  // DoRA: m := ||W + s·B·A|| per output row (PEFT's dora_init), after A or B changed.
  void reset_dora_magnitude(const std::string& name);
  Tensor& lora_A(const std::string& name) const;  // [r, in]
  Tensor& lora_B(const std::string& name) const;  // [out, r]
  // The base weight in torch layout [out, in] (a view for Conv1D; dequantized for QLoRA).
  virtual Tensor base_weight_out_in() const;
  // Overwrites the base weight with `w` [out, in] (PiSSA / OLoRA's residual W − s·B·A), in
  // the base's own layout and dtype.
  virtual void set_base_weight_out_in(const Tensor& w);

 protected:
  // For bases that are not a Linear (QLoRA's quantized base): the sizes come from the caller.
  LoraLinear(engine::nn::ModulePtr base, int64_t in_features, int64_t out_features);
  Tensor adapted_forward(const Tensor& x, const std::vector<std::string>& adapters) override;
  void merge_into_base(const std::string& name) override;
  void unmerge_from_base(const std::string& name) override;

 private:
  // Whether adapter `name` can run through lowrank_linear (see adapted_forward).
  bool fusable(const std::string& name) const;
  // DoRA's extra output term (peft 0.11 `_apply_dora`), given the dropped-out input.
  Tensor dora_term(const Tensor& x, const Tensor& lora_out, const std::string& name) const;
  Tensor dora_weight_norm(const std::string& name) const;  // ||W + s·BA|| per output row, [out]

  int64_t in_, out_;
  std::map<std::string, LoraSettings> settings_;
  std::map<std::string, Tensor> merged_dora_norms_;  // the norm used at merge time, for unmerge
  std::shared_ptr<ModuleDict> A_, B_, dropout_;
  std::shared_ptr<ParameterDict> magnitude_;
};

class LoraEmbedding : public TunerLayer {
 public:
  explicit LoraEmbedding(engine::nn::ModulePtr base);
  std::string type_name() const override { return "LoraEmbedding"; }
  // A [r, num] zero, B [dim, r] N(0,1) (PEFT's embedding init).
  void add_adapter(const std::string& name, const LoraSettings& settings, engine::Generator& gen);
  void remove_adapter(const std::string& name) override;
  bool has_adapter(const std::string& name) const override { return settings_.count(name) > 0; }
  std::vector<std::pair<std::string, Tensor>> adapter_tensors(const std::string& name) const override;
  Tensor delta_weight(const std::string& name) const override;  // (B·A)ᵀ·s, [num, dim]
  std::string merge_refusal(const std::string& name) const override { (void)name; return ""; }

 protected:
  Tensor adapted_forward(const Tensor& x, const std::vector<std::string>& adapters) override;
  void merge_into_base(const std::string& name) override;
  void unmerge_from_base(const std::string& name) override;

 private:
  engine::nn::Embedding& base_embedding() const;
  std::map<std::string, LoraSettings> settings_;
  std::shared_ptr<ParameterDict> A_, B_;
};

}  // namespace peft::lora
