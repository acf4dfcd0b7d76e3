// Mixed-precision helpers (see precision.h).
#include "app/train/precision.h"

#include <cstdio>

#include "engine/autograd/grad_mode.h"
#include "engine/core/error.h"
#include "engine/ops/convert.h"
#include "peft/core/peft_model.h"

namespace app::train {

const char* const kPrecisionHelp =
    "f32 | bf16 | f16: bf16/f16 store frozen weights in that dtype and run the forward under autocast (GEMMs in "
    "half, softmax/norms/losses in f32); trainable tensors stay f32; f16 adds dynamic loss scaling. On the CPU this "
    "saves memory (frozen weights), not time";

Precision parse_precision(const std::string& value, const std::string& flag) {
  if (value == "f32") return Precision::f32;
  if (value == "bf16") return Precision::bf16;
  if (value == "f16") return Precision::f16;
  engine::fail<engine::ConfigError>(flag, ": expected f32, bf16 or f16, got '", value, "'");
}

const char* precision_name(Precision p) {
  switch (p) {
    case Precision::bf16: return "bf16";
    case Precision::f16: return "f16";
    default: return "f32";
  }
}

std::optional<engine::DType> half_dtype(Precision p) {
  if (p == Precision::bf16) return engine::DType::bf16;
  if (p == Precision::f16) return engine::DType::f16;
  return std::nullopt;
}

void add_precision_flag(CLI::App& app, std::string& value) {
  app.add_option("--precision", value, kPrecisionHelp)->capture_default_str();
}

namespace {

std::vector<engine::Tensor> adapter_tensors(const peft::PeftModel& model) {
  std::vector<engine::Tensor> out;
  for (const std::string& name : model.adapter_names()) {
    const peft::Adapter& a = model.adapter(name);
    for (const auto& [key, t] : a.file_tensors()) out.push_back(t);
    for (const auto& [key, t] : a.trainable_tensors()) out.push_back(t);
  }
  return out;
}

void freeze_all(engine::nn::Module& module) {
  for (auto& [name, p] : module.named_parameters()) p.requires_grad_(false);
}

}  // namespace

engine::nn::CastReport cast_frozen(engine::nn::Module& module, Precision p, const std::vector<engine::Tensor>& keep) {
  const auto dtype = half_dtype(p);
  if (!dtype) return {};
  return engine::nn::cast_frozen_parameters(module, *dtype, keep);
}

engine::nn::CastReport cast_frozen(peft::PeftModel& model, Precision p) {
  if (!half_dtype(p)) return {};
  return cast_frozen(model.base(), p, adapter_tensors(model));
}

engine::nn::CastReport cast_for_inference(engine::nn::Module& module, Precision p) {
  if (!half_dtype(p)) return {};
  freeze_all(module);
  return cast_frozen(module, p);
}

engine::nn::CastReport cast_for_inference(peft::PeftModel& model, Precision p) {
  if (!half_dtype(p)) return {};
  freeze_all(model.base());
  return cast_frozen(model, p);
}

int64_t promote_trainable_to_f32(const std::vector<std::pair<std::string, engine::Tensor>>& trainable) {
  engine::NoGradGuard no_grad;
  int64_t n = 0;
  for (const auto& [name, p] : trainable) {
    if (!p.requires_grad() || (p.dtype() != engine::DType::bf16 && p.dtype() != engine::DType::f16)) continue;
    // The tensor object itself changes (its grad mask and every holder of the handle stay).
    engine::nn::convert_in_place(*p.impl(), engine::DType::f32);
    p.impl()->grad.reset();
    ++n;
  }
  return n;
}

AutocastScope::AutocastScope(Precision p, engine::Device device) {
  if (const auto dtype = half_dtype(p)) guard_.emplace(*dtype, /*cpu=*/device.is_cpu());
}

std::string describe(Precision p, const engine::nn::CastReport& report) {
  char buf[200];
  std::snprintf(buf, sizeof buf, "precision %s: %lld frozen tensors (%.2fM values) stored in %s, trainable ones f32%s",
                precision_name(p), (long long)report.tensors, double(report.numel) / 1e6, precision_name(p),
                p == Precision::f16 ? ", dynamic loss scaling" : "");
  return buf;
}

}  // namespace app::train
