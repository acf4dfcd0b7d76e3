// `peft inspect`: a summary of a checkpoint and, optionally, of an adapter on it —
// architecture, sizes, parameter counts, the adapter's method, config and tensors, and PEFT's
// trainable-parameters line. --json prints the same as one JSON object.
//   peft inspect --model DIR [--adapter DIR] [--json]
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "app/command.h"
#include "app/tasks/model_setup.h"
#include "engine/engine.h"
#include "models/model.h"
#include "peft/core/peft_model.h"
#include "peft/core/registry.h"

namespace app {
namespace {

struct InspectArgs {
  std::string model, adapter;
  bool json = false;
};

nlohmann::json model_summary(const models::PretrainedModel& m) {
  return {{"architecture", m.architecture()}, {"model_type", m.model_type()},   {"layers", m.num_layers()},
          {"hidden_size", m.hidden_size()},  {"heads", m.num_heads()},          {"vocab_size", m.vocab_size()},
          {"parameters", m.num_parameters()}};
}

nlohmann::json adapter_summary(const peft::PeftModel& model, const peft::Adapter& a) {
  nlohmann::json tensors = nlohmann::json::object();
  for (const auto& [key, t] : a.file_tensors()) tensors[key] = t.shape();
  const peft::MethodInfo& info = peft::method_by_type(a.config().peft_type);
  return {{"peft_type", a.config().peft_type},
          {"family", info.family},
          {"method", info.summary},
          {"trainable_parameters", model.num_trainable_parameters()},
          {"all_parameters", model.num_all_parameters()},
          {"report", model.trainable_parameters_report()},
          {"mergeable", a.merge_refusal().empty() ? nlohmann::json(true) : nlohmann::json(a.merge_refusal())},
          {"config", a.config().to_json()},
          {"tensors", tensors}};
}

void print_text(const nlohmann::json& s) {
  const auto& m = s["model"];
  std::cout << "model        " << m["architecture"].get<std::string>() << " (" << m["model_type"].get<std::string>()
            << "), " << m["layers"] << " layers, hidden " << m["hidden_size"] << ", " << m["heads"] << " heads, vocab "
            << m["vocab_size"] << "\n"
            << "parameters   " << m["parameters"] << "\n";
  if (!s.contains("adapter")) return;
  const auto& a = s["adapter"];
  std::cout << "adapter      " << a["peft_type"].get<std::string>() << " — " << a["method"].get<std::string>() << " ["
            << a["family"].get<std::string>() << "]\n"
            << "             " << a["report"].get<std::string>() << "\n"
            << "mergeable    " << (a["mergeable"].is_boolean() ? "yes" : "no: " + a["mergeable"].get<std::string>()) << "\n"
            << "config       " << a["config"].dump() << "\n"
            << "tensors      " << a["tensors"].size() << "\n";
  for (const auto& [key, shape] : a["tensors"].items()) std::cout << "  " << key << " " << shape.dump() << "\n";
}

// A classification adapter carries its head (modules_to_save): the base is loaded with the
// classification architecture and that head's size, as `peft eval` does.
models::ModelPtr load_base(const InspectArgs& args) {
  if (!args.adapter.empty()) {
    const auto config = peft::read_config_file((std::filesystem::path(args.adapter) / "adapter_config.json").string());
    const std::string task = config->task_type.value_or("");
    if (task == "SEQ_CLS" || task == "TOKEN_CLS") {
      tasks::ModelRequest request;
      request.folder = args.model;
      request.task = task == "SEQ_CLS" ? tasks::Task::seq_cls : tasks::Task::token_cls;
      request.num_labels = tasks::adapter_num_labels(args.adapter);
      return tasks::load_task_model(request);
    }
  }
  return models::load_pretrained(args.model);
}

void run(const InspectArgs& args) {
  models::ModelPtr base = load_base(args);
  nlohmann::json summary = {{"model", model_summary(*base)}};
  if (!args.adapter.empty()) {
    peft::PeftModel model(base);
    summary["adapter"] = adapter_summary(model, model.load_adapter(args.adapter));
  }
  if (args.json) std::cout << summary.dump(2) << "\n";
  else print_text(summary);
}

const Command kInspect("inspect", "Summarise a checkpoint and an adapter (method, config, parameters)",
                       [](CLI::App& sub) {
                         auto args = std::make_shared<InspectArgs>();
                         sub.add_option("--model", args->model, "HF checkpoint folder")->required();
                         sub.add_option("--adapter", args->adapter, "PEFT adapter folder");
                         sub.add_flag("--json", args->json, "print JSON");
                         sub.callback([args] { run(*args); });
                       });

}  // namespace
}  // namespace app
