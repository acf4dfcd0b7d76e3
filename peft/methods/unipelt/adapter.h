// The UniPELT adapter: three sub-methods, each behind its own learned gate.
//   bottleneck  (Pfeiffer placement)  h ← h + g_A(h)·up(f(down(h)))          g_A = mean_t σ(h_t·w + b)
//   LoRA        (query, value)        y = W·x + g_L(x)·(α/r)·B·A·x           g_L = mean_t σ(x_t·w + b)
//   prefix      (every self-attention) K = [g_P·P_k; K], V = [g_P·P_v; V]     g_P = mean_t σ(e_t·w_l + b_l)
// adapter-hub computes g_P from the attention layer's input; our models expose no site
// there, so g_P reads the token embeddings e (T5: the encoder's), one gate per layer.
// File keys: the bottleneck's as BOTTLENECK, base_model.model.<target>.{lora_A,lora_B,
// lora_gate}.*, base_model.model.prefix_tuning.*, base_model.model.prefix_gates.<l>.*.
#pragma once
#include <memory>
#include <utility>
#include <vector>

#include "peft/methods/bottleneck/adapter.h"
#include "peft/methods/mam/prefix.h"
#include "peft/methods/unipelt/config.h"
#include "peft/methods/unipelt/gated_lora.h"

namespace peft::unipelt {

class UnipeltAdapter : public bottleneck::BottleneckAdapter {
 public:
  using BottleneckAdapter::BottleneckAdapter;
  const UnipeltConfig& unipelt_config() const { return static_cast<const UnipeltConfig&>(config()); }
  void attach(models::PretrainedModel& model, uint64_t seed) override;
  void detach(models::PretrainedModel& model) override;
  void set_active(bool on) override;
  void prepare(ForwardContext& ctx) const override;
  std::string merge_refusal() const override;
  bool composable() const override { return false; }
  const std::vector<std::pair<std::string, std::shared_ptr<GatedLoraLinear>>>& lora_layers() const { return lora_; }

 protected:
  NamedTensors method_tensors() const override;

 private:
  void attach_lora(models::PretrainedModel& model, engine::Generator& gen);
  std::vector<std::pair<std::string, std::shared_ptr<GatedLoraLinear>>> lora_;  // path, layer
  std::unique_ptr<mam::Prefix> prefix_;
  std::vector<std::shared_ptr<engine::nn::Linear>> prefix_gates_;  // one Linear(D, 1) per layer
  models::PretrainedModel* model_ = nullptr;
};

}  // namespace peft::unipelt
