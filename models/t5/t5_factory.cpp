// make_t5: builds T5ForConditionalGeneration or T5EncoderModel from its config with HF's
// initialisation (T5PreTrainedModel._init_weights); a checkpoint, if any, is loaded after.
#include <cmath>

#include "engine/autograd/grad_mode.h"
#include "engine/core/error.h"
#include "models/architectures.h"
#include "models/common/init.h"
#include "models/t5/t5_model.h"

namespace models {
namespace t5 {

namespace {

void init_weight(const engine::nn::Module& m, const std::string& child, double std) {
  common::normal_init(m.child(child)->param("weight"), std);
}

}  // namespace

void init_t5_weights(engine::nn::Module& root, const T5Config& c) {
  engine::NoGradGuard no_grad;
  const double f = c.initializer_factor, d_model = double(c.d_model);
  for (const auto& [name, m] : root.named_modules()) {
    const std::string type = m->type_name();
    if (type == "T5LayerNorm") {
      engine::fill_(m->param("weight"), f);
    } else if (type == "T5Attention") {
      init_weight(*m, "q", f * std::pow(d_model * double(c.d_kv), -0.5));
      init_weight(*m, "k", f * std::pow(d_model, -0.5));
      init_weight(*m, "v", f * std::pow(d_model, -0.5));
      init_weight(*m, "o", f * std::pow(double(c.inner_dim()), -0.5));
      if (m->find("relative_attention_bias")) init_weight(*m, "relative_attention_bias", f * std::pow(d_model, -0.5));
    } else if (type == "T5DenseActDense" || type == "T5DenseGatedActDense") {
      for (const char* wi : {"wi", "wi_0", "wi_1"})
        if (m->find(wi)) init_weight(*m, wi, f * std::pow(d_model, -0.5));
      init_weight(*m, "wo", f * std::pow(double(c.d_ff), -0.5));
    }
  }
  init_weight(root, "shared", f);
  if (root.find("lm_head") && !c.tie_word_embeddings) init_weight(root, "lm_head", f);
}

}  // namespace t5

ModelPtr make_t5(const nlohmann::json& config, const std::string& architecture) {
  t5::T5Config c = t5::read_t5_config(config);
  ModelPtr model;
  if (architecture == "T5ForConditionalGeneration") model = std::make_shared<t5::T5ForConditionalGeneration>(c, config);
  else if (architecture == "T5EncoderModel") model = std::make_shared<t5::T5EncoderModel>(c, config);
  else engine::fail<engine::ConfigError>("[t5] unsupported architecture ", architecture,
                                         " (T5ForConditionalGeneration, T5EncoderModel)");
  t5::init_t5_weights(*model, c);
  return model;
}

}  // namespace models
