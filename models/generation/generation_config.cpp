// Reading and checking generation settings (see generation_config.h).
#include "models/generation/generation_config.h"

#include <fstream>

#include "engine/core/error.h"
#include "models/loading/config_reader.h"

namespace models::generation {

int64_t GenerationConfig::pad_id() const {
  if (pad_token_id) return *pad_token_id;
  return eos_token_ids.empty() ? 0 : eos_token_ids.front();
}

namespace {

std::vector<int64_t> read_ids(const ConfigReader& r, const char* key) {
  if (!r.has(key)) return {};
  const nlohmann::json& v = r.json()[key];
  if (v.is_number_integer()) return {v.get<int64_t>()};
  std::vector<int64_t> ids;
  if (!v.is_array()) r.fail(key, "must be a token id or a list of ids, got " + v.dump());
  for (const auto& x : v) {
    if (!x.is_number_integer()) r.fail(key, "must hold integer token ids, got " + v.dump());
    ids.push_back(x.get<int64_t>());
  }
  return ids;
}

std::optional<int64_t> read_id(const ConfigReader& r, const char* key) {
  if (!r.has(key)) return std::nullopt;
  return r.require_int(key);
}

// The fields of a config.json / generation_config.json that generation reads.
void read_into(GenerationConfig& g, const ConfigReader& r) {
  if (r.has("eos_token_id")) g.eos_token_ids = read_ids(r, "eos_token_id");
  if (r.has("pad_token_id")) g.pad_token_id = read_id(r, "pad_token_id");
  if (r.has("decoder_start_token_id")) g.decoder_start_token_id = read_id(r, "decoder_start_token_id");
  if (r.has("max_new_tokens")) g.max_new_tokens = r.positive_int("max_new_tokens");
  g.do_sample = r.get_bool("do_sample", g.do_sample);
  g.temperature = r.get_double("temperature", g.temperature);
  g.top_k = r.get_int("top_k", g.top_k);
  g.top_p = r.get_double("top_p", g.top_p);
  g.num_beams = r.get_int("num_beams", g.num_beams);
  g.length_penalty = r.get_double("length_penalty", g.length_penalty);
  if (r.has("early_stopping")) {
    const nlohmann::json& v = r.json()["early_stopping"];
    if (v.is_boolean()) g.early_stopping = v.get<bool>() ? EarlyStopping::kTrue : EarlyStopping::kFalse;
    else if (v == "never") g.early_stopping = EarlyStopping::kNever;
    else r.fail("early_stopping", "must be true, false or \"never\", got " + v.dump());
  }
}

}  // namespace

GenerationConfig default_generation_config(const nlohmann::json& model_config, const std::filesystem::path& folder) {
  GenerationConfig g;
  const std::filesystem::path file = folder.empty() ? folder : folder / "generation_config.json";
  if (!file.empty() && std::filesystem::exists(file)) {
    std::ifstream in(file);
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
      engine::fail<engine::IOError>("malformed JSON in ", file.string(), ": ", e.what());
    }
    read_into(g, ConfigReader(j, file.string()));
  } else {
    // GenerationConfig.from_model_config: the generation fields a config.json carries.
    read_into(g, ConfigReader(model_config));
  }
  return g;
}

void validate(const GenerationConfig& g) {
  auto check = [](bool ok, const char* field, const std::string& why) {
    engine::check<engine::ValueError>(ok, "[generate] ", field, " ", why);
  };
  check(g.max_new_tokens > 0, "max_new_tokens", "must be positive, got " + std::to_string(g.max_new_tokens));
  check(g.temperature > 0, "temperature", "must be positive, got " + std::to_string(g.temperature));
  check(g.top_k >= 0, "top_k", "must be >= 0, got " + std::to_string(g.top_k));
  check(g.top_p > 0 && g.top_p <= 1, "top_p", "must be in (0, 1], got " + std::to_string(g.top_p));
  check(g.num_beams >= 1, "num_beams", "must be >= 1, got " + std::to_string(g.num_beams));
  check(!(g.do_sample && g.num_beams > 1), "num_beams", "> 1 with sampling (beam-sample) is not supported");
}

}  // namespace models::generation
