// PeftTarget (see peft_target.h).
#include "app/train/peft_target.h"

#include <set>
#include <sstream>

#include "engine/engine.h"
#include "engine/io/tensor_io.h"

namespace app::train {

namespace {
constexpr const char* kTrainableFile = "trainable_params.safetensors";

std::set<const engine::TensorImpl*> tensor_set(const NamedTensors& tensors) {
  std::set<const engine::TensorImpl*> out;
  for (const auto& [name, t] : tensors) out.insert(t.impl());
  return out;
}
}  // namespace

PeftTarget::PeftTarget(std::shared_ptr<peft::PeftModel> model) : model_(std::move(model)) {
  engine::check<engine::ValueError>(model_ != nullptr, "[train] PeftTarget needs a model");
}

engine::Tensor PeftTarget::loss(const models::Batch& batch) {
  models::ModelOutput out = model_->forward(batch);
  engine::check<engine::ValueError>(out.loss.defined(), "[train] ", model_->base().architecture(),
                                    " returned no loss: the batch needs labels");
  return out.loss;
}

NamedTensors PeftTarget::trainable_parameters() { return model_->trainable_parameters(); }

void PeftTarget::save_trainable(const std::filesystem::path& dir) const {
  model_->save_pretrained(dir);
  NamedTensors tensors;
  for (const auto& [name, t] : model_->trainable_parameters()) tensors.emplace_back(name, t.detach().to(engine::Device::cpu()));
  engine::io::save_safetensors(dir / kTrainableFile, tensors);
}

void PeftTarget::load_trainable(const std::filesystem::path& dir) {
  const auto file = engine::io::load_safetensors(dir / kTrainableFile);
  std::ostringstream missing;
  engine::NoGradGuard no_grad;
  const NamedTensors params = model_->trainable_parameters();
  for (const auto& [name, t] : params) {
    auto it = file.find(name);
    if (it == file.end() || it->second.shape() != t.shape()) {
      missing << " " << name << engine::shape_str(t.shape());
      continue;
    }
    engine::copy_(t, it->second);
  }
  engine::check<engine::KeyError>(missing.str().empty(), "[train] ", (dir / kTrainableFile).string(),
                                  " lacks (or has another shape for):", missing.str());
}

// Prompt encoders live outside the model's module tree; train/eval reaches them through the
// adapters' tensors only when they are modules, so the base's mode is what matters here
// (their dropout, when any, follows PEFT's default of 0).
void PeftTarget::train() { model_->base().train(true); }
void PeftTarget::eval() { model_->base().train(false); }

bool PeftTarget::after_optimizer_step(int64_t step) {
  const auto before = tensor_set(model_->trainable_parameters());
  model_->after_optimizer_step(step);
  return tensor_set(model_->trainable_parameters()) != before;
}

}  // namespace app::train
