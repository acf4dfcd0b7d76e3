// SelectiveAdapter: trained entries of base parameters, their θ0 copies, activation and the
// sparse file format (see selective_adapter.h and ../SELECTIVE_FORMAT.md).
#include "peft/methods/selective_common/selective_adapter.h"

#include <algorithm>
#include <set>
#include <sstream>

#include "engine/engine.h"
#include "peft/methods/selective_common/entries.h"

namespace peft::selective {

namespace {

const std::string kPrefix = "base_model.model.";
const std::string kIndices = ".sparse_indices", kDelta = ".sparse_delta";

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

SelectiveAdapter::~SelectiveAdapter() {
  // Still attached here only after merge_and_unload: the trained values stay, the fences go.
  for (Entry& e : entries_) {
    engine::clear_grad_mask(e.param);
    e.param.requires_grad_(false);
  }
}

models::PretrainedModel& SelectiveAdapter::model() const {
  engine::check<engine::ValueError>(model_ != nullptr, "[", config().peft_type, "] adapter '", name(),
                                    "' is not attached to a model");
  return *model_;
}

void SelectiveAdapter::attach(models::PretrainedModel& model, uint64_t seed) {
  model_ = &model;
  attach_modules_to_save(model);  // first, so the head copies are not base candidates
  choose(model, seed);
  active_ = true;  // the weights hold θ (= θ0 until trained)
  set_modules_to_save_active(true);
}

void SelectiveAdapter::detach(models::PretrainedModel& model) {
  release_entries();
  detach_modules_to_save(model);
  model_ = nullptr;
}

void SelectiveAdapter::release_entries() {
  engine::NoGradGuard no_grad;
  for (Entry& e : entries_) {
    if (active_) {  // inactive: the parameter already holds θ0
      if (e.indices.defined()) put_flat_(e.param, e.indices, e.original);
      else engine::copy_(e.param, e.original);
    }
    engine::clear_grad_mask(e.param);
    e.param.zero_grad();
    e.param.requires_grad_(false);
  }
  entries_.clear();
}

void SelectiveAdapter::set_active(bool on) {
  set_modules_to_save_active(on);
  if (on == active_) return;
  engine::NoGradGuard no_grad;
  for (Entry& e : entries_) {
    if (!on) e.stash = current_values(e).clone();
    const Tensor& values = on ? e.stash : e.original;
    if (e.indices.defined()) put_flat_(e.param, e.indices, values);
    else engine::copy_(e.param, values);
  }
  active_ = on;
}

Tensor SelectiveAdapter::current_values(const Entry& e) const {
  if (!active_) return e.stash;
  return e.indices.defined() ? take_flat(e.param, e.indices) : e.param;
}

SelectiveAdapter::Entry& SelectiveAdapter::add_entry(const std::string& name, const Tensor& param) {
  engine::check<engine::ValueError>(!param.requires_grad() && engine::grad_mask(param) == nullptr, "[",
                                    config().peft_type, "] parameter '", name,
                                    "' is already trained (by another adapter, or chosen twice)");
  entries_.push_back(Entry{name, param, {}, {}, {}});
  return entries_.back();
}

SelectiveAdapter::Entry* SelectiveAdapter::train_whole(const std::string& name, const Tensor& param) {
  Entry& e = add_entry(name, param);
  e.original = param.detach().clone();
  if (!active_) e.stash = e.original.clone();
  e.param.requires_grad_(true);
  return &e;
}

SelectiveAdapter::Entry* SelectiveAdapter::train_entries(const std::string& name, const Tensor& param,
                                                         std::vector<int64_t> idx) {
  std::sort(idx.begin(), idx.end());
  idx.erase(std::unique(idx.begin(), idx.end()), idx.end());
  if (idx.empty()) return nullptr;
  Entry& e = add_entry(name, param);
  e.indices = engine::from_vector(idx, {int64_t(idx.size())});
  e.original = take_flat(param, e.indices);  // range-checked here
  if (!active_) e.stash = e.original.clone();
  engine::set_element_mask(param, mask_of(param.shape(), e.indices));
  e.param.requires_grad_(true);
  return &e;
}

void SelectiveAdapter::set_values(Entry& e, const Tensor& values) {
  engine::NoGradGuard no_grad;
  Tensor v = values.to(e.param.dtype()).contiguous();
  if (!active_) e.stash = v.clone();
  else if (e.indices.defined()) put_flat_(e.param, e.indices, v);
  else engine::copy_(e.param, v);
}

int64_t SelectiveAdapter::num_trained_entries() const {
  int64_t n = 0;
  for (const Entry& e : entries_) n += e.indices.defined() ? e.indices.numel() : e.param.numel();
  return n;
}

// ---- tensors and files

NamedTensors SelectiveAdapter::method_tensors() const {
  engine::NoGradGuard no_grad;
  NamedTensors out;
  for (const Entry& e : entries_) {
    if (!e.indices.defined()) {
      out.emplace_back(kPrefix + e.name, current_values(e));
      continue;
    }
    Tensor delta = engine::to_dtype(current_values(e), engine::DType::f32) - engine::to_dtype(e.original, engine::DType::f32);
    out.emplace_back(kPrefix + e.name + kIndices, e.indices);
    out.emplace_back(kPrefix + e.name + kDelta, delta);  // [k] f32: θ − θ0
  }
  return out;
}

NamedTensors SelectiveAdapter::trainable_tensors() const {
  NamedTensors out;
  std::set<std::string> mine;
  for (const Entry& e : entries_)
    if (e.param.requires_grad()) {
      out.emplace_back(kPrefix + e.name, e.param);
      mine.insert(kPrefix + e.name);
    }
  for (auto& [key, t] : Adapter::trainable_tensors())  // modules_to_save copies
    if (!mine.count(key)) out.emplace_back(key, t);
  return out;
}

void SelectiveAdapter::load_file_tensors(const std::map<std::string, Tensor>& file, const std::string& source) {
  // Keys of the modules_to_save copies: everything file_tensors() lists beyond method_tensors().
  std::map<std::string, Tensor> saved;
  for (auto& [key, t] : file_tensors()) saved.emplace(key, t);
  for (auto& [key, t] : method_tensors()) saved.erase(key);

  std::map<std::string, Tensor> params;
  for (auto& [pname, t] : model().named_parameters())
    if (!inside_peft_wrapper(pname)) params.emplace(pname, t);

  std::ostringstream problems;
  auto param_of = [&](const std::string& key, const std::string& suffix) -> std::string {
    std::string pname = key.substr(kPrefix.size(), key.size() - kPrefix.size() - suffix.size());
    if (key.rfind(kPrefix, 0) != 0 || !params.count(pname)) {
      problems << "\n  unexpected " << key << " (no base parameter '" << pname << "')";
      return "";
    }
    return pname;
  };
  std::vector<std::string> whole, sparse;
  for (const auto& [key, t] : file) {
    if (saved.count(key)) {
      if (t.shape() != saved.at(key).shape())
        problems << "\n  shape mismatch for " << key << ": file " << engine::shape_str(t.shape()) << ", model "
                 << engine::shape_str(saved.at(key).shape());
    } else if (ends_with(key, kIndices)) {
      std::string p = param_of(key, kIndices);
      if (p.empty()) continue;
      if (!file.count(kPrefix + p + kDelta)) problems << "\n  " << key << " has no " << kPrefix + p + kDelta;
      sparse.push_back(p);
    } else if (ends_with(key, kDelta)) {
      if (!file.count(key.substr(0, key.size() - kDelta.size()) + kIndices)) problems << "\n  " << key << " has no indices";
    } else if (std::string p = param_of(key, ""); !p.empty()) {
      if (t.shape() != params.at(p).shape())
        problems << "\n  shape mismatch for " << key << ": file " << engine::shape_str(t.shape()) << ", model "
                 << engine::shape_str(params.at(p).shape());
      whole.push_back(p);
    }
  }
  for (const auto& [key, t] : saved)
    if (!file.count(key)) problems << "\n  missing " << key << " " << engine::shape_str(t.shape());
  if (!problems.str().empty())
    engine::fail<engine::KeyError>("[load_adapter] ", source, " does not fit adapter '", name(), "' (",
                                   config().peft_type, "):", problems.str());

  engine::NoGradGuard no_grad;
  release_entries();
  for (const auto& [key, t] : saved) engine::copy_(t, file.at(key));
  for (const auto& p : whole) apply_file_entry(p, file.at(kPrefix + p), {}, {}, source);
  for (const auto& p : sparse)
    apply_file_entry(p, {}, file.at(kPrefix + p + kIndices), file.at(kPrefix + p + kDelta), source);
}

void SelectiveAdapter::apply_file_entry(const std::string& pname, const Tensor& whole, const Tensor& indices,
                                        const Tensor& delta, const std::string& source) {
  Tensor param;
  for (auto& [n, t] : model().named_parameters())
    if (n == pname) param = t;
  if (whole.defined()) {
    set_values(*train_whole(pname, param), whole);
    return;
  }
  std::vector<int64_t> idx = indices.to(engine::DType::i64).to_vector<int64_t>();
  const bool sorted = std::adjacent_find(idx.begin(), idx.end(), std::greater_equal<int64_t>()) == idx.end();
  engine::check<engine::ValueError>(sorted && !idx.empty() && int64_t(idx.size()) == delta.numel(), "[load_adapter] ",
                                    source, ": ", pname, ".sparse_indices must be sorted, unique and match ",
                                    pname, ".sparse_delta (", idx.size(), " indices, ", delta.numel(), " values)");
  Entry* e = train_entries(pname, param, idx);
  // θ0 + δ in f32, rounded once to the parameter's dtype.
  set_values(*e, engine::to_dtype(e->original, engine::DType::f32) + engine::to_dtype(delta.reshape({-1}), engine::DType::f32));
}

}  // namespace peft::selective
