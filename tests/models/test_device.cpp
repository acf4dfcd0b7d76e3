// Models, PEFT adapters and generation across devices. Runs here: module_to's in-place moves
// (names, trainable flags, gradient masks, ties and handles kept), dtype conversion, batch_to,
// and the clear refusal of a GPU this machine lacks. GPU parity (skips without a device): a
// tiny GPT-2 / BERT / T5 forward + backward on cuda:0 against the same model on the CPU, a
// LoRA AdamW step, and greedy generation (plain and through a LoRA adapter).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>

#include "engine/backend/cuda/cuda_device.h"
#include "engine/engine.h"
#include "engine/nn/module_device.h"
#include "models/generation/generate.h"
#include "models/model.h"
#include "peft/core/generate.h"
#include "peft/core/peft_model.h"
#include "peft/core/registry.h"
#include "peft/test_prompt_support.h"

namespace {

using engine::Device;
using engine::DType;
using engine::Tensor;
using prompt_test::tiny_model;

#define REQUIRE_GPU() \
  if (!::engine::cuda::available()) GTEST_SKIP() << "no CUDA device (built with CUDA: " << ::engine::cuda::built() << ")"

std::map<std::string, const engine::TensorImpl*> impls_by_name(const engine::nn::Module& m) {
  std::map<std::string, const engine::TensorImpl*> out;
  for (const auto& [name, t] : m.state_dict()) out[name] = t.impl();
  return out;
}

// A batch for `type` with padding in row 1 (mask zeros) and labels.
models::Batch device_batch(const std::string& type) {
  models::Batch b;
  b.input_ids = engine::from_vector(std::vector<int64_t>{5, 9, 13, 2, 7, 21, 3, 11, 4, 0}, {2, 5});
  b.attention_mask = engine::from_vector(std::vector<int64_t>{1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, {2, 5});
  if (type == "bert") b.labels = engine::from_vector(std::vector<int64_t>{2, 0}, {2});
  else if (type == "gpt2") b.labels = engine::from_vector(std::vector<int64_t>{5, 9, 13, 2, 7, 21, 3, 11, -100, -100}, {2, 5});
  else b.labels = engine::from_vector(std::vector<int64_t>{6, 8, 1, 12, 1, -100}, {2, 3});
  return b;
}

// ---- runs here

TEST(ModuleTo, CpuRoundTripKeepsNamesFlagsMasksAndHandles) {
  models::ModelPtr model = tiny_model("gpt2");
  peft::PeftModel peft(model);
  peft.add_adapter("default", peft::make_config("lora", {{"r", 4}, {"target_modules", {"c_attn"}}}));
  Tensor wte = model->get("transformer.wte")->param("weight");
  engine::set_row_mask(wte, {1, 3});
  wte.requires_grad_(true);
  const auto before = impls_by_name(*model);
  std::map<std::string, bool> flags;
  for (const auto& [name, t] : model->named_parameters()) flags[name] = t.requires_grad();
  const engine::GradMask* mask = engine::grad_mask(wte);
  const std::vector<float> values = wte.to_vector<float>();

  engine::nn::module_to(*model, Device::cpu());

  EXPECT_EQ(impls_by_name(*model), before);  // same names, same impls (handles stay valid)
  for (const auto& [name, t] : model->named_parameters()) EXPECT_EQ(t.requires_grad(), flags.at(name)) << name;
  EXPECT_EQ(engine::grad_mask(wte), mask);
  EXPECT_EQ(wte.to_vector<float>(), values);
  EXPECT_TRUE(engine::nn::module_device(*model) == Device::cpu());
  EXPECT_TRUE(model->get("lm_head")->param("weight").is_same(wte));  // the tie survives
}

TEST(ModuleTo, DtypeConvertsFloatsKeepsTiesFlagsAndIntegerBuffers) {
  models::ModelPtr model = tiny_model("gpt2");
  model->get("transformer.h.0.attn.c_attn")->param("weight").requires_grad_(false);
  const auto before = impls_by_name(*model);
  std::map<std::string, DType> dtypes;
  for (const auto& [name, t] : model->state_dict()) dtypes[name] = t.dtype();
  const std::vector<float> w = model->get("transformer.h.0.mlp.c_fc")->param("weight").to_vector<float>();

  engine::nn::module_to(*model, DType::bf16);

  EXPECT_EQ(impls_by_name(*model), before);
  for (const auto& [name, t] : model->state_dict())
    EXPECT_EQ(t.dtype(), engine::is_floating(dtypes.at(name)) ? DType::bf16 : dtypes.at(name)) << name;
  EXPECT_FALSE(model->get("transformer.h.0.attn.c_attn")->param("weight").requires_grad());
  EXPECT_TRUE(model->get("transformer.h.0.mlp.c_fc")->param("weight").requires_grad());
  EXPECT_TRUE(model->get("lm_head")->param("weight").is_same(model->get("transformer.wte")->param("weight")));
  const std::vector<float> w16 = model->get("transformer.h.0.mlp.c_fc")->param("weight").to_vector<float>();
  for (size_t i = 0; i < w.size(); ++i) ASSERT_NEAR(w16[i], w[i], std::abs(w[i]) * 1e-2 + 1e-6) << i;
  EXPECT_TRUE(model->forward(device_batch("gpt2")).loss.defined());  // still runs, in bf16

  engine::nn::module_to(*model, DType::f32);
  EXPECT_EQ(model->get("transformer.h.0.mlp.c_fc")->param("weight").dtype(), DType::f32);
  EXPECT_THROW(engine::nn::module_to(*model, DType::i64), engine::DTypeError);
}

TEST(ModuleTo, GradientsMoveWithTheirParameters) {
  models::ModelPtr model = tiny_model("bert");
  model->forward(device_batch("bert")).loss.backward();
  Tensor w = model->get("classifier")->param("weight");
  ASSERT_TRUE(w.grad().defined());
  const engine::TensorImpl* grad = w.grad().impl();
  engine::nn::module_to(*model, Device::cpu());
  EXPECT_EQ(w.grad().impl(), grad);
}

TEST(ModuleTo, AGpuThisMachineLacksIsRefusedAndNothingMoves) {
  if (engine::cuda::available()) GTEST_SKIP() << "this machine has a CUDA device";
  models::ModelPtr model = tiny_model("bert");
  const auto before = impls_by_name(*model);
  try {
    engine::nn::module_to(*model, Device::cuda());
    FAIL() << "module_to(cuda) succeeded without a device";
  } catch (const engine::NoKernelError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("cuda:0"), std::string::npos) << what;
    EXPECT_TRUE(what.find("no CUDA backend") != std::string::npos || what.find("no CUDA device") != std::string::npos)
        << what;
  }
  EXPECT_EQ(impls_by_name(*model), before);
  EXPECT_TRUE(engine::nn::module_device(*model) == Device::cpu());
  EXPECT_THROW(engine::nn::require_device(Device::cuda(), "test"), engine::NoKernelError);
  engine::nn::require_device(Device::cpu(), "test");  // never throws
}

TEST(BatchTo, KeepsEveryFieldAndIsFreeOnTheSameDevice) {
  models::Batch b = device_batch("gpt2");
  b.position_ids = engine::arange(0, 5).reshape({1, 5});
  models::Batch moved = models::batch_to(b, Device::cpu());
  EXPECT_TRUE(moved.input_ids.is_same(b.input_ids));
  EXPECT_TRUE(moved.attention_mask.is_same(b.attention_mask));
  EXPECT_TRUE(moved.labels.is_same(b.labels));
  EXPECT_TRUE(moved.position_ids.is_same(b.position_ids));
  EXPECT_FALSE(moved.token_type_ids.defined());
  EXPECT_FALSE(moved.decoder_input_ids.defined());
}

TEST(ModuleTo, AdaptersOfACpuModelStayOnTheCpu) {
  for (const std::string method : {"lora", "prompt_tuning"}) {
    models::ModelPtr model = tiny_model("t5");
    peft::PeftModel peft(model);
    const nlohmann::json options = method == "lora" ? nlohmann::json{{"r", 2}}
                                                    : nlohmann::json{{"num_virtual_tokens", 3}, {"task_type", "SEQ_2_SEQ_LM"}};
    peft.add_adapter("default", peft::make_config(method, options));
    EXPECT_TRUE(engine::nn::module_device(*model) == Device::cpu()) << method;
    for (const auto& [key, t] : peft.adapter("default").file_tensors()) EXPECT_TRUE(t.device().is_cpu()) << key;
    EXPECT_TRUE(peft.forward(device_batch("t5")).loss.defined()) << method;
  }
}

// ---- GPU parity (skip without a device)

void expect_close(const Tensor& got, const Tensor& want, double tol, const std::string& what) {
  ASSERT_TRUE(got.defined() && want.defined()) << what;
  ASSERT_EQ(got.shape(), want.shape()) << what;
  EXPECT_FALSE(got.device().is_cpu()) << what << " was not computed on the GPU";
  const auto g = got.detach().to(Device::cpu()).to_vector<double>();
  const auto w = want.detach().to_vector<double>();
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    const double excess = std::abs(g[i] - w[i]) / (1 + std::abs(w[i]));
    if (!(excess <= worst)) worst = excess, at = i;
  }
  EXPECT_LE(worst, tol) << what << ": element " << at << " got " << g[at] << " want " << w[at];
}

// Loss, logits and every parameter's gradient of one forward + backward, CPU vs cuda:0.
void check_model_parity(const std::string& type) {
  models::ModelPtr cpu = tiny_model(type), gpu = tiny_model(type);
  cpu->eval(), gpu->eval();  // no dropout: both sides compute the same function
  engine::nn::module_to(*gpu, Device::cuda());
  ASSERT_TRUE(engine::nn::module_device(*gpu) == Device::cuda());
  const models::Batch batch = device_batch(type);
  models::ModelOutput want = cpu->forward(batch);
  models::ModelOutput got = gpu->forward(models::batch_to(batch, Device::cuda()));
  expect_close(got.logits, want.logits, 1e-3, type + " logits");
  expect_close(got.loss, want.loss, 1e-3, type + " loss");
  want.loss.backward();
  got.loss.backward();
  std::map<std::string, Tensor> gpu_params;
  for (const auto& [name, t] : gpu->named_parameters()) gpu_params[name] = t;
  for (const auto& [name, t] : cpu->named_parameters()) {
    if (!t.grad().defined()) continue;
    expect_close(gpu_params.at(name).grad(), t.grad(), 2e-3, type + " grad " + name);
  }
}

TEST(CudaModels, Gpt2ForwardBackwardMatchesCpu) {
  REQUIRE_GPU();
  check_model_parity("gpt2");
}

TEST(CudaModels, BertForwardBackwardMatchesCpu) {
  REQUIRE_GPU();
  check_model_parity("bert");
}

TEST(CudaModels, T5ForwardBackwardMatchesCpu) {
  REQUIRE_GPU();
  check_model_parity("t5");
}

// One AdamW step of LoRA on c_attn: the adapter is created on the model's device, trains there
// and ends equal to the CPU's; the base stays frozen and on the device.
TEST(CudaModels, LoraTrainingStepMatchesCpu) {
  REQUIRE_GPU();
  auto run = [](Device device) {
    models::ModelPtr model = tiny_model("gpt2");
    engine::nn::module_to(*model, device);
    auto peft = std::make_shared<peft::PeftModel>(model);
    peft->add_adapter("default",
                      peft::make_config("lora", {{"r", 4}, {"target_modules", {"c_attn"}}, {"lora_dropout", 0.0}}), 11);
    for (const auto& [key, t] : peft->trainable_parameters()) EXPECT_TRUE(t.device() == device) << key;
    engine::optim::AdamW opt(peft->trainable_parameters(), {.lr = 1e-2});
    for (int step = 0; step < 2; ++step) {  // two steps: lora_B starts at zero, so A moves only in step 2
      peft->forward(device_batch("gpt2")).loss.backward();
      opt.step();
      opt.zero_grad();
    }
    return peft;
  };
  auto cpu = run(Device::cpu());
  auto gpu = run(Device::cuda());
  const auto want = cpu->trainable_parameters();
  const auto got = gpu->trainable_parameters();
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) expect_close(got[i].second, want[i].second, 1e-3, "lora " + want[i].first);
  EXPECT_TRUE(engine::nn::module_device(gpu->base()) == Device::cuda());
}

TEST(CudaModels, GreedyGenerationMatchesCpu) {
  REQUIRE_GPU();
  models::generation::GenerationConfig config;
  config.max_new_tokens = 6;
  config.pad_token_id = 0;
  config.decoder_start_token_id = 0;
  const std::vector<std::vector<int64_t>> prompts = {{5, 9, 13}, {7, 21, 3, 11, 4}};
  for (const std::string type : {"gpt2", "t5"}) {
    models::ModelPtr cpu = tiny_model(type), gpu = tiny_model(type);
    engine::nn::module_to(*gpu, Device::cuda());
    EXPECT_EQ(models::generation::generate(*gpu, prompts, config).tokens,
              models::generation::generate(*cpu, prompts, config).tokens)
        << type;
    config.num_beams = 3;  // beam search reorders the cache rows on the device
    EXPECT_EQ(models::generation::generate(*gpu, prompts, config).tokens,
              models::generation::generate(*cpu, prompts, config).tokens)
        << type << " beams";
    config.num_beams = 1;
  }
  // Through a LoRA adapter (peft::generate): adapter made on the host, moved with the model.
  auto adapted = [&](Device device) {
    models::ModelPtr model = tiny_model("gpt2");
    engine::nn::module_to(*model, device);
    peft::PeftModel peft(model);
    peft.add_adapter("default", peft::make_config("lora", {{"r", 4}, {"init_lora_weights", false}}), 5);
    return peft::generate(peft, prompts, config).tokens;
  };
  EXPECT_EQ(adapted(Device::cuda()), adapted(Device::cpu()));
}

}  // namespace
