// Optimizer checkpoints: the state tensors as optimizer.safetensors and the scalars (type,
// step counts, lr, hyperparameters) as optimizer.json, each written atomically.
#include <fstream>

#include <nlohmann/json.hpp>

#include "engine/io/atomic_file.h"
#include "engine/nn/state_io.h"
#include "engine/optim/optimizer.h"

namespace engine::optim {

namespace {
constexpr const char* kTensorsFile = "optimizer.safetensors";
constexpr const char* kJsonFile = "optimizer.json";
}  // namespace

void save_optimizer(const Optimizer& opt, const std::filesystem::path& dir) {
  OptimizerState st = opt.state_dict();
  nlohmann::json j;
  j["type"] = st.type;
  j["step"] = st.step;
  j["lr"] = st.lr;  // nlohmann writes the shortest round-trip form: the same double back
  j["steps"] = st.steps;
  j["hyperparameters"] = st.hyperparameters;
  nn::save_tensors(dir / kTensorsFile, st.tensors, {{"format", "pt"}, {"optimizer", st.type}});
  io::atomic_write_text(dir / kJsonFile, j.dump(2) + "\n");
}

void load_optimizer(Optimizer& opt, const std::filesystem::path& dir) {
  const std::filesystem::path json_path = dir / kJsonFile;
  std::ifstream in(json_path);
  check<IOError>(bool(in), "[load_optimizer] cannot open ", json_path.string());
  OptimizerState st;
  try {
    nlohmann::json j = nlohmann::json::parse(in);
    st.type = j.at("type").get<std::string>();
    st.step = j.at("step").get<int64_t>();
    st.lr = j.at("lr").get<double>();
    st.steps = j.at("steps").get<std::map<std::string, int64_t>>();
    st.hyperparameters = j.at("hyperparameters").get<std::map<std::string, double>>();
  } catch (const nlohmann::json::exception& e) {
    fail<IOError>("[load_optimizer] ", json_path.string(), ": ", e.what());
  }
  st.tensors = nn::load_tensors(dir / kTensorsFile);
  opt.load_state_dict(st);
}

}  // namespace engine::optim
