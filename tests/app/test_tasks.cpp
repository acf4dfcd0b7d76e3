// app::tasks and app::eval::classification_eval without the program: task names and
// architectures, reading data per task (defaults, token tags, empty files), features (a
// word's tag on its first piece only), method configs (task_type, AdaLoRA's total_step,
// --set parsing) and classifier scoring through a forward function.
#include <gtest/gtest.h>

#include "app/eval/classification_eval.h"
#include "app/tasks/model_setup.h"
#include "app/tasks/task.h"
#include "engine/engine.h"
#include "test_tasks_fixture.h"

using namespace app;
using namespace tasks_test;
using tasks::Task;

namespace {

template <typename E, typename F>
std::string error_of(F f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "no exception";
}

}  // namespace

TEST(Tasks, NamesAndArchitectures) {
  EXPECT_EQ(tasks::parse_task("data-to-text"), Task::data_to_text);
  EXPECT_NE(error_of<engine::ValueError>([] { tasks::parse_task("ner"); }).find("token-cls"), std::string::npos);
  EXPECT_EQ(tasks::task_architecture(Task::seq_cls, "roberta"), "RobertaForSequenceClassification");
  EXPECT_EQ(tasks::task_architecture(Task::data_to_text, "gpt2"), "GPT2LMHeadModel");
  EXPECT_EQ(tasks::task_architecture(Task::seq2seq, "t5"), "T5ForConditionalGeneration");
  EXPECT_NE(error_of<engine::ConfigError>([] { tasks::task_architecture(Task::seq2seq, "bert"); }).find("'bert'"),
            std::string::npos);
  EXPECT_EQ(tasks::peft_task_type(Task::seq2seq), "SEQ_2_SEQ_LM");
}

TEST(Tasks, ReadsDataWithTheTasksDefaultsAndRejectsBadFiles) {
  const fs::path dir = test_dir("tasks");
  write_file(dir / "a.csv", "text,label,target\nhello there,1,hi\n");
  EXPECT_EQ(tasks::read_task_data(Task::seq_cls, dir / "a.csv", {}).examples.at(0).label, 1);
  EXPECT_EQ(tasks::read_task_data(Task::seq2seq, dir / "a.csv", {}).examples.at(0).target, "hi");
  write_file(dir / "h.csv", "text,label\n");
  EXPECT_NE(error_of<engine::IOError>([&] { tasks::read_task_data(Task::seq_cls, dir / "h.csv", {}); })
                .find("h.csv: no examples"),
            std::string::npos);
  write_file(dir / "t.tsv", "text\tlabel\nthe eagle flies\t0 1\n");
  EXPECT_NE(error_of<engine::IOError>([&] { tasks::read_task_data(Task::token_cls, dir / "t.tsv", {}); })
                .find("3 word(s) but 2 tag(s)"),
            std::string::npos);
  EXPECT_NE(error_of<engine::ValueError>([&] { tasks::read_task_data(Task::data_to_text, dir / "t.tsv", {"tsv", {}}); })
                .find("e2e or webnlg"),
            std::string::npos);
  fs::remove_all(dir);
}

TEST(Tasks, TokenTagsGoToTheFirstPieceOfEachWord) {
  const fs::path dir = test_dir("tasks");
  const fs::path bert = tiny_checkpoint(dir / "bert", "bert", {"the eagle flies", "the eagle"});
  const auto tok = models::load_tokenizer(bert);
  tasks::TaskData data;
  data.examples.push_back({.text = "the flieseagle flies", .target = "0 2 1"});
  const auto f = tasks::task_features(Task::token_cls, *tok, data, {}).at(0);
  ASSERT_EQ(f.input_ids.size(), f.labels.size());
  std::vector<int64_t> tagged;
  for (int64_t l : f.labels)
    if (l != train::kIgnoreIndex) tagged.push_back(l);
  EXPECT_EQ(tagged, (std::vector<int64_t>{0, 2, 1}));
  EXPECT_GT(f.input_ids.size(), 5u);  // [CLS] + >1 piece for "flieseagle" + [SEP]
  EXPECT_EQ(f.labels.front(), train::kIgnoreIndex);
  fs::remove_all(dir);
}

TEST(Tasks, MethodConfigsGetTaskTypeAndTotalStep) {
  EXPECT_EQ(tasks::method_config("lora", {}, Task::seq_cls, 10)->task_type, "SEQ_CLS");
  const auto ada = tasks::method_config("adalora", {}, Task::causal_lm, 123)->to_json();
  EXPECT_EQ(ada["total_step"], 123);
  const auto set = tasks::parse_overrides({"r=4", "target_modules=[\"query\"]", "init_lora_weights=gaussian"});
  EXPECT_EQ(set["r"], 4);
  EXPECT_EQ(set["target_modules"], nlohmann::json::array({"query"}));
  EXPECT_EQ(set["init_lora_weights"], "gaussian");
  EXPECT_EQ(tasks::method_config("lora", set, Task::seq_cls, 1)->to_json()["r"], 4);
  EXPECT_NE(error_of<engine::KeyError>([] { tasks::method_config("nope", {}, Task::seq_cls, 1); }).find("full"),
            std::string::npos);
}

TEST(ClassificationEval, ArgmaxOfTheForwardsLogits) {
  std::vector<train::Features> f(3);
  for (size_t i = 0; i < f.size(); ++i) f[i].input_ids = {1, 2}, f[i].label = int64_t(i % 2);
  // Logits favour class 1 for every row: predictions 1,1,1 against gold 0,1,0.
  auto forward = [](const models::Batch& b) {
    models::ModelOutput out;
    const int64_t n = b.input_ids.size(0);
    std::vector<float> logits;
    for (int64_t i = 0; i < n; ++i) logits.insert(logits.end(), {0.f, 1.f});
    out.logits = engine::from_vector(logits, {n, 2});
    return out;
  };
  const auto r = eval::evaluate_classification(forward, f, train::TaskKind::classification, 0, 2);
  ASSERT_EQ(r.predictions.size(), 3u);
  EXPECT_EQ(r.predictions[2], std::vector<int64_t>{1});
  EXPECT_DOUBLE_EQ(r.metrics.at("accuracy"), 1.0 / 3);
  EXPECT_DOUBLE_EQ(r.metrics.at("f1"), 0.5);  // binary: precision 1/3, recall 1
  EXPECT_DOUBLE_EQ(r.metrics.at("mcc"), 0.0);
}
