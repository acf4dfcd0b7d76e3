// Comparing PEFT methods on one data-to-text task with one budget (`peft compare` and the main
// job): every method starts from the same pretrained base, trains the same number of steps
// on the same batches, and is scored on the same held-out records by generation (BLEU,
// ROUGE-L, NIST, CIDEr over all references). For each method we record trainable
// parameters, time per step, peak tensor memory during training and the loss curve.
#pragma once
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/data/data_to_text.h"
#include "app/train/batching.h"

namespace app::study {

// One contender: "full" (full fine-tuning) or a peft preset with config overrides.
struct MethodSpec {
  std::string label;    // the table's name ("lora", "prefix", ...)
  std::string preset;   // "full" or a peft::method_presets() name
  nlohmann::json overrides = nlohmann::json::object();
  double lr = 1e-3;
};

// The default set of the main job: full fine-tuning, LoRA, prefix tuning, a bottleneck
// adapter, BitFit, (IA)³ and prompt tuning, with learning rates that suit a small base.
std::vector<MethodSpec> default_methods();
// Picks methods by label from default_methods() ("all" = every one); KeyError naming the known labels.
std::vector<MethodSpec> select_methods(const std::string& comma_list);

// `--lr lora=0.01`: sets a selected method's learning rate. ValueError without "=", KeyError
// when no selected method has that label.
void apply_lr_overrides(std::vector<MethodSpec>& methods, const std::vector<std::string>& overrides);

struct CompareOptions {
  int64_t steps = 300, batch_size = 16;
  size_t eval_records = 100;       // held-out records scored by generation (0 = all)
  int64_t max_new_tokens = 48;
  uint64_t seed = 0;
  std::filesystem::path output_dir;  // one sub-folder per method + report files
  bool progress = true;
};

struct MethodResult {
  MethodSpec spec;
  int64_t trainable = 0, all_params = 0;
  double seconds_per_step = 0, train_seconds = 0, eval_seconds = 0, peak_mb = 0, final_loss = 0;
  std::map<std::string, double> metrics;              // bleu, rouge_l, nist, cider, ...
  std::vector<std::pair<int64_t, double>> loss_curve;  // (step, loss) from metrics.jsonl
  std::vector<std::string> samples;                    // a few generated texts
  nlohmann::json to_json() const;
};

struct Task {
  std::filesystem::path base;  // HF checkpoint folder of a causal LM with its tokenizer
  std::vector<data::DataToTextExample> train, test;
};

// Trains and evaluates one method; its run folder is output_dir/<label>.
MethodResult run_method(const Task& task, const MethodSpec& spec, const CompareOptions& options);

// Runs every method, printing a progress line per method; then writes the report.
std::vector<MethodResult> compare(const Task& task, const std::vector<MethodSpec>& methods, const CompareOptions& options);

// The aligned table (trainable params and %, s/step, peak MiB, BLEU, ROUGE-L, NIST, CIDEr).
std::string results_table(const std::vector<MethodResult>& results);
// results.json, results.txt (the table), loss_curves.svg and quality_vs_params.svg in `dir`.
void write_report(const std::vector<MethodResult>& results, const std::filesystem::path& dir);

}  // namespace app::study
