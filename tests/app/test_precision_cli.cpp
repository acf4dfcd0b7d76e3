// `--precision` on the command line, with the tiny BERT sentiment task of the train CLI tests:
// `peft train --precision bf16` (LoRA) stays within a few % of the f32 run's losses, records the
// cast in results.json and writes an f32 adapter, and `peft eval --precision bf16` of that
// adapter scores exactly what the evaluation inside training scored; `--precision f32` gives
// the losses of a run without the flag bit for bit; f16 with an overflowing loss scale skips
// every step and counts them (metrics.jsonl, results.json, the summary table); `peft generate
// --precision bf16` runs; a bad value is one line naming the flag, before anything is written.
// On a GPU (skipped without one): bf16 and f16 runs on cuda:0 track the CPU runs.
#include <algorithm>
#include <cmath>

#include <gtest/gtest.h>

#include "engine/backend/cuda/cuda_device.h"
#include "engine/io/tensor_io.h"
#include "test_tasks_fixture.h"

using namespace tasks_test;
using test_support::quote;

namespace {

class PrecisionCli : public SentimentCliTest {
 protected:
  PrecisionCli() : SentimentCliTest("precision_cli") {}

  test_support::CommandResult train(const fs::path& out, const std::string& extra, int steps = 6) {
    return run_peft("train --model " + quote(bert_) + " --task seq-cls --train " + quote(dir_ / "train.csv") +
                    " --validation " + quote(dir_ / "dev.csv") + " --out " + quote(out) +
                    " --no-progress --batch-size 8 --method lora --set r=4 --lr 0.01 --log-every 1 --max-steps " +
                    std::to_string(steps) + " " + extra);
  }
};

nlohmann::json results(const fs::path& out) { return nlohmann::json::parse(read_file(out / "results.json")); }

std::vector<double> losses(const fs::path& out) {
  std::vector<double> v;
  std::ifstream in(out / "metrics.jsonl");
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line);
    if (j.contains("loss")) v.push_back(j["loss"].get<double>());
  }
  return v;
}

}  // namespace

TEST_F(PrecisionCli, Bf16TrainTracksF32AndEvalReproducesTheInTrainingScore) {
  ASSERT_EQ(train(dir_ / "f32", "").status, 0);
  const auto r = train(dir_ / "bf16", "--precision bf16");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto a = losses(dir_ / "f32"), b = losses(dir_ / "bf16");
  ASSERT_EQ(a.size(), 6u);
  ASSERT_EQ(b.size(), 6u);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(b[i], a[i], 0.03 * a[i]) << "step " << i + 1;
  const auto j = results(dir_ / "bf16");
  EXPECT_EQ(j["precision"], "bf16");
  EXPECT_EQ(j["config"]["training"]["precision"], "bf16");
  EXPECT_GT(j["frozen_cast"]["tensors"].get<int64_t>(), 0);
  EXPECT_EQ(results(dir_ / "f32")["frozen_cast"]["tensors"], 0);
  for (const auto& [name, t] : engine::io::load_safetensors(dir_ / "bf16" / "adapter" / "adapter_model.safetensors"))
    EXPECT_EQ(t.dtype(), engine::DType::f32) << name;

  // Same base weights in bf16, same f32 adapter, same autocast: the same scores.
  const auto e = run_peft("eval --model " + quote(bert_) + " --adapter " + quote(dir_ / "bf16" / "adapter") +
                              " --task seq-cls --data " + quote(dir_ / "dev.csv") + " --batch-size 8 --json --precision bf16",
                          /*keep_stderr=*/false);
  ASSERT_EQ(e.status, 0) << e.output;
  const auto m = nlohmann::json::parse(e.output);
  EXPECT_DOUBLE_EQ(m["accuracy"].get<double>(), j["final_metrics"]["accuracy"].get<double>());
  EXPECT_DOUBLE_EQ(m["eval_loss"].get<double>(), j["final_metrics"]["eval_loss"].get<double>());
}

TEST_F(PrecisionCli, F32FlagIsBitIdenticalToNoFlag) {
  ASSERT_EQ(train(dir_ / "none", "").status, 0);
  ASSERT_EQ(train(dir_ / "f32", "--precision f32").status, 0);
  EXPECT_EQ(losses(dir_ / "none"), losses(dir_ / "f32"));
  EXPECT_EQ(losses(dir_ / "none").size(), 6u);
  const auto state = nlohmann::json::parse(read_file(dir_ / "f32" / "checkpoint" / "trainer_state.json"));
  EXPECT_FALSE(state.contains("precision"));  // f32 checkpoints are written as before
}

TEST_F(PrecisionCli, F16OverflowingScaleSkipsStepsAndReportsThem) {
  const auto r = train(dir_ / "f16", "--precision f16 --loss-scale 1099511627776", 3);  // 2^40
  ASSERT_EQ(r.status, 0) << r.output;
  const auto j = results(dir_ / "f16");
  EXPECT_EQ(j["steps"], 3);
  EXPECT_EQ(j["skipped_steps"], 3);
  EXPECT_EQ(j["loss_scale"].get<double>(), 137438953472.0);  // 2^37
  EXPECT_NE(r.output.find("skipped steps"), std::string::npos) << r.output;  // the summary table
  std::ifstream in(dir_ / "f16" / "metrics.jsonl");
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  EXPECT_EQ(nlohmann::json::parse(line)["skipped_steps"], 1);
}

TEST_F(PrecisionCli, DataToTextEvaluationGeneratesUnderBf16) {
  const fs::path gpt2 = tiny_checkpoint(dir_ / "gpt2", "gpt2",
                                     {"The Eagle is a coffee shop.", "name : The Eagle | Type : coffee shop",
                                      "Alimentum serves Italian food.", "Cotto is by the riverside."});
  write_file(dir_ / "e2e.csv", e2e_csv());
  const fs::path out = dir_ / "d2t";
  const auto r = run_peft("train --model " + quote(gpt2) + " --task data-to-text --train " + quote(dir_ / "e2e.csv") +
                          " --validation " + quote(dir_ / "e2e.csv") +
                          " --method prefix_tuning --set num_virtual_tokens=4 --max-steps 2 --batch-size 2"
                          " --eval-metric bleu --max-new-tokens 4 --no-progress --precision bf16 --out " + quote(out));
  ASSERT_EQ(r.status, 0) << r.output;
  const auto j = results(out);
  EXPECT_EQ(j["precision"], "bf16");
  for (const char* m : {"bleu", "eval_loss"}) EXPECT_TRUE(std::isfinite(j["final_metrics"][m].get<double>())) << m;
}

TEST_F(PrecisionCli, GenerateRunsInBf16) {
  const fs::path gpt2 = tiny_checkpoint(dir_ / "gpt2", "gpt2", {"the film was good", "the film was bad"});
  const auto r = run_peft("generate --model " + quote(gpt2) + " --prompt 'the film' --max-new-tokens 4 --precision bf16 --json",
                          /*keep_stderr=*/false);
  ASSERT_EQ(r.status, 0) << r.output;
  const auto tokens = nlohmann::json::parse(r.output)[0]["tokens"];
  EXPECT_GE(tokens.size(), 1u);
  EXPECT_LE(tokens.size(), 4u);
}

TEST_F(PrecisionCli, BadValueIsOneLineNamingTheFlag) {
  for (const std::string cmd :
       {"train --model " + quote(bert_) + " --train " + quote(dir_ / "train.csv") + " --out " + quote(dir_ / "x") +
            " --precision fp16",
        "eval --model " + quote(bert_) + " --data " + quote(dir_ / "dev.csv") + " --precision fp16",
        "generate --model " + quote(bert_) + " --prompt hi --precision fp16"}) {
    const auto r = run_peft(cmd);
    EXPECT_NE(r.status, 0) << cmd;
    EXPECT_NE(r.output.find("--precision: expected f32, bf16 or f16, got 'fp16'"), std::string::npos) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  }
  EXPECT_FALSE(fs::exists(dir_ / "x"));
}

// On a GPU: the same LoRA run in bf16 and f16 on cuda:0 tracks the CPU's mixed-precision run
// (the CPU reproduces the GPU's roundings; the GEMMs' accumulation order differs), and a bf16
// adapter trained on the GPU scores the same under `peft eval --precision bf16` on the CPU.
TEST_F(PrecisionCli, CudaMixedPrecisionRunsTrackTheCpu) {
  if (!engine::cuda::available()) GTEST_SKIP() << "no CUDA device (built with CUDA: " << engine::cuda::built() << ")";
  for (const std::string precision : {"bf16", "f16"}) {
    SCOPED_TRACE(precision);
    const fs::path cpu = dir_ / ("cpu_" + precision), gpu = dir_ / ("gpu_" + precision);
    ASSERT_EQ(train(cpu, "--precision " + precision).status, 0);
    const auto r = train(gpu, "--precision " + precision + " --device cuda");
    ASSERT_EQ(r.status, 0) << r.output;
    const auto a = losses(cpu), b = losses(gpu);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(b[i], a[i], 0.02 * a[i]) << "step " << i + 1;
    EXPECT_EQ(results(gpu)["skipped_steps"], results(cpu)["skipped_steps"]);
    EXPECT_EQ(results(gpu)["frozen_cast"], results(cpu)["frozen_cast"]);
  }
  const auto e = run_peft("eval --model " + quote(bert_) + " --adapter " + quote(dir_ / "gpu_bf16" / "adapter") +
                              " --task seq-cls --data " + quote(dir_ / "dev.csv") + " --batch-size 8 --json --precision bf16",
                          /*keep_stderr=*/false);
  ASSERT_EQ(e.status, 0) << e.output;
  EXPECT_NEAR(nlohmann::json::parse(e.output)["eval_loss"].get<double>(),
              results(dir_ / "gpu_bf16")["final_metrics"]["eval_loss"].get<double>(), 0.02);
}
