// `peft generate`: continues prompts with a causal LM (GPT-2) or a seq2seq model (T5) from an
// HF checkpoint folder, by greedy search (default), sampling or beam search, and prints one
// continuation per prompt (its tokenizer's decode with special tokens skipped). With
// --adapter (repeatable) the adapters are loaded and active together, and every step runs
// through peft::generate, so prompt and prefix methods apply as in training. --precision
// bf16|f16 stores the model's weights (not the adapters') in that dtype and generates under
// autocast (app/train/precision.h).
//   peft generate --model DIR [--adapter DIR ...] (--prompt TEXT | --file prompts.txt) [--max-new-tokens N]
//                 [--greedy | --sample [--temperature T] [--top-k K] [--top-p P] [--seed S] | --beams N
//                 [--length-penalty L] [--early-stopping true|false|never]] [--json] [--device cpu|cuda]
//                 [--precision f32|bf16|f16]
#include <fstream>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "app/command.h"
#include "app/tasks/cli_flags.h"
#include "app/train/precision.h"
#include "engine/core/error.h"
#include "models/generation/generate.h"
#include "models/model.h"
#include "models/tokenizers/tokenizer.h"
#include "peft/core/generate.h"
#include "peft/core/peft_model.h"

namespace app {
namespace {

struct GenerateArgs {
  std::string model, prompt, file, early_stopping, device = "cpu", precision = "f32";
  std::vector<std::string> adapters;
  int64_t max_new_tokens = 20, top_k = 50, beams = 1;
  double temperature = 1.0, top_p = 1.0, length_penalty = 1.0;
  uint64_t seed = 0;
  bool greedy = false, sample = false, json = false;
};

// One prompt per non-empty line.
std::vector<std::string> read_prompts(const std::string& file) {
  std::ifstream in(file);
  engine::check<engine::IOError>(in.good(), "[generate] cannot open ", file);
  std::vector<std::string> prompts;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) prompts.push_back(line);
  }
  engine::check<engine::ValueError>(!prompts.empty(), "[generate] ", file, " holds no prompt");
  return prompts;
}

// The folder's defaults (generation_config.json / config.json) overridden by the flags.
models::generation::GenerationConfig settings(const GenerateArgs& a, const models::PretrainedModel& model) {
  using models::generation::EarlyStopping;
  auto g = models::generation::default_generation_config(model.config(), a.model);
  g.max_new_tokens = a.max_new_tokens;
  g.do_sample = a.sample;
  g.num_beams = a.sample || a.greedy ? 1 : a.beams;
  g.temperature = a.temperature, g.top_k = a.top_k, g.top_p = a.top_p, g.seed = a.seed;
  g.length_penalty = a.length_penalty;
  if (a.early_stopping == "true") g.early_stopping = EarlyStopping::kTrue;
  else if (a.early_stopping == "false") g.early_stopping = EarlyStopping::kFalse;
  else if (a.early_stopping == "never") g.early_stopping = EarlyStopping::kNever;
  return g;
}

// The plain model's generation, or the adapted model's (first adapter "default").
models::generation::GenerationOutput continue_prompts(const GenerateArgs& args, models::ModelPtr model,
                                                      const std::vector<std::vector<int64_t>>& prompts,
                                                      train::Precision precision, engine::Device device) {
  const auto config = settings(args, *model);
  if (args.adapters.empty()) {
    train::cast_for_inference(*model, precision);  // f32: nothing
    train::AutocastScope autocast(precision, device);
    return models::generation::generate(*model, prompts, config);
  }
  peft::PeftModel adapted(model);
  std::vector<std::string> names;
  for (size_t i = 0; i < args.adapters.size(); ++i) {
    names.push_back(i == 0 ? "default" : "adapter_" + std::to_string(i));
    adapted.load_adapter(args.adapters[i], names.back());
  }
  adapted.set_adapter(names);
  train::cast_for_inference(adapted, precision);
  train::AutocastScope autocast(precision, device);
  return peft::generate(adapted, prompts, config);
}

void run(const GenerateArgs& args) {
  const engine::Device device = tasks::resolve_device(args.device);
  const train::Precision precision = train::parse_precision(args.precision);
  engine::check<engine::ValueError>(args.prompt.empty() != args.file.empty(),
                                    "[generate] give exactly one of --prompt and --file");
  models::LoadOptions load;
  load.device = device;  // adapters loaded on it follow; greedy steps read back only the chosen ids
  models::ModelPtr model = models::load_pretrained(args.model, load);
  model->eval();
  const auto tokenizer = models::load_tokenizer(args.model);
  const std::vector<std::string> texts = args.file.empty() ? std::vector{args.prompt} : read_prompts(args.file);
  std::vector<std::vector<int64_t>> prompts;
  for (const auto& text : texts) prompts.push_back(tokenizer->encode(text).ids);
  const auto result = continue_prompts(args, model, prompts, precision, device);
  nlohmann::json report = nlohmann::json::array();
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::string continuation = tokenizer->decode(result.tokens[i], /*skip_special_tokens=*/true);
    if (!args.json) {
      std::cout << continuation << "\n";
      continue;
    }
    nlohmann::json entry = {{"prompt", texts[i]}, {"continuation", continuation}, {"tokens", result.tokens[i]}};
    if (!result.scores.empty()) entry["score"] = result.scores[i];
    report.push_back(entry);
  }
  if (args.json) std::cout << report.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

const Command kGenerate("generate", "Continue prompts with a GPT-2 or T5 checkpoint", [](CLI::App& sub) {
  auto args = std::make_shared<GenerateArgs>();
  sub.add_option("--model", args->model, "HF checkpoint folder (model + tokenizer)")->required();
  sub.add_option("--adapter", args->adapters, "adapter folder, repeatable (several are active together)");
  sub.add_option("--prompt", args->prompt, "the prompt text");
  sub.add_option("--file", args->file, "a text file with one prompt per line");
  sub.add_option("--max-new-tokens", args->max_new_tokens, "tokens to generate at most (default 20)");
  auto* greedy = sub.add_flag("--greedy", args->greedy, "greedy search (the default)");
  auto* sample = sub.add_flag("--sample", args->sample, "sample from the (warped) distribution");
  auto* beams = sub.add_option("--beams", args->beams, "beam search with N beams");
  greedy->excludes(sample)->excludes(beams);
  sample->excludes(beams);
  sub.add_option("--temperature", args->temperature, "sampling temperature (default 1)")->needs(sample);
  sub.add_option("--top-k", args->top_k, "keep the k most likely tokens, 0 = all (default 50)")->needs(sample);
  sub.add_option("--top-p", args->top_p, "nucleus sampling mass (default 1 = off)")->needs(sample);
  sub.add_option("--seed", args->seed, "sampling seed (default 0)")->needs(sample);
  sub.add_option("--length-penalty", args->length_penalty, "beam score exponent (default 1)")->needs(beams);
  sub.add_option("--early-stopping", args->early_stopping, "beam search stop rule")
      ->check(CLI::IsMember({"true", "false", "never"}))
      ->needs(beams);
  sub.add_flag("--json", args->json, "print prompts, continuations, token ids (and beam scores) as JSON");
  tasks::add_device_flag(sub, args->device);
  train::add_precision_flag(sub, args->precision);
  sub.callback([args] { run(*args); });
});

}  // namespace
}  // namespace app
