// CompacterConfig fields and checks (see config.h).
#include "peft/methods/compacter/config.h"

#include "engine/core/error.h"

namespace peft::compacter {

using engine::ConfigError;

void CompacterConfig::fields(ConfigFields& f) {
  BnConfig::fields(f);
  f("phm_layer", phm_layer);
  f("phm_dim", phm_dim);
  f("phm_rank", phm_rank);
  f("factorized_phm_W", factorized_phm_W);
  f("shared_phm_rule", shared_phm_rule);
  f("factorized_phm_rule", factorized_phm_rule);
  f("shared_W_phm", shared_W_phm);
  f("learn_phm", learn_phm);
  f("phm_c_init", phm_c_init);
  f("phm_init_range", phm_init_range);
  f("hypercomplex_nonlinearity", hypercomplex_nonlinearity);
  f("phm_bias", phm_bias);
}

void CompacterConfig::validate() const {
  BnConfig::validate();
  engine::check<ConfigError>(phm_layer, "[COMPACTER] phm_layer must be true (a plain adapter is BOTTLENECK)");
  engine::check<ConfigError>(phm_dim >= 1 && phm_rank >= 1, "[COMPACTER] phm_dim and phm_rank must be positive, got ",
                             phm_dim, " and ", phm_rank);
  engine::check<ConfigError>(!factorized_phm_rule, "[COMPACTER] factorized_phm_rule is not supported");
  engine::check<ConfigError>(!shared_W_phm, "[COMPACTER] shared_W_phm is not supported");
  engine::check<ConfigError>(phm_c_init == "normal" || phm_c_init == "uniform",
                             "[COMPACTER] phm_c_init must be \"normal\" or \"uniform\", got \"", phm_c_init, "\"");
  engine::check<ConfigError>(hypercomplex_nonlinearity == "glorot-uniform" || hypercomplex_nonlinearity == "glorot-normal" ||
                                 hypercomplex_nonlinearity == "normal" || hypercomplex_nonlinearity == "phm",
                             "[COMPACTER] unknown hypercomplex_nonlinearity \"", hypercomplex_nonlinearity, "\"");
}

}  // namespace peft::compacter
