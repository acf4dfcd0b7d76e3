// BnConfig fields and checks (see config.h).
#include "peft/methods/bottleneck/config.h"

#include <algorithm>

#include "engine/core/error.h"

namespace peft::bottleneck {

using engine::ConfigError;

void BnConfig::fields(ConfigFields& f) {
  PeftConfig::fields(f);
  f("mh_adapter", mh_adapter);
  f("output_adapter", output_adapter);
  f("reduction_factor", reduction_factor);
  f("non_linearity", non_linearity);
  f("original_ln_before", original_ln_before);
  f("original_ln_after", original_ln_after);
  f("residual_before_ln", residual_before_ln);
  f("adapter_residual_before_ln", adapter_residual_before_ln);
  f("ln_before", ln_before);
  f("ln_after", ln_after);
  f("init_weights", init_weights);
  f("is_parallel", is_parallel);
  f("scaling", scaling);
  f("use_gating", use_gating);
  f("dropout", dropout);
  f("leave_out", leave_out);
}

void BnConfig::validate() const {
  const std::string& t = peft_type;
  engine::check<ConfigError>(mh_adapter || output_adapter, "[", t, "] mh_adapter and output_adapter are both false: no adapter");
  engine::check<ConfigError>(reduction_factor > 0, "[", t, "] reduction_factor must be positive, got ", reduction_factor);
  const std::vector<std::string> acts = {"relu", "gelu", "swish", "silu", "tanh", "gelu_new", "sigmoid"};
  engine::check<ConfigError>(std::find(acts.begin(), acts.end(), non_linearity) != acts.end(), "[", t,
                             "] non_linearity '", non_linearity, "' is not one of relu, gelu, swish, silu, tanh, gelu_new, sigmoid");
  engine::check<ConfigError>(init_weights == "bert" || init_weights == "mam_adapter" || init_weights == "houlsby", "[", t,
                             "] init_weights must be \"bert\", \"mam_adapter\" or \"houlsby\", got \"", init_weights, "\"");
  engine::check<ConfigError>(scaling.is_number() || scaling == "learned", "[", t,
                             "] scaling must be a number or \"learned\", got ", scaling.dump());
  // A parallel adapter reads the sub-layer's input: only the FFN site passes one.
  engine::check<ConfigError>(!(is_parallel && mh_adapter), "[", t,
                             "] mh_adapter with is_parallel: the after-attention site does not pass the attention input");
  engine::check<ConfigError>(dropout >= 0 && dropout < 1, "[", t, "] dropout must be in [0, 1), got ", dropout);
}

int64_t BnConfig::bottleneck_size(int64_t hidden) const {
  return std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(hidden) / reduction_factor));
}

}  // namespace peft::bottleneck
