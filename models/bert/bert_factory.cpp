// make_bert: builds any BERT / RoBERTa architecture by HF class name from its config, with
// HF's initialisation (the checkpoint, if any, is loaded afterwards by the loader).
#include "engine/core/error.h"
#include "models/architectures.h"
#include "models/bert/bert_heads.h"
#include "models/common/init.h"

namespace models {

ModelPtr make_bert(const nlohmann::json& config, const std::string& architecture) {
  bert::BertConfig c = bert::read_bert_config(config);
  const bool roberta_arch = architecture.rfind("Roberta", 0) == 0;
  engine::check<engine::ConfigError>(roberta_arch == c.is_roberta(), "config.json: architecture ", architecture,
                                     " does not match model_type \"", c.model_type, "\"");
  const std::string head = architecture.substr(roberta_arch ? 7 : 4);  // after "Roberta" / "Bert"
  ModelPtr model;
  if (head == "Model") model = std::make_shared<bert::BertModel>(c, config);
  else if (head == "ForSequenceClassification") model = std::make_shared<bert::BertForSequenceClassification>(c, config);
  else if (head == "ForTokenClassification") model = std::make_shared<bert::BertForTokenClassification>(c, config);
  else if (head == "ForMaskedLM") model = std::make_shared<bert::BertForMaskedLM>(c, config);
  else engine::fail<engine::ConfigError>("[bert] unsupported architecture ", architecture);
  common::init_bert_like(*model, c.initializer_range);
  return model;
}

}  // namespace models
