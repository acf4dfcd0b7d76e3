// The engine's threading policy: oneTBB is the one thread pool; OpenBLAS never competes with it.
//
// Decision (and why):
//  - engine::set_num_threads(n) caps oneTBB (tbb::global_control) AND sets OpenBLAS's own
//    thread count to n. A single large GEMM issued from the calling thread then runs on
//    OpenBLAS's threads (which partition M and N only, so K sums keep their order).
//  - GEMMs issued from inside oneTBB tasks (a batch of small GEMMs split over the pool) must
//    run single-threaded, or n tasks would each start n OpenBLAS threads. The issuing code
//    wraps the parallel region in cpu::SerialBlas, which lowers OpenBLAS to 1 thread for
//    its lifetime and restores num_threads() afterwards. OpenBLAS's setting is process-wide,
//    so SerialBlas is meant for the thread that runs ops (not for code already inside a task).
//  - Whether a problem runs as one threaded GEMM or as a parallel batch depends on its shape
//    only, never on the thread count, so results are reproducible across thread counts as far
//    as OpenBLAS itself is (it splits M/N across threads, not K).
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
