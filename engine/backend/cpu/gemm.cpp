// Batched, broadcasting GEMM over strided tensors (see gemm.h).
#include "engine/backend/cpu/gemm.h"

#include <cblas.h>

#include <algorithm>
#include <cstring>
#include <utility>
#include <optional>
#include <vector>

#include <tbb/parallel_for.h>

#include "engine/autograd/grad_mode.h"
#include "engine/backend/cpu/threading.h"
#include "engine/core/counters.h"
#include "engine/core/strided.h"
#include "engine/ops/shape.h"

namespace engine::cpu {
namespace {

// How BLAS reads one row-major [rows, cols] matrix: as stored (trans = false, element (r, c)
// at r·ld + c) or as the transpose of a stored matrix (element (r, c) at c·ld + r).
struct BlasView {
  bool trans;
  int64_t ld;
};

// The BLAS view of a matrix with row stride rs and column stride cs, if one exists. Strides of
// size-1 dims are meaningless, so they never disqualify a layout.
std::optional<BlasView> blas_view(int64_t rows, int64_t cols, int64_t rs, int64_t cs) {
  if ((cs == 1 || cols == 1) && (rows == 1 || rs >= std::max<int64_t>(1, cols)))
    return BlasView{false, rows == 1 ? std::max<int64_t>(1, cols) : rs};
  if ((rs == 1 || rows == 1) && (cols == 1 || cs >= std::max<int64_t>(1, rows)))
    return BlasView{true, cols == 1 ? std::max<int64_t>(1, rows) : cs};
  return std::nullopt;
}

std::optional<BlasView> blas_view(const Tensor& x) {
  int64_t n = x.dim();
  return blas_view(x.shape()[size_t(n - 2)], x.shape()[size_t(n - 1)], x.strides()[size_t(n - 2)],
                   x.strides()[size_t(n - 1)]);
}

// x itself when BLAS can read its matrices, else a contiguous copy.
Tensor blas_ready(const Tensor& x) {
  if (blas_view(x)) return x;
  NoGradGuard no_grad;
  return x.clone();
}

template <typename T>
void gemm(BlasView va, BlasView vb, int64_t m, int64_t n, int64_t k, const T* A, const T* B,
          T beta, T* C, int64_t ldc) {
  auto ta = va.trans ? CblasTrans : CblasNoTrans, tb = vb.trans ? CblasTrans : CblasNoTrans;
  if constexpr (sizeof(T) == 4)
    cblas_sgemm(CblasRowMajor, ta, tb, int(m), int(n), int(k), 1.0f, A, int(va.ld), B, int(vb.ld),
                beta, C, int(ldc));
  else
    cblas_dgemm(CblasRowMajor, ta, tb, int(m), int(n), int(k), 1.0, A, int(va.ld), B, int(vb.ld),
                beta, C, int(ldc));
}

// Whether OpenBLAS's own threads give the same bits for any thread count. They split M and N
// (never K), so it holds when an element's bits do not depend on which rows and columns share
// its micro-kernel call: true of the AVX-512 and Sandy Bridge kernels, false of the Haswell/Zen
// kernels of CPUs without AVX-512. Probed once per type: one mid-sized GEMM (above OpenBLAS's
// small-matrix paths) on 1 to 4 threads must give identical bits.
template <typename T>
bool blas_threads_deterministic() {
  static const bool deterministic = [] {
    const int64_t m = 288, n = 320, k = 96;
    std::vector<T> a(size_t(m * k)), b(size_t(k * n)), first(size_t(m * n)), c(size_t(m * n));
    uint32_t state = 12345;  // a fixed LCG: the probe must not depend on anything else
    for (auto* v : {&a, &b})
      for (T& x : *v) x = T((state = state * 1664525u + 1013904223u) >> 8) / T(1 << 24) - T(0.5);
    const int before = openblas_get_num_threads();  // 1 inside a SerialBlas scope: keep it so
    bool same = true;
    for (int threads = 1; threads <= 4 && same; ++threads) {
      openblas_set_num_threads(threads);
      gemm<T>({false, k}, {false, n}, m, n, k, a.data(), b.data(), T(0), threads == 1 ? first.data() : c.data(), n);
      same = threads == 1 || std::memcmp(first.data(), c.data(), c.size() * sizeof(T)) == 0;
    }
    openblas_set_num_threads(before);
    return same;
  }();
  return deterministic;
}

// Tiles per dim for a GEMM split over oneTBB: from tiles of 512 rows × 1024 columns (at most 8
// per dim), halved along the longer tile side until there are at least 4 tiles or tiles would
// drop below 128 × 256. Few, large tiles, because each repacks its slices of A and B; at least
// 4 so that small machines stay busy. Depends on the shape only.
std::pair<int64_t, int64_t> tile_grid(int64_t m, int64_t n) {
  int64_t tm = std::clamp<int64_t>(m / 512, 1, 8), tn = std::clamp<int64_t>(n / 1024, 1, 8);
  while (tm * tn < 4) {
    const bool split_m = tm < 8 && m / (2 * tm) >= 128, split_n = tn < 8 && n / (2 * tn) >= 256;
    if (!split_m && !split_n) break;
    if (split_m && (!split_n || m / tm >= n / tn / 2)) tm *= 2;
    else tn *= 2;
  }
  return {tm, tn};
}

// The start of tile t of `count` over `size`, a multiple of 48 (a multiple of the x86 sgemm
// kernels' row unrolls, 16 and 24, so tiles cut where the kernels' own blocks would).
int64_t tile_start(int64_t size, int64_t count, int64_t t) {
  if (t >= count) return size;
  return std::min(size, (size * t / count) / 48 * 48);
}

// One large GEMM on all threads with results independent of the thread count. Where they
// are deterministic, OpenBLAS's own threads run it (they share packed panels: fastest).
// Otherwise it runs as a fixed grid of tiles (tile_grid) over oneTBB, each a single-threaded
// BLAS call: the grid depends on the shape only, so the bits do too.
template <typename T>
void threaded_gemm(BlasView va, BlasView vb, int64_t m, int64_t n, int64_t k, const T* A, const T* B,
                   T beta, T* C) {
  if (blas_threads_deterministic<T>()) {
    threaded_blas();
    return gemm<T>(va, vb, m, n, k, A, B, beta, C, n);
  }
  const auto [tm, tn] = m * n * k <= kSmallGemm ? std::pair<int64_t, int64_t>{1, 1} : tile_grid(m, n);
  SerialBlas serial;  // the pool is oneTBB's
  tbb::parallel_for(int64_t{0}, tm * tn, [&](int64_t t) {
    const int64_t r0 = tile_start(m, tm, t / tn), r1 = tile_start(m, tm, t / tn + 1);
    const int64_t c0 = tile_start(n, tn, t % tn), c1 = tile_start(n, tn, t % tn + 1);
    const T* a = A + (va.trans ? r0 : r0 * va.ld);  // row r0 of op(A)
    const T* b = B + (vb.trans ? c0 * vb.ld : c0);  // column c0 of op(B)
    gemm<T>(va, vb, r1 - r0, c1 - c0, k, a, b, beta, C + r0 * n + c0, n);
  });
}

// Element offsets of each batch matrix of x (batch dims broadcast to `batch`), row-major.
std::vector<int64_t> batch_offsets(const Tensor& x, const Shape& batch) {
  Shape xb(x.shape().begin(), x.shape().end() - 2), xs(x.strides().begin(), x.strides().end() - 2);
  Shape st = broadcast_strides(xb, xs, batch);
  std::vector<int64_t> offs(size_t(shape_numel(batch)), 0);
  std::vector<int64_t> idx(batch.size(), 0);
  for (size_t i = 0; i < offs.size(); ++i) {
    for (size_t d = 0; d < idx.size(); ++d) offs[i] += idx[d] * st[d];
    for (int64_t d = int64_t(idx.size()) - 1; d >= 0; --d) {  // odometer increment
      if (++idx[size_t(d)] < batch[size_t(d)]) break;
      idx[size_t(d)] = 0;
    }
  }
  return offs;
}

// The row stride when a's batch dims fold into its rows (every batch matrix directly below
// the previous one), so a batch against one shared b is a single [batch·M, K] GEMM.
std::optional<int64_t> folded_row_stride(const Tensor& a, const Shape& batch, BlasView va) {
  if (va.trans) return std::nullopt;
  Shape shape = batch, st = broadcast_strides(Shape(a.shape().begin(), a.shape().end() - 2),
                                              Shape(a.strides().begin(), a.strides().end() - 2), batch);
  shape.push_back(a.size(-2));
  st.push_back(a.shape()[size_t(a.dim() - 2)] == 1 ? va.ld : a.stride(-2));
  auto plan = make_plan<1>(shape, {st});
  if (plan.shape.size() != 1) return std::nullopt;
  int64_t ld = plan.strides[0][0];
  return ld >= std::max<int64_t>(1, a.size(-1)) ? std::optional<int64_t>(ld) : std::nullopt;
}

template <typename T>
void run(const char* name, const Tensor& a, const Tensor& b, const Tensor& out, T beta) {
  const int64_t m = a.size(-2), k = a.size(-1), n = b.size(-1);
  const Shape batch(out.shape().begin(), out.shape().end() - 2);
  const BlasView va = *blas_view(a), vb = *blas_view(b);
  const T *pa = a.data<T>(), *pb = b.data<T>();
  T* pc = out.data<T>();
  std::vector<int64_t> oa = batch_offsets(a, batch), ob = batch_offsets(b, batch);
  const int64_t nb = int64_t(oa.size()), flops = 2 * m * n * k;

  bool b_shared = true;
  for (int64_t o : ob) b_shared &= o == ob[0];
  if (auto ld = nb > 1 && b_shared ? folded_row_stride(a, batch, va) : std::nullopt) {
    count_kernel(name, flops * nb);
    return threaded_gemm<T>({false, *ld}, vb, nb * m, n, k, pa + oa[0], pb + ob[0], beta, pc);
  }
  for (int64_t i = 0; i < nb; ++i) count_kernel(name, flops);
  if (nb > 1 && m * n * k <= kSmallGemm) {
    SerialBlas serial;  // each task's GEMM single-threaded: the pool is oneTBB's
    tbb::parallel_for(int64_t{0}, nb, [&](int64_t i) {
      gemm<T>(va, vb, m, n, k, pa + oa[size_t(i)], pb + ob[size_t(i)], beta, pc + i * m * n, n);
    });
    return;
  }
  for (int64_t i = 0; i < nb; ++i) threaded_gemm<T>(va, vb, m, n, k, pa + oa[size_t(i)], pb + ob[size_t(i)], beta, pc + i * m * n);
}

}  // namespace

void matmul_into(const char* name, const Tensor& a, const Tensor& b, const Tensor& out, bool accumulate) {
  check<DTypeError>(a.dtype() == out.dtype() && b.dtype() == out.dtype(), "[", name,
                    "] internal: dtypes ", dtype_name(a.dtype()), ", ", dtype_name(b.dtype()), " -> ",
                    dtype_name(out.dtype()));
  check<ShapeError>(out.is_contiguous() && a.dim() >= 2 && b.dim() >= 2 && a.size(-1) == b.size(-2),
                    "[", name, "] internal: ", shape_str(a.shape()), " @ ", shape_str(b.shape()), " -> ",
                    shape_str(out.shape()));
  if (out.numel() == 0) return;
  if (a.size(-1) == 0) {  // an empty sum: BLAS is not asked to handle k = 0
    if (!accumulate) fill_(out, 0.0);
    return;
  }
  Tensor x = blas_ready(a), y = blas_ready(b);
  dispatch_compute(out.dtype(), name, [&]<typename T>() { run<T>(name, x, y, out, accumulate ? T(1) : T(0)); });
}

}  // namespace engine::cpu
