// Training checkpoints: everything a killed run needs to continue bit-identically, written
// so that a crash at any moment leaves either the previous checkpoint or the new one whole.
//
// <output>/checkpoint/
//   trainable/             the target's trainable state (TrainTarget::save_trainable)
//   optimizer.safetensors  optimizer slots (+ optimizer.json: steps, lr)
//   trainer_state.json     step, data position (epoch, index), micro-batch count, dropout
//                          streams, best metric and early-stopping count; f16 runs add the
//                          GradScaler's state (loss scale, clean-step count) and skipped steps
// A new checkpoint is built in checkpoint.tmp.<pid>, then swapped in by renames
// (checkpoint -> checkpoint.old, tmp -> checkpoint, old removed); a reader that finds only
// checkpoint.old (a crash between the two renames) uses it; leftover checkpoint.tmp.* folders of
// killed runs are removed by the next save.
#pragma once
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/train/target.h"
#include "engine/optim/optimizer.h"

namespace app::train {

struct TrainerState {
  int64_t step = 0;           // optimizer steps done
  int64_t epoch = 0;          // data position: the epoch...
  int64_t index = 0;          // ...and the next position in that epoch's order
  int64_t micro_batches = 0;  // micro-batches consumed (seeds collate)
  double best_metric = NAN;   // best evaluation so far (NaN: none yet)
  int64_t best_step = -1;
  int64_t evals_without_improvement = 0;
  double tokens = 0;          // tokens trained on so far
  std::vector<std::pair<std::string, std::pair<uint64_t, uint64_t>>> dropout;  // name -> (seed, offset)
  // Mixed precision (written only when precision is not f32, so f32 files are unchanged):
  std::string precision = "f32";
  double loss_scale = NAN;          // f16: the GradScaler's scale (NaN: no scaler state)
  int64_t loss_scale_growth_tracker = 0;
  int64_t skipped_steps = 0;        // f16: steps skipped for inf/NaN gradients
};

nlohmann::json to_json(const TrainerState& s);
TrainerState trainer_state_from_json(const nlohmann::json& j, const std::string& source);

// Replaces the folder `dir` by one that `fill` writes, as described above.
void replace_folder(const std::filesystem::path& dir, const std::function<void(const std::filesystem::path&)>& fill);
// The folder to read: `dir`, or `dir`.old after an interrupted swap; empty when neither exists.
std::filesystem::path readable_folder(const std::filesystem::path& dir);

void save_checkpoint(const std::filesystem::path& output, TrainTarget& target, const engine::optim::Optimizer& opt,
                     const TrainerState& state);
// Loads <output>/checkpoint into target and optimizer; false when there is none.
bool load_checkpoint(const std::filesystem::path& output, TrainTarget& target, engine::optim::Optimizer& opt,
                     TrainerState& state);

}  // namespace app::train
