// The engine's threading policy: oneTBB is the one thread pool; OpenBLAS never competes with it.
//
// Decision (and why):
//  - engine::set_num_threads(n) caps oneTBB (tbb::global_control) AND sets OpenBLAS's own
//    thread count to n.
//  - Results must not depend on the thread count. A single large GEMM runs on OpenBLAS's
//    threads (which split M and N, never K) only when they give the same bits for any thread
//    count (probed once on 1..4 threads; true of the AVX-512 and Sandy Bridge kernels). The
//    Haswell/Zen kernels of CPUs without AVX-512 do not (an element's bits depend on where
//    the micro-kernel blocks fall), so there a large GEMM runs as a fixed, shape-only grid of
//    single-threaded tiles over oneTBB (backend/cpu/gemm.cpp).
//  - GEMMs issued from inside oneTBB tasks (tiles, or a batch of small GEMMs split over the
//    pool) must run single-threaded, or n tasks would each start n OpenBLAS threads. The
//    issuing code wraps the parallel region in cpu::SerialBlas, which lowers OpenBLAS to 1
//    thread for its lifetime and restores num_threads() afterwards. OpenBLAS's setting is
//    process-wide, so SerialBlas is meant for the thread that runs ops (not for code already
//    inside a task).
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

// Makes OpenBLAS use num_threads() again before a single large GEMM from the calling thread
// (another component may have lowered it); a no-op inside a SerialBlas scope.
void threaded_blas();

}  // namespace cpu
}  // namespace engine
