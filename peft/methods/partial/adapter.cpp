// Partial freezing: picks whole parameters by head / top-k blocks / regexes.
#include "peft/methods/partial/adapter.h"

#include <algorithm>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "engine/engine.h"
#include "peft/core/targets.h"
#include "peft/methods/selective_common/entries.h"

namespace peft::partial {

namespace {

// The output heads of the HF architectures we load (BERT MLM's is `cls.predictions.*`).
bool is_head(const std::string& name) {
  for (const char* h : {"classifier.", "score.", "lm_head.", "qa_outputs.", "cls."})
    if (name.rfind(h, 0) == 0) return true;
  return false;
}

}  // namespace

void PartialAdapter::choose(models::PretrainedModel& model, uint64_t seed) {
  (void)seed;
  const auto& c = static_cast<const PartialConfig&>(config());
  std::vector<std::pair<std::string, Tensor>> params;
  for (auto& [n, t] : model.named_parameters())
    if (!selective::inside_peft_wrapper(n)) params.emplace_back(n, t);

  std::set<std::string> chosen;
  if (c.head_only) {
    for (const auto& [n, t] : params)
      if (is_head(n)) chosen.insert(n);
    for (const auto& [alias, source] : model.tied_weights())  // GPT-2's lm_head is wte
      if (is_head(alias)) chosen.insert(source);
  }
  if (c.last_k_layers > 0) {
    int64_t top = -1;  // the highest block index (per stack; T5's stacks are numbered alike)
    for (const auto& [n, t] : params) top = std::max(top, layer_index(n, c.layers_pattern).value_or(-1));
    for (const auto& [n, t] : params)
      if (auto l = layer_index(n, c.layers_pattern); l && *l > top - c.last_k_layers) chosen.insert(n);
  }
  for (const auto& pattern : c.trainable_patterns) {
    std::regex re(pattern);
    for (const auto& [n, t] : params)
      if (std::regex_search(n, re)) chosen.insert(n);
  }
  if (chosen.empty() && file_tensors().empty()) {
    std::ostringstream names;
    for (const auto& [n, t] : params) names << " " << n;
    engine::fail<engine::KeyError>("[PARTIAL] head_only / last_k_layers / trainable_patterns matched no parameter. "
                                   "Parameters of this model:", names.str());
  }
  for (const auto& [n, t] : params)  // model order
    if (chosen.count(n)) train_whole(n, t);
}

}  // namespace peft::partial
