// PromptAdapter (see prompt_adapter.h).
#include "peft/methods/prompt_common/prompt_adapter.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "engine/engine.h"
#include "engine/io/tensor_io.h"

namespace peft::prompt {

namespace fs = std::filesystem;

void PromptAdapter::attach(models::PretrainedModel& model, uint64_t seed) {
  mutable_prompt_config().fill_from_model(model);
  model_ = &model;
  engine::Generator gen(seed);
  encoders_ = std::make_shared<ModuleDict>();
  encoders_->add(name(), make_encoder(model, gen));
  attach_modules_to_save(model);
}

void PromptAdapter::detach(models::PretrainedModel& model) {
  detach_modules_to_save(model);
  encoders_.reset();
  model_ = nullptr;
}

PromptEncoder& PromptAdapter::encoder() const {
  engine::check<engine::ValueError>(encoders_ != nullptr, "[", config().peft_type, "] adapter '", name(),
                                    "' is not attached to a model");
  return *encoders_->at<PromptEncoder>(name());
}

models::PretrainedModel& PromptAdapter::model() const {
  engine::check<engine::ValueError>(model_ != nullptr, "[", config().peft_type, "] adapter '", name(),
                                    "' is not attached to a model");
  return *model_;
}

NamedTensors PromptAdapter::method_tensors() const {
  if (!encoder().reparameterized()) return {{"prompt_embeddings", encoder().embedding().weight()}};
  engine::NoGradGuard no_grad;  // PEFT's get_prompt_embedding_to_save: the output, detached
  return {{"prompt_embeddings", prompt_table().detach()}};
}

NamedTensors PromptAdapter::trainable_tensors() const {
  NamedTensors out;
  for (auto& [pname, t] : encoder().named_parameters())
    out.emplace_back(pname == "embedding.weight" ? "prompt_embeddings" : "prompt_encoder." + name() + "." + pname, t);
  for (auto& [key, t] : file_tensors())
    if (key != "prompt_embeddings") out.emplace_back(key, t);
  std::erase_if(out, [](const auto& entry) { return !entry.second.requires_grad(); });
  return out;
}

// Loads `prompt_encoder.<any adapter name>.*` from dir/trainable_params.safetensors into the
// encoder; false when there is no such file or it holds no encoder tensors.
bool PromptAdapter::restore_encoder(const std::string& dir) {
  const fs::path path = fs::path(dir) / "trainable_params.safetensors";
  if (!fs::exists(path)) return false;
  std::map<std::string, Tensor> state;
  for (auto& [key, t] : engine::io::load_safetensors(path)) {
    if (key.rfind("prompt_encoder.", 0) != 0) continue;
    const size_t dot = key.find('.', std::string("prompt_encoder.").size());
    if (dot != std::string::npos) state[key.substr(dot + 1)] = t;
  }
  if (state.empty()) return false;
  encoder().load_state_dict(state, /*strict=*/true);
  return true;
}

void PromptAdapter::load_file_tensors(const std::map<std::string, Tensor>& file, const std::string& source) {
  auto it = file.find("prompt_embeddings");
  if (encoder().reparameterized() && it != file.end()) {
    if (restore_encoder(source)) {
      engine::NoGradGuard no_grad;
      const Tensor ours = prompt_table(), theirs = engine::to_dtype(it->second, ours.dtype());
      engine::check<engine::ShapeError>(ours.shape() == theirs.shape(), "[load_adapter] ", source, ": prompt_embeddings is ",
                                        engine::shape_str(theirs.shape()), ", the encoder gives ", engine::shape_str(ours.shape()));
      const double diff = engine::max(engine::abs(ours - theirs)).item<double>();
      const double scale = engine::max(engine::abs(theirs)).item<double>();
      engine::check<engine::ValueError>(diff <= 1e-4 * scale + 1e-6, "[load_adapter] ", source,
                                        ": trainable_params.safetensors does not reproduce prompt_embeddings (max diff ",
                                        diff, ")");
    } else {  // a plain table of the encoder's output shape; the strict copy below checks the file's
      const engine::Shape shape = method_tensors()[0].second.shape();  // [rows, width]
      engine::Generator unused;
      encoders_->erase(name());
      encoders_->add(name(), std::make_shared<PromptEncoder>(shape[0], shape[1], unused));
    }
  }
  Adapter::load_file_tensors(file, source);  // strict: shapes, modules_to_save, unexpected keys
}

}  // namespace peft::prompt
