// Config fields: reading/writing adapter_config.json (see config.h).
#include "peft/core/config.h"

#include <fstream>
#include <iostream>

#include "engine/core/error.h"
#include "peft/core/registry.h"

namespace peft {

using engine::ConfigError;
using engine::fail;

// ---- ModuleSelector

ModuleSelector ModuleSelector::list_of(std::vector<std::string> names) {
  ModuleSelector s;
  s.kind = Kind::list;
  s.names = std::move(names);
  return s;
}

json ModuleSelector::to_json() const {
  switch (kind) {
    case Kind::none: return nullptr;
    case Kind::list: return names;
    case Kind::regex: return regex;
    case Kind::all_linear: return "all-linear";
  }
  return nullptr;
}

ModuleSelector ModuleSelector::from_json(const json& j, const std::string& where) {
  ModuleSelector s;
  if (j.is_null()) return s;
  if (j.is_string()) {
    const std::string text = j.get<std::string>();
    if (text == "all-linear") {
      s.kind = Kind::all_linear;
    } else {
      s.kind = Kind::regex;
      s.regex = text;
    }
    return s;
  }
  if (!j.is_array()) fail<ConfigError>("[", where, "] expected a list of module names or a regex string, got ", j.dump());
  s.kind = Kind::list;
  for (const auto& e : j) {
    if (!e.is_string()) fail<ConfigError>("[", where, "] module names must be strings, got ", e.dump());
    s.names.push_back(e.get<std::string>());
  }
  return s;
}

// ---- ConfigFields

ConfigFields::ConfigFields(const json& j, std::string where) : in_(&j), where_(std::move(where)) {
  if (!j.is_object()) fail<ConfigError>("[", where_, "] adapter config must be a JSON object, got ", j.dump());
}

ConfigFields::ConfigFields(json& out) : out_(&out) {}

const json* ConfigFields::find(const std::string& key) {
  seen_.insert(key);
  auto it = in_->find(key);
  return it == in_->end() ? nullptr : &*it;
}

void ConfigFields::bad_type(const std::string& key, const char* expected) const {
  fail<ConfigError>("[", where_, "] config field '", key, "' must be ", expected, ", got ", in_->at(key).dump());
}

template <typename T>
void ConfigFields::scalar(const std::string& key, T& v, const char* type_name) {
  if (!reading()) {
    (*out_)[key] = v;
    return;
  }
  const json* j = find(key);
  if (!j || j->is_null()) return;  // absent or null: keep the default
  if constexpr (std::is_same_v<T, bool>) {
    if (!j->is_boolean()) bad_type(key, type_name);
  } else if constexpr (std::is_same_v<T, int64_t>) {
    if (!j->is_number_integer()) bad_type(key, type_name);
  } else if constexpr (std::is_same_v<T, double>) {
    if (!j->is_number()) bad_type(key, type_name);
  } else {
    if (!j->is_string()) bad_type(key, type_name);
  }
  v = j->get<T>();
}

void ConfigFields::operator()(const std::string& key, int64_t& v) { scalar(key, v, "an integer"); }
void ConfigFields::operator()(const std::string& key, double& v) { scalar(key, v, "a number"); }
void ConfigFields::operator()(const std::string& key, bool& v) { scalar(key, v, "true or false"); }
void ConfigFields::operator()(const std::string& key, std::string& v) { scalar(key, v, "a string"); }

void ConfigFields::operator()(const std::string& key, std::optional<std::string>& v) {
  if (!reading()) {
    (*out_)[key] = v ? json(*v) : json(nullptr);
    return;
  }
  const json* j = find(key);
  if (!j || j->is_null()) return;
  if (!j->is_string()) bad_type(key, "a string or null");
  v = j->get<std::string>();
}

void ConfigFields::operator()(const std::string& key, std::optional<int64_t>& v) {
  if (!reading()) {
    (*out_)[key] = v ? json(*v) : json(nullptr);
    return;
  }
  const json* j = find(key);
  if (!j || j->is_null()) return;
  if (!j->is_number_integer()) bad_type(key, "an integer or null");
  v = j->get<int64_t>();
}

void ConfigFields::operator()(const std::string& key, std::vector<std::string>& v) {
  if (!reading()) {
    (*out_)[key] = v;
    return;
  }
  const json* j = find(key);
  if (!j || j->is_null()) return;
  if (j->is_string()) {  // PEFT accepts a single name where a list is expected
    v = {j->get<std::string>()};
    return;
  }
  if (!j->is_array()) bad_type(key, "a list of strings");
  v.clear();
  for (const auto& e : *j) {
    if (!e.is_string()) bad_type(key, "a list of strings");
    v.push_back(e.get<std::string>());
  }
}

void ConfigFields::operator()(const std::string& key, std::optional<std::vector<std::string>>& v) {
  if (!reading()) {
    (*out_)[key] = v ? json(*v) : json(nullptr);
    return;
  }
  const json* j = find(key);
  if (!j || j->is_null()) return;
  std::vector<std::string> list;
  seen_.erase(key);
  (*this)(key, list);
  v = std::move(list);
}

void ConfigFields::operator()(const std::string& key, std::vector<int64_t>& v) {
  if (!reading()) {
    (*out_)[key] = v.empty() ? json(nullptr) : json(v);
    return;
  }
  const json* j = find(key);
  if (!j || j->is_null()) return;
  if (j->is_number_integer()) {  // PEFT accepts one layer index
    v = {j->get<int64_t>()};
    return;
  }
  if (!j->is_array()) bad_type(key, "a list of integers");
  v.clear();
  for (const auto& e : *j) {
    if (!e.is_number_integer()) bad_type(key, "a list of integers");
    v.push_back(e.get<int64_t>());
  }
}

void ConfigFields::operator()(const std::string& key, std::map<std::string, double>& v) {
  if (!reading()) {
    json obj = json::object();
    for (const auto& [k, x] : v) obj[k] = x;
    (*out_)[key] = obj;
    return;
  }
  const json* j = find(key);
  if (!j || j->is_null()) return;
  if (!j->is_object()) bad_type(key, "an object of numbers");
  v.clear();
  for (const auto& [k, x] : j->items()) {
    if (!x.is_number()) bad_type(key, "an object of numbers");
    v[k] = x.get<double>();
  }
}

void ConfigFields::operator()(const std::string& key, ModuleSelector& v) {
  if (!reading()) {
    (*out_)[key] = v.to_json();
    return;
  }
  const json* j = find(key);
  if (j) v = ModuleSelector::from_json(*j, where_ + "." + key);
}

void ConfigFields::operator()(const std::string& key, json& v) {
  if (!reading()) {
    (*out_)[key] = v;
    return;
  }
  if (const json* j = find(key)) v = *j;
}

std::vector<std::string> ConfigFields::unknown_keys() const {
  std::vector<std::string> out;
  if (!in_) return out;
  for (const auto& [k, _] : in_->items())
    if (!seen_.count(k)) out.push_back(k);
  return out;
}

// ---- common fields

void PeftConfig::fields(ConfigFields& f) {
  f("peft_type", peft_type);
  f("task_type", task_type);
  f("base_model_name_or_path", base_model_name_or_path);
  f("revision", revision);
  f("inference_mode", inference_mode);
  f("modules_to_save", modules_to_save);
  // PEFT's bookkeeping: auto_mapping is written (null, as PEFT does for its own classes) and
  // read without effect; peft_version is read so that newer files raise no warning.
  json ignored = nullptr;
  f("auto_mapping", ignored);
  if (f.reading()) f("peft_version", ignored);
}

json PeftConfig::to_json() const {
  json out = json::object();
  ConfigFields writer(out);
  const_cast<PeftConfig*>(this)->fields(writer);  // fields() only reads members when writing
  return out;
}

void TunerConfig::fields(ConfigFields& f) {
  PeftConfig::fields(f);
  f("target_modules", target_modules);
  f("exclude_modules", exclude_modules);
  f("layers_to_transform", layers_to_transform);
  if (f.reading()) {
    f("layers_pattern", layers_pattern);
  } else {
    json pattern = !layers_pattern ? json(nullptr)
                   : layers_pattern->size() == 1 ? json((*layers_pattern)[0]) : json(*layers_pattern);
    f("layers_pattern", pattern);
  }
}

std::shared_ptr<PeftConfig> config_from_json(const json& j, const std::string& source) {
  if (!j.is_object() || !j.contains("peft_type") || !j["peft_type"].is_string())
    fail<ConfigError>("[adapter config] ", source, ": no \"peft_type\" string");
  const std::string type = j["peft_type"].get<std::string>();
  std::shared_ptr<PeftConfig> config = method_by_type(type).make_config();
  ConfigFields reader(j, type);
  config->fields(reader);
  for (const std::string& key : reader.unknown_keys())
    std::cerr << "warning: " << source << ": unknown " << type << " config field '" << key << "' ignored\n";
  config->peft_type = type;
  config->validate();
  return config;
}

std::shared_ptr<PeftConfig> read_config_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail<engine::IOError>("[adapter config] cannot open ", path);
  json j;
  try {
    in >> j;
  } catch (const json::exception& e) {
    fail<ConfigError>("[adapter config] ", path, " is not valid JSON: ", e.what());
  }
  return config_from_json(j, path);
}

}  // namespace peft
