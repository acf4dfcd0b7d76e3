// Per-sample adapter routing (see sample_routing.h).
#include "peft/core/sample_routing.h"

#include <map>

#include "engine/engine.h"

namespace peft {

namespace {
thread_local const std::vector<std::string>* g_sample_adapters = nullptr;
}

const std::vector<std::string>* current_sample_adapters() { return g_sample_adapters; }

SampleAdaptersScope::SampleAdaptersScope(const std::vector<std::string>* names) : previous_(g_sample_adapters) {
  g_sample_adapters = names;
}
SampleAdaptersScope::~SampleAdaptersScope() { g_sample_adapters = previous_; }

engine::Tensor route_by_sample(const engine::Tensor& x, const std::vector<std::string>& names,
                               const std::function<engine::Tensor(const engine::Tensor&, const std::string&)>& run) {
  engine::check<engine::ShapeError>(x.dim() >= 1 && x.size(0) == static_cast<int64_t>(names.size()),
                                    "[adapter_names] ", names.size(), " names for a batch of shape ",
                                    engine::shape_str(x.shape()));
  std::map<std::string, std::vector<int64_t>> groups;  // name -> rows, in order of rows
  for (size_t i = 0; i < names.size(); ++i) groups[names[i]].push_back(static_cast<int64_t>(i));
  if (groups.size() == 1) return run(x, names.front());

  std::vector<engine::Tensor> outputs;
  std::vector<int64_t> order;  // order[j] = original row of concatenated row j
  for (const auto& [name, rows] : groups) {
    engine::Tensor index = engine::from_vector(rows, {static_cast<int64_t>(rows.size())}).to(x.device());
    outputs.push_back(run(engine::index_select(x, 0, index), name));
    order.insert(order.end(), rows.begin(), rows.end());
  }
  std::vector<int64_t> inverse(order.size());
  for (size_t j = 0; j < order.size(); ++j) inverse[order[j]] = static_cast<int64_t>(j);
  engine::Tensor all = engine::concat(outputs, 0);
  return engine::index_select(all, 0, engine::from_vector(inverse, {static_cast<int64_t>(inverse.size())}).to(x.device()));
}

}  // namespace peft
