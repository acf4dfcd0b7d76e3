// Tasks shared by `peft train` and `peft eval` (see task.h).
#include "app/tasks/task.h"

#include <algorithm>
#include <sstream>

#include "app/data/text_file.h"
#include "engine/core/error.h"

namespace app::tasks {
namespace fs = std::filesystem;

namespace {

struct TaskRow {
  Task task;
  const char* name;
  const char* peft_type;
};
constexpr TaskRow kTasks[] = {
    {Task::seq_cls, "seq-cls", "SEQ_CLS"},
    {Task::token_cls, "token-cls", "TOKEN_CLS"},
    {Task::causal_lm, "causal-lm", "CAUSAL_LM"},
    {Task::seq2seq, "seq2seq", "SEQ_2_SEQ_LM"},
    {Task::data_to_text, "data-to-text", "CAUSAL_LM"},
};

const TaskRow& row(Task task) {
  for (const TaskRow& r : kTasks)
    if (r.task == task) return r;
  engine::fail<engine::ValueError>("[task] unknown task id ", int(task));
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// The format named, or the one the file's extension implies.
std::string resolve_format(Task task, const fs::path& path, const std::string& format) {
  if (!format.empty()) {
    const auto names = format_names();
    engine::check<engine::ValueError>(std::find(names.begin(), names.end(), format) != names.end(),
                                      "[data] unknown format '", format, "' (known: ", join(names), ")");
    return format;
  }
  const std::string ext = path.extension().string();
  if (task == Task::data_to_text) return ext == ".csv" ? "e2e" : "webnlg";
  if (ext == ".csv") return "csv";
  if (ext == ".tsv") return "tsv";
  if (ext == ".jsonl" || ext == ".json") return "jsonl";
  if (ext == ".txt") return "text";
  engine::fail<engine::ValueError>("[data] ", path.string(), ": cannot tell the format from the extension; give --format");
}

// The task's default column names where the user gave none. Token tags are read as text
// (the `target` slot) and parsed per word later.
data::ColumnMap task_columns(Task task, data::ColumnMap c) {
  if (c.text.empty()) c.text = "text";
  if (task == Task::seq_cls && c.label.empty()) c.label = "label";
  if (task == Task::token_cls) {
    if (c.target.empty()) c.target = c.label.empty() ? "label" : c.label;
    c.label.clear();
  }
  if (task == Task::seq2seq && c.target.empty()) c.target = "target";
  return c;
}

std::vector<data::Example> read_examples(Task task, const fs::path& path, const std::string& format,
                                         const data::ColumnMap& columns) {
  if (format == "sst2") return data::read_sst2(path);
  if (format == "text") {
    std::vector<data::Example> out;
    for (std::string& line : data::read_lines(path))
      if (!line.empty()) out.push_back({.text = std::move(line)});
    return out;
  }
  const data::ColumnMap c = task_columns(task, columns);
  if (format == "csv") return data::read_csv_examples(path, c);
  if (format == "tsv") return data::read_tsv_examples(path, c);
  if (format == "jsonl") return data::read_jsonl_examples(path, c);
  engine::fail<engine::ValueError>("[data] format '", format, "' does not suit task ", task_name(task),
                                   " (use csv, tsv, jsonl", task == Task::seq_cls ? ", sst2" : "",
                                   task == Task::causal_lm ? ", text" : "", ")");
}

// [CLS] word pieces [SEP] with each word's tag on its first piece.
train::Features token_features(const models::Tokenizer& tok, const data::Example& ex, const std::vector<int64_t>& tags,
                               size_t max_length) {
  std::istringstream words(ex.text);
  train::Features f;
  auto push = [&](int64_t id, int64_t label) { f.input_ids.push_back(id), f.labels.push_back(label); };
  const auto cls = tok.cls_id(), sep = tok.sep_id();
  if (cls) push(*cls, train::kIgnoreIndex);
  size_t i = 0;
  for (std::string word; words >> word; ++i) {
    // byte-level BPE marks a word start with its leading space
    const std::string text = tok.kind() == "bpe" && i > 0 ? " " + word : word;
    const auto ids = tok.encode(text, /*add_special_tokens=*/false).ids;
    for (size_t k = 0; k < ids.size(); ++k) push(ids[k], k == 0 ? tags[i] : train::kIgnoreIndex);
  }
  const size_t room = max_length - (sep ? 1 : 0);
  if (f.input_ids.size() > room) f.input_ids.resize(room), f.labels.resize(room);
  if (sep) push(*sep, train::kIgnoreIndex);
  return f;
}

// Plain text for language modelling: the text and eos, labels = inputs (the model shifts).
train::Features lm_features(const models::Tokenizer& tok, const data::Example& ex, const FeatureOptions& o) {
  if (!ex.target.empty()) return train::causal_lm_features(tok, ex.text, ex.target, o.format);
  const auto eos = tok.eos_id();
  engine::check<engine::ValueError>(eos.has_value(), "[causal-lm] the tokenizer has no eos token");
  train::Features f;
  f.input_ids = tok.encode(ex.text, false).ids;
  if (f.input_ids.size() + 1 > o.max_length) f.input_ids.resize(o.max_length - 1);
  f.input_ids.push_back(*eos);
  f.labels = f.input_ids;
  return f;
}

}  // namespace

Task parse_task(const std::string& name) {
  for (const TaskRow& r : kTasks)
    if (name == r.name) return r.task;
  engine::fail<engine::ValueError>("[task] unknown task '", name, "' (known: ", join(task_names()), ")");
}

std::string task_name(Task task) { return row(task).name; }
std::string peft_task_type(Task task) { return row(task).peft_type; }

std::vector<std::string> task_names() {
  std::vector<std::string> out;
  for (const TaskRow& r : kTasks) out.push_back(r.name);
  return out;
}

std::vector<std::string> format_names() { return {"csv", "tsv", "jsonl", "e2e", "webnlg", "sst2", "text"}; }

train::TaskKind batch_kind(Task task) {
  switch (task) {
    case Task::seq_cls: return train::TaskKind::classification;
    case Task::token_cls: return train::TaskKind::masked_lm;  // token labels, not shifted
    case Task::seq2seq: return train::TaskKind::seq2seq;
    default: return train::TaskKind::causal_lm;
  }
}

bool is_classification(Task task) { return task == Task::seq_cls || task == Task::token_cls; }

std::string task_architecture(Task task, const std::string& model_type) {
  const bool bert = model_type == "bert" || model_type == "roberta";
  const std::string family = model_type == "roberta" ? "Roberta" : "Bert";
  if (task == Task::seq_cls && bert) return family + "ForSequenceClassification";
  if (task == Task::seq_cls && model_type == "gpt2") return "GPT2ForSequenceClassification";
  if (task == Task::token_cls && bert) return family + "ForTokenClassification";
  if ((task == Task::causal_lm || task == Task::data_to_text) && model_type == "gpt2") return "GPT2LMHeadModel";
  if (task == Task::seq2seq && model_type == "t5") return "T5ForConditionalGeneration";
  engine::fail<engine::ConfigError>("[task] task ", task_name(task), " has no architecture for model_type '",
                                    model_type, "' (seq-cls: bert/roberta/gpt2, token-cls: bert/roberta, ",
                                    "causal-lm/data-to-text: gpt2, seq2seq: t5); give --architecture");
}

TaskData read_task_data(Task task, const fs::path& path, const DataSpec& spec) {
  const std::string format = resolve_format(task, path, spec.format);
  TaskData data;
  const bool d2t_format = format == "e2e" || format == "webnlg";
  engine::check<engine::ValueError>((task == Task::data_to_text) == d2t_format, "[data] format '", format,
                                    "' does not suit task ", task_name(task),
                                    task == Task::data_to_text ? " (use e2e or webnlg)" : "");
  if (format == "e2e") data.data_to_text = data::read_e2e(path);
  else if (format == "webnlg")
    data.data_to_text = path.extension() == ".json" ? data::read_webnlg_json(path) : data::read_webnlg_xml(path);
  else data.examples = read_examples(task, path, format, spec.columns);
  engine::check<engine::IOError>(data.size() > 0, path.string(), ": no examples");
  if (task == Task::token_cls)
    for (size_t i = 0; i < data.examples.size(); ++i)
      parse_tags(data.examples[i], spec.columns.num_labels, path.string() + ": example " + std::to_string(i + 1));
  return data;
}

std::vector<int64_t> parse_tags(const data::Example& ex, int64_t num_labels, const std::string& where) {
  std::istringstream words(ex.text), tags(ex.target);
  std::vector<int64_t> out;
  for (std::string tag; tags >> tag;) out.push_back(data::parse_label(tag, num_labels, where));
  size_t n = 0;
  for (std::string w; words >> w;) ++n;
  engine::check<engine::IOError>(n == out.size() && n > 0, where, ": ", n, " word(s) but ", out.size(), " tag(s)");
  return out;
}

std::vector<train::Features> task_features(Task task, const models::Tokenizer& tok, const TaskData& data,
                                           const FeatureOptions& o) {
  if (task == Task::data_to_text) return train::data_to_text_features(tok, data.data_to_text, o.format);
  std::vector<train::Features> out;
  out.reserve(data.examples.size());
  for (size_t i = 0; i < data.examples.size(); ++i) {
    const data::Example& ex = data.examples[i];
    switch (task) {
      case Task::seq_cls: out.push_back(train::classification_features(tok, ex, o.max_length)); break;
      case Task::token_cls:
        out.push_back(token_features(tok, ex, parse_tags(ex, o.num_labels, "example " + std::to_string(i + 1)),
                                     o.max_length));
        break;
      case Task::seq2seq:
        engine::check<engine::ValueError>(!ex.target.empty(), "[seq2seq] example ", i + 1, " has no target");
        out.push_back(train::seq2seq_features(tok, ex.text, ex.target, o.max_length, o.max_target));
        break;
      default: out.push_back(lm_features(tok, ex, o)); break;
    }
  }
  return out;
}

int64_t labels_needed(Task task, const TaskData& data) {
  int64_t top = 1;
  for (size_t i = 0; i < data.examples.size(); ++i) {
    if (task == Task::seq_cls) top = std::max(top, data.examples[i].label);
    if (task == Task::token_cls)
      for (int64_t t : parse_tags(data.examples[i], 0, "example " + std::to_string(i + 1))) top = std::max(top, t);
  }
  return top + 1;
}

int64_t pad_id(const models::Tokenizer& tok) { return tok.pad_id().value_or(tok.eos_id().value_or(0)); }

}  // namespace app::tasks
