// The multi-tensor optimizer on a GPU (skips without one): AdamW / SGD steps over a small
// model's parameters (row-masked embedding, LayerNorm, both Linear layouts, bf16/f16 extras)
// run in one launch (kernel counters) and equal the CPU optimizer and the per-tensor kernels
// bit for bit; clipping is one launch per stage and deterministic. The kernels themselves
// also run in CI under the emulator (tests/cuda_emu/test_optim.cpp).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>

#include "engine/backend/cuda/cuda_optim.h"
#include "engine/cuda_parity.h"
#include "engine/optim/adamw.h"
#include "engine/optim/grad_utils.h"
#include "engine/optim/sgd.h"

using namespace engine;
using namespace cuda_parity;

// ---------------------------------------------------------------- multi-tensor optimizer steps

namespace {

// A small model with every kind of parameter a PEFT run trains: an embedding (row-masked, as
// selective fine-tuning does), LayerNorm weight and bias (no weight decay under HF's rule),
// torch-layout and Conv1D-layout linears with and without bias, odd sizes.
class TinyModel : public nn::Module {
 public:
  explicit TinyModel(uint64_t seed) {
    Generator gen(seed);
    emb_ = register_module("wte", std::make_shared<nn::Embedding>(37, 24));
    ln_ = register_module("ln", std::make_shared<nn::LayerNorm>(24));
    up_ = register_module("up", std::make_shared<nn::Linear>(24, 61));
    down_ = register_module("down", std::make_shared<nn::Linear>(61, 24, true, WeightLayout::in_out));
    head_ = register_module("head", std::make_shared<nn::Linear>(24, 37, false));
    emb_->reset_parameters(gen), up_->reset_parameters(gen), down_->reset_parameters(gen);
    head_->reset_parameters(gen);
    set_row_mask(emb_->weight(), {0, 5, 36});
  }
  std::string type_name() const override { return "TinyModel"; }
  Tensor logits(const Tensor& ids) {
    Tensor x = ln_->forward(emb_->forward(ids));
    x = add(x, down_->forward(gelu(up_->forward(x))));
    return head_->forward(x).reshape({-1, 37});
  }

 private:
  std::shared_ptr<nn::Embedding> emb_;
  std::shared_ptr<nn::LayerNorm> ln_;
  std::shared_ptr<nn::Linear> up_, down_, head_;
};

// ENGINE_CUDA_OPTIM for one scope.
struct OptimModeGuard {
  explicit OptimModeGuard(const char* mode) { setenv("ENGINE_CUDA_OPTIM", mode, 1); }
  ~OptimModeGuard() { unsetenv("ENGINE_CUDA_OPTIM"); }
};

// One model trained on the CPU, its gradients copied into two GPU twins (extra bf16 / f16
// parameters outside the model get the same random gradients on all three): the GPU steps run
// multi-tensor on one twin and per tensor on the other. Returns {cpu, multi, per-tensor} named
// parameters after `steps` steps of the optimizer `make` builds, and the counters of the last
// step of each GPU twin.
struct ThreeWay {
  std::vector<optim::NamedTensors> params;  // cpu, multi, per_tensor
  std::vector<std::vector<Tensor>> states;  // state tensors of each, in parameter order
  Counters multi_counts, per_tensor_counts;
};

template <typename Make>
ThreeWay three_way(int steps, Make make) {
  TinyModel cpu(3), multi(3), single(3);
  nn::module_to(multi, Device::cuda()), nn::module_to(single, Device::cuda());
  Generator gen(8);
  Tensor extra_bf16 = randn({5, 7}, DType::f32, gen).to(DType::bf16), extra_f16 = randn({4099}, DType::f32, gen).to(DType::f16);
  ThreeWay out;
  std::vector<TinyModel*> models = {&cpu, &multi, &single};
  for (int i = 0; i < 3; ++i) {
    optim::NamedTensors p = models[size_t(i)]->named_parameters();
    const Device dev = i == 0 ? Device::cpu() : Device::cuda();
    p.push_back({"extra_bf16", extra_bf16.to(dev).detach().clone().requires_grad_()});
    p.push_back({"extra_f16", extra_f16.to(dev).detach().clone().requires_grad_()});
    out.params.push_back(p);
  }
  auto oc = make(out.params[0], cpu), om = make(out.params[1], multi), os = make(out.params[2], single);
  for (int s = 0; s < steps; ++s) {
    std::vector<int64_t> ids(26), targets(26);
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = int64_t((i * 7 + size_t(s) * 5) % 37), targets[i] = int64_t((i * 11 + 3) % 37);
    oc.zero_grad();
    cross_entropy(cpu.logits(from_vector(ids, {2, 13})), from_vector(targets, {26})).backward();
    for (size_t k = 0; k < out.params[0].size(); ++k) {
      Tensor& pc = out.params[0][k].second;
      if (k + 2 >= out.params[0].size()) pc.set_grad(randn(pc.shape(), DType::f32, gen).to(pc.dtype()));
      EXPECT_TRUE(pc.grad().defined()) << out.params[0][k].first;
      if (!pc.grad().defined()) continue;
      for (int i = 1; i < 3; ++i) out.params[size_t(i)][k].second.set_grad(pc.grad().to(Device::cuda()));
    }
    oc.step();
    reset_counters();
    om.step();
    out.multi_counts = counters();
    {
      OptimModeGuard per_tensor("per_tensor");
      reset_counters();
      os.step();
      out.per_tensor_counts = counters();
    }
  }
  for (auto* o : {&oc, &om, &os}) {
    std::vector<Tensor> st;
    for (const auto& p : o->params())
      for (const Tensor& t : p.state) st.push_back(t);
    out.states.push_back(st);
  }
  return out;
}

void expect_three_way_bits(const ThreeWay& r, const std::string& what) {
  for (size_t k = 0; k < r.params[0].size(); ++k) {
    const std::string nm = what + " " + r.params[0][k].first;
    EXPECT_EQ(r.params[1][k].second.device(), Device::cuda()) << nm;
    EXPECT_EQ(bits(r.params[1][k].second), bits(r.params[0][k].second)) << nm << ": multi-tensor vs CPU";
    EXPECT_EQ(bits(r.params[2][k].second), bits(r.params[0][k].second)) << nm << ": per-tensor vs CPU";
  }
  ASSERT_EQ(r.states[1].size(), r.states[0].size());
  for (size_t k = 0; k < r.states[0].size(); ++k) {
    EXPECT_EQ(bits(r.states[1][k]), bits(r.states[0][k])) << what << " state " << k << ": multi-tensor vs CPU";
    EXPECT_EQ(bits(r.states[2][k]), bits(r.states[0][k])) << what << " state " << k << ": per-tensor vs CPU";
  }
}

}  // namespace

TEST(CudaOptimParity, MultiTensorAdamWOverAModelEqualsTheCpuInOneLaunch) {
  REQUIRE_GPU();
  for (bool amsgrad : {false, true}) {
    ThreeWay r = three_way(4, [&](const optim::NamedTensors& p, const nn::Module& m) {
      return optim::AdamW(p, {.lr = 1e-2, .weight_decay = 0.1, .amsgrad = amsgrad}, optim::hf_decay_filter(m));
    });
    const std::string what = std::string("AdamW") + (amsgrad ? " amsgrad" : "");
    expect_three_way_bits(r, what);
    const int64_t n = int64_t(r.params[0].size());
    EXPECT_EQ(r.multi_counts.count("adamw_multi_tensor"), 1) << what;  // every parameter, one launch
    EXPECT_EQ(r.multi_counts.count("adamw_step"), 0) << what;
    EXPECT_EQ(r.per_tensor_counts.count("adamw_step"), n) << what;
    EXPECT_EQ(r.per_tensor_counts.count("adamw_multi_tensor"), 0) << what;
  }
}

TEST(CudaOptimParity, MultiTensorSgdOverAModelEqualsTheCpuInOneLaunch) {
  REQUIRE_GPU();
  const std::vector<optim::SGDOptions> configs = {
      {.lr = 0.05, .momentum = 0.9, .dampening = 0.0, .weight_decay = 0.01, .nesterov = true},
      {.lr = 0.1, .momentum = 0.0, .dampening = 0.0, .weight_decay = 0.05, .nesterov = false}};
  for (const auto& o : configs) {
    ThreeWay r = three_way(3, [&](const optim::NamedTensors& p, const nn::Module& m) {
      return optim::SGD(p, o, optim::hf_decay_filter(m));
    });
    const std::string what = "SGD momentum " + std::to_string(o.momentum);
    expect_three_way_bits(r, what);
    EXPECT_EQ(r.multi_counts.count("sgd_multi_tensor"), 1) << what;
    EXPECT_EQ(r.multi_counts.count("sgd_step"), 0) << what;
    EXPECT_EQ(r.per_tensor_counts.count("sgd_step"), int64_t(r.params[0].size())) << what;
  }
}

// Clipping over many gradients of mixed dtypes: one partials launch, one finish, one scaling
// launch; the norm is the same bits on every call and agrees with the per-tensor kernels' norm;
// multi-tensor scaling gives the per-tensor scaling's bits.
TEST(CudaOptimParity, MultiTensorClipIsOneLaunchEachAndDeterministic) {
  REQUIRE_GPU();
  Generator gen(29);
  std::vector<Tensor> a, b;
  const int64_t sizes[] = {1, 31, 1000, 4099, 4096, 70001, 257};
  for (size_t i = 0; i < std::size(sizes); ++i) {
    const DType dt = i % 3 == 0 ? DType::f32 : i % 3 == 1 ? DType::bf16 : DType::f16;
    Tensor g = mul(randn({sizes[i]}, DType::f32, gen), 3.0).to(dt).to(Device::cuda());
    for (auto* v : {&a, &b}) {
      Tensor p = zeros({sizes[i]}, dt).to(Device::cuda()).requires_grad_();
      p.set_grad(g.clone());
      v->push_back(p);
    }
  }
  for (double s : {0.37, 1.0 / 3.0}) {
    optim::scale_grads_(a, s);
    OptimModeGuard per_tensor("per_tensor");
    optim::scale_grads_(b, s);
  }
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(bits(a[i].grad()), bits(b[i].grad())) << "scaled gradient " << i;
  double per_tensor_norm = 0;
  {
    OptimModeGuard per_tensor("per_tensor");
    per_tensor_norm = optim::grad_norm(b);
  }
  const double first = optim::grad_norm(a);
  EXPECT_NEAR(first, per_tensor_norm, 1e-12 * per_tensor_norm);  // another summation order
  reset_counters();
  const double norm = optim::clip_grad_norm_(a, 1.0);
  const Counters c = counters();
  EXPECT_EQ(norm, first);  // bit-identical from call to call
  EXPECT_EQ(c.count("grad_norm_multi_tensor"), 1);
  EXPECT_EQ(c.count("grad_norm_finish"), 1);
  EXPECT_EQ(c.count("scale_grads_multi_tensor"), 1);
  EXPECT_EQ(c.count("grad_norm_partials") + c.count("scale_grads"), 0);
  EXPECT_LT(optim::grad_norm(a), 1.0 + 1e-3);  // clipped
}
