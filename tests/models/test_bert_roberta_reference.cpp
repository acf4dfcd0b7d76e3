// RoBERTa has no transformers fixture, so its three heads are checked against a plain PyTorch
// re-implementation of modeling_roberta.py (transformers 4.33; transformers itself is not
// installable here). The script below is that reference: it reads the checkpoint a seeded
// random model saved, runs the forward in float64, and writes the outputs as JSON. Weights
// are re-drawn with a large std so biases and LayerNorm affine terms all matter; hidden_act
// is gelu_new so the LM head's hard-coded erf-gelu is told apart.
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "engine/engine.h"
#include "models/model.h"
#include "support/test_support.h"

namespace {
namespace fs = std::filesystem;
using engine::Tensor;

constexpr const char* kReference = R"PY(
import json, math, sys
import torch
import torch.nn.functional as F
fixtures, inputs_path = sys.argv[1:3]
sys.path.insert(0, fixtures)
from check_case import read_safetensors
inp = json.load(open(inputs_path))
ids, mask = torch.tensor(inp["input_ids"]), torch.tensor(inp["attention_mask"])

def run(folder, arch):
    cfg = json.load(open(folder + "/config.json"))
    W = {k: torch.tensor(v) for k, v in read_safetensors(folder + "/model.safetensors").items()}
    pad, eps, H = cfg["pad_token_id"], cfg["layer_norm_eps"], cfg["num_attention_heads"]
    act = {"gelu": F.gelu, "relu": F.relu, "gelu_new": lambda x: F.gelu(x, approximate="tanh")}[cfg["hidden_act"]]
    p = "" if arch == "RobertaModel" else "roberta."  # a base model saves its keys without the prefix
    ln = lambda x, n: F.layer_norm(x, x.shape[-1:], W[n + ".weight"], W[n + ".bias"], eps)
    lin = lambda x, n: x @ W[n + ".weight"].T + W[n + ".bias"]
    real = (ids != pad).long()
    pos = torch.cumsum(real, 1) * real + pad  # create_position_ids_from_input_ids
    x = (W[p + "embeddings.word_embeddings.weight"][ids] + W[p + "embeddings.token_type_embeddings.weight"][0]
         + W[p + "embeddings.position_embeddings.weight"][pos])
    x = ln(x, p + "embeddings.LayerNorm")
    B, T, C = x.shape
    D = C // H
    heads = lambda t: t.view(B, T, H, D).transpose(1, 2)
    for i in range(cfg["num_hidden_layers"]):
        q = f"{p}encoder.layer.{i}."
        Q, K, V = (heads(lin(x, q + "attention.self." + n)) for n in ("query", "key", "value"))
        s = (Q @ K.transpose(-1, -2) / math.sqrt(D)).masked_fill(mask[:, None, None, :] == 0, float("-inf"))
        a = (torch.softmax(s, -1) @ V).transpose(1, 2).reshape(B, T, C)
        x = ln(lin(a, q + "attention.output.dense") + x, q + "attention.output.LayerNorm")
        x = ln(lin(act(lin(x, q + "intermediate.dense")), q + "output.dense") + x, q + "output.LayerNorm")
    out = {"last_hidden_state": x}
    if arch == "RobertaModel":  # pooler: tanh(dense(<s>))
        out["pooler_output"] = torch.tanh(lin(x[:, 0], "pooler.dense"))
    elif arch == "RobertaForMaskedLM":  # RobertaLMHead: dense -> gelu (erf, always) -> layer_norm -> decoder
        h = ln(F.gelu(lin(x, "lm_head.dense")), "lm_head.layer_norm")
        out["logits"] = h @ W[p + "embeddings.word_embeddings.weight"].T + W["lm_head.bias"]
    elif arch == "RobertaForSequenceClassification":  # RobertaClassificationHead on <s>
        out["logits"] = lin(torch.tanh(lin(x[:, 0], "classifier.dense")), "classifier.out_proj")
    elif arch == "RobertaForTokenClassification":
        out["logits"] = lin(x, "classifier")
    return {k: {"shape": list(v.shape), "data": v.flatten().tolist()} for k, v in out.items()}

args = sys.argv[3:]
for folder, arch, out_path in zip(args[0::3], args[1::3], args[2::3]):
    json.dump(run(folder, arch), open(out_path, "w"))
)PY";

nlohmann::json roberta_config() {
  return {{"model_type", "roberta"}, {"vocab_size", 60},          {"hidden_size", 16},
          {"num_hidden_layers", 2},  {"num_attention_heads", 4},  {"intermediate_size", 24},
          {"hidden_act", "gelu_new"}, {"max_position_embeddings", 24}, {"type_vocab_size", 1},
          {"layer_norm_eps", 1e-5},  {"pad_token_id", 1},         {"num_labels", 3}};
}

const std::vector<std::string> kArchitectures = {"RobertaModel", "RobertaForMaskedLM",
                                                  "RobertaForSequenceClassification", "RobertaForTokenClassification"};

// max |got - expected| <= 1e-4 * max |expected| + 1e-6, as check_case.py.
void expect_close(const std::string& what, const Tensor& got, const nlohmann::json& expected) {
  ASSERT_TRUE(got.defined()) << what;
  EXPECT_EQ(got.shape(), expected["shape"].get<engine::Shape>()) << what;
  std::vector<float> x = got.to_vector<float>();
  std::vector<double> y = expected["data"].get<std::vector<double>>();
  ASSERT_EQ(x.size(), y.size()) << what;
  double max_diff = 0, scale = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    max_diff = std::max(max_diff, std::abs(x[i] - y[i]));
    scale = std::max(scale, std::abs(y[i]));
  }
  std::cout << what << ": max |diff| " << max_diff << " (scale " << scale << ")\n";
  EXPECT_LE(max_diff, 1e-4 * scale + 1e-6) << what;
}

TEST(RobertaReference, EveryHeadMatchesPyTorchReimplementation) {
  SKIP_WITHOUT_SHARED("fixtures/check_case.py");
  if (std::system("/usr/bin/python3 -c 'import torch, numpy' >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "no /usr/bin/python3 with torch for the reference";
  const fs::path dir = fs::path(::testing::TempDir()) / "roberta_reference";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const nlohmann::json inputs = {{"input_ids", {{0, 7, 9, 33, 2}, {0, 40, 2, 1, 1}}},
                                 {"attention_mask", {{1, 1, 1, 1, 1}, {1, 1, 1, 0, 0}}}};
  std::ofstream(dir / "inputs.json") << inputs.dump();
  std::ofstream(dir / "reference.py") << kReference;
  std::string cmd = "/usr/bin/python3 " + (dir / "reference.py").string() + " " +
                    test_support::shared_path("fixtures").string() + " " + (dir / "inputs.json").string();

  std::map<std::string, models::ModelPtr> built;
  for (const std::string& arch : kArchitectures) {
    models::ModelPtr model = models::create_model(roberta_config(), arch, 11);
    engine::Generator gen(99);
    for (auto& [name, p] : model->named_parameters())
      engine::copy_(p, engine::normal(p.shape(), 0.0, 0.4, p.dtype(), gen));
    models::save_pretrained(*model, dir / arch);
    model->eval();
    built[arch] = model;
    cmd += " " + (dir / arch).string() + " " + arch + " " + (dir / (arch + ".json")).string();
  }
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;

  models::Batch b;
  b.input_ids = engine::from_vector(std::vector<int64_t>{0, 7, 9, 33, 2, 0, 40, 2, 1, 1}, {2, 5});
  b.attention_mask = engine::from_vector(std::vector<int64_t>{1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, {2, 5});
  for (const std::string& arch : kArchitectures) {
    std::ifstream in(dir / (arch + ".json"));
    const nlohmann::json expected = nlohmann::json::parse(in);
    models::ModelOutput out = built[arch]->forward(b);
    const std::map<std::string, Tensor> got = {{"last_hidden_state", out.last_hidden_state},
                                               {"pooler_output", out.pooler_output},
                                               {"logits", out.logits}};
    for (const auto& [name, value] : expected.items()) expect_close(arch + " " + name, got.at(name), value);
  }
}

}  // namespace
