// reduce.cu under emulation (sum / mean, max + argmax with ties and NaN, put_along) vs f64
// references: row, column, split, permuted+stepped, 8-dim, empty layouts, every storage dtype.
#include "emu_test.h"

namespace {

struct Split { K::Layout kept, red; int64_t n_out = 1, n_red = 1; std::vector<int64_t> kshape, kst, rshape, rst; };
template <typename T>
Split split(const Ten<T>& x, std::vector<bool> r) {
  Split s;
  for (size_t d = 0; d < x.shape.size(); ++d) {
    if (r[d]) s.rshape.push_back(x.shape[d]), s.rst.push_back(x.strides[d]), s.n_red *= x.shape[d];
    else s.kshape.push_back(x.shape[d]), s.kst.push_back(x.strides[d]), s.n_out *= x.shape[d];
  }
  if (!K::build_layout(s.kept, s.kshape, {s.kst}) || !K::build_layout(s.red, s.rshape, {s.rst})) std::abort();
  return s;
}
// logical index of (kept o, reduced r)
template <typename T>
int64_t lin(const Ten<T>& x, const std::vector<bool>& rm, int64_t o, int64_t r) {
  std::vector<int64_t> idx(x.shape.size());
  for (int d = int(x.shape.size()) - 1; d >= 0; --d) {
    int64_t& src = rm[d] ? r : o;
    idx[d] = src % x.shape[d], src /= x.shape[d];
  }
  int64_t l = 0;
  for (size_t d = 0; d < idx.size(); ++d) l = l * x.shape[d] + idx[d];
  return l;
}

template <typename T>
void test_sum(std::string name, std::vector<int64_t> sh, std::vector<bool> rm, std::vector<int> perm = {}, int step = 1,
              double scale = 1.0) {
  Ten<T> x(sh, perm, step);
  constexpr bool integer = std::is_integral_v<T>;
  x.randn(1, integer);
  Split s = split(x, rm);
  using O = std::conditional_t<integer, int64_t, T>;
  Buf<O> out(size_t(s.n_out), from_d<O>(std::nan("")));
  if constexpr (integer) std::fill(out.begin(), out.end(), O(0x5a5a5a5a));
  const int64_t ws = K::sum_workspace_bytes(dt_of<T>(), s.kept, s.n_out, s.red, s.n_red);
  std::vector<unsigned char> w(size_t(ws), 0xFF);
  const int64_t splits = K::reduce_splits(s.kept, s.n_out, s.red, s.n_red);
  K::sum(dt_of<T>(), x.buf.data(), out.data(), scale, s.kept, s.n_out, s.red, s.n_red, ws ? w.data() : nullptr);
  std::vector<double> got(out.size()), want(out.size()), norm(out.size(), 1.0);
  for (int64_t o = 0; o < s.n_out; ++o) {
    double acc = 0, a = 0;
    for (int64_t r = 0; r < s.n_red; ++r) {
      double v = x.get(lin(x, rm, o, r));
      acc += v, a += std::abs(v);
    }
    want[o] = acc * scale, norm[o] = 1 + a * scale, got[o] = to_d(out[o]);
  }
  check("sum " + name + " " + dt_name<T>() + " splits=" + std::to_string(splits), got, want, integer ? 0 : tol_of<T>(),
         &norm);
}

template <typename T>
void test_max(std::string name, std::vector<int64_t> sh, std::vector<bool> rm, std::vector<int> perm = {}, int step = 1,
              int special = 0) {
  Ten<T> x(sh, perm, step);
  x.randn(1, special >= 1);  // ints: many ties
  if constexpr (!std::is_integral_v<T>)
    if (special == 2)
      for (int64_t i = 3; i < x.numel; i += 97) x.set(i, std::nan(""));
  Split s = split(x, rm);
  std::vector<T> vals(size_t(s.n_out), from_d<T>(-12345));
  std::vector<int64_t> idx(size_t(s.n_out), -7);
  const int64_t ws = K::max_workspace_bytes(s.kept, s.n_out, s.red, s.n_red);
  std::vector<unsigned char> w(size_t(ws), 0xFF);
  const int64_t splits = K::reduce_splits(s.kept, s.n_out, s.red, s.n_red);
  K::max(dt_of<T>(), x.buf.data(), vals.data(), idx.data(), s.kept, s.n_out, s.red, s.n_red, ws ? w.data() : nullptr);
  std::vector<double> gv(vals.size()), wv(vals.size()), gi(vals.size()), wi(vals.size());
  for (int64_t o = 0; o < s.n_out; ++o) {  // CPU: first strict max, first NaN wins
    double best = 0;
    int64_t bi = -1;
    for (int64_t r = 0; r < s.n_red; ++r) {
      double v = x.get(lin(x, rm, o, r));
      if (bi < 0 || (!std::isnan(best) && (std::isnan(v) || v > best))) best = v, bi = r;
    }
    wv[o] = best, wi[o] = double(bi), gv[o] = to_d(vals[o]), gi[o] = double(idx[o]);
  }
  std::string n = "max " + name + " " + dt_name<T>() + " splits=" + std::to_string(splits);
  check(n + " values", gv, wv, 0);
  check(n + " indices", gi, wi, 0);
}

void test_put_along(int64_t outer, int64_t n, int64_t inner) {
  std::vector<float> g(size_t(outer * inner)), gx(size_t(outer * n * inner), 0.f);
  std::vector<int64_t> idx(g.size());
  std::vector<double> want(gx.size(), 0.0), got(gx.size());
  for (size_t k = 0; k < g.size(); ++k) {
    g[k] = float(k + 1), idx[k] = int64_t(rng() % uint64_t(n));
    want[size_t(((int64_t(k) / inner) * n + idx[k]) * inner + int64_t(k) % inner)] = g[k];
  }
  K::put_along(K::F32, g.data(), idx.data(), gx.data(), outer, n, inner);
  for (size_t i = 0; i < gx.size(); ++i) got[i] = gx[i];
  check("put_along " + std::to_string(outer) + "x" + std::to_string(n) + "x" + std::to_string(inner), got, want, 0);
}

template <typename T>
void sums() {
  test_sum<T>("[7,300] rows", {7, 300}, {false, true});
  test_sum<T>("[3,9000] rows split", {3, 9000}, {false, true});
  test_sum<T>("[300,257] cols split", {300, 257}, {true, false});
  test_sum<T>("[20,33] short cols", {20, 33}, {true, false});
  test_sum<T>("[5000] all", {5000}, {true});
  test_sum<T>("[4,5,6,7] red{1,3} perm step2", {4, 5, 6, 7}, {false, true, false, true}, {3, 1, 0, 2}, 2);
  test_sum<T>("[9,70] transposed rows", {9, 70}, {false, true}, {1, 0});
  test_sum<T>("[5,0] empty red", {5, 0}, {false, true});
  test_sum<T>("[0,5] empty out", {0, 5}, {false, true});
  test_sum<T>("[1,1] one", {1, 1}, {true, true});
  test_sum<T>("8-dim alternate reversed", {2, 3, 2, 3, 2, 3, 2, 3}, {true, false, true, false, true, false, true, false},
              {7, 6, 5, 4, 3, 2, 1, 0});
  test_sum<T>("[3,33000] cols many outputs", {3, 33000}, {true, false});
  test_sum<T>("[5,2,700] red{0,2} split", {5, 2, 700}, {true, false, true}, {2, 0, 1});
  if constexpr (!std::is_integral_v<T>) test_sum<T>("[6,333] mean", {6, 333}, {false, true}, {}, 1, 1.0 / 333);
}
template <typename T>
void maxes() {
  for (int sp : {0, 1, 2}) {
    if (std::is_integral_v<T> && sp == 2) continue;
    std::string tag = sp == 0 ? "" : sp == 1 ? " ties" : " nan";
    test_max<T>("[7,300] rows" + tag, {7, 300}, {false, true}, {}, 1, sp);
    test_max<T>("[3,9000] rows split" + tag, {3, 9000}, {false, true}, {}, 1, sp);
    test_max<T>("[300,257] cols split" + tag, {300, 257}, {true, false}, {}, 1, sp);
    test_max<T>("[20,33] short cols" + tag, {20, 33}, {true, false}, {}, 1, sp);
    test_max<T>("[4,5,6,7] red{1,3} perm step2" + tag, {4, 5, 6, 7}, {false, true, false, true}, {3, 1, 0, 2}, 2, sp);
  }
  test_max<T>("[5000] all", {5000}, {true});
  test_max<T>("8-dim alternate reversed ties", {2, 3, 2, 3, 2, 3, 2, 3}, {true, false, true, false, true, false, true, false},
              {7, 6, 5, 4, 3, 2, 1, 0}, 1, 1);
  test_max<T>("[3,33000] cols many outputs", {3, 33000}, {true, false});
  test_max<T>("[5,2,700] red{0,2} split ties", {5, 2, 700}, {true, false, true}, {2, 0, 1}, 1, 1);
  test_max<T>("[1] one", {1}, {true});
}


}  // namespace

using CudaEmuReduce = EmuTest;
TEST_F(CudaEmuReduce, SumF32) { sums<float>(); }
TEST_F(CudaEmuReduce, SumBf16) { sums<engine::bf16>(); }
TEST_F(CudaEmuReduce, SumF16) { sums<engine::f16>(); }
TEST_F(CudaEmuReduce, SumIntegerAndBool) { sums<int32_t>(); sums<int64_t>(); sums<bool>(); }
TEST_F(CudaEmuReduce, MaxArgmaxF32) { maxes<float>(); }
TEST_F(CudaEmuReduce, MaxArgmaxHalf) { maxes<engine::bf16>(); maxes<engine::f16>(); }
TEST_F(CudaEmuReduce, MaxArgmaxInteger) { maxes<int32_t>(); maxes<int64_t>(); }
TEST_F(CudaEmuReduce, PutAlong) {
  test_put_along(3, 5, 7); test_put_along(2, 1, 300); test_put_along(1, 300, 1); test_put_along(257, 2, 3);
}
