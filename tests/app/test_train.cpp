// Tests of the training loop (app/train/trainer.h) on a tiny GPT-2 with dropout: a run
// interrupted (Ctrl-C path) or killed mid-way and resumed ends bit-identical to a straight
// run, across epoch boundaries and with gradient accumulation; a NaN loss stops with a typed
// error and keeps the last good checkpoint; early stopping and the best checkpoint follow the
// metric; options from JSON; metrics.jsonl.
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "app/tiny_lm_data.h"
#include "app/train/checkpoint.h"
#include "app/train/interrupt.h"
#include "app/train/metrics_log.h"
#include "app/train/objectives.h"
#include "app/train/progress.h"
#include "app/train/trainer.h"
#include "engine/engine.h"

using namespace app::train;
namespace fs = std::filesystem;

namespace {

models::ModelPtr tiny_gpt2(uint64_t seed) {
  const nlohmann::json config = {{"model_type", "gpt2"}, {"vocab_size", 40}, {"n_positions", 16}, {"n_embd", 16},
                                 {"n_layer", 1},         {"n_head", 2},       {"resid_pdrop", 0.1}, {"embd_pdrop", 0.1},
                                 {"attn_pdrop", 0.1}};
  return models::create_model(config, "GPT2LMHeadModel", seed);
}

Dataset tiny_data() { return train_test::tiny_lm_data(); }

// Wraps a target: after `limit` loss calls it raises SIGINT (Ctrl-C), or throws (a kill), or
// returns NaN.
class Faulty : public FullFineTune {
 public:
  enum class Mode { interrupt, kill, nan };
  Faulty(models::ModelPtr m, Mode mode, int limit) : FullFineTune(std::move(m)), mode_(mode), limit_(limit) {}
  engine::Tensor loss(const models::Batch& batch) override {
    engine::Tensor l = FullFineTune::loss(batch);
    if (++calls_ < limit_) return l;
    if (mode_ == Mode::interrupt) std::raise(SIGINT);  // the trainer's handler turns it into a flag
    if (mode_ == Mode::kill) throw std::runtime_error("killed");
    if (mode_ == Mode::nan) return l * NAN;
    return l;
  }

 private:
  Mode mode_;
  int limit_, calls_ = 0;
};

class TrainLoop : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("peft_test_train_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  TrainOptions options(const std::string& name) const {
    TrainOptions o;
    o.lr = 1e-2, o.batch_size = 4, o.grad_accum = 2, o.max_steps = 6, o.warmup_steps = 2;
    o.log_every = 1, o.progress = false, o.seed = 7;
    o.output_dir = (dir_ / name).string();
    return o;
  }

  fs::path dir_;
};

std::map<std::string, engine::Tensor> params_of(models::PretrainedModel& m) { return m.state_dict(); }

void expect_bit_identical(models::PretrainedModel& a, models::PretrainedModel& b) {
  auto pa = params_of(a), pb = params_of(b);
  ASSERT_EQ(pa.size(), pb.size());
  for (const auto& [name, t] : pa) {
    const auto x = t.to_vector<float>(), y = pb.at(name).to_vector<float>();
    ASSERT_EQ(x.size(), y.size()) << name;
    EXPECT_EQ(0, std::memcmp(x.data(), y.data(), x.size() * sizeof(float))) << name << " differs";
  }
}

}  // namespace

TEST_F(TrainLoop, InterruptedAndResumedRunIsBitIdenticalToStraightRun) {
  const Dataset data = tiny_data();  // 10 examples, batch 4: 3 micro-batches an epoch
  auto straight = tiny_gpt2(1);
  FullFineTune a(straight);
  const TrainResult ra = train(a, data, options("straight"));
  EXPECT_EQ(ra.steps, 6);
  EXPECT_FALSE(ra.interrupted);

  // Interrupt during step 3 (its 6th loss call): the loop stops at the step boundary.
  auto first = tiny_gpt2(1);
  Faulty b(first, Faulty::Mode::interrupt, 6);
  const TrainResult rb = train(b, data, options("resumed"));
  clear_interrupt();
  EXPECT_TRUE(rb.interrupted);
  EXPECT_EQ(rb.steps, 3);

  // A fresh process would build the model from another seed; the checkpoint replaces it all.
  auto second = tiny_gpt2(99);
  FullFineTune c(second);
  const TrainResult rc = train(c, data, options("resumed"));
  EXPECT_EQ(rc.resumed_from, 3);
  EXPECT_EQ(rc.steps, 6);
  EXPECT_EQ(rc.last_loss, ra.last_loss);
  expect_bit_identical(*straight, *second);
}

TEST_F(TrainLoop, KilledRunResumesFromLastPeriodicCheckpoint) {
  const Dataset data = tiny_data();
  auto straight = tiny_gpt2(1);
  FullFineTune a(straight);
  train(a, data, options("straight"));

  TrainOptions o = options("killed");
  o.save_every = 2;
  auto first = tiny_gpt2(1);
  Faulty b(first, Faulty::Mode::kill, 11);  // dies inside step 6, after the step-4 checkpoint
  EXPECT_THROW(train(b, data, o), std::runtime_error);
  std::ifstream state(fs::path(o.output_dir) / "checkpoint" / "trainer_state.json");
  EXPECT_EQ(nlohmann::json::parse(state)["step"], 4);

  // Simulate a kill between the two renames of a checkpoint swap, with a half-written new one
  // beside it: the old folder is what a resumed run reads.
  const fs::path out(o.output_dir);
  fs::rename(out / "checkpoint", out / "checkpoint.old");
  fs::create_directories(out / "checkpoint.tmp.12345" / "trainable");
  std::ofstream(out / "checkpoint.tmp.12345" / "trainer_state.json") << "{\"step\": ";

  auto second = tiny_gpt2(5);
  FullFineTune c(second);
  EXPECT_EQ(train(c, data, o).resumed_from, 4);
  expect_bit_identical(*straight, *second);
  EXPECT_FALSE(fs::exists(out / "checkpoint.tmp.12345"));
  EXPECT_FALSE(fs::exists(out / "checkpoint.old"));
  // metrics.jsonl holds each step once: the killed run's step 5 line was dropped on resume.
  std::vector<int64_t> steps;
  for (const auto& r : read_metrics(fs::path(o.output_dir) / "metrics.jsonl")) steps.push_back(r["step"]);
  EXPECT_EQ(steps, (std::vector<int64_t>{1, 2, 3, 4, 5, 6}));
}

TEST_F(TrainLoop, NanLossStopsWithTypedErrorAndKeepsLastGoodCheckpoint) {
  TrainOptions o = options("nan");
  o.save_every = 2;
  auto m = tiny_gpt2(1);
  Faulty t(m, Faulty::Mode::nan, 7);  // step 4's first micro-batch
  try {
    train(t, tiny_data(), o);
    ADD_FAILURE() << "no DivergedError";
  } catch (const DivergedError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("nan"), std::string::npos) << msg;
    EXPECT_NE(msg.find("step 4"), std::string::npos) << msg;
    EXPECT_NE(msg.find("last good checkpoint"), std::string::npos) << msg;
  }
  std::ifstream state(fs::path(o.output_dir) / "checkpoint" / "trainer_state.json");
  EXPECT_EQ(nlohmann::json::parse(state)["step"], 2);
  // The kept checkpoint is whole: a fresh model resumes from it.
  auto fresh = tiny_gpt2(3);
  FullFineTune f(fresh);
  EXPECT_EQ(train(f, tiny_data(), o).resumed_from, 2);
}

TEST_F(TrainLoop, EarlyStoppingAndBestCheckpointFollowTheMetric) {
  TrainOptions o = options("early");
  o.max_steps = 20, o.eval_every = 1, o.patience = 2, o.metric = "score", o.greater_is_better = true;
  const std::vector<double> scores = {0.1, 0.5, 0.4, 0.45, 0.9};
  int calls = 0;
  Evaluator eval = [&](TrainTarget&) { return std::map<std::string, double>{{"score", scores[size_t(calls++)]}}; };
  auto m = tiny_gpt2(1);
  FullFineTune t(m);
  const TrainResult r = train(t, tiny_data(), o, eval);
  EXPECT_TRUE(r.early_stopped);
  EXPECT_EQ(r.steps, 4);
  EXPECT_EQ(r.best_step, 2);
  EXPECT_DOUBLE_EQ(r.best_metric, 0.5);
  std::ifstream best(fs::path(o.output_dir) / "best" / "best_metric.json");
  EXPECT_EQ(nlohmann::json::parse(best)["step"], 2);
  EXPECT_TRUE(fs::exists(fs::path(o.output_dir) / "best" / "model.safetensors"));
}

TEST_F(TrainLoop, LossFallsAndMetricsAreLogged) {
  TrainOptions o = options("log");
  o.max_steps = 30, o.eval_every = 10, o.grad_accum = 1;
  auto m = tiny_gpt2(1);
  FullFineTune t(m);
  const TrainResult r = train(t, tiny_data(), o, loss_evaluator(tiny_data(), 4));
  const auto records = read_metrics(fs::path(o.output_dir) / "metrics.jsonl");
  ASSERT_EQ(records.size(), 33u);  // 30 steps + 3 evaluations
  EXPECT_LT(r.last_loss, records.front()["loss"].get<double>() - 0.5);
  for (const char* key : {"step", "epoch", "loss", "lr", "grad_norm", "tokens_per_s"})
    EXPECT_TRUE(records.front().contains(key)) << key;
  EXPECT_TRUE(records[10].contains("eval_loss"));
}

TEST(TrainOptionsTest, JsonOverridesValidatesAndRejectsUnknownKeys) {
  TrainOptions o;
  apply_json(o, {{"lr", 0.1}, {"schedule", "cosine"}, {"max_steps", 5}, {"greater_is_better", true},
                 {"output_dir", "x"}});
  EXPECT_EQ(o.lr, 0.1);
  EXPECT_EQ(o.schedule, "cosine");
  EXPECT_EQ(o.max_steps, 5);
  EXPECT_TRUE(o.greater_is_better);
  EXPECT_NO_THROW(o.validate());
  EXPECT_EQ(to_json(o)["max_steps"], 5);
  EXPECT_THROW(apply_json(o, {{"learning_rate", 1}}), engine::ConfigError);
  EXPECT_THROW(apply_json(o, {{"lr", "fast"}}), engine::ConfigError);
  o.schedule = "triangle";
  EXPECT_THROW(o.validate(), engine::ConfigError);
  o.schedule = "linear", o.batch_size = 0;
  EXPECT_THROW(o.validate(), engine::ConfigError);
}

TEST(TrainProgress, Durations) {
  EXPECT_EQ(Progress::format_duration(12.4), "12s");
  EXPECT_EQ(Progress::format_duration(185), "3m05s");
  EXPECT_EQ(Progress::format_duration(3720), "1h02m");
}

TEST(TrainOptionsTest, TotalStepsFromEpochsAndAccumulation) {
  TrainOptions o;
  o.batch_size = 4, o.grad_accum = 2, o.epochs = 3;
  EXPECT_EQ(total_steps(o, 10), 5);  // 3 micro-batches an epoch, 9 in all, 2 per step
  o.max_steps = 7;
  EXPECT_EQ(total_steps(o, 10), 7);
}
