// `peft train` end to end on tiny models made here: a LoRA sequence classifier whose adapter
// folder loads into a PeftModel and whose `peft eval` accuracy equals the accuracy
// computed in-process; prefix tuning for data-to-text and its results.json; full fine-tuning
// writing a loadable model folder; resuming a run with more steps; and the input errors
// (unknown method, missing column, label out of range, bad --set field) that leave the output
// folder untouched.
#include <gtest/gtest.h>

#include "app/eval/classification_eval.h"
#include "app/tasks/model_setup.h"
#include "peft/core/peft_model.h"
#include "test_tasks_fixture.h"

using namespace tasks_test;
using test_support::quote;

namespace {

class TrainCli : public SentimentCliTest {
 protected:
  TrainCli() : SentimentCliTest("train_cli") {}

  // `peft train` of a seq-cls run into `out` with extra flags.
  test_support::CommandResult train(const fs::path& out, const std::string& extra) {
    return run_peft("train --model " + quote(bert_) + " --task seq-cls --train " + quote(dir_ / "train.csv") + " --out " +
                quote(out) + " --no-progress --batch-size 8 " + extra);
  }
};

nlohmann::json results(const fs::path& out) { return nlohmann::json::parse(read_file(out / "results.json")); }

}  // namespace

TEST_F(TrainCli, LoraAdapterLoadsAndEvalAccuracyMatchesInProcess) {
  const fs::path out = dir_ / "lora";
  const auto r = train(out, "--validation " + quote(dir_ / "dev.csv") +
                                " --method lora --set r=4 --lr 0.01 --max-steps 6 --eval-every 3 --eval-metric accuracy");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("trainable params: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("accuracy"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::exists(out / "metrics.jsonl"));

  // In-process: the base with the adapter (its saved classifier included), same batches.
  using namespace app;
  const int64_t num_labels = tasks::adapter_num_labels(out / "adapter");
  EXPECT_EQ(num_labels, 2);
  peft::PeftModel model(tasks::load_task_model({bert_, tasks::Task::seq_cls, "", num_labels, 42}));
  model.load_adapter(out / "adapter");
  const auto tok = models::load_tokenizer(bert_);
  const auto data = tasks::read_task_data(tasks::Task::seq_cls, dir_ / "dev.csv", {});
  const auto features = tasks::task_features(tasks::Task::seq_cls, *tok, data, {});
  const auto mine = eval::evaluate_classification([&](const models::Batch& b) { return model.forward(b); }, features,
                                                  train::TaskKind::classification, tasks::pad_id(*tok), 16);

  const auto e = run_peft("eval --model " + quote(bert_) + " --adapter " + quote(out / "adapter") +
                          " --task seq-cls --data " + quote(dir_ / "dev.csv") + " --json --predictions " +
                          quote(dir_ / "pred.txt"),
                      /*keep_stderr=*/false);
  ASSERT_EQ(e.status, 0) << e.output;
  const auto metrics = nlohmann::json::parse(e.output);
  EXPECT_DOUBLE_EQ(metrics["accuracy"].get<double>(), mine.metrics.at("accuracy"));
  EXPECT_DOUBLE_EQ(metrics["mcc"].get<double>(), mine.metrics.at("mcc"));
  std::string expected;
  for (const auto& p : mine.predictions) expected += std::to_string(p.at(0)) + "\n";
  EXPECT_EQ(read_file(dir_ / "pred.txt"), expected);
  // The run's last evaluation saw the same model and data.
  EXPECT_DOUBLE_EQ(results(out)["final_metrics"]["accuracy"].get<double>(), mine.metrics.at("accuracy"));
}

TEST_F(TrainCli, PrefixTuningDataToTextWritesResults) {
  std::vector<std::string> corpus = {"The Eagle is a coffee shop.", "name : The Eagle | Type : coffee shop",
                                     "Alimentum serves Italian food.", "Cotto is by the riverside."};
  const fs::path gpt2 = tiny_checkpoint(dir_ / "gpt2", "gpt2", corpus);
  write_file(dir_ / "e2e.csv", e2e_csv());
  const fs::path out = dir_ / "prefix";
  const auto r = run_peft("train --model " + quote(gpt2) + " --task data-to-text --train " + quote(dir_ / "e2e.csv") +
                      " --validation " + quote(dir_ / "e2e.csv") +
                      " --method prefix_tuning --set num_virtual_tokens=4 --max-steps 4 --batch-size 2"
                      " --eval-metric bleu --max-new-tokens 6 --no-progress --out " + quote(out));
  ASSERT_EQ(r.status, 0) << r.output;
  const auto j = results(out);
  EXPECT_EQ(j["method"], "prefix_tuning");
  EXPECT_EQ(j["steps"], 4);
  EXPECT_GT(j["trainable_params"].get<int64_t>(), 0);
  EXPECT_GT(j["all_params"].get<int64_t>(), j["trainable_params"].get<int64_t>());
  EXPECT_GT(j["peak_memory_bytes"].get<int64_t>(), 0);
  EXPECT_GT(j["peak_rss_bytes"].get<int64_t>(), 0);
  EXPECT_GT(j["tokens_per_s"].get<double>(), 0);
  for (const char* m : {"bleu", "nist", "rouge_l", "cider", "eval_loss"}) EXPECT_TRUE(j["final_metrics"].contains(m)) << m;
  EXPECT_EQ(j["config"]["method_config"]["peft_type"], "PREFIX_TUNING");
  EXPECT_EQ(j["config"]["method_config"]["num_virtual_tokens"], 4);
  EXPECT_EQ(j["config"]["training"]["max_steps"], 4);
  EXPECT_TRUE(fs::exists(out / "adapter" / "adapter_config.json"));
}

TEST_F(TrainCli, FullFineTuningWritesALoadableModel) {
  const fs::path out = dir_ / "full";
  const auto r = train(out, "--method full --max-steps 2");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("trainable%: 100.0000"), std::string::npos) << r.output;
  const models::ModelPtr m = models::load_pretrained(out / "model");
  EXPECT_EQ(m->architecture(), "BertForSequenceClassification");
  EXPECT_NO_THROW(models::load_tokenizer(out / "model"));
  EXPECT_EQ(results(out)["trainable_params"], results(out)["all_params"]);
}

TEST_F(TrainCli, RerunWithMoreStepsResumes) {
  const fs::path out = dir_ / "resume";
  ASSERT_EQ(train(out, "--method lora --max-steps 4").status, 0);
  EXPECT_EQ(results(out)["steps"], 4);
  const auto r = train(out, "--method lora --max-steps 8");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(results(out)["resumed_from"], 4);
  EXPECT_EQ(results(out)["steps"], 8);
}

TEST_F(TrainCli, UnknownMethodListsThePresets) {
  const auto r = train(dir_ / "x", "--method lorax");
  EXPECT_NE(r.status, 0);
  for (const char* name : {"'lorax'", "full", "lora", "prefix_tuning", "ia3", "fish_mask"})
    EXPECT_NE(r.output.find(name), std::string::npos) << name << " in " << r.output;
  EXPECT_FALSE(fs::exists(dir_ / "x"));
}

TEST_F(TrainCli, BadDataNamesFileAndColumnAndOverwritesNothing) {
  const fs::path out = dir_ / "kept";
  ASSERT_EQ(train(out, "--method lora --max-steps 1").status, 0);
  const std::string before = read_file(out / "results.json");
  auto r = train(out, "--method lora --max-steps 2 --label-column sentiment");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("train.csv"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("'sentiment'"), std::string::npos) << r.output;
  write_file(dir_ / "bad.csv", "text,label\nfine film,1\nodd film,3\n");
  r = run_peft("train --model " + quote(bert_) + " --train " + quote(dir_ / "bad.csv") + " --num-labels 2 --out " + quote(out));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("bad.csv:3: label 3 out of range [0, 2)"), std::string::npos) << r.output;
  write_file(dir_ / "empty.csv", "text,label\n");
  r = run_peft("train --model " + quote(bert_) + " --train " + quote(dir_ / "empty.csv") + " --out " + quote(out));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("empty.csv"), std::string::npos) << r.output;
  EXPECT_EQ(read_file(out / "results.json"), before);
}

TEST_F(TrainCli, BadSetFieldIsTheConfigsError) {
  auto r = train(dir_ / "x", "--method lora --set r=abc");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("'r'"), std::string::npos) << r.output;
  r = train(dir_ / "x", "--method lora --set r");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("key=value"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir_ / "x"));
}
