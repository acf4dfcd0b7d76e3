// Optimizers over masked parameters (state sized like the compact gradient, entries outside
// the mask bit-identical), and optimizer checkpoints: save -> load -> continue must give
// bit-identical parameters to an uninterrupted run.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "engine/engine.h"
#include "engine/nn/layers.h"
#include "engine/nn/state_io.h"
#include "engine/ops/indexing.h"
#include "engine/ops/reduce.h"
#include "engine/optim/adamw.h"
#include "engine/optim/sgd.h"

using namespace engine;
using namespace engine::optim;

namespace {

std::vector<uint32_t> bits(const Tensor& t) {
  std::vector<float> v = t.to_vector<float>();
  std::vector<uint32_t> out(v.size());
  std::memcpy(out.data(), v.data(), v.size() * 4);
  return out;
}

std::filesystem::path temp_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("peft_test_optim_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  return dir;
}

// loss = Σ c·w² / 2 has gradient c·w, elementwise: a masked run and a dense run over just
// the trainable entries do the same arithmetic.
Tensor quadratic(const Tensor& w, const Tensor& c) { return mul(sum(mul(c, square(w))), 0.5); }

}  // namespace

TEST(OptimMasked, ElementMaskFiftyAdamWStepsWithWeightDecay) {
  Generator gen(1);
  Tensor w = randn({6, 5}, DType::f32, gen).requires_grad_();
  Tensor c = randn({6, 5}, DType::f32, gen);
  Tensor mask = gt(rand({6, 5}, DType::f32, gen), 0.6);
  set_element_mask(w, mask);
  const GradMask& gm = *grad_mask(w);
  ASSERT_GT(gm.count(), 3);
  std::vector<uint32_t> before = bits(w);

  // The reference: a dense parameter holding only the trainable entries.
  Tensor r = compact_grad(gm, w.detach()).requires_grad_();
  Tensor rc = compact_grad(gm, c);
  AdamWOptions o{.lr = 0.05, .weight_decay = 0.1};
  AdamW opt({{"w", w}}, o), ref({{"r", r}}, o);
  EXPECT_EQ(opt.params()[0].state[0].numel(), gm.count());  // state sized like the mask
  EXPECT_EQ(opt.state_numel(), 2 * gm.count());
  for (int step = 0; step < 50; ++step) {
    opt.zero_grad(), ref.zero_grad();
    quadratic(w, c).backward();
    quadratic(r, rc).backward();
    ASSERT_EQ(w.grad().shape(), (Shape{gm.count()}));  // compact gradient
    opt.step(), ref.step();
  }
  std::vector<uint32_t> after = bits(w);
  std::vector<bool> m = mask.to_vector<bool>();
  int64_t moved = 0;
  for (size_t i = 0; i < m.size(); ++i) {
    if (!m[i]) EXPECT_EQ(after[i], before[i]) << "masked-out entry " << i << " changed";
    moved += m[i] && after[i] != before[i];
  }
  EXPECT_EQ(moved, gm.count());
  EXPECT_EQ(bits(compact_grad(gm, w.detach())), bits(r));  // same arithmetic as the dense run
}

TEST(OptimMasked, RowMaskedEmbeddingWithSgdMomentum) {
  Generator gen(2);
  Tensor w = randn({5, 3}, DType::f32, gen).requires_grad_();
  set_row_mask(w, {3, 1});
  std::vector<uint32_t> before = bits(w);
  SGD opt({{"w", w}}, {.lr = 0.1, .momentum = 0.9, .weight_decay = 0.05});
  EXPECT_EQ(opt.params()[0].state[0].shape(), (Shape{2, 3}));
  Tensor ids = from_vector(std::vector<int64_t>{0, 1, 2, 3, 4, 1}, {6});
  for (int step = 0; step < 20; ++step) {
    opt.zero_grad();
    sum(square(embedding(ids, w))).backward();
    opt.step();
  }
  std::vector<uint32_t> after = bits(w);
  for (int64_t row = 0; row < 5; ++row)
    for (int64_t j = 0; j < 3; ++j) {
      size_t i = size_t(row * 3 + j);
      if (row == 1 || row == 3) EXPECT_NE(after[i], before[i]);
      else EXPECT_EQ(after[i], before[i]) << "row " << row << " changed";
    }
}

TEST(OptimMasked, MaskChangedAfterCreationIsAnError) {
  Tensor w = zeros({4}).requires_grad_();
  AdamW opt({{"w", w}});
  set_element_mask(w, from_vector(std::vector<bool>{true, false, true, false}, {4}));
  w.set_grad(zeros({2}));
  EXPECT_THROW(opt.step(), ValueError);
}

namespace {

// A small "model": a Linear plus a masked extra parameter, trained for `steps` steps from
// step index `from` (inputs depend on the step index only).
struct Trainer {
  std::shared_ptr<nn::Linear> lin = std::make_shared<nn::Linear>(4, 3);
  Tensor extra = zeros({8});
  Trainer() {
    Generator gen(7);
    lin->reset_parameters(gen);
    copy_(extra, randn({8}, DType::f32, gen));
    extra.requires_grad_();
    set_element_mask(extra, from_vector(std::vector<bool>{1, 0, 1, 1, 0, 0, 1, 0}, {8}));
  }
  NamedTensors params() const {
    NamedTensors p = lin->named_parameters();
    p.emplace_back("extra", extra);
    return p;
  }
  void train(Optimizer& opt, int from, int steps) {
    for (int s = from; s < from + steps; ++s) {
      Generator gen(100 + uint64_t(s));
      Tensor x = randn({2, 4}, DType::f32, gen);
      opt.zero_grad();
      Tensor loss = add(sum(square(lin->forward(x))), sum(mul(extra, extra)));
      loss.backward();
      opt.step();
    }
  }
};

}  // namespace

TEST(OptimState, SaveLoadContinueIsBitIdentical) {
  for (bool amsgrad : {false, true}) {
    AdamWOptions o{.lr = 0.01, .weight_decay = 0.1, .amsgrad = amsgrad};
    Trainer full;
    AdamW full_opt(full.params(), o);
    full.train(full_opt, 0, 10);

    auto dir = temp_dir("resume");
    {
      Trainer first;
      AdamW opt(first.params(), o);
      first.train(opt, 0, 5);
      opt.set_lr(0.01);
      save_optimizer(opt, dir);
      nn::save_state(*first.lin, dir / "model.safetensors");
      nn::save_tensors(dir / "extra.safetensors", std::map<std::string, Tensor>{{"extra", first.extra}});
    }
    Trainer resumed;  // fresh parameters and a fresh optimizer, then everything loaded back
    nn::load_state(*resumed.lin, dir / "model.safetensors");
    copy_(resumed.extra, nn::load_tensors(dir / "extra.safetensors").at("extra"));
    AdamW opt(resumed.params(), o);
    load_optimizer(opt, dir);
    EXPECT_EQ(opt.step_count(), 5);
    EXPECT_EQ(opt.params()[0].step, 5);
    resumed.train(opt, 5, 5);
    EXPECT_EQ(bits(resumed.lin->weight()), bits(full.lin->weight())) << "amsgrad " << amsgrad;
    EXPECT_EQ(bits(resumed.lin->bias()), bits(full.lin->bias()));
    EXPECT_EQ(bits(resumed.extra), bits(full.extra));
    EXPECT_TRUE(std::filesystem::exists(dir / "optimizer.json"));
    std::filesystem::remove_all(dir);
  }
}

TEST(OptimState, LoadRejectsMismatchedState) {
  auto dir = temp_dir("mismatch");
  Tensor a = zeros({3}).requires_grad_(), b = zeros({2}).requires_grad_();
  AdamW opt({{"a", a}, {"b", b}});
  save_optimizer(opt, dir);
  Tensor a2 = zeros({4}).requires_grad_(), c = zeros({2}).requires_grad_();
  AdamW other({{"a", a2}, {"c", c}});
  try {
    load_optimizer(other, dir);
    FAIL() << "expected a KeyError";
  } catch (const KeyError& e) {
    std::string msg = e.what();
    for (const char* s : {"a.exp_avg: expected [4], got [3]", "missing c.exp_avg [2]", "unexpected b.exp_avg_sq", "unexpected parameter b"})
      EXPECT_NE(msg.find(s), std::string::npos) << s << " not in:\n" << msg;
  }
  SGD sgd({{"a", a}, {"b", b}}, {.lr = 0.1, .momentum = 0.9});
  EXPECT_THROW(load_optimizer(sgd, dir), ValueError);
  EXPECT_THROW(load_optimizer(opt, dir / "absent"), IOError);
  std::filesystem::remove_all(dir);
}
