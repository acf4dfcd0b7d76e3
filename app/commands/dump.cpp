// `peft dump`: runs a checkpoint on a fixture-style inputs.json in eval mode and writes every
// output (logits, loss, hidden states, pooler / encoder outputs) and, with --grads, the
// gradient of the loss for every parameter, as safetensors named like the reference fixtures
// (check them with ../shared/fixtures/check_case.py).
//   peft dump --model DIR --inputs inputs.json --out out.safetensors [--grads] [--architecture NAME]
//             [--adapter DIR [--merged]]
// With --adapter the outputs are the adapted model's and --grads writes `grad.<adapter file key>`
// for every trainable adapter tensor (the fixtures' names); --merged adds `merged.logits` /
// `merged.loss` after merge_and_unload.
#include <iostream>
#include <map>
#include <memory>
#include <optional>

#include "app/command.h"
#include "app/dump/batch_json.h"
#include "engine/engine.h"
#include "models/loading/checkpoint.h"
#include "models/model.h"
#include "peft/core/peft_model.h"

namespace app {
namespace {

struct DumpArgs {
  std::string model, inputs, out, architecture, adapter;
  bool grads = false, merged = false;
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

using Tensors = std::vector<std::pair<std::string, engine::Tensor>>;

// Runs the model (plain or adapted) on the batch; returns its outputs under the fixtures' names.
std::map<std::string, engine::Tensor> run_outputs(models::PretrainedModel& model, peft::PeftModel* adapted,
                                                  const nlohmann::json& inputs, bool grads) {
  models::ForwardOptions options;
  options.output_hidden_states = true;
  std::optional<engine::NoGradGuard> no_grad;
  if (!grads) no_grad.emplace();
  const models::Batch batch = dump::batch_from_json(inputs);
  models::ModelOutput result = adapted ? adapted->forward(batch, options) : model.forward(batch, options);
  std::map<std::string, engine::Tensor> outputs = named_outputs(result);
  if (result.task_loss.defined() && !result.task_loss.is_same(result.loss)) outputs["task_loss"] = result.task_loss;
  if (engine::Tensor synthetic = dump::synthetic_loss(inputs, outputs); synthetic.defined())
    outputs["loss"] = synthetic;  // the fixture's loss replaces the head's own
  return outputs;
}

void run(const DumpArgs& args) {
  engine::check<engine::ValueError>(!args.merged || !args.adapter.empty(), "[dump] --merged needs --adapter");
  models::LoadOptions load;
  load.architecture = args.architecture;
  models::ModelPtr model = models::load_pretrained(args.model, load);
  model->eval();  // the fixtures are computed with dropout off
  model->requires_grad_(args.grads);
  std::unique_ptr<peft::PeftModel> adapted;
  if (!args.adapter.empty()) {
    adapted = std::make_unique<peft::PeftModel>(model);  // freezes the base
    adapted->load_adapter(args.adapter, "default", /*trainable=*/args.grads);
    std::cout << adapted->trainable_parameters_report() << "\n";
  }
  const nlohmann::json inputs = dump::read_json(args.inputs);
  std::map<std::string, engine::Tensor> outputs = run_outputs(*model, adapted.get(), inputs, args.grads);

  Tensors tensors;
  for (const auto& [name, t] : outputs) tensors.emplace_back(name, t.detach());
  if (args.grads) {
    engine::check<engine::ValueError>(outputs.count("loss") > 0, "[dump] --grads needs a loss: give labels or a "
                                                                 "synthetic_loss in ", args.inputs);
    outputs["loss"].backward();
    // One gradient per tensor under its first (checkpoint) name: tied uses are summed.
    const Tensors params = adapted ? adapted->trainable_parameters() : Tensors(model->named_parameters());
    for (const auto& [name, p] : params)
      tensors.emplace_back("grad." + name, p.grad().defined() ? p.grad() : engine::zeros_like(p));
  }
  if (args.merged) {
    models::ModelPtr merged = adapted->merge_and_unload();
    merged->eval();
    for (const auto& [name, t] : run_outputs(*merged, nullptr, inputs, false))
      if (name == "logits" || name == "loss") tensors.emplace_back("merged." + name, t.detach());
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
                      sub.add_option("--adapter", args->adapter, "PEFT adapter folder to apply");
                      sub.add_flag("--merged", args->merged, "also write merged.logits / merged.loss after merge_and_unload");
                      sub.callback([args] { run(*args); });
                    });

}  // namespace
}  // namespace app
