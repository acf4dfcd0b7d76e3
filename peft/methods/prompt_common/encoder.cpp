// PromptEncoder (the plain table) and MlpHead.
#include "peft/methods/prompt_common/encoder.h"

#include <utility>

#include "engine/engine.h"

namespace peft::prompt {

PromptEncoder::PromptEncoder(int64_t rows, int64_t dim, engine::Generator& gen) {
  auto table = register_module("embedding", std::make_shared<engine::nn::Embedding>(rows, dim));
  table->reset_parameters(gen);
}

MlpHead::MlpHead(const std::vector<int64_t>& sizes, std::string activation, engine::Generator& gen)
    : linears_(int64_t(sizes.size()) - 1), activation_(std::move(activation)) {
  for (int64_t i = 0; i < linears_; ++i) {
    auto linear = std::make_shared<engine::nn::Linear>(sizes[size_t(i)], sizes[size_t(i + 1)]);
    linear->reset_parameters(gen);
    register_module(std::to_string(2 * i), linear);  // the activations sit at odd indices
  }
}

Tensor MlpHead::forward(const Tensor& x) const {
  Tensor h = x;
  for (int64_t i = 0; i < linears_; ++i) {
    if (i > 0) h = engine::nn::activation(activation_, h);
    h = call(std::to_string(2 * i), h);
  }
  return h;
}

}  // namespace peft::prompt
