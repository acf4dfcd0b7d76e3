// The tasks `peft train` and `peft eval` share: what a data file holds for a task, how its
// examples become features and batches, which architecture the task needs and which PEFT
// task_type an adapter trained on it records.
//
//   seq-cls       text (+ text pair) -> one label       *ForSequenceClassification   SEQ_CLS
//   token-cls     words -> one label per word           BertForTokenClassification   TOKEN_CLS
//   causal-lm     text, or source -> target             GPT2LMHeadModel              CAUSAL_LM
//   seq2seq       source -> target                      T5ForConditionalGeneration   SEQ_2_SEQ_LM
//   data-to-text  E2E / WebNLG (all references)         GPT2LMHeadModel              CAUSAL_LM
//
// Token classification data: the text column holds the words separated by spaces and the
// label column one integer tag per word (CoNLL flattened to a line); the first sub-token of a
// word carries its tag, the others and the special tokens -100 (HF's run_ner recipe).
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "app/data/data_to_text.h"
#include "app/data/examples.h"
#include "app/train/batching.h"
#include "models/tokenizers/tokenizer.h"

namespace app::tasks {

enum class Task { seq_cls, token_cls, causal_lm, seq2seq, data_to_text };

// "seq-cls" -> Task::seq_cls; engine::ValueError listing the names otherwise.
Task parse_task(const std::string& name);
std::string task_name(Task task);
std::vector<std::string> task_names();
// PEFT's task_type for adapter_config.json.
std::string peft_task_type(Task task);
// How features are collated (class labels, token labels, seq2seq targets).
train::TaskKind batch_kind(Task task);
bool is_classification(Task task);
// The architecture a task needs for a checkpoint of `model_type` (bert, roberta, gpt2, t5);
// engine::ConfigError naming both when the pair makes no sense.
std::string task_architecture(Task task, const std::string& model_type);

// Where the examples come from: a format (csv | tsv | jsonl | e2e | webnlg | sst2 | text;
// "" = from the extension) and the column names (empty ones get the task's defaults:
// text / text_pair unused / label / target).
struct DataSpec {
  std::string format;
  data::ColumnMap columns;
};
std::vector<std::string> format_names();

// Every example of a file, in file order: `examples` for all tasks but data-to-text, which
// fills `data_to_text`. The readers' one-line errors pass through; a file with no example is
// an engine::IOError naming it.
struct TaskData {
  std::vector<data::Example> examples;
  std::vector<data::DataToTextExample> data_to_text;
  size_t size() const { return examples.size() + data_to_text.size(); }
};
TaskData read_task_data(Task task, const std::filesystem::path& path, const DataSpec& spec);

// Per-word tags of a token-classification example ("0 3 1"), checked against the word count
// and num_labels (> 0). engine::IOError naming `where`.
std::vector<int64_t> parse_tags(const data::Example& example, int64_t num_labels, const std::string& where);

struct FeatureOptions {
  size_t max_length = 256;   // input tokens (causal LM: source + target)
  size_t max_target = 128;   // seq2seq target tokens
  train::CausalLmFormat format;  // data-to-text / causal LM with a target: the separator
  int64_t num_labels = 0;    // token-cls tag range check
};

// One tokenised example per example (data-to-text: one per reference, data_to_text_features).
std::vector<train::Features> task_features(Task task, const models::Tokenizer& tok, const TaskData& data,
                                           const FeatureOptions& options);
// The number of classes the data needs: one more than its largest label (at least 2).
int64_t labels_needed(Task task, const TaskData& data);
// The id that pads batches: the tokenizer's pad, else its eos, else 0.
int64_t pad_id(const models::Tokenizer& tok);

}  // namespace app::tasks
