// Shared by the trainer tests: a causal-LM dataset small enough for a few steps in a test.
#pragma once
#include <memory>
#include <vector>

#include "app/train/objectives.h"

namespace train_test {

// 10 blocks of 12 tokens (vocabulary 40) following a simple rule, so the loss can fall.
inline app::train::Dataset tiny_lm_data() {
  auto blocks = std::make_shared<std::vector<app::train::TokenBlock>>();
  for (int64_t b = 0; b < 10; ++b) {
    app::train::TokenBlock t;
    for (int64_t i = 0; i < 12; ++i) t.push_back((b + 3 * i) % 40);
    blocks->push_back(t);
  }
  return app::train::causal_lm_dataset(blocks, 0);
}

}  // namespace train_test
