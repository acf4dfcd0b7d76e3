// Diff pruning: phase-1 wrappers, the L0 penalty, the magnitude switch (see adapter.h).
#include "peft/methods/diff_pruning/adapter.h"

#include "engine/engine.h"
#include "peft/methods/diff_pruning/hard_concrete.h"
#include "peft/methods/selective_common/entries.h"

namespace peft::diff_pruning {

namespace {
const std::string kPrefix = "base_model.model.";
}

void DiffPruningAdapter::choose(models::PretrainedModel& model, uint64_t seed) {
  const DiffPruningConfig& c = dp_config();
  uint64_t layer_seed = seed;
  for (const auto& [pname, w] : selective::linear_weights(model, c)) {
    const std::string path = pname.substr(0, pname.size() - std::string(".weight").size());
    engine::nn::ModulePtr base = model.get(path);
    auto layer = std::make_shared<DiffPruningLinear>(base);
    layer->add_adapter(name(), c.log_alpha_init, layer_seed++ * 7919 + 17);
    layer->train(base->is_training());  // follow the model's mode (gates sample only in training)
    layer->set_active(name(), true);
    model.replace_module(path, layer);
    layers_.emplace_back(path, layer);
  }
}

void DiffPruningAdapter::unwrap_layers() {
  for (auto& [path, layer] : layers_) model().replace_module(path, layer->child("base_layer"));
  layers_.clear();
}

int64_t DiffPruningAdapter::fix() {
  if (fixed()) return num_trained_entries();
  engine::NoGradGuard no_grad;
  std::vector<Tensor> deltas, scores;
  int64_t total = 0;
  for (auto& [path, layer] : layers_) {
    deltas.push_back(layer->eval_delta(name()));
    scores.push_back(engine::abs(deltas.back()));
    total += deltas.back().numel();
  }
  const auto picks = selective::top_k(scores, selective::budget(1.0 - dp_config().target_sparsity, total));
  auto layers = layers_;
  unwrap_layers();  // W still holds θ0
  for (size_t i = 0; i < layers.size(); ++i) {
    Tensor w = layers[i].second->base_linear()->weight();
    Entry* e = train_entries(layers[i].first + ".weight", w, picks[i]);
    if (!e) continue;  // no entry of this matrix survived
    Tensor kept = selective::take_flat(deltas[i].contiguous(), e->indices);  // δ at the kept entries
    set_values(*e, engine::to_dtype(e->original, engine::DType::f32) + engine::to_dtype(kept, engine::DType::f32));
  }
  return num_trained_entries();
}

void DiffPruningAdapter::after_optimizer_step(int64_t step) {
  if (!fixed() && step >= dp_config().fix_step) {
    fix();
    phase_changed_ = true;
  }
}

Tensor DiffPruningAdapter::regularization_loss() const {
  if (fixed() || dp_config().l0_lambda == 0) return {};
  Tensor sum;
  for (const auto& [path, layer] : layers_) {
    Tensor l0 = engine::sum(prob_nonzero(layer->log_alpha(name())));  // expected non-zeros of this δ
    sum = sum.defined() ? sum + l0 : l0;
  }
  return sum.defined() ? sum * dp_config().l0_lambda : sum;
}

void DiffPruningAdapter::detach(models::PretrainedModel& model) {
  unwrap_layers();
  SelectiveAdapter::detach(model);
}

void DiffPruningAdapter::set_active(bool on) {
  SelectiveAdapter::set_active(on);
  for (auto& [path, layer] : layers_) layer->set_active(name(), on);
}

std::string DiffPruningAdapter::merge_refusal() const {
  if (!fixed()) return layers_.front().second->merge_refusal(name());
  return SelectiveAdapter::merge_refusal();
}

NamedTensors DiffPruningAdapter::trainable_tensors() const {
  NamedTensors out = SelectiveAdapter::trainable_tensors();
  for (const auto& [path, layer] : layers_)
    for (auto& [suffix, t] : layer->adapter_tensors(name()))
      if (t.requires_grad()) out.emplace_back(kPrefix + path + "." + suffix, t);
  return out;
}

NamedTensors DiffPruningAdapter::method_tensors() const {
  NamedTensors out = SelectiveAdapter::method_tensors();
  engine::NoGradGuard no_grad;
  for (const auto& [path, layer] : layers_) {  // phase 1: δ where the test-time gates leave it non-zero
    std::vector<float> delta = engine::to_dtype(layer->eval_delta(name()), engine::DType::f32).to_vector<float>();
    std::vector<int64_t> idx;
    std::vector<float> values;
    for (size_t i = 0; i < delta.size(); ++i)
      if (delta[i] != 0.0f) idx.push_back(int64_t(i)), values.push_back(delta[i]);
    if (idx.empty()) continue;
    const int64_t k = int64_t(idx.size());
    out.emplace_back(kPrefix + path + ".weight.sparse_indices", engine::from_vector(idx, {k}));
    out.emplace_back(kPrefix + path + ".weight.sparse_delta", engine::from_vector(values, {k}));
  }
  return out;
}

void DiffPruningAdapter::load_file_tensors(const std::map<std::string, Tensor>& file, const std::string& source) {
  unwrap_layers();  // a file is always the fixed (sparse) form
  SelectiveAdapter::load_file_tensors(file, source);
}

}  // namespace peft::diff_pruning
