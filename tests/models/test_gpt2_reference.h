// The tiny GPT-2 of tests/models/data/gpt2_reference.py, rebuilt in C++: its config and its
// formula weights, plus the reference values that script computed with a hand-written PyTorch
// GPT-2 (gpt2_reference.json). Shared by test_gpt2_reference.cpp and test_generation.cpp.
#pragma once
#include <cmath>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/engine.h"
#include "models/model.h"

namespace gpt2_reference {

inline nlohmann::json load_json() {
  std::ifstream in(PEFT_SOURCE_DIR "/tests/models/data/gpt2_reference.json");
  return nlohmann::json::parse(in);
}

// name_hash / weight() of gpt2_reference.py: w[i] = center + scale * (2u - 1) with
// u = frac(sin(12.9898 i + 78.233 k) * 43758.5453), k a hash of the parameter name.
inline void fill_formula(const std::string& name, engine::Tensor& p) {
  int64_t k = 0;
  for (unsigned char ch : name) k = (k * 31 + ch) % 9973;
  auto ends = [&](const std::string& s) { return name.size() >= s.size() && name.rfind(s) == name.size() - s.size(); };
  double center = 0, scale = 0.5;
  if (ends("ln_1.weight") || ends("ln_2.weight") || ends("ln_f.weight")) center = 1, scale = 0.2;
  else if (ends(".bias")) scale = 0.1;
  std::vector<float> values(size_t(p.numel()));
  for (size_t i = 0; i < values.size(); ++i) {
    const double s = std::sin(12.9898 * double(i) + 78.233 * double(k)) * 43758.5453;
    values[i] = float(center + scale * (2 * (s - std::floor(s)) - 1));
  }
  engine::NoGradGuard no_grad;
  engine::copy_(p, engine::from_vector(values, p.shape()));
}

// The reference GPT2LMHeadModel in eval mode with the formula weights.
inline models::ModelPtr make_model(const nlohmann::json& reference) {
  models::ModelPtr model = models::create_model(reference["config"], "GPT2LMHeadModel", 1);
  for (auto& [name, p] : model->named_parameters()) fill_formula(name, p);
  model->eval();
  return model;
}

}  // namespace gpt2_reference
