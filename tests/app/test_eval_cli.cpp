// `peft eval` and `peft generate --adapter` on tiny models made here: a prompt-tuning adapter
// changes `peft generate`'s output and gives exactly the tokens of in-process peft::generate;
// causal-LM evaluation reports perplexity = exp(eval_loss) and writes one prediction per
// example; token classification trains and scores per tagged word.
#include <cmath>

#include <gtest/gtest.h>

#include "app/tasks/model_setup.h"
#include "peft/core/generate.h"
#include "peft/core/peft_model.h"
#include "test_tasks_fixture.h"

using namespace tasks_test;
using test_support::quote;

namespace {

class EvalCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test_dir("eval_cli");
    write_file(dir_ / "lm.csv", "text\nThe Eagle is a coffee shop.\nCotto is by the riverside.\n"
                                "Alimentum serves Italian food.\n");
    gpt2_ = tiny_checkpoint(dir_ / "gpt2", "gpt2",
                            {"The Eagle is a coffee shop.", "Cotto is by the riverside.", "Alimentum serves food."});
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_, gpt2_;
};

std::vector<int64_t> tokens_of(const std::string& json_output) {
  return nlohmann::json::parse(json_output).at(0).at("tokens").get<std::vector<int64_t>>();
}

}  // namespace

TEST_F(EvalCli, GenerateWithPromptTuningAdapterMatchesInProcess) {
  const fs::path out = dir_ / "pt";
  const auto r = run_peft("train --model " + quote(gpt2_) + " --task causal-lm --train " + quote(dir_ / "lm.csv") +
                          " --method prompt_tuning --set num_virtual_tokens=3 --max-steps 2 --lr 0.5 --no-progress"
                          " --out " + quote(out));
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string gen = "generate --model " + quote(gpt2_) + " --prompt 'The Eagle' --max-new-tokens 6 --json";
  const auto plain = run_peft(gen, false), adapted = run_peft(gen + " --adapter " + quote(out / "adapter"), false);
  ASSERT_EQ(plain.status, 0) << plain.output;
  ASSERT_EQ(adapted.status, 0) << adapted.output;
  EXPECT_NE(tokens_of(plain.output), tokens_of(adapted.output));

  peft::PeftModel model(models::load_pretrained(gpt2_));
  model.load_adapter(out / "adapter");
  const auto tok = models::load_tokenizer(gpt2_);
  auto config = models::generation::default_generation_config(model.base().config(), gpt2_);
  config.max_new_tokens = 6;
  const auto mine = peft::generate(model, {tok->encode("The Eagle").ids}, config);
  EXPECT_EQ(tokens_of(adapted.output), mine.tokens.at(0));
}

TEST_F(EvalCli, CausalLmReportsPerplexityAndPredictions) {
  const auto r = run_peft("eval --model " + quote(gpt2_) + " --task causal-lm --data " + quote(dir_ / "lm.csv") +
                              " --json --max-new-tokens 3 --predictions " + quote(dir_ / "pred.txt"),
                          false);
  ASSERT_EQ(r.status, 0) << r.output;
  const auto m = nlohmann::json::parse(r.output);
  EXPECT_NEAR(m["perplexity"].get<double>(), std::exp(m["eval_loss"].get<double>()), 1e-9);
  EXPECT_GT(m["eval_loss"].get<double>(), 0);
  const std::string pred = read_file(dir_ / "pred.txt");
  EXPECT_EQ(std::count(pred.begin(), pred.end(), '\n'), 3);
}

TEST_F(EvalCli, TokenClassificationTrainsAndScoresTaggedWords) {
  std::string csv = "text,label\n";
  for (int i = 0; i < 12; ++i) csv += i % 2 ? "the eagle flies,0 1 2\n" : "a cotto swims far,0 1 2 2\n";
  write_file(dir_ / "ner.csv", csv);
  const fs::path bert = tiny_checkpoint(dir_ / "bert", "bert", {"the eagle flies", "a cotto swims far"});
  const auto r = run_peft("train --model " + quote(bert) + " --task token-cls --num-labels 3 --train " +
                          quote(dir_ / "ner.csv") + " --method lora --max-steps 2 --no-progress --out " +
                          quote(dir_ / "tok"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(app::tasks::adapter_num_labels(dir_ / "tok" / "adapter"), 3);
  const auto e = run_peft("eval --model " + quote(bert) + " --adapter " + quote(dir_ / "tok" / "adapter") +
                              " --task token-cls --data " + quote(dir_ / "ner.csv") + " --json --predictions " +
                              quote(dir_ / "tags.txt"),
                          false);
  ASSERT_EQ(e.status, 0) << e.output;
  EXPECT_TRUE(nlohmann::json::parse(e.output).contains("accuracy"));
  std::ifstream tags(dir_ / "tags.txt");
  std::string first, second;
  std::getline(tags, first), std::getline(tags, second);
  EXPECT_EQ(std::count(first.begin(), first.end(), ' '), 3) << first;   // 4 words
  EXPECT_EQ(std::count(second.begin(), second.end(), ' '), 2) << second;  // 3 words
}
