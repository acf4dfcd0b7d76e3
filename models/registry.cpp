// The table of architectures the loader knows (data, not a switch).
#include "engine/core/error.h"
#include "models/architectures.h"

namespace models {

const std::vector<ArchitectureEntry>& architecture_table() {
  static const std::vector<ArchitectureEntry> table = {
      {"BertModel", "bert", make_bert},
      {"BertForSequenceClassification", "bert", make_bert},
      {"BertForTokenClassification", "bert", make_bert},
      {"BertForMaskedLM", "bert", make_bert},
      {"RobertaModel", "roberta", make_bert},
      {"RobertaForSequenceClassification", "roberta", make_bert},
      {"RobertaForTokenClassification", "roberta", make_bert},
      {"RobertaForMaskedLM", "roberta", make_bert},
      {"GPT2Model", "gpt2", make_gpt2},
      {"GPT2LMHeadModel", "gpt2", make_gpt2},
      {"GPT2ForSequenceClassification", "gpt2", make_gpt2},
      {"T5ForConditionalGeneration", "t5", make_t5},
      {"T5EncoderModel", "t5", make_t5},
  };
  return table;
}

std::string default_architecture(const nlohmann::json& config) {
  if (config.contains("architectures") && config["architectures"].is_array() && !config["architectures"].empty())
    return config["architectures"][0].get<std::string>();
  std::string type = config.value("model_type", "");
  for (const auto& e : architecture_table())
    if (type == e.model_type) return e.architecture;
  engine::fail<engine::ConfigError>("config.json: cannot tell the architecture (no \"architectures\" and ",
                                    "model_type \"", type, "\" is not one of bert, roberta, gpt2, t5)");
}

}  // namespace models
