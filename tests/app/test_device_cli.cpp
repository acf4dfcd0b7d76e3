// `--device` of `peft train`, `peft eval` and `peft generate`: on a machine (or build) without a
// GPU, `--device cuda` is one readable error line and a non-zero exit before anything is read
// or written; a malformed device name is an error too; `--device cpu` trains as before and
// records the device in results.json. On a GPU machine the train/generate runs on cuda:0 must
// give what the CPU gives (same adapter tensors to f32 rounding, same greedy tokens).
#include <gtest/gtest.h>

#include "engine/backend/cuda/cuda_device.h"
#include "engine/io/tensor_io.h"
#include "test_tasks_fixture.h"

using namespace tasks_test;
using test_support::quote;

namespace {

class DeviceCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(test_support::peft_binary())) GTEST_SKIP() << "build the peft_cli target";
    dir_ = test_dir("device_cli");
    write_file(dir_ / "train.csv", sentiment_csv(16));
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Exactly one line "peft: error: --device <flag>: this ..." naming why, and exit code != 0.
  static void expect_device_error(const test_support::CommandResult& r, const std::string& flag) {
    EXPECT_NE(r.status, 0) << r.output;
    const std::string prefix = "peft: error: --device " + flag + ": ";
    EXPECT_EQ(r.output.rfind(prefix, 0), 0u) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
    const bool built = engine::cuda::built();
    EXPECT_NE(r.output.find(built ? "this machine has no CUDA device" : "this build has no CUDA backend"),
              std::string::npos)
        << r.output;
  }

  fs::path dir_;
};

TEST_F(DeviceCli, CudaWithoutADeviceIsOneLineAndNothingIsWritten) {
  if (engine::cuda::available()) GTEST_SKIP() << "this machine has a CUDA device";
  const fs::path out = dir_ / "run";
  // The model folder does not exist: the device is checked first, so that is not what fails.
  const std::string model = quote(dir_ / "no_such_model");
  expect_device_error(run_peft("train --model " + model + " --train " + quote(dir_ / "train.csv") + " --out " +
                               quote(out) + " --device cuda"),
                      "cuda");
  EXPECT_FALSE(fs::exists(out));
  expect_device_error(run_peft("eval --model " + model + " --data " + quote(dir_ / "train.csv") + " --device cuda:0"),
                      "cuda:0");
  expect_device_error(run_peft("generate --model " + model + " --prompt hi --device cuda"), "cuda");
}

TEST_F(DeviceCli, MalformedDeviceNamesAreRefused) {
  const std::string model = quote(dir_ / "no_such_model");
  for (const std::string bad : {"gpu", "cuda:x"}) {
    const auto r = run_peft("generate --model " + model + " --prompt hi --device " + bad);
    EXPECT_NE(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("peft: error:"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find(bad), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("no_such_model"), std::string::npos) << "device not checked first: " << r.output;
  }
}

// Trains a 1-layer BERT with LoRA for 3 steps on `device`; returns the adapter's tensors.
std::map<std::string, engine::Tensor> train_lora(const fs::path& dir, const fs::path& bert, const std::string& device) {
  const fs::path out = dir / ("run_" + device);
  const auto r = run_peft("train --model " + quote(bert) + " --task seq-cls --train " + quote(dir / "train.csv") +
                          " --out " + quote(out) + " --no-progress --batch-size 8 --max-steps 3 --method lora --device " +
                          device);
  EXPECT_EQ(r.status, 0) << r.output;
  const auto results = nlohmann::json::parse(read_file(out / "results.json"));
  EXPECT_EQ(results["device"], device);
  return engine::io::load_safetensors(out / "adapter" / "adapter_model.safetensors");
}

TEST_F(DeviceCli, CpuTrainsAndRecordsTheDevice) {
  std::vector<std::string> corpus;
  for (int i = 0; i < 30; ++i) corpus.push_back(sentiment_csv(1, i).substr(11));
  const fs::path bert = tiny_checkpoint(dir_ / "bert", "bert", corpus);
  const auto cpu = train_lora(dir_, bert, "cpu");
  EXPECT_FALSE(cpu.empty());
  if (!engine::cuda::available()) return;  // below: the same run on the GPU (needs a device)
  const auto gpu = train_lora(dir_, bert, "cuda");
  ASSERT_EQ(gpu.size(), cpu.size());
  for (const auto& [key, t] : cpu) {
    const auto want = t.to_vector<double>(), got = gpu.at(key).to_vector<double>();
    ASSERT_EQ(got.size(), want.size()) << key;
    for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-3 * (1 + std::abs(want[i]))) << key << "[" << i << "]";
  }
}

TEST_F(DeviceCli, CudaGreedyGenerationEqualsCpu) {
  if (!engine::cuda::available()) GTEST_SKIP() << "no CUDA device (built with CUDA: " << engine::cuda::built() << ")";
  std::vector<std::string> corpus;
  for (int i = 0; i < 30; ++i) corpus.push_back(sentiment_csv(1, i).substr(11));
  const fs::path gpt2 = tiny_checkpoint(dir_ / "gpt2", "gpt2", corpus);
  const std::string args = "generate --model " + quote(gpt2) + " --prompt 'the film was' --max-new-tokens 8 --json --device ";
  const auto cpu = run_peft(args + "cpu", false), gpu = run_peft(args + "cuda", false);
  ASSERT_EQ(cpu.status, 0) << cpu.output;
  ASSERT_EQ(gpu.status, 0) << gpu.output;
  EXPECT_EQ(gpu.output, cpu.output);
}

}  // namespace
