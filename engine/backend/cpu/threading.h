// The engine's threading policy: oneTBB is the one thread pool; OpenBLAS never competes with it.
//
// Decision (and why):
//  - engine::set_num_threads(n) caps oneTBB (tbb::global_control) and OpenBLAS's own thread
//    count (used only by calls outside the engine's GEMMs, e.g. LAPACK at adapter init).
//  - The engine's GEMMs never use OpenBLAS's threads. A large GEMM is split into a fixed grid
//    of tiles (backend/cpu/gemm.cpp) run over oneTBB, each tile a single-threaded BLAS call;
//    a batch of small GEMMs runs one per task. Why not OpenBLAS's threads: it hands rows to
//    its micro-kernels differently for each thread count, and on the kernels of CPUs without
//    AVX-512 (Haswell, Zen) an element's bits depend on which micro-kernel computed it, so
//    results changed with the thread count. The tile grid depends on the shape only.
//  - Code that issues BLAS calls from oneTBB tasks wraps the parallel region in
//    cpu::SerialBlas, which lowers OpenBLAS to 1 thread for its lifetime and restores
//    num_threads() afterwards. OpenBLAS's setting is process-wide, so SerialBlas is meant for
//    the thread that runs ops (not for code already inside a task).
#pragma once

namespace engine {

// Sets the threads used by every CPU kernel (oneTBB) and by OpenBLAS. n <= 0 restores the
// default (the hardware concurrency).
void set_num_threads(int n);
// The current cap: what set_num_threads set, or the hardware concurrency.
int num_threads();

namespace cpu {

// Lowers OpenBLAS to one thread while alive (nesting allowed); see the policy above.
class SerialBlas {
 public:
  SerialBlas();
  ~SerialBlas();
  SerialBlas(const SerialBlas&) = delete;
  SerialBlas& operator=(const SerialBlas&) = delete;
};

}  // namespace cpu
}  // namespace engine
