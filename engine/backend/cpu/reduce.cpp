// Sum and max reductions (see reduce.h). Every reduction is brought to one of two forms over
// a [P, R, Q] view of x (reduce R, keep P and Q):
//   row form    (Q = 1, R contiguous): each output reduces a contiguous run — SIMD sum_run;
//   column form (Q contiguous):        each output row accumulates rows of x — SIMD add_row.
// Layouts that fit neither (e.g. a transposed view) are copied once to [kept..., reduced...].
#include "engine/backend/cpu/reduce.h"

#include <algorithm>
#include <limits>
#include <optional>

#include <tbb/parallel_for.h>

#include "engine/autograd/grad_mode.h"
#include "engine/backend/cpu/reduce_simd.h"
#include "engine/core/counters.h"
#include "engine/ops/shape.h"

namespace engine::cpu {
namespace {

constexpr int64_t kChunk = int64_t{1} << 14;  // elements per piece of work (and per partial)
constexpr int64_t kColBlock = 512;            // output columns per column-form piece

struct Layout {
  Tensor src;  // x, or its [kept..., reduced...] contiguous copy
  int64_t P = 1, R = 1, Q = 1, sp = 0, sr = 1, sq = 1;
};

// Runs of consecutive dims of one kind (reduced or kept) that merge into a single stride.
struct Group {
  bool reduced;
  int64_t size, stride;
};

std::vector<Group> groups(const Tensor& x, const std::vector<bool>& reduce) {
  std::vector<Group> gs;
  for (size_t d = 0; d < size_t(x.dim()); ++d) {
    int64_t n = x.shape()[d], st = x.strides()[d];
    if (n == 1) continue;
    if (!gs.empty() && gs.back().reduced == reduce[d] && gs.back().stride == n * st) {
      gs.back().size *= n;
      gs.back().stride = st;
    } else {
      gs.push_back({reduce[d], n, st});
    }
  }
  return gs;
}

// Matches the groups [K?, R?, K?] to a row or column form (see the top of the file).
std::optional<Layout> match(const Tensor& x, const std::vector<bool>& reduce) {
  std::vector<Group> gs = groups(x, reduce);
  Layout L{x};
  size_t i = 0;
  if (i < gs.size() && !gs[i].reduced) L.P = gs[i].size, L.sp = gs[i].stride, ++i;
  if (i < gs.size() && gs[i].reduced) L.R = gs[i].size, L.sr = gs[i].stride, ++i;
  if (i < gs.size() && !gs[i].reduced) L.Q = gs[i].size, L.sq = gs[i].stride, ++i;
  if (i != gs.size()) return std::nullopt;
  // One kept group on either side of R: the kept dims' order is unaffected by which side it
  // sits on, so pick the form whose inner loop is contiguous.
  if (L.P == 1 && L.Q > 1 && L.sq != 1 && L.sr == 1) std::swap(L.P, L.Q), std::swap(L.sp, L.sq);
  if (L.Q == 1 && L.P > 1 && L.sp == 1 && L.sr != 1) std::swap(L.P, L.Q), std::swap(L.sp, L.sq);
  if (L.Q > 1 && L.sq != 1) return std::nullopt;
  return L;
}

Layout layout(const Tensor& x, const std::vector<bool>& reduce) {
  if (auto L = match(x, reduce)) return *L;
  std::vector<int64_t> perm;  // kept dims first, then the reduced ones
  for (int64_t d = 0; d < x.dim(); ++d) if (!reduce[size_t(d)]) perm.push_back(d);
  for (int64_t d = 0; d < x.dim(); ++d) if (reduce[size_t(d)]) perm.push_back(d);
  std::vector<bool> moved(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) moved[i] = reduce[size_t(perm[i])];
  NoGradGuard no_grad;
  return *match(permute(x, perm).contiguous(), moved);
}

// One reduction, as its accumulator type and four steps: the neutral value, the reduction of a
// strided run starting at reduced index r0, accumulating a contiguous row of x at reduced
// index r into a row of accumulators, and merging a later partial into an earlier one.
template <typename T>
struct SumOp {
  using Acc = T;
  static Acc identity() { return T(0); }
  static Acc run(const T* x, int64_t n, int64_t stride, int64_t) {
    if (stride == 1) return sum_run(x, n);
    T s = 0;
    for (int64_t i = 0; i < n; ++i) s += x[i * stride];
    return s;
  }
  static void row(Acc* acc, const T* x, int64_t n, int64_t) { add_row(acc, x, n); }
  static void merge(Acc& a, const Acc& b) { a += b; }
};

template <typename T>
struct MaxOp {
  struct Acc {
    T v;
    int64_t i;  // -1: nothing seen yet
  };
  static Acc identity() { return {T(0), -1}; }
  // Strictly greater, or the first NaN: ties keep the earlier index.
  static bool beats(T v, const Acc& a) { return a.i < 0 || v > a.v || (v != v && a.v == a.v); }
  static Acc run(const T* x, int64_t n, int64_t stride, int64_t r0) {
    Acc a = identity();
    for (int64_t i = 0; i < n; ++i)
      if (beats(x[i * stride], a)) a = {x[i * stride], r0 + i};
    return a;
  }
  static void row(Acc* acc, const T* x, int64_t n, int64_t r) {
    for (int64_t j = 0; j < n; ++j)
      if (beats(x[j], acc[j])) acc[j] = {x[j], r};
  }
  static void merge(Acc& a, const Acc& b) {
    if (b.i >= 0 && beats(b.v, a)) a = b;
  }
};

template <class F>
void parallel(int64_t tasks, F&& f) {
  if (tasks == 1) return f(int64_t{0});
  tbb::parallel_for(int64_t{0}, tasks, f);
}

// Row form: output p reduces the run x[p·sp + r·sr], cut into pieces of kChunk.
template <class Op, typename T>
std::vector<typename Op::Acc> reduce_rows(const Layout& L, const T* x) {
  const int64_t nc = std::max<int64_t>(1, (L.R + kChunk - 1) / kChunk);
  std::vector<typename Op::Acc> part(size_t(L.P * nc));
  const int64_t per_task = std::max<int64_t>(1, kChunk / std::min(L.R, kChunk));
  parallel((L.P * nc + per_task - 1) / per_task, [&](int64_t t) {
    for (int64_t k = t * per_task; k < std::min(L.P * nc, (t + 1) * per_task); ++k) {
      int64_t p = k / nc, r0 = (k % nc) * kChunk;
      part[size_t(k)] = Op::run(x + p * L.sp + r0 * L.sr, std::min(kChunk, L.R - r0), L.sr, r0);
    }
  });
  if (nc == 1) return part;
  std::vector<typename Op::Acc> out(size_t(L.P));
  for (int64_t p = 0; p < L.P; ++p) {
    out[size_t(p)] = part[size_t(p * nc)];
    for (int64_t c = 1; c < nc; ++c) Op::merge(out[size_t(p)], part[size_t(p * nc + c)]);
  }
  return out;
}

// Column form: output row p accumulates rows x[p·sp + r·sr + (0..Q)], in blocks of kColBlock
// columns × rc rows; blocks of rows give partial rows merged in order.
template <class Op, typename T>
std::vector<typename Op::Acc> reduce_cols(const Layout& L, const T* x) {
  const int64_t qb = std::min(L.Q, kColBlock), nqb = (L.Q + qb - 1) / qb;
  const int64_t rc = std::max<int64_t>(1, kChunk / qb), nrc = (L.R + rc - 1) / rc;
  std::vector<typename Op::Acc> part(size_t(L.P * nrc * L.Q), Op::identity());
  parallel(L.P * nrc * nqb, [&](int64_t t) {
    int64_t b = t % nqb, c = (t / nqb) % nrc, p = t / (nqb * nrc);
    int64_t q0 = b * qb, n = std::min(qb, L.Q - q0);
    typename Op::Acc* acc = part.data() + (p * nrc + c) * L.Q + q0;
    for (int64_t r = c * rc; r < std::min(L.R, (c + 1) * rc); ++r)
      Op::row(acc, x + p * L.sp + r * L.sr + q0, n, r);
  });
  if (nrc == 1) return part;
  std::vector<typename Op::Acc> out(size_t(L.P * L.Q));
  parallel(L.P, [&](int64_t p) {
    for (int64_t q = 0; q < L.Q; ++q) {
      auto& o = out[size_t(p * L.Q + q)];
      o = part[size_t(p * nrc * L.Q + q)];
      for (int64_t c = 1; c < nrc; ++c) Op::merge(o, part[size_t((p * nrc + c) * L.Q + q)]);
    }
  });
  return out;
}

template <class Op, typename T>
std::vector<typename Op::Acc> run_reduction(const Layout& L) {
  const T* x = L.src.data<T>();
  return L.Q == 1 ? reduce_rows<Op>(L, x) : reduce_cols<Op>(L, x);
}

Shape kept_shape(const Tensor& x, const std::vector<bool>& reduce) {
  Shape s;
  for (size_t d = 0; d < size_t(x.dim()); ++d) if (!reduce[d]) s.push_back(x.shape()[d]);
  return s;
}

void check_flags(const char* name, const Tensor& x, const std::vector<bool>& reduce) {
  check<ShapeError>(int64_t(reduce.size()) == x.dim(), "[", name, "] internal: ", reduce.size(),
                    " flags for ", shape_str(x.shape()));
}

}  // namespace

Tensor sum_dims(const char* name, const Tensor& x, const std::vector<bool>& reduce) {
  check_flags(name, x, reduce);
  Tensor out = empty(kept_shape(x, reduce), x.dtype());
  count_kernel(name, x.numel());
  auto run = [&]<typename T>() {
    if (out.numel() == 0) return;
    if (x.numel() == 0) return fill_(out, 0.0);
    auto acc = run_reduction<SumOp<T>, T>(layout(x, reduce));
    std::copy(acc.begin(), acc.end(), out.data<T>());
  };
  switch (x.dtype()) {
    case DType::f32: run.template operator()<float>(); break;
    case DType::f64: run.template operator()<double>(); break;
    case DType::i64: run.template operator()<int64_t>(); break;
    default: fail<DTypeError>("[", name, "] internal: sum of ", dtype_name(x.dtype()));
  }
  return out;
}

MaxOut max_dims(const char* name, const Tensor& x, const std::vector<bool>& reduce) {
  check_flags(name, x, reduce);
  for (size_t d = 0; d < reduce.size(); ++d)
    check<ShapeError>(!reduce[d] || x.shape()[d] > 0, "[", name, "] cannot reduce empty dim ", d,
                      " of ", shape_str(x.shape()));
  MaxOut out{empty(kept_shape(x, reduce), x.dtype()), empty(kept_shape(x, reduce), DType::i64)};
  count_kernel(name, x.numel());
  auto run = [&]<typename T>() {
    if (out.values.numel() == 0) return;
    auto acc = run_reduction<MaxOp<T>, T>(layout(x, reduce));
    T* v = out.values.data<T>();
    int64_t* i = out.indices.data<int64_t>();
    for (size_t k = 0; k < acc.size(); ++k) v[k] = acc[k].v, i[k] = acc[k].i;
  };
  switch (x.dtype()) {
    case DType::f32: run.template operator()<float>(); break;
    case DType::f64: run.template operator()<double>(); break;
    case DType::i32: run.template operator()<int32_t>(); break;
    case DType::i64: run.template operator()<int64_t>(); break;
    default: fail<DTypeError>("[", name, "] internal: max of ", dtype_name(x.dtype()));
  }
  return out;
}

}  // namespace engine::cpu
