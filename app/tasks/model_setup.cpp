// Loading a task's model and building a PEFT method's config (see model_setup.h).
#include "app/tasks/model_setup.h"

#include <fstream>
#include <sstream>

#include "engine/core/error.h"
#include "models/loading/checkpoint.h"
#include "peft/core/adapter.h"
#include "peft/core/peft_model.h"
#include "peft/core/registry.h"

namespace app::tasks {
namespace fs = std::filesystem;

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

models::ModelPtr load_task_model(const ModelRequest& r) {
  nlohmann::json config = models::read_config(r.folder);
  const std::string model_type = config.value("model_type", "");
  const std::string arch = r.architecture.empty() ? task_architecture(r.task, model_type) : r.architecture;
  if (r.num_labels > 0 && is_classification(r.task)) {
    // id2label wins over num_labels in HF's config; a different size must drop it.
    if (config.contains("id2label") && config["id2label"].size() != size_t(r.num_labels))
      config.erase("id2label"), config.erase("label2id");
    config["num_labels"] = r.num_labels;
  }
  models::ModelPtr model = models::create_model(config, arch, r.seed);
  models::load_weights(*model, models::read_checkpoint(r.folder), /*strict=*/true, r.folder.string());
  model->eval();
  return model;
}

int64_t adapter_num_labels(const fs::path& adapter_dir) {
  for (const auto& [key, t] : peft::read_adapter_weights(adapter_dir))
    for (const char* head : {"classifier.weight", "classifier.out_proj.weight", "score.weight"})
      if (ends_with(key, head)) return t.size(0);  // Linear weight [num_labels, hidden]
  return 0;
}

nlohmann::json parse_overrides(const std::vector<std::string>& assignments) {
  nlohmann::json out = nlohmann::json::object();
  for (const std::string& a : assignments) {
    const size_t eq = a.find('=');
    engine::check<engine::ValueError>(eq != std::string::npos && eq > 0, "[train] --set expects key=value, got '", a,
                                      "'");
    const std::string value = a.substr(eq + 1);
    nlohmann::json parsed = nlohmann::json::parse(value, nullptr, /*allow_exceptions=*/false);
    out[a.substr(0, eq)] = parsed.is_discarded() ? nlohmann::json(value) : parsed;
  }
  return out;
}

nlohmann::json read_json_object(const fs::path& path) {
  std::ifstream in(path);
  engine::check<engine::IOError>(in.good(), path.string(), ": cannot open");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    engine::fail<engine::IOError>(path.string(), ": not valid JSON: ", e.what());
  }
  engine::check<engine::ConfigError>(j.is_object(), path.string(), ": expected a JSON object");
  return j;
}

std::shared_ptr<peft::PeftConfig> method_config(const std::string& method, nlohmann::json overrides, Task task,
                                                int64_t total_steps) {
  const peft::MethodPreset* preset = nullptr;
  for (const auto& p : peft::method_presets())
    if (p.name == method) preset = &p;
  if (!preset) {
    std::ostringstream known;
    for (const auto& p : peft::method_presets()) known << " " << p.name;
    engine::fail<engine::KeyError>("[train] unknown method '", method, "'; known: full", known.str());
  }
  if (!overrides.contains("task_type")) overrides["task_type"] = peft_task_type(task);
  // PEFT's PeftModelForTokenClassification trains the head like SEQ_CLS does; our adapters
  // do that for SEQ_CLS only, so a token classifier names its head explicitly.
  if (task == Task::token_cls && !overrides.contains("modules_to_save"))
    overrides["modules_to_save"] = nlohmann::json::array({"classifier"});
  if (preset->peft_type == "ADALORA" && !overrides.contains("total_step")) overrides["total_step"] = total_steps;
  return peft::make_config(method, overrides);
}

}  // namespace app::tasks
