// nn::Module: dotted names and traversal order as torch, tied weights, strict state-dict
// loading that reports every problem, replace_module, train/eval, freezing, hook sites,
// and safetensors round trips of a state dict.
#include <gtest/gtest.h>

#include <filesystem>

#include "engine/engine.h"
#include "engine/nn/layers.h"
#include "engine/nn/state_io.h"

using namespace engine;
using namespace engine::nn;

namespace {

// A miniature BERT-like tree: embeddings, encoder.layer.{0,1}.{dense,norm}, a tied head.
struct Layer : UnaryModule {
  Layer() {
    register_module("dense", std::make_shared<Linear>(3, 3));
    register_module("norm", std::make_shared<LayerNorm>(3));
    register_module("drop", std::make_shared<Dropout>(0.5, 1));
  }
  std::string type_name() const override { return "Layer"; }
  Tensor forward(const Tensor& x) override {
    Tensor h = site("after_dense", call("dense", x), x);
    return call("norm", call("drop", h));
  }
};

struct Encoder : Module {
  Encoder() {
    auto layers = std::make_shared<Container>();
    layers->add("0", std::make_shared<Layer>());
    layers->add("1", std::make_shared<Layer>());
    register_module("layer", layers);
  }
  struct Container : Module {
    std::string type_name() const override { return "ModuleList"; }
    void add(const std::string& n, ModulePtr m) { add_child(n, m); }
  };
  std::string type_name() const override { return "Encoder"; }
};

struct Tiny : Module {
  Tiny() {
    auto emb = register_module("embeddings", std::make_shared<Embedding>(5, 3));
    register_module("encoder", std::make_shared<Encoder>());
    auto head = register_module("head", std::make_shared<Linear>(3, 5, false));
    head->param("weight") = emb->weight();  // tie, as lm_head.weight = wte.weight
    register_buffer("position_ids", arange(0, 4));
    register_buffer("cache", zeros({2}), /*persistent=*/false);
  }
  std::string type_name() const override { return "Tiny"; }
};

std::vector<std::string> names_of(const std::vector<std::pair<std::string, Tensor>>& v) {
  std::vector<std::string> out;
  for (const auto& [n, t] : v) out.push_back(n);
  return out;
}

std::filesystem::path temp_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("peft_test_nn_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace

TEST(NnModule, NamedParametersInTorchOrderWithTiedOnce) {
  Tiny m;
  std::vector<std::string> expected = {
      "embeddings.weight",
      "encoder.layer.0.dense.weight", "encoder.layer.0.dense.bias",
      "encoder.layer.0.norm.weight", "encoder.layer.0.norm.bias",
      "encoder.layer.1.dense.weight", "encoder.layer.1.dense.bias",
      "encoder.layer.1.norm.weight", "encoder.layer.1.norm.bias"};
  EXPECT_EQ(names_of(m.named_parameters()), expected);  // head.weight is the tied embedding
  EXPECT_EQ(names_of(m.named_buffers()), (std::vector<std::string>{"position_ids", "cache"}));
  auto sd = m.state_dict();
  EXPECT_EQ(sd.size(), expected.size() + 2);  // + head.weight (tied, listed) + position_ids
  EXPECT_TRUE(sd.count("head.weight"));
  EXPECT_TRUE(sd.count("position_ids"));
  EXPECT_FALSE(sd.count("cache"));  // non-persistent
  EXPECT_TRUE(sd["head.weight"].is_same(sd["embeddings.weight"]));
  EXPECT_EQ(m.num_parameters(), 15 + 2 * (9 + 3 + 3 + 3));
}

TEST(NnModule, NamedModulesAndLookup) {
  Tiny m;
  auto mods = m.named_modules();
  std::vector<std::string> names;
  for (const auto& [n, mod] : mods) names.push_back(n);
  std::vector<std::string> expected = {"", "embeddings", "encoder", "encoder.layer", "encoder.layer.0",
                                       "encoder.layer.0.dense", "encoder.layer.0.norm", "encoder.layer.0.drop",
                                       "encoder.layer.1", "encoder.layer.1.dense", "encoder.layer.1.norm",
                                       "encoder.layer.1.drop", "head"};
  EXPECT_EQ(names, expected);
  EXPECT_EQ(mods[0].second.get(), &m);
  EXPECT_EQ(m.get("encoder.layer.1.dense")->type_name(), "Linear");
  EXPECT_EQ(m.find("encoder.layer.2"), nullptr);
  EXPECT_EQ(m.find("encoder.layer.0.dense.weight"), nullptr);  // a parameter is not a module
  try {
    m.get("encoder.layer.7");
    FAIL();
  } catch (const KeyError& e) {
    EXPECT_NE(std::string(e.what()).find("encoder.layer.7"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("encoder.layer.1.norm"), std::string::npos);  // lists modules
  }
  EXPECT_THROW(m.child("nope"), KeyError);
  EXPECT_THROW(m.get("encoder")->param("weight"), KeyError);
  EXPECT_THROW(m.register_buffer("head", zeros({1})), KeyError);  // names are unique
  EXPECT_THROW(m.register_parameter("a.b", zeros({1})), ValueError);
}

TEST(NnModule, ReplaceModuleKeepsParentWorking) {
  // A wrapper that keeps the old layer as "base" and doubles its output, like a PEFT layer.
  struct Double : UnaryModule {
    explicit Double(ModulePtr base) { add_child("base", std::move(base)); }
    std::string type_name() const override { return "Double"; }
    Tensor forward(const Tensor& x) override { return mul(call("base", x), 2.0); }
  };
  Tiny m;
  m.eval();
  Generator gen(3);
  auto layer = std::dynamic_pointer_cast<Layer>(m.get("encoder.layer.0"));
  auto dense = std::dynamic_pointer_cast<Linear>(layer->child("dense"));
  dense->reset_parameters(gen);
  Tensor x = randn({2, 3}, DType::f32, gen);
  auto before = dense->forward(x).to_vector<float>();

  ModulePtr old = m.replace_module("encoder.layer.0.dense", std::make_shared<Double>(m.get("encoder.layer.0.dense")));
  EXPECT_EQ(old.get(), dense.get());
  auto after = layer->call("dense", x).to_vector<float>();
  for (size_t i = 0; i < before.size(); ++i) EXPECT_FLOAT_EQ(after[i], 2 * before[i]);
  auto names = names_of(m.named_parameters());
  EXPECT_EQ(names[1], "encoder.layer.0.dense.base.weight");  // same position, nested name
  EXPECT_NO_THROW(layer->forward(x));
  EXPECT_THROW(m.replace_module("encoder.layer.0.missing", old), KeyError);
}

TEST(NnModule, StrictLoadReportsEveryProblem) {
  Tiny m;
  auto sd = clone_state(m);
  sd.erase("encoder.layer.0.dense.bias");
  sd.erase("head.weight");
  sd["encoder.layer.1.norm.weight"] = zeros({4});
  sd["pooler.dense.weight"] = zeros({2, 2});
  try {
    m.load_state_dict(sd);
    FAIL() << "expected a KeyError";
  } catch (const KeyError& e) {
    std::string msg = e.what();
    for (const char* s : {"encoder.layer.0.dense.bias [3]", "head.weight [5,3]", "pooler.dense.weight",
                          "encoder.layer.1.norm.weight: expected [3], got [4]", "2 missing", "1 unexpected"})
      EXPECT_NE(msg.find(s), std::string::npos) << s << " not in:\n" << msg;
  }
  // Not strict: missing and unexpected are fine, a shape mismatch is not (torch).
  EXPECT_THROW(m.load_state_dict(sd, false), KeyError);
  sd.erase("encoder.layer.1.norm.weight");
  sd["embeddings.weight"] = full({5, 3}, 0.5, DType::f64);  // converted to f32
  m.load_state_dict(sd, false);
  EXPECT_EQ(m.get("embeddings")->param("weight").to_vector<float>()[7], 0.5f);
  EXPECT_EQ(m.get("head")->param("weight").to_vector<float>()[7], 0.5f);  // still tied
}

TEST(NnModule, CloneStateIsIndependent) {
  Tiny m;
  auto copy = clone_state(m);
  fill_(m.get("encoder.layer.0.norm")->param("weight"), 7.0);
  EXPECT_EQ(copy.at("encoder.layer.0.norm.weight").to_vector<float>()[0], 1.0f);
  m.load_state_dict(copy);
  EXPECT_EQ(m.get("encoder.layer.0.norm")->param("weight").to_vector<float>()[0], 1.0f);
}

TEST(NnModule, TrainEvalPropagates) {
  Tiny m;
  EXPECT_TRUE(m.get("encoder.layer.1.drop")->is_training());
  Tensor x = ones({4, 3});
  auto drop = std::dynamic_pointer_cast<Dropout>(m.get("encoder.layer.1.drop"));
  auto y = drop->forward(x).to_vector<float>();
  int zeros_seen = 0;
  for (float v : y) {
    EXPECT_TRUE(v == 0.0f || v == 2.0f) << v;  // inverted dropout with p = 0.5
    zeros_seen += v == 0.0f;
  }
  EXPECT_GT(zeros_seen, 0);
  m.eval();
  for (const auto& [n, mod] : m.named_modules()) EXPECT_FALSE(mod->is_training()) << n;
  EXPECT_TRUE(drop->forward(x).is_same(x));  // identity in eval
  m.get("encoder")->train();
  EXPECT_TRUE(drop->is_training());
  EXPECT_FALSE(m.is_training());
}

TEST(NnModule, FreezingAndCounting) {
  Tiny m;
  m.requires_grad_(false);
  EXPECT_EQ(m.num_parameters(true), 0);
  EXPECT_EQ(m.set_requires_grad(R"(layer\.1\..*\.bias$)", true), 2);
  EXPECT_EQ(m.num_parameters(true), 6);
  EXPECT_TRUE(m.get("encoder.layer.1.norm")->param("bias").requires_grad());
  EXPECT_FALSE(m.get("encoder.layer.1.norm")->param("weight").requires_grad());
  EXPECT_THROW(m.set_requires_grad("([", true), ValueError);
  // A masked parameter counts its trainable entries only.
  Tensor& emb = m.get("embeddings")->param("weight");
  emb.requires_grad_(true);
  set_row_mask(emb, {1, 3});
  EXPECT_EQ(m.num_parameters(true), 6 + 2 * 3);
}

TEST(NnModule, HookSitesRunInOrder) {
  Layer layer;
  layer.eval();
  Tensor x = ones({1, 3});
  Tensor plain = layer.forward(x);
  EXPECT_FALSE(layer.has_hooks("after_dense"));
  std::vector<int> order;
  layer.add_hook("after_dense", [&](const Tensor& out, const Tensor& in) {
    order.push_back(1);
    EXPECT_TRUE(in.is_same(x));
    return add(out, 1.0);
  });
  layer.add_hook("after_dense", [&](const Tensor& out, const Tensor&) { order.push_back(2); return mul(out, 3.0); });
  EXPECT_TRUE(layer.has_hooks("after_dense"));
  Tensor h = layer.site("after_dense", zeros({1, 3}), x);
  EXPECT_EQ(h.to_vector<float>(), std::vector<float>(3, 3.0f));  // (0 + 1) * 3
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
  layer.clear_hooks("after_dense");
  EXPECT_EQ(layer.forward(x).to_vector<float>(), plain.to_vector<float>());
  EXPECT_EQ(layer.site("other", plain).impl(), plain.impl());  // no hooks: the output itself
}

TEST(NnModule, SafetensorsRoundTrip) {
  auto dir = temp_dir("state");
  Tiny a, b;
  Generator gen(11);
  for (auto& [n, t] : a.named_parameters()) copy_(t, randn(t.shape(), DType::f32, gen));
  save_state(a, dir / "model.safetensors", {{"format", "pt"}});
  load_state(b, dir / "model.safetensors");
  auto sa = a.state_dict(), sb = b.state_dict();
  for (const auto& [n, t] : sa) EXPECT_EQ(t.to_vector<float>(), sb.at(n).to_vector<float>()) << n;
  // A missing file is an IOError naming it; a file from another model fails strictly.
  EXPECT_THROW(load_state(b, dir / "absent.safetensors"), IOError);
  Layer other;
  EXPECT_THROW(load_state(other, dir / "model.safetensors"), KeyError);
  std::filesystem::remove_all(dir);
}
