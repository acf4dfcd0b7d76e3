// The update loop shared by the optimizers: visits a parameter's runs (its trainable entries
// in stretches of consecutive memory) in parallel and hands each to a fused per-element
// kernel as plain pointers, so the kernel's inner loop is a straight vectorisable loop.
#pragma once
#include <array>
#include <cstdint>

#include "engine/backend/cpu/simd_parallel.h"
#include "engine/optim/optimizer.h"

namespace engine::optim {

// Calls kernel(T* param, const S* grad, std::array<S*, 3> state, int64_t n) for each run, with
// T the parameter's element type and S the state's (float, or double for f64 parameters).
// Every entry is independent, so the parallel split never changes the result.
template <typename Kernel>
void for_each_run(ParamSlot& p, const Tensor& g, Kernel&& kernel) {
  auto run_all = [&]<typename T, typename S>() {
    T* param = p.param.data<T>();
    const S* grad = g.data<S>();
    std::array<S*, 3> state{};
    for (size_t s = 0; s < p.state.size() && s < state.size(); ++s) state[s] = p.state[s].data<S>();
    int64_t total = 0;
    for (const Run& r : p.runs) total += r.length;
    // Group short runs (scattered masks) so that each task has about one chunk of work.
    const int64_t runs = int64_t(p.runs.size());
    const int64_t per_task = std::max<int64_t>(1, cpu::kElementChunk * runs / std::max<int64_t>(total, 1));
    cpu::for_chunks(runs, per_task, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const Run& r = p.runs[size_t(i)];
        std::array<S*, 3> st{};
        for (size_t s = 0; s < st.size(); ++s) st[s] = state[s] ? state[s] + r.compact : nullptr;
        kernel(param + r.param, grad + r.compact, st, r.length);
      }
    });
  };
  switch (p.param.dtype()) {
    case DType::f32: return run_all.template operator()<float, float>();
    case DType::f64: return run_all.template operator()<double, double>();
    case DType::bf16: return run_all.template operator()<bf16, float>();
    case DType::f16: return run_all.template operator()<f16, float>();
    default: fail<DTypeError>("[optimizer] parameter '", p.name, "' has non-floating dtype ",
                              dtype_name(p.param.dtype()));
  }
}

}  // namespace engine::optim
