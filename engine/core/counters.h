// Observable cost counters: kernels run per primitive, FLOPs, bytes saved for backward.
// They make frozen-gradient masking provable: a test can show that a frozen weight's
// gradient kernel never ran, rather than that it ran and was zeroed.
#pragma once
#include <cstdint>
#include <map>
#include <string>

namespace engine {

struct KernelCount {
  int64_t forward = 0;   // launches outside backward()
  int64_t backward = 0;  // launches while backward() runs
  int64_t flops = 0;
};

struct Counters {
  std::map<std::string, KernelCount> kernels;  // by kernel name, e.g. "matmul", "layer_norm"
  int64_t bytes_saved = 0;                     // bytes of tensors saved for backward (total)
  int64_t nodes_recorded = 0;                  // graph nodes created
  int64_t total_flops() const;
  int64_t count(const std::string& kernel) const;           // forward + backward launches
  int64_t backward_count(const std::string& kernel) const;  // launches inside backward
};

// Records one kernel launch with its FLOP count (called by the backends).
void count_kernel(const char* name, int64_t flops = 0);
void count_saved_bytes(int64_t bytes);
void count_node();

Counters counters();   // a snapshot
void reset_counters();

// True while backward() runs (kernels launched then count as backward).
bool in_backward();
struct BackwardScope {  // set by the autograd engine
  BackwardScope();
  ~BackwardScope();
  bool previous;
};

}  // namespace engine
