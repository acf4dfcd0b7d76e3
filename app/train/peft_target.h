// The training target of a PEFT model: the loss of the adapted model (with the adapters'
// regularisers), only the active adapters' tensors train, and the trainable state is the
// adapter folder PEFT writes (adapter_config.json + adapter_model.safetensors per adapter)
// plus trainable_params.safetensors holding every trainable tensor by name — including what
// an adapter file leaves out (p-tuning's MLP) — so checkpoints resume exactly.
#pragma once
#include <memory>

#include "app/train/target.h"
#include "peft/core/peft_model.h"

namespace app::train {

class PeftTarget : public TrainTarget {
 public:
  explicit PeftTarget(std::shared_ptr<peft::PeftModel> model);
  engine::Tensor loss(const models::Batch& batch) override;
  NamedTensors trainable_parameters() override;
  void save_trainable(const std::filesystem::path& dir) const override;
  void load_trainable(const std::filesystem::path& dir) override;
  engine::nn::Module& module() override { return model_->base(); }
  void train() override;
  void eval() override;
  bool after_optimizer_step(int64_t step) override;
  engine::nn::CastReport cast_frozen(Precision p) override { return train::cast_frozen(*model_, p); }
  peft::PeftModel& peft_model() { return *model_; }

 private:
  std::shared_ptr<peft::PeftModel> model_;
};

}  // namespace app::train
