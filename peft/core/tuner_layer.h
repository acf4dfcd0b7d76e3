// TunerLayer: the wrapper a layer-injection method puts in place of a target module (PEFT's
// BaseTunerLayer). It keeps the original as child `base_layer` (frozen) and the method's
// tensors per adapter name, and decides which adapters run:
//
//   forward(x) = base(x)                      when adapters are disabled or none is active
//              = adapted_forward(x, active)   otherwise (adapters merged into the base skip)
//
// A method implements adapted_forward, its tensors per adapter (file keys), and either
// delta_weight (then merge/unmerge are W ± ΔW, computed in f32) or its own merge/unmerge.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/nn/layers.h"
#include "engine/nn/module.h"

namespace peft {

using engine::Tensor;

class TunerLayer : public engine::nn::UnaryModule {
 public:
  explicit TunerLayer(engine::nn::ModulePtr base);
  Tensor forward(const Tensor& x) final;

  engine::nn::UnaryModule& base_layer() const;
  // The base as a Linear, or null when it is another kind of layer.
  engine::nn::Linear* base_linear() const;

  // ---- adapters on this layer
  virtual void remove_adapter(const std::string& adapter) = 0;
  virtual bool has_adapter(const std::string& adapter) const = 0;
  // The adapter's tensors by their file-key suffix ("lora_A.weight", "ia3_l", ...).
  virtual std::vector<std::pair<std::string, Tensor>> adapter_tensors(const std::string& adapter) const = 0;
  void set_active(const std::string& adapter, bool on);
  const std::vector<std::string>& active_adapters() const { return active_; }

  // ---- merging
  // "" when `adapter` can be merged exactly, else the reason.
  virtual std::string merge_refusal(const std::string& adapter) const;
  void merge(const std::string& adapter);
  void unmerge(const std::string& adapter);
  bool is_merged(const std::string& adapter) const;
  bool any_merged() const { return !merged_.empty(); }
  // ΔW of an adapter in torch layout [out, in] (f32), for methods whose merge is W + ΔW.
  virtual Tensor delta_weight(const std::string& adapter) const;
  // Called by merge_and_unload before merging: a base that cannot be merged into in place
  // (QLoRA's quantized weight) swaps itself for a full-precision copy first.
  virtual void prepare_merge_and_unload() {}

 protected:
  // The output with `adapters` (active, unmerged, never empty) applied.
  virtual Tensor adapted_forward(const Tensor& x, const std::vector<std::string>& adapters) = 0;
  // Merge hooks; the defaults add / subtract delta_weight (in the base layout) in f32.
  virtual void merge_into_base(const std::string& adapter);
  virtual void unmerge_from_base(const std::string& adapter);
  // Adds `delta` ([out,in] torch layout) times `sign` to the base Linear's weight, in f32.
  void add_to_base_weight(const Tensor& delta, double sign) const;

 private:
  Tensor run(const Tensor& x, const std::vector<std::string>& adapters);
  std::vector<std::string> active_;
  std::vector<std::string> merged_;
};

}  // namespace peft
