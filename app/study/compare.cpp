// Method comparison on a data-to-text task (see compare.h).
#include "app/study/compare.h"

#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>

#include "app/eval/data_to_text_eval.h"
#include "app/train/peft_target.h"
#include "app/train/trainer.h"
#include "engine/engine.h"
#include "models/generation/generation_config.h"
#include "models/tokenizers/tokenizer.h"
#include "peft/core/registry.h"

namespace app::study {

namespace fs = std::filesystem;
using nlohmann::json;

std::vector<MethodSpec> default_methods() {
  return {
      {"full", "full", json::object(), 5e-4},
      {"lora", "lora", {{"r", 8}, {"lora_alpha", 16}, {"target_modules", "all-linear"}}, 5e-3},
      {"prefix", "prefix_tuning", {{"num_virtual_tokens", 10}}, 3e-2},
      {"adapter", "houlsby", {{"reduction_factor", 8}}, 1e-3},
      {"bitfit", "bitfit", json::object(), 2e-2},
      {"ia3", "ia3", json::object(), 1e-1},
      {"prompt", "prompt_tuning", {{"num_virtual_tokens", 10}}, 1e-1},
  };
}

std::vector<MethodSpec> select_methods(const std::string& comma_list) {
  const std::vector<MethodSpec> all = default_methods();
  if (comma_list.empty() || comma_list == "all") return all;
  std::vector<MethodSpec> out;
  std::stringstream ss(comma_list);
  for (std::string label; std::getline(ss, label, ',');) {
    auto it = std::find_if(all.begin(), all.end(), [&](const MethodSpec& m) { return m.label == label; });
    if (it == all.end()) {
      std::string known;
      for (const auto& m : all) known += " " + m.label;
      engine::fail<engine::KeyError>("[compare] unknown method '", label, "'; known:", known);
    }
    out.push_back(*it);
  }
  return out;
}

void apply_lr_overrides(std::vector<MethodSpec>& methods, const std::vector<std::string>& overrides) {
  for (const std::string& o : overrides) {
    const auto eq = o.find('=');
    engine::check<engine::ValueError>(eq != std::string::npos, "[compare] --lr expects method=value, got '", o, "'");
    bool found = false;
    for (auto& m : methods)
      if (m.label == o.substr(0, eq)) m.lr = std::stod(o.substr(eq + 1)), found = true;
    engine::check<engine::KeyError>(found, "[compare] --lr names no selected method: '", o, "'");
  }
}

json MethodResult::to_json() const {
  json curve = json::array();
  for (const auto& [step, loss] : loss_curve) curve.push_back({step, loss});
  return {{"method", spec.label},     {"preset", spec.preset},   {"config", spec.overrides},
          {"lr", spec.lr},            {"trainable", trainable},  {"all_params", all_params},
          {"trainable_pct", all_params ? 100.0 * double(trainable) / double(all_params) : 0.0},
          {"seconds_per_step", seconds_per_step}, {"train_seconds", train_seconds},
          {"eval_seconds", eval_seconds},         {"peak_mb", peak_mb}, {"final_loss", final_loss},
          {"metrics", metrics},                   {"loss_curve", curve}, {"samples", samples}};
}

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::vector<std::pair<int64_t, double>> read_loss_curve(const fs::path& metrics_jsonl) {
  std::vector<std::pair<int64_t, double>> curve;
  std::ifstream in(metrics_jsonl);
  for (std::string line; std::getline(in, line);) {
    const json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_object() && j.contains("loss") && j.contains("step")) curve.emplace_back(j["step"].get<int64_t>(), j["loss"].get<double>());
  }
  return curve;
}

}  // namespace

MethodResult run_method(const Task& task, const MethodSpec& spec, const CompareOptions& o) {
  MethodResult r;
  r.spec = spec;
  const fs::path run_dir = o.output_dir / spec.label;
  fs::remove_all(run_dir);  // a comparison always trains from the base (no stale resume)
  engine::reset_peak_memory();
  models::ModelPtr base = models::load_pretrained(task.base);
  std::shared_ptr<peft::PeftModel> model;  // also what evaluation runs through
  std::unique_ptr<train::TrainTarget> target;
  if (spec.preset == "full") {
    target = std::make_unique<train::FullFineTune>(base);
    r.trainable = r.all_params = base->num_parameters();
  } else {
    model = std::make_shared<peft::PeftModel>(base);
    json overrides = spec.overrides;
    overrides["task_type"] = "CAUSAL_LM";
    model->add_adapter("default", peft::make_config(spec.preset, overrides), o.seed);
    target = std::make_unique<train::PeftTarget>(model);
    r.trainable = model->num_trainable_parameters();
    r.all_params = model->num_all_parameters();
  }

  auto tokenizer = models::load_tokenizer(task.base);
  const int64_t pad = tokenizer->pad_id().value_or(tokenizer->eos_id().value_or(0));
  train::CausalLmFormat format;
  // What the positions allow, less room for virtual tokens (prompt/prefix methods shift positions).
  format.max_length = size_t(base->config().value("n_positions", 1024)) - 32;  // 256 - 32 for the demo base
  auto features = std::make_shared<std::vector<train::Features>>(train::data_to_text_features(*tokenizer, task.train, format));
  train::Dataset data = train::features_dataset(features, train::TaskKind::causal_lm, pad, size_t(o.batch_size), 8);

  train::TrainOptions t;
  t.lr = spec.lr, t.batch_size = o.batch_size, t.max_steps = o.steps, t.seed = o.seed;
  t.schedule = "linear", t.warmup_ratio = 0.06, t.log_every = 10, t.keep_best = false;
  t.output_dir = run_dir.string(), t.resume = false, t.progress = o.progress;
  const auto t0 = std::chrono::steady_clock::now();
  train::TrainResult trained = train::train(*target, data, t);
  r.train_seconds = seconds_since(t0);
  r.seconds_per_step = trained.steps ? r.train_seconds / double(trained.steps) : 0;
  r.peak_mb = double(engine::memory_stats().peak) / (1 << 20);
  r.final_loss = trained.last_loss;
  r.loss_curve = read_loss_curve(run_dir / "metrics.jsonl");
  if (!model) model = std::make_shared<peft::PeftModel>(base);  // full fine-tuning: no adapter, trained base

  models::generation::GenerationConfig gen = models::generation::default_generation_config(model->base().config(), task.base);
  gen.max_new_tokens = o.max_new_tokens;
  if (gen.eos_token_ids.empty() && tokenizer->eos_id()) gen.eos_token_ids = {*tokenizer->eos_id()};
  std::vector<data::DataToTextExample> test = task.test;
  if (o.eval_records > 0 && test.size() > o.eval_records) test.resize(o.eval_records);
  const auto t1 = std::chrono::steady_clock::now();
  eval::DataToTextEval scored = eval::evaluate_data_to_text(*model, *tokenizer, test, gen, format);
  r.eval_seconds = seconds_since(t1);
  r.metrics = scored.metrics;
  for (size_t i = 0; i < std::min<size_t>(3, scored.hypotheses.size()); ++i) r.samples.push_back(scored.hypotheses[i]);
  return r;
}

std::vector<MethodResult> compare(const Task& task, const std::vector<MethodSpec>& methods, const CompareOptions& o) {
  std::vector<MethodResult> results;
  for (size_t i = 0; i < methods.size(); ++i) {
    std::cerr << "[" << i + 1 << "/" << methods.size() << "] " << methods[i].label << " (" << methods[i].preset
              << ", lr " << methods[i].lr << ", " << o.steps << " steps)\n";
    results.push_back(run_method(task, methods[i], o));
    const MethodResult& r = results.back();
    std::cerr << "      loss " << r.final_loss << ", BLEU " << r.metrics.at("bleu") << ", ROUGE-L "
              << r.metrics.at("rouge_l") << ", " << r.seconds_per_step << " s/step\n";
  }
  write_report(results, o.output_dir);
  return results;
}

}  // namespace app::study
