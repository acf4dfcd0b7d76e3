// Activations by their HF config names (transformers/activations.py ACT2FN).
#include <functional>
#include <map>

#include "engine/nn/layers.h"
#include "engine/ops/binary.h"
#include "engine/ops/unary.h"

namespace engine::nn {

namespace {

using Fn = std::function<Tensor(const Tensor&)>;

const std::map<std::string, Fn>& activations() {
  static const std::map<std::string, Fn> table = {
      {"gelu", [](const Tensor& x) { return gelu(x); }},  // exact erf form
      // The tanh approximation 0.5x(1+tanh(√(2/π)(x+0.044715x³))); HF's gelu_fast and
      // gelu_accurate are the same function written differently.
      {"gelu_new", [](const Tensor& x) { return gelu_tanh(x); }},
      {"gelu_pytorch_tanh", [](const Tensor& x) { return gelu_tanh(x); }},
      {"gelu_fast", [](const Tensor& x) { return gelu_tanh(x); }},
      {"gelu_accurate", [](const Tensor& x) { return gelu_tanh(x); }},
      {"quick_gelu", [](const Tensor& x) { return mul(x, sigmoid(mul(x, 1.702))); }},
      {"relu", [](const Tensor& x) { return relu(x); }},
      {"relu2", [](const Tensor& x) { return square(relu(x)); }},
      {"relu6", [](const Tensor& x) { return clamp(x, 0.0, 6.0); }},
      {"silu", [](const Tensor& x) { return silu(x); }},
      {"swish", [](const Tensor& x) { return silu(x); }},
      {"sigmoid", [](const Tensor& x) { return sigmoid(x); }},
      {"tanh", [](const Tensor& x) { return tanh(x); }},
      {"linear", [](const Tensor& x) { return x; }},
  };
  return table;
}

}  // namespace

Tensor activation(const std::string& name, const Tensor& x) {
  const auto& table = activations();
  auto it = table.find(name);
  if (it != table.end()) return it->second(x);
  std::string known;
  for (const auto& [n, f] : table) known += (known.empty() ? "" : ", ") + n;
  fail<ConfigError>("[activation] unknown activation '", name, "'; known: ", known);
}

}  // namespace engine::nn
