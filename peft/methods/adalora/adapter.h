// The AdaLoRA adapter (PEFT's AdaLoraModel): SVD-shaped layers on Linear / Conv1D targets, the
// orthogonality regulariser added to the loss, and the rank allocation run after each
// optimizer step (PEFT's `update_and_allocate`).
#pragma once
#include <memory>

#include "peft/core/layer_adapter.h"
#include "peft/methods/adalora/config.h"
#include "peft/methods/adalora/rank_allocator.h"

namespace peft::adalora {

class AdaLoraAdapter : public LayerAdapter {
 public:
  using LayerAdapter::LayerAdapter;
  const AdaLoraConfig& adalora_config() const { return static_cast<const AdaLoraConfig&>(config()); }
  void attach(models::PretrainedModel& model, uint64_t seed) override;

  // orth_reg_weight · mean over every lora_A (‖A·Aᵀ − I‖_F) and lora_B (‖Bᵀ·B − I‖_F); only
  // while the adapter trains (PEFT adds it for its trainable adapter), undefined otherwise.
  Tensor regularization_loss() const override;
  // Must run after optimizer.step() and before the gradients are zeroed: it reads them.
  void after_optimizer_step(int64_t step) override;
  RankAllocator& rank_allocator() const { return *allocator_; }
  // Live tensors (the file's may be cut to the kept ranks, see method_tensors).
  NamedTensors trainable_tensors() const override;

 protected:
  bool accepts(const engine::nn::Module& module) const override;
  std::shared_ptr<TunerLayer> add_to(const std::string& path, const engine::nn::ModulePtr& module,
                                     engine::Generator& gen) override;
  // After rank allocation, the file holds only the kept ranks (PEFT's
  // resize_state_dict_by_rank_pattern): copies cut along r.
  NamedTensors method_tensors() const override;

 private:
  std::unique_ptr<RankAllocator> allocator_;
};

}  // namespace peft::adalora
