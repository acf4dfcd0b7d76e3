// Checkpoint save / load with folder swaps (see checkpoint.h).
#include "app/train/checkpoint.h"

#include <unistd.h>

#include <fstream>

#include "engine/core/error.h"
#include "engine/io/atomic_file.h"

namespace app::train {
namespace fs = std::filesystem;

nlohmann::json to_json(const TrainerState& s) {
  nlohmann::json dropout = nlohmann::json::object();
  for (const auto& [name, st] : s.dropout) dropout[name] = {st.first, st.second};
  nlohmann::json j = {{"step", s.step},
          {"epoch", s.epoch},
          {"index", s.index},
          {"micro_batches", s.micro_batches},
          {"best_metric", std::isnan(s.best_metric) ? nlohmann::json(nullptr) : nlohmann::json(s.best_metric)},
          {"best_step", s.best_step},
          {"evals_without_improvement", s.evals_without_improvement},
          {"tokens", s.tokens},
          {"dropout", dropout}};
  if (s.precision != "f32") {
    j["precision"] = s.precision;
    j["skipped_steps"] = s.skipped_steps;
    if (!std::isnan(s.loss_scale))
      j["loss_scaler"] = {{"scale", s.loss_scale}, {"growth_tracker", s.loss_scale_growth_tracker}};
  }
  return j;
}

TrainerState trainer_state_from_json(const nlohmann::json& j, const std::string& source) {
  try {
    TrainerState s;
    s.step = j.at("step").get<int64_t>();
    s.epoch = j.at("epoch").get<int64_t>();
    s.index = j.at("index").get<int64_t>();
    s.micro_batches = j.at("micro_batches").get<int64_t>();
    s.best_metric = j.at("best_metric").is_null() ? NAN : j.at("best_metric").get<double>();
    s.best_step = j.at("best_step").get<int64_t>();
    s.evals_without_improvement = j.at("evals_without_improvement").get<int64_t>();
    s.tokens = j.at("tokens").get<double>();
    for (const auto& [name, st] : j.at("dropout").items())
      s.dropout.emplace_back(name, std::make_pair(st.at(0).get<uint64_t>(), st.at(1).get<uint64_t>()));
    s.precision = j.value("precision", std::string("f32"));  // absent in f32 runs' (and older) files
    s.skipped_steps = j.value("skipped_steps", int64_t(0));
    if (j.contains("loss_scaler")) {
      s.loss_scale = j.at("loss_scaler").at("scale").get<double>();
      s.loss_scale_growth_tracker = j.at("loss_scaler").at("growth_tracker").get<int64_t>();
    }
    return s;
  } catch (const nlohmann::json::exception& e) {
    engine::fail<engine::IOError>("[train] ", source, ": malformed trainer state: ", e.what());
  }
}

void replace_folder(const fs::path& dir, const std::function<void(const fs::path&)>& fill) {
  const fs::path tmp = fs::path(dir.string() + ".tmp." + std::to_string(::getpid()));
  const fs::path old = fs::path(dir.string() + ".old");
  fs::remove_all(tmp);
  try {
    fs::create_directories(tmp);
    fill(tmp);
  } catch (...) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    throw;
  }
  fs::remove_all(old);
  if (fs::exists(dir)) fs::rename(dir, old);
  fs::rename(tmp, dir);
  fs::remove_all(old);
  // Half-written folders of killed runs (other pids) are never read: drop them.
  const std::string stale = dir.filename().string() + ".tmp.";
  for (const fs::directory_entry& e : fs::directory_iterator(dir.parent_path()))
    if (e.path().filename().string().rfind(stale, 0) == 0) fs::remove_all(e.path());
}

fs::path readable_folder(const fs::path& dir) {
  if (fs::is_directory(dir)) return dir;
  const fs::path old = fs::path(dir.string() + ".old");
  return fs::is_directory(old) ? old : fs::path();
}

void save_checkpoint(const fs::path& output, TrainTarget& target, const engine::optim::Optimizer& opt,
                     const TrainerState& state) {
  replace_folder(output / "checkpoint", [&](const fs::path& dir) {
    fs::create_directories(dir / "trainable");
    target.save_trainable(dir / "trainable");
    engine::optim::save_optimizer(opt, dir);
    TrainerState s = state;
    s.dropout = dropout_states(target.module());  // the streams as they are now
    engine::io::atomic_write_text(dir / "trainer_state.json", to_json(s).dump(2) + "\n");
  });
}

bool load_checkpoint(const fs::path& output, TrainTarget& target, engine::optim::Optimizer& opt,
                     TrainerState& state) {
  const fs::path dir = readable_folder(output / "checkpoint");
  if (dir.empty()) return false;
  const fs::path state_file = dir / "trainer_state.json";
  std::ifstream in(state_file);
  engine::check<engine::IOError>(in.good(), "[train] cannot read ", state_file.string());
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    engine::fail<engine::IOError>("[train] ", state_file.string(), ": ", e.what());
  }
  state = trainer_state_from_json(j, state_file.string());
  target.load_trainable(dir / "trainable");
  engine::optim::load_optimizer(opt, dir);
  set_dropout_states(target.module(), state.dropout);
  return true;
}

}  // namespace app::train
