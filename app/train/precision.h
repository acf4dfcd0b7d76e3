// Mixed precision for training, evaluation and generation (`--precision f32|bf16|f16`), built
// from the engine's pieces: nn::cast_frozen_parameters (frozen weights stored in half),
// AutocastGuard (GEMMs in half, softmax / norms / losses in f32) and optim::GradScaler (f16
// loss scaling). One place, so `peft train`, `peft eval`, `peft generate`, the training loop
// and the GPU benchmark all mean the same thing by a precision:
//   f32   nothing changes (the default; bit-identical to a build without this file).
//   bf16  frozen f32 parameters are converted to bf16 once (half their memory), trainable ones
//         stay f32 master copies updated with f32 gradients, every forward runs under bf16
//         autocast. No loss scaling: bf16 has f32's exponent range.
//   f16   the same in f16, plus dynamic loss scaling with torch.amp.GradScaler's defaults
//         (2^16, x2 after 2000 clean steps, x0.5 and the step skipped on an inf/NaN gradient).
// Autocast is turned on for CPU tensors too when the model is on the CPU: the CPU GEMMs
// compute in f32 whatever the storage, so there it saves memory (the frozen weights), not
// time, and it reproduces the GPU's roundings (CI tests the path without a GPU).
// Adapter tensors are never cast, frozen or not (inactive adapters, VeRA's shared
// projections, AdaLoRA's ranknum): adapter files and checkpoints keep the dtypes of an f32 run,
// and `peft eval --precision bf16` sees exactly what evaluation inside `peft train` saw.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "engine/core/device.h"
#include "engine/core/tensor.h"
#include "engine/nn/module.h"
#include "engine/nn/precision.h"
#include "engine/ops/autocast.h"

namespace peft {
class PeftModel;
}

namespace app::train {

enum class Precision { f32, bf16, f16 };

// "f32" | "bf16" | "f16"; anything else is a ConfigError naming `flag` and the accepted values.
Precision parse_precision(const std::string& value, const std::string& flag = "--precision");
const char* precision_name(Precision p);
// The storage / autocast dtype of a precision: bf16 or f16; nullopt for f32.
std::optional<engine::DType> half_dtype(Precision p);

// --precision on a command (eval, generate; train and pretrain get it from TrainOptions).
extern const char* const kPrecisionHelp;
void add_precision_flag(CLI::App& app, std::string& value);

// Converts the frozen f32 parameters of `module` to the precision's dtype, in place (nothing
// for f32), except those sharing storage with a tensor of `keep`.
engine::nn::CastReport cast_frozen(engine::nn::Module& module, Precision p, const std::vector<engine::Tensor>& keep = {});
// The same for a PEFT model's base, keeping every adapter's file tensors (see above).
engine::nn::CastReport cast_frozen(peft::PeftModel& model, Precision p);
// For inference: freezes every parameter of `module` (nothing trains), then cast_frozen.
engine::nn::CastReport cast_for_inference(engine::nn::Module& module, Precision p);
engine::nn::CastReport cast_for_inference(peft::PeftModel& model, Precision p);

// Converts trainable bf16/f16 tensors back to f32 in place (the tensor object itself, as
// cast_frozen_parameters does the other way), so the optimizer keeps f32 masters when a
// method starts training a base matrix that was cast (diff pruning's switch to its sparse
// phase writes the trained entries into W). Returns how many tensors were converted.
int64_t promote_trainable_to_f32(const std::vector<std::pair<std::string, engine::Tensor>>& trainable);

// The autocast scope of one forward: nothing for f32, else AutocastGuard(dtype, cpu = the
// model is on the CPU).
class AutocastScope {
 public:
  AutocastScope(Precision p, engine::Device device);

 private:
  std::optional<engine::AutocastGuard> guard_;
};

// One line for logs: "bf16: 42 frozen tensors (1.20M values) stored in bf16, trainable ones f32".
std::string describe(Precision p, const engine::nn::CastReport& report);

}  // namespace app::train
