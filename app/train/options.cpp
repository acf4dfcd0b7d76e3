// TrainOptions from JSON and flags, through one table of fields (see options.h).
#include "app/train/options.h"

#include <algorithm>
#include <cmath>
#include <variant>
#include <vector>

#include "app/train/precision.h"
#include "engine/core/error.h"
#include "engine/optim/schedule.h"

namespace app::train {
namespace {

using T = TrainOptions;
using Member = std::variant<double T::*, int64_t T::*, uint64_t T::*, std::string T::*, bool T::*>;

struct Field {
  const char* key;   // JSON key; the flag is the key with '-' for '_'
  const char* help;
  Member member;
};

const std::vector<Field>& fields() {
  static const std::vector<Field> f = {
      {"lr", "peak learning rate", &T::lr},
      {"schedule", "constant | constant_with_warmup | linear | cosine", &T::schedule},
      {"warmup_steps", "learning-rate warmup steps", &T::warmup_steps},
      {"warmup_ratio", "warmup as a fraction of the total steps (when warmup-steps is 0)", &T::warmup_ratio},
      {"weight_decay", "AdamW weight decay (not on biases and norm weights)", &T::weight_decay},
      {"adam_beta1", "AdamW beta1", &T::adam_beta1},
      {"adam_beta2", "AdamW beta2", &T::adam_beta2},
      {"adam_eps", "AdamW epsilon", &T::adam_eps},
      {"batch_size", "examples per micro-batch", &T::batch_size},
      {"grad_accum", "micro-batches per optimizer step", &T::grad_accum},
      {"max_steps", "optimizer steps (wins over epochs when > 0)", &T::max_steps},
      {"epochs", "passes over the training data", &T::epochs},
      {"eval_every", "steps between evaluations (0: at the end only)", &T::eval_every},
      {"save_every", "steps between checkpoints (0: at the end only)", &T::save_every},
      {"log_every", "steps between logged lines", &T::log_every},
      {"metric", "eval metric for the best checkpoint and early stopping", &T::metric},
      {"greater_is_better", "the metric is maximised", &T::greater_is_better},
      {"patience", "evaluations without improvement before stopping (0: never)", &T::patience},
      {"keep_best", "keep <output>/best, the best evaluation's trainable state", &T::keep_best},
      {"clip_norm", "max global gradient norm (0: off)", &T::clip_norm},
      {"seed", "random seed (data order, dropout, initialisation)", &T::seed},
      {"output_dir", "checkpoints and metrics.jsonl go here", &T::output_dir},
      {"resume", "continue from <output>/checkpoint when present", &T::resume},
      {"progress", "show the progress line", &T::progress},
      {"precision", kPrecisionHelp, &T::precision},
      {"loss_scale", "f16: initial dynamic loss scale (halved and the step skipped on inf/NaN gradients)",
       &T::loss_scale},
      {"loss_scale_growth_interval", "f16: clean steps before the loss scale doubles",
       &T::loss_scale_growth_interval},
  };
  return f;
}

std::string flag_name(const char* key) {
  std::string flag = key;
  for (char& c : flag)
    if (c == '_') c = '-';
  return "--" + flag;
}

}  // namespace

void TrainOptions::validate() const {
  using engine::ConfigError;
  engine::check<ConfigError>(lr > 0, "[train] lr must be positive, got ", lr);
  engine::check<ConfigError>(batch_size > 0, "[train] batch_size must be positive, got ", batch_size);
  engine::check<ConfigError>(grad_accum > 0, "[train] grad_accum must be positive, got ", grad_accum);
  engine::check<ConfigError>(max_steps > 0 || epochs > 0, "[train] set max_steps or epochs > 0");
  engine::check<ConfigError>(warmup_steps >= 0 && warmup_ratio >= 0 && warmup_ratio <= 1,
                             "[train] warmup_steps must be >= 0 and warmup_ratio in [0, 1]");
  engine::check<ConfigError>(eval_every >= 0 && save_every >= 0 && log_every >= 0 && patience >= 0,
                             "[train] eval_every, save_every, log_every and patience must be >= 0");
  engine::check<ConfigError>(clip_norm >= 0 && weight_decay >= 0, "[train] clip_norm and weight_decay must be >= 0");
  engine::check<ConfigError>(!output_dir.empty(), "[train] output_dir is required");
  engine::optim::make_schedule(schedule, lr, 0, 1);  // ConfigError listing the known names
  parse_precision(precision);                        // ConfigError naming --precision
  engine::check<ConfigError>(std::isfinite(loss_scale) && loss_scale > 0 && loss_scale_growth_interval > 0,
                             "[train] loss_scale and loss_scale_growth_interval must be positive, got ", loss_scale,
                             " and ", loss_scale_growth_interval);
}

void apply_json(TrainOptions& o, const nlohmann::json& json, const CLI::App* cli) {
  engine::check<engine::ConfigError>(json.is_object(), "[train] training config must be a JSON object");
  for (const auto& [key, value] : json.items()) {
    auto it = std::find_if(fields().begin(), fields().end(), [&](const Field& f) { return key == f.key; });
    engine::check<engine::ConfigError>(it != fields().end(), "[train] unknown training option '", key, "'");
    if (cli && cli->count(flag_name(it->key)) > 0) continue;  // the command line wins
    try {
      std::visit([&](auto member) { o.*member = value.get<std::remove_reference_t<decltype(o.*member)>>(); },
                 it->member);
    } catch (const nlohmann::json::exception& e) {
      engine::fail<engine::ConfigError>("[train] training option '", key, "': ", e.what());
    }
  }
}

nlohmann::json to_json(const TrainOptions& o) {
  nlohmann::json j = nlohmann::json::object();
  for (const Field& f : fields()) std::visit([&](auto member) { j[f.key] = o.*member; }, f.member);
  return j;
}

void add_train_flags(CLI::App& app, TrainOptions& o) {
  for (const Field& f : fields()) {
    const std::string flag = flag_name(f.key);
    std::visit(
        [&](auto member) {
          if constexpr (std::is_same_v<decltype(member), bool T::*>)
            app.add_flag(flag + ",!--no-" + flag.substr(2), o.*member, f.help)->capture_default_str();
          else
            app.add_option(flag, o.*member, f.help)->capture_default_str();
        },
        f.member);
  }
}

}  // namespace app::train
