// FullFineTune and the dropout stream helpers (see target.h).
#include "app/train/target.h"


#include "app/train/dataset.h"
#include "engine/core/error.h"
#include "engine/nn/layers.h"
#include "engine/nn/module_device.h"
#include "models/loading/checkpoint.h"

namespace app::train {
namespace {

// FNV-1a: a name hash that is the same with every standard library (std::hash is not).
uint64_t fnv1a(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

}  // namespace

FullFineTune::FullFineTune(models::ModelPtr model) : model_(std::move(model)) {
  engine::check<engine::ValueError>(model_ != nullptr, "[train] FullFineTune needs a model");
}

engine::Tensor FullFineTune::loss(const models::Batch& batch) {
  models::ModelOutput out = model_->forward(models::batch_to(batch, engine::nn::module_device(*model_)));
  engine::check<engine::ValueError>(out.loss.defined(), "[train] ", model_->architecture(),
                                    " returned no loss: the batch needs labels");
  return out.loss;
}

NamedTensors FullFineTune::trainable_parameters() {
  NamedTensors out;
  for (auto& [name, p] : model_->named_parameters())
    if (p.requires_grad()) out.emplace_back(name, p);
  return out;
}

void FullFineTune::save_trainable(const std::filesystem::path& dir) const { models::save_pretrained(*model_, dir); }

void FullFineTune::load_trainable(const std::filesystem::path& dir) {
  const std::map<std::string, engine::Tensor> weights = models::read_checkpoint(dir);
  models::load_weights(*model_, weights, /*strict=*/true, dir.string());
}

std::vector<std::pair<std::string, std::pair<uint64_t, uint64_t>>> dropout_states(engine::nn::Module& root) {
  std::vector<std::pair<std::string, std::pair<uint64_t, uint64_t>>> out;
  for (auto& [name, m] : root.named_modules())
    if (auto* d = dynamic_cast<engine::nn::Dropout*>(m.get()))
      out.emplace_back(name, std::make_pair(d->generator().seed(), d->generator().offset()));
  return out;
}

void set_dropout_states(engine::nn::Module& root,
                        const std::vector<std::pair<std::string, std::pair<uint64_t, uint64_t>>>& states) {
  std::map<std::string, std::pair<uint64_t, uint64_t>> by_name(states.begin(), states.end());
  for (auto& [name, m] : root.named_modules()) {
    auto* d = dynamic_cast<engine::nn::Dropout*>(m.get());
    if (!d) continue;
    auto it = by_name.find(name);
    engine::check<engine::KeyError>(it != by_name.end(), "[train] checkpoint has no random state for dropout '",
                                    name, "'");
    d->generator().set_state(it->second.first, it->second.second);
  }
}

void seed_dropout(engine::nn::Module& root, uint64_t seed) {
  for (auto& [name, m] : root.named_modules())
    if (auto* d = dynamic_cast<engine::nn::Dropout*>(m.get()))
      d->generator().set_state(mix_seed(seed, fnv1a(name)), 0);
}

}  // namespace app::train
