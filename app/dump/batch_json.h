// Reading a model batch from a fixture-style inputs.json (input_ids, attention_mask,
// token_type_ids, labels, ... as nested lists) and the fixtures' synthetic loss.
#pragma once
#include <filesystem>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "models/model.h"

namespace app::dump {

// A nested JSON list of numbers -> tensor (i64 when every number is an integer, else f32).
engine::Tensor tensor_from_json(const nlohmann::json& value, const std::string& name);

// The Batch fields present in `inputs` (decoder_input_ids is NOT read: the fixtures give it
// for reference only and the model derives it from labels, as HF does).
models::Batch batch_from_json(const nlohmann::json& inputs);

// inputs.json's "synthetic_loss": {"W_<output name>": weights, ...} -> loss =
// Σ sum(output * W); an undefined tensor when there is none. `outputs` maps output names
// (last_hidden_state, pooler_output, logits, ...) to tensors.
engine::Tensor synthetic_loss(const nlohmann::json& inputs, const std::map<std::string, engine::Tensor>& outputs);

nlohmann::json read_json(const std::filesystem::path& file);

}  // namespace app::dump
