// Selective helpers (see entries.h).
#include "peft/methods/selective_common/entries.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "engine/engine.h"
#include "peft/core/targets.h"

namespace peft::selective {

bool inside_peft_wrapper(const std::string& name) {
  for (const char* part : {".modules_to_save.", ".original_module.", ".base_layer."})
    if (name.find(part) != std::string::npos) return true;
  return name.rfind("modules_to_save.", 0) == 0 || name.rfind("original_module.", 0) == 0;
}

NamedParams linear_weights(const models::PretrainedModel& model, const TunerConfig& config) {
  TunerConfig c = config;  // a sliced copy: only the matching fields matter here
  if (!c.target_modules.is_set()) c.target_modules.kind = ModuleSelector::Kind::all_linear;
  NamedParams out;
  for (const std::string& path : select_targets(model, c, model.model_type(), is_linear)) {
    auto* linear = dynamic_cast<engine::nn::Linear*>(model.get(path).get());
    out.emplace_back(path + ".weight", linear->weight());
  }
  return out;
}

namespace {

void check_flat(const Tensor& t, const Tensor& indices, const char* op) {
  engine::check<engine::ValueError>(t.is_contiguous(), "[", op, "] needs a contiguous tensor");
  engine::check<engine::DTypeError>(indices.dtype() == engine::DType::i64 && indices.dim() == 1, "[", op,
                                    "] indices must be 1-d i64, got ", engine::shape_str(indices.shape()));
  const int64_t* idx = indices.data<int64_t>();
  for (int64_t k = 0; k < indices.numel(); ++k)
    engine::check<engine::IndexError>(idx[k] >= 0 && idx[k] < t.numel(), "[", op, "] index ", idx[k],
                                      " out of range for ", engine::shape_str(t.shape()));
}

}  // namespace

// take_flat / put_flat_ work on host memory; a tensor on a GPU goes through a host copy (these
// run when an adapter is created, saved, loaded or merged, never per step).
Tensor take_flat(const Tensor& t_in, const Tensor& indices_in) {
  if (!t_in.device().is_cpu() || !indices_in.device().is_cpu())
    return take_flat(t_in.to(engine::Device::cpu()), indices_in.to(engine::Device::cpu())).to(t_in.device());
  const Tensor& t = t_in;
  const Tensor& indices = indices_in;
  check_flat(t, indices, "take_flat");
  Tensor out = engine::empty({indices.numel()}, t.dtype());
  const size_t width = engine::dtype_size(t.dtype());
  const int64_t* idx = indices.data<int64_t>();
  const char* src = static_cast<const char*>(t.raw_data());
  char* dst = static_cast<char*>(out.raw_data());
  for (int64_t k = 0; k < indices.numel(); ++k) std::memcpy(dst + k * width, src + idx[k] * width, width);
  return out;
}

void put_flat_(const Tensor& t, const Tensor& indices_in, const Tensor& values) {
  if (!t.device().is_cpu()) {
    Tensor host = t.to(engine::Device::cpu());
    put_flat_(host, indices_in, values.to(engine::Device::cpu()));
    engine::copy_(t, host);  // back into the device tensor, in place
    return;
  }
  const Tensor indices = indices_in.to(engine::Device::cpu());
  check_flat(t, indices, "put_flat_");
  engine::check<engine::ShapeError>(values.numel() == indices.numel(), "[put_flat_] ", values.numel(),
                                    " values for ", indices.numel(), " indices");
  Tensor v = values.to(t.dtype()).contiguous();
  const size_t width = engine::dtype_size(t.dtype());
  const int64_t* idx = indices.data<int64_t>();
  const char* src = static_cast<const char*>(v.raw_data());
  char* dst = static_cast<char*>(t.raw_data());
  for (int64_t k = 0; k < indices.numel(); ++k) std::memcpy(dst + idx[k] * width, src + k * width, width);
}

Tensor mask_of(const engine::Shape& shape, const Tensor& indices_in) {
  const Tensor indices = indices_in.to(engine::Device::cpu());  // masks are built on the host
  Tensor mask = engine::zeros(shape, engine::DType::boolean);
  check_flat(mask, indices, "mask_of");
  bool* m = mask.data<bool>();
  const int64_t* idx = indices.data<int64_t>();
  for (int64_t k = 0; k < indices.numel(); ++k) m[idx[k]] = true;
  return mask;
}

std::vector<std::vector<int64_t>> top_k(const std::vector<Tensor>& scores, int64_t k) {
  // (score, tensor, flat index) over everything; nth_element keeps it O(N).
  struct Item {
    float score;
    int32_t tensor;
    int64_t index;
  };
  std::vector<Item> items;
  for (size_t t = 0; t < scores.size(); ++t) {
    std::vector<float> s = scores[t].to_vector<float>();
    for (size_t i = 0; i < s.size(); ++i) items.push_back({s[i], int32_t(t), int64_t(i)});
  }
  k = std::clamp<int64_t>(k, 0, int64_t(items.size()));
  auto better = [](const Item& a, const Item& b) {
    if (a.score != b.score) return a.score > b.score;
    return a.tensor != b.tensor ? a.tensor < b.tensor : a.index < b.index;
  };
  std::nth_element(items.begin(), items.begin() + k, items.end(), better);
  std::vector<std::vector<int64_t>> out(scores.size());
  for (int64_t i = 0; i < k; ++i) out[items[i].tensor].push_back(items[i].index);
  for (auto& v : out) std::sort(v.begin(), v.end());
  return out;
}

int64_t budget(double fraction, int64_t n) {
  if (n <= 0 || fraction <= 0) return 0;
  return std::clamp<int64_t>(std::llround(fraction * double(n)), 1, n);
}

}  // namespace peft::selective
