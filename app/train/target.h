// What the training loop trains, behind one interface, so that the same loop serves full
// fine-tuning (FullFineTune, below) and PEFT models (the peft layer supplies its own target):
// the loss of a batch, the trainable parameters by name, saving/loading just those, and the
// train/eval switch. module() gives the loop the whole module tree for the weight-decay rule
// and the dropout random streams it checkpoints.
#pragma once
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "app/train/precision.h"
#include "engine/nn/module.h"
#include "models/model.h"

namespace app::train {

using NamedTensors = std::vector<std::pair<std::string, engine::Tensor>>;

class TrainTarget {
 public:
  virtual ~TrainTarget() = default;
  // The scalar training loss of one batch (autograd on).
  virtual engine::Tensor loss(const models::Batch& batch) = 0;
  virtual NamedTensors trainable_parameters() = 0;
  // Writes / reads the trainable state only, under `dir` (created by the caller).
  virtual void save_trainable(const std::filesystem::path& dir) const = 0;
  virtual void load_trainable(const std::filesystem::path& dir) = 0;
  virtual engine::nn::Module& module() = 0;
  virtual void train() { module().train(true); }
  virtual void eval() { module().train(false); }
  // Called after each optimizer step, before the gradients are cleared (AdaLoRA's rank
  // allocation reads them). Returns true when the set of trainable tensors changed (diff
  // pruning's switch to a sparse mask): the loop then rebuilds its optimizer.
  virtual bool after_optimizer_step(int64_t step) {
    (void)step;
    return false;
  }
  // Stores the frozen parameters in the precision's dtype (precision.h; nothing for f32).
  // PeftTarget keeps the adapters' tensors as they are.
  virtual engine::nn::CastReport cast_frozen(Precision p) { return train::cast_frozen(module(), p); }
};

// Every parameter of a pretrained model trains; its state is the model's own
// (dir/model.safetensors + config.json via save_pretrained, so a saved target is also an HF
// checkpoint folder).
class FullFineTune : public TrainTarget {
 public:
  explicit FullFineTune(models::ModelPtr model);
  engine::Tensor loss(const models::Batch& batch) override;
  NamedTensors trainable_parameters() override;
  void save_trainable(const std::filesystem::path& dir) const override;
  void load_trainable(const std::filesystem::path& dir) override;
  engine::nn::Module& module() override { return *model_; }
  models::PretrainedModel& model() { return *model_; }

 private:
  models::ModelPtr model_;
};

// The random streams of every Dropout module under `root`, by module name: (seed, offset).
std::vector<std::pair<std::string, std::pair<uint64_t, uint64_t>>> dropout_states(engine::nn::Module& root);
void set_dropout_states(engine::nn::Module& root,
                        const std::vector<std::pair<std::string, std::pair<uint64_t, uint64_t>>>& states);
// Gives every Dropout a stream derived from `seed` and its module name, so a run's dropout
// depends on the training seed alone (not on how many models the process built before).
void seed_dropout(engine::nn::Module& root, uint64_t seed);

}  // namespace app::train
