// Wall-clock timing shared by the side-by-side benchmarks (each times both sides in one loop).
#pragma once
#include <chrono>
#include <functional>

namespace bench {

// Seconds f takes to run once (steady clock).
inline double seconds(const std::function<void()>& f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace bench
