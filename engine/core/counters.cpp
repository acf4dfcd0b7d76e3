#include "engine/core/counters.h"

#include <mutex>

namespace engine {
namespace {
std::mutex mu;
Counters state;
thread_local bool backward_flag = false;
}  // namespace

int64_t Counters::total_flops() const {
  int64_t f = 0;
  for (auto& [name, k] : kernels) f += k.flops;
  return f;
}
int64_t Counters::count(const std::string& kernel) const {
  auto it = kernels.find(kernel);
  return it == kernels.end() ? 0 : it->second.forward + it->second.backward;
}
int64_t Counters::backward_count(const std::string& kernel) const {
  auto it = kernels.find(kernel);
  return it == kernels.end() ? 0 : it->second.backward;
}

void count_kernel(const char* name, int64_t flops) {
  std::lock_guard<std::mutex> lock(mu);
  KernelCount& k = state.kernels[name];
  (backward_flag ? k.backward : k.forward)++;
  k.flops += flops;
}
void count_saved_bytes(int64_t bytes) {
  std::lock_guard<std::mutex> lock(mu);
  state.bytes_saved += bytes;
}
void count_node() {
  std::lock_guard<std::mutex> lock(mu);
  state.nodes_recorded++;
}
Counters counters() {
  std::lock_guard<std::mutex> lock(mu);
  return state;
}
void reset_counters() {
  std::lock_guard<std::mutex> lock(mu);
  state = Counters{};
}

bool in_backward() { return backward_flag; }
BackwardScope::BackwardScope() : previous(backward_flag) { backward_flag = true; }
BackwardScope::~BackwardScope() { backward_flag = previous; }

}  // namespace engine
