// The architectures the loader can build, by HF class name. Each model family defines its
// factory in its own folder; registry.cpp lists them in one data table.
#pragma once
#include <string>
#include <vector>

#include "models/model.h"

namespace models {

using ModelFactory = ModelPtr (*)(const nlohmann::json& config, const std::string& architecture);

// models/bert: BertModel, BertForSequenceClassification, BertForTokenClassification,
// BertForMaskedLM, and the RoBERTa equivalents.
ModelPtr make_bert(const nlohmann::json& config, const std::string& architecture);
// models/gpt2: GPT2Model, GPT2LMHeadModel, GPT2ForSequenceClassification.
ModelPtr make_gpt2(const nlohmann::json& config, const std::string& architecture);
// models/t5: T5ForConditionalGeneration, T5EncoderModel.
ModelPtr make_t5(const nlohmann::json& config, const std::string& architecture);

struct ArchitectureEntry {
  const char* architecture;
  const char* model_type;
  ModelFactory factory;
};
const std::vector<ArchitectureEntry>& architecture_table();

// The architecture to build from a config: "architectures"[0], else the model_type's base.
std::string default_architecture(const nlohmann::json& config);

}  // namespace models
