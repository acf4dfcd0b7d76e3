// Data-to-text evaluation (see data_to_text_eval.h).
#include "app/eval/data_to_text_eval.h"

#include <algorithm>

#include "app/metrics/bleu.h"
#include "app/metrics/coco.h"
#include "app/metrics/mteval.h"
#include "engine/engine.h"
#include "peft/core/generate.h"

namespace app::eval {

std::map<std::string, double> data_to_text_metrics(const std::vector<std::string>& hyps,
                                                   const std::vector<std::vector<std::string>>& refs) {
  return {{"bleu", metrics::corpus_bleu(hyps, refs).score},
          {"mteval_bleu", metrics::mteval_bleu(hyps, refs)},
          {"nist", metrics::mteval_nist(hyps, refs)},
          {"rouge_l", metrics::rouge_l(hyps, refs)},
          {"cider", metrics::cider(hyps, refs).score}};
}

namespace {
// The generated text up to the first newline (a model may run on into a next example).
std::string first_line(std::string text) {
  if (auto nl = text.find('\n'); nl != std::string::npos) text.resize(nl);
  auto not_space = [](unsigned char c) { return !std::isspace(c); };
  text.erase(text.begin(), std::find_if(text.begin(), text.end(), not_space));
  text.erase(std::find_if(text.rbegin(), text.rend(), not_space).base(), text.end());
  return text;
}
}  // namespace

DataToTextEval evaluate_data_to_text(peft::PeftModel& model, const models::Tokenizer& tokenizer,
                                     const std::vector<data::DataToTextExample>& examples,
                                     const models::generation::GenerationConfig& config,
                                     const train::CausalLmFormat& format, size_t batch_size) {
  engine::check<engine::ValueError>(!examples.empty(), "[eval] no data-to-text examples to evaluate");
  const bool was_training = model.base().is_training();
  model.base().eval();
  engine::NoGradGuard no_grad;
  DataToTextEval result;
  std::vector<std::vector<std::string>> refs;
  for (size_t start = 0; start < examples.size(); start += batch_size) {
    const size_t end = std::min(examples.size(), start + batch_size);
    std::vector<std::vector<int64_t>> prompts;
    for (size_t i = start; i < end; ++i)
      prompts.push_back(train::causal_lm_prompt(tokenizer, train::linearized_source(examples[i]), format));
    models::generation::GenerationOutput out = peft::generate(model, prompts, config);
    for (size_t i = start; i < end; ++i) {
      result.hypotheses.push_back(first_line(tokenizer.decode(out.tokens[i - start], /*skip_special_tokens=*/true)));
      refs.push_back(examples[i].references);
    }
  }
  model.base().train(was_training);
  result.metrics = data_to_text_metrics(result.hypotheses, refs);
  return result;
}

}  // namespace app::eval
