// Partial freezing's config (peft.cpp's own method, peft_type "PARTIAL"; see README.md):
// which whole base parameters train. The choices add up (a union):
//   head_only       the output head (classifier / score / lm_head / qa_outputs / cls.*);
//   last_k_layers   the top k blocks (layer index by layers_pattern, as PEFT's
//                   layers_to_transform; T5: the top k of the encoder and of the decoder);
//   trainable_patterns  regexes searched in parameter names (std::regex_search).
#pragma once
#include <regex>
#include <string>
#include <vector>

#include "engine/core/error.h"
#include "peft/core/config.h"

namespace peft::partial {

struct PartialConfig : TunerConfig {
  bool head_only = false;
  int64_t last_k_layers = 0;
  std::vector<std::string> trainable_patterns;

  PartialConfig() { peft_type = "PARTIAL"; }
  void fields(ConfigFields& f) override {
    TunerConfig::fields(f);
    f("head_only", head_only);
    f("last_k_layers", last_k_layers);
    f("trainable_patterns", trainable_patterns);
  }
  void validate() const override {
    auto fail = [&](const std::string& field, const std::string& why) {
      engine::fail<engine::ConfigError>("[", peft_type, "] config field '", field, "' ", why);
    };
    if (last_k_layers < 0) fail("last_k_layers", "must be >= 0, got " + std::to_string(last_k_layers));
    if (!head_only && last_k_layers == 0 && trainable_patterns.empty() && !modules_to_save && task_type != "SEQ_CLS")
      fail("head_only", "is false and last_k_layers / trainable_patterns are empty: nothing would train");
    for (const auto& p : trainable_patterns) {
      try {
        std::regex re(p);
      } catch (const std::regex_error& e) {
        fail("trainable_patterns", "has an invalid regex '" + p + "': " + e.what());
      }
    }
  }
};

}  // namespace peft::partial
