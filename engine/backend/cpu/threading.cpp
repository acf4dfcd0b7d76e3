// oneTBB + OpenBLAS thread control (policy in threading.h).
#include "engine/backend/cpu/threading.h"

#include <cblas.h>

#include <atomic>
#include <memory>
#include <mutex>

#include <tbb/global_control.h>
#include <tbb/info.h>

namespace engine {
namespace {
std::mutex mu;
std::unique_ptr<tbb::global_control> control;  // the active cap, null for the default
std::atomic<int> serial_depth{0};              // open SerialBlas scopes
}  // namespace

void set_num_threads(int n) {
  std::lock_guard<std::mutex> lock(mu);
  control.reset();  // a new global_control replaces, not stacks on, the previous cap
  if (n > 0)
    control = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism,
                                                    size_t(n));
  if (serial_depth.load() == 0) openblas_set_num_threads(num_threads());
}

int num_threads() {
  return int(tbb::global_control::active_value(tbb::global_control::max_allowed_parallelism));
}

namespace cpu {

SerialBlas::SerialBlas() {
  if (serial_depth.fetch_add(1) == 0 && openblas_get_num_threads() != 1) openblas_set_num_threads(1);
}

SerialBlas::~SerialBlas() {
  if (serial_depth.fetch_sub(1) == 1) openblas_set_num_threads(num_threads());
}

void threaded_blas() {
  if (serial_depth.load() != 0) return;
  int n = num_threads();
  if (openblas_get_num_threads() != n) openblas_set_num_threads(n);
}

}  // namespace cpu
}  // namespace engine
