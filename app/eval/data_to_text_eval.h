// Evaluation of data-to-text generation (E2E, WebNLG, the main job's restaurant task): greedy
// or beam decoding of every source with a causal LM (plain or adapted), then the E2E
// challenge's metric set over all references: BLEU (sacreBLEU, 13a), NIST and BLEU as
// mteval, ROUGE-L and CIDEr (coco-caption).
#pragma once
#include <map>
#include <string>
#include <vector>

#include "app/data/data_to_text.h"
#include "app/train/batching.h"
#include "models/generation/generation_config.h"
#include "models/tokenizers/tokenizer.h"
#include "peft/core/peft_model.h"

namespace app::eval {

struct DataToTextEval {
  std::vector<std::string> hypotheses;             // one per example
  std::map<std::string, double> metrics;           // bleu, nist, mteval_bleu, rouge_l, cider
};

// Corpus metrics of hypotheses against their references (refs[i] for hyps[i]).
std::map<std::string, double> data_to_text_metrics(const std::vector<std::string>& hypotheses,
                                                   const std::vector<std::vector<std::string>>& references);

// Generates a continuation of "source + separator" for every example (in batches of
// `batch_size` prompts, the model in eval mode) and scores them. `config` needs eos ids.
DataToTextEval evaluate_data_to_text(peft::PeftModel& model, const models::Tokenizer& tokenizer,
                                     const std::vector<data::DataToTextExample>& examples,
                                     const models::generation::GenerationConfig& config,
                                     const train::CausalLmFormat& format = {}, size_t batch_size = 16);

}  // namespace app::eval
