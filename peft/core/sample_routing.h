// Different adapters for different samples of one batch (PEFT's `adapter_names=[...]`): the
// batch is split into groups of rows that share an adapter, each group runs through its own
// path, and the rows are put back in their original order.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "engine/core/tensor.h"

namespace peft {

// The adapter name that means "the base model only" in adapter_names (PEFT's "__base__").
inline constexpr const char* kBaseOnly = "__base__";

// The per-sample adapter names of the forward pass in progress, or null (set by PeftModel).
const std::vector<std::string>* current_sample_adapters();

class SampleAdaptersScope {
 public:
  explicit SampleAdaptersScope(const std::vector<std::string>* names);
  ~SampleAdaptersScope();
  SampleAdaptersScope(const SampleAdaptersScope&) = delete;
  SampleAdaptersScope& operator=(const SampleAdaptersScope&) = delete;

 private:
  const std::vector<std::string>* previous_;
};

// Runs `run(rows_of_x, adapter_name)` once per distinct name over x's rows along dim 0 (one row
// per sample) and reassembles the outputs in the original row order.
engine::Tensor route_by_sample(const engine::Tensor& x, const std::vector<std::string>& names,
                               const std::function<engine::Tensor(const engine::Tensor&, const std::string&)>& run);

}  // namespace peft
