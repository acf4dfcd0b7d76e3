// `peft dump`: runs a checkpoint on a fixture-style inputs.json in eval mode and writes every
// output (logits, loss, hidden states, pooler / encoder outputs) and, with --grads, the
// gradient of the loss for every parameter, as safetensors named like the reference fixtures
// (check them with ../shared/fixtures/check_case.py).
//   peft dump --model DIR --inputs inputs.json --out out.safetensors [--grads] [--architecture NAME]
#include <iostream>
#include <map>
#include <memory>
#include <optional>

#include "app/command.h"
#include "app/dump/batch_json.h"
#include "engine/engine.h"
#include "models/loading/checkpoint.h"
#include "models/model.h"

namespace app {
namespace {

struct DumpArgs {
  std::string model, inputs, out, architecture;
  bool grads = false;
};

// Every defined output under the fixtures' names.
std::map<std::string, engine::Tensor> named_outputs(const models::ModelOutput& o) {
  std::map<std::string, engine::Tensor> out;
  auto put = [&](const std::string& name, const engine::Tensor& t) {
    if (t.defined()) out[name] = t;
  };
  put("logits", o.logits);
  put("loss", o.loss);
  put("last_hidden_state", o.last_hidden_state);
  put("pooler_output", o.pooler_output);
  put("encoder_last_hidden_state", o.encoder_last_hidden_state);
  const std::pair<const char*, const std::vector<engine::Tensor>*> lists[] = {
      {"hidden_states.", &o.hidden_states},
      {"encoder_hidden_states.", &o.encoder_hidden_states},
      {"decoder_hidden_states.", &o.decoder_hidden_states},
  };
  for (const auto& [prefix, list] : lists)
    for (size_t i = 0; i < list->size(); ++i) put(prefix + std::to_string(i), (*list)[i]);
  return out;
}

void run(const DumpArgs& args) {
  models::LoadOptions load;
  load.architecture = args.architecture;
  models::ModelPtr model = models::load_pretrained(args.model, load);
  model->eval();  // the fixtures are computed with dropout off
  model->requires_grad_(args.grads);
  const nlohmann::json inputs = dump::read_json(args.inputs);
  models::ForwardOptions options;
  options.output_hidden_states = true;

  std::optional<engine::NoGradGuard> no_grad;
  if (!args.grads) no_grad.emplace();
  models::ModelOutput result = model->forward(dump::batch_from_json(inputs), options);
  std::map<std::string, engine::Tensor> outputs = named_outputs(result);
  if (engine::Tensor synthetic = dump::synthetic_loss(inputs, outputs); synthetic.defined())
    outputs["loss"] = synthetic;  // the fixture's loss replaces the head's own

  std::vector<std::pair<std::string, engine::Tensor>> tensors;
  for (const auto& [name, t] : outputs) tensors.emplace_back(name, t.detach());
  if (args.grads) {
    engine::check<engine::ValueError>(outputs.count("loss") > 0, "[dump] --grads needs a loss: give labels or a "
                                                                 "synthetic_loss in ", args.inputs);
    outputs["loss"].backward();
    // One gradient per tensor under its first (checkpoint) name: tied uses are summed.
    for (const auto& [name, p] : model->named_parameters())
      tensors.emplace_back("grad." + name, p.grad().defined() ? p.grad() : engine::zeros_like(p));
  }
  models::write_safetensors(args.out, tensors);
  std::cout << "wrote " << tensors.size() << " tensors to " << args.out << "\n";
}

const Command kDump("dump", "Run a checkpoint on inputs.json and write its outputs (and gradients)",
                    [](CLI::App& sub) {
                      auto args = std::make_shared<DumpArgs>();
                      sub.add_option("--model", args->model, "HF checkpoint folder")->required();
                      sub.add_option("--inputs", args->inputs, "inputs.json (fixture schema)")->required();
                      sub.add_option("--out", args->out, "output .safetensors")->required();
                      sub.add_flag("--grads", args->grads, "also write grad.<parameter> for every parameter");
                      sub.add_option("--architecture", args->architecture, "override config.json's architecture");
                      sub.callback([args] { run(*args); });
                    });

}  // namespace
}  // namespace app
