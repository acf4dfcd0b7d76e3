// inputs.json -> Batch, and the synthetic loss (see batch_json.h).
#include "app/dump/batch_json.h"

#include <fstream>

#include "engine/engine.h"
#include "engine/ops/reduce.h"

namespace app::dump {
using engine::Tensor;

namespace {

// Walks a nested list: fills `shape` from the first element at each depth, checks every
// row has the same length, and appends the leaves in row-major order.
void flatten(const nlohmann::json& v, size_t depth, engine::Shape& shape, std::vector<double>& data,
             bool& integral, const std::string& name) {
  if (v.is_number()) {
    engine::check<engine::ValueError>(depth == shape.size(), "[inputs] ", name, " is ragged");
    integral = integral && v.is_number_integer();
    data.push_back(v.get<double>());
    return;
  }
  engine::check<engine::ValueError>(v.is_array(), "[inputs] ", name, " must be numbers or nested lists, got ",
                                    v.type_name());
  if (depth == shape.size()) shape.push_back(int64_t(v.size()));
  engine::check<engine::ValueError>(shape[depth] == int64_t(v.size()), "[inputs] ", name,
                                    " is ragged: rows of length ", shape[depth], " and ", v.size());
  for (const auto& x : v) flatten(x, depth + 1, shape, data, integral, name);
}

}  // namespace

Tensor tensor_from_json(const nlohmann::json& value, const std::string& name) {
  engine::Shape shape;
  std::vector<double> data;
  bool integral = true;
  flatten(value, 0, shape, data, integral, name);
  if (integral) return engine::from_vector(std::vector<int64_t>(data.begin(), data.end()), shape);
  return engine::from_vector(std::vector<float>(data.begin(), data.end()), shape);
}

models::Batch batch_from_json(const nlohmann::json& inputs) {
  models::Batch b;
  const std::pair<const char*, Tensor*> fields[] = {
      {"input_ids", &b.input_ids},
      {"attention_mask", &b.attention_mask},
      {"token_type_ids", &b.token_type_ids},
      {"position_ids", &b.position_ids},
      {"labels", &b.labels},
      {"decoder_attention_mask", &b.decoder_attention_mask},
  };
  for (const auto& [key, dst] : fields)
    if (inputs.contains(key) && !inputs[key].is_null()) *dst = tensor_from_json(inputs[key], key);
  engine::check<engine::ValueError>(b.input_ids.defined(), "[inputs] no input_ids");
  return b;
}

Tensor synthetic_loss(const nlohmann::json& inputs, const std::map<std::string, Tensor>& outputs) {
  if (!inputs.contains("synthetic_loss")) return {};
  Tensor loss;
  for (const auto& [key, value] : inputs["synthetic_loss"].items()) {
    if (key.rfind("W_", 0) != 0) continue;  // "formula" and other notes
    const std::string name = key.substr(2);
    auto it = outputs.find(name);
    engine::check<engine::KeyError>(it != outputs.end() && it->second.defined(), "[inputs] synthetic_loss uses ",
                                    name, " but the model has no such output");
    Tensor w = tensor_from_json(value, key).to(it->second.dtype());
    engine::check<engine::ShapeError>(w.shape() == it->second.shape(), "[inputs] ", key, " is ",
                                      engine::shape_str(w.shape()), " but ", name, " is ",
                                      engine::shape_str(it->second.shape()));
    Tensor term = engine::sum(it->second * w);
    loss = loss.defined() ? loss + term : term;
  }
  return loss;
}

nlohmann::json read_json(const std::filesystem::path& file) {
  std::ifstream in(file);
  engine::check<engine::IOError>(in.good(), "cannot open ", file.string());
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    engine::fail<engine::IOError>("malformed JSON in ", file.string(), ": ", e.what());
  }
}

}  // namespace app::dump
