// How the CPU kernels split work across oneTBB threads. Work is cut into pieces whose bounds
// depend only on the problem size, never on the thread count, and no reduction crosses a
// piece, so every kernel gives bit-identical results with 1 or N threads.
#pragma once
#include <algorithm>
#include <cstdint>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

namespace engine::cpu {

// Elements per task for elementwise kernels: large enough to hide scheduling cost (~10 µs of
// work), small enough to balance two to a few dozen cores.
inline constexpr int64_t kElementChunk = int64_t{1} << 15;

// Calls f(begin, end) over [0, n) in fixed chunks of `chunk` elements, in parallel.
template <class F>
void for_chunks(int64_t n, int64_t chunk, F&& f) {
  if (n <= 0) return;
  if (n <= chunk) return f(int64_t{0}, n);
  const int64_t pieces = (n + chunk - 1) / chunk;
  tbb::parallel_for(int64_t{0}, pieces, [&](int64_t p) {
    f(p * chunk, std::min(n, (p + 1) * chunk));
  });
}

// Calls f(row_begin, row_end) over [0, rows) in parallel, a few rows per task when rows are
// short. Rows are independent, so any partition gives the same result.
template <class F>
void for_rows(int64_t rows, int64_t cols, F&& f) {
  if (rows <= 0) return;
  const int64_t grain = std::max<int64_t>(1, kElementChunk / std::max<int64_t>(cols, 1));
  if (rows <= grain) return f(int64_t{0}, rows);
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, rows, grain),
                    [&](const tbb::blocked_range<int64_t>& r) { f(r.begin(), r.end()); });
}

}  // namespace engine::cpu
