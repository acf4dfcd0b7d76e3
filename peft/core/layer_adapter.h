// LayerAdapter: the Adapter of every layer-injection method (LoRA family, IA3, LN tuning...).
// It selects the target modules (targets.h), wraps each in the method's TunerLayer (or adds
// itself to the method's TunerLayer already there, for a second adapter), and maps the
// layers' tensors to PEFT's file keys: "base_model.model." + module path + "." + suffix.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/core/tensor.h"
#include "peft/core/adapter.h"
#include "peft/core/tuner_layer.h"

namespace peft {

class LayerAdapter : public Adapter {
 public:
  using Adapter::Adapter;
  void attach(models::PretrainedModel& model, uint64_t seed) override;
  void detach(models::PretrainedModel& model) override;
  void set_active(bool on) override;

  std::string merge_refusal() const override;
  void merge() override;
  void unmerge() override;
  bool merged() const override;

  const TunerConfig& tuner_config() const { return static_cast<const TunerConfig&>(config()); }
  // (module path, layer) for every adapted module, in model order.
  const std::vector<std::pair<std::string, std::shared_ptr<TunerLayer>>>& layers() const { return layers_; }

 protected:
  // Whether the method can adapt this module: a base layer kind it supports, or its own
  // TunerLayer (to which a further adapter is added).
  virtual bool accepts(const engine::nn::Module& module) const = 0;
  // Adds this adapter at `path`: returns a new TunerLayer wrapping `module`, or `module`
  // itself (a TunerLayer of this method) after adding the adapter to it. `gen` draws the
  // random initialisation (one generator for all layers, in model order).
  virtual std::shared_ptr<TunerLayer> add_to(const std::string& path, const engine::nn::ModulePtr& module,
                                             engine::Generator& gen) = 0;
  // Model-level setup before / after the layers (VeRA's shared projections).
  virtual void before_layers(models::PretrainedModel& model, const std::vector<std::string>& targets) {
    (void)model, (void)targets;
  }
  NamedTensors method_tensors() const override;
  // Model type of the attached model ("bert", "gpt2", "t5"), for default tables.
  const std::string& model_type() const { return model_type_; }

 private:
  std::vector<std::pair<std::string, std::shared_ptr<TunerLayer>>> layers_;
  std::string model_type_;
};

}  // namespace peft
