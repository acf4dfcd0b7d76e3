// binary.cu (binary / compare / where with broadcasting and strides) and elementwise.cu (copy
// with dtype conversion over strides, fill, unary forward+backward) under emulation vs f64 references.
#include "emu_test.h"
#include "engine/backend/cuda/elementwise_math.h"

namespace {

using K::BinOp;
using K::CmpOp;
// out [5,7,3] (storage step 2, permuted); a [5,1,3] broadcast over dim 1 (transposed storage);
// b [1,7,1] broadcast; cond [5,7,1].
std::vector<int64_t> OS = {5, 7, 3};
template <typename T>
std::vector<int64_t> bstr(const Ten<T>& t) {  // strides over OS, 0 on broadcast dims
  std::vector<int64_t> s(3);
  for (int d = 0; d < 3; ++d) s[d] = t.shape[d] == 1 && OS[d] != 1 ? 0 : t.strides[d];
  return s;
}
int64_t idx_in(const std::vector<int64_t>& sh, int64_t i) {  // logical index in sh of OS index i
  int64_t c[3] = {i / 21, (i / 3) % 7, i % 3}, l = 0;
  for (int d = 0; d < 3; ++d) l = l * sh[d] + (sh[d] == 1 ? 0 : c[d]);
  return l;
}

template <typename T>
void test_binary() {
  constexpr bool integer = std::is_integral_v<T>;
  for (int op = 0; op <= int(BinOp::Min); ++op) {
    if (std::is_same_v<T, bool> && (op == int(BinOp::Div) || op == int(BinOp::Pow))) continue;
    Ten<T> a({5, 1, 3}, {2, 1, 0}), b({1, 7, 1}), out(OS, {1, 0, 2}, 2);
    a.randn(1, integer), b.randn(1, integer);
    for (int64_t i = 0; i < b.numel; ++i) {
      if (integer && b.get(i) == 0 && op == int(BinOp::Div)) b.set(i, 3);
      if (op == int(BinOp::Pow)) b.set(i, integer ? std::abs(b.get(i)) : b.get(i));
      if (op == int(BinOp::Pow) && !integer) a.set(i, std::abs(a.get(i)) + 0.1);
    }
    if (!integer) a.set(1, std::nan(""));  // NaN through max/min
    for (int64_t i = 0; i < a.numel; ++i)
      if (op == int(BinOp::Pow) && !integer) a.set(i, std::abs(a.get(i)) + 0.1);
    K::Layout l;
    K::build_layout(l, OS, {out.strides, bstr(a), bstr(b)});
    K::binary(BinOp(op), dt_of<T>(), out.buf.data(), a.buf.data(), b.buf.data(), l, out.numel);
    std::vector<double> got(size_t(out.numel)), want(got.size());
    for (int64_t i = 0; i < out.numel; ++i) {
      const double x = a.get(idx_in(a.shape, i)), y = b.get(idx_in(b.shape, i));
      double r;
      if constexpr (std::is_same_v<T, bool>) r = K::binary_op<int32_t>(BinOp(op), int32_t(x), int32_t(y)) != 0;
      else if constexpr (integer) r = double(K::binary_op<T>(BinOp(op), T(x), T(y)));
      else r = to_d(from_d<T>(K::binary_op<double>(BinOp(op), x, y)));
      want[size_t(i)] = r, got[size_t(i)] = out.get(i);
    }
    check("binary op" + std::to_string(op) + " bcast+strided " + dt_name<T>(), got, want, tol_of<T>());
  }
  for (int op = 0; op <= int(CmpOp::And); ++op) {
    Ten<T> a({5, 1, 3}, {2, 1, 0}), b({1, 7, 1});
    Ten<bool> out(OS, {1, 0, 2}, 2);
    a.randn(1, true), b.randn(1, true);  // integer values: ties
    K::Layout l;
    K::build_layout(l, OS, {out.strides, bstr(a), bstr(b)});
    K::compare(CmpOp(op), dt_of<T>(), out.buf.data(), a.buf.data(), b.buf.data(), l, out.numel);
    std::vector<double> got(size_t(out.numel)), want(got.size());
    for (int64_t i = 0; i < out.numel; ++i)
      want[size_t(i)] = K::compare_op<double>(CmpOp(op), a.get(idx_in(a.shape, i)), b.get(idx_in(b.shape, i))),
      got[size_t(i)] = out.get(i);
    check("compare op" + std::to_string(op) + " bcast+strided " + dt_name<T>(), got, want, 0);
  }
  {
    Ten<T> a({5, 1, 3}, {2, 1, 0}), b({1, 7, 1}), out(OS, {2, 1, 0}, 3);
    Ten<bool> c({5, 7, 1}, {1, 0, 2});
    a.randn(1, integer), b.randn(1, integer);
    for (int64_t i = 0; i < c.numel; ++i) c.set(i, double(rng() % 2));
    K::Layout l;
    K::build_layout(l, OS, {out.strides, bstr(c), bstr(a), bstr(b)});
    K::where(dt_of<T>(), out.buf.data(), c.buf.data(), a.buf.data(), b.buf.data(), l, out.numel);
    std::vector<double> got(size_t(out.numel)), want(got.size());
    for (int64_t i = 0; i < out.numel; ++i)
      want[size_t(i)] = c.get(idx_in(c.shape, i)) ? a.get(idx_in(a.shape, i)) : b.get(idx_in(b.shape, i)),
      got[size_t(i)] = out.get(i);
    check(std::string("where bcast+strided ") + dt_name<T>(), got, want, 0);
  }
}

template <typename S, typename D>
void test_copy() {
  Ten<S> src({6, 9, 5}, {2, 0, 1}, 2);
  Ten<D> dst({6, 9, 5}, {1, 2, 0});
  src.randn(std::is_integral_v<S> ? 1 : 40, std::is_integral_v<S>);
  K::Layout l;
  K::build_layout(l, src.shape, {dst.strides, src.strides});
  K::copy(dst.buf.data(), dt_of<D>(), src.buf.data(), dt_of<S>(), l, src.numel);
  std::vector<double> got(size_t(src.numel)), want(got.size());
  for (int64_t i = 0; i < src.numel; ++i) {
    const S v = src.buf[size_t(src.off(i))];
    D w;
    if constexpr (std::is_same_v<D, engine::bf16> || std::is_same_v<D, engine::f16>) w = D(float(engine::float_or_same(v)));
    else w = D(engine::float_or_same(v));  // the CPU's D(float_or_same(x))
    want[size_t(i)] = to_d(w), got[size_t(i)] = dst.get(i);
  }
  check(std::string("copy ") + dt_name<S>() + "->" + dt_name<D>() + " strided", got, want, 0);
}
template <typename S>
void copies() {
  test_copy<S, float>(); test_copy<S, double>(); test_copy<S, engine::bf16>(); test_copy<S, engine::f16>();
  test_copy<S, int32_t>(); test_copy<S, int64_t>(); test_copy<S, bool>();
}
template <typename T>
void test_fill() {
  Ten<T> t({4, 33}, {1, 0}, 2);
  K::Layout l;
  K::build_layout(l, t.shape, {t.strides});
  K::fill(t.buf.data(), dt_of<T>(), 2.75, l, t.numel);
  std::vector<double> got(size_t(t.numel)), want(got.size(), to_d(from_d<T>(2.75)));
  for (int64_t i = 0; i < t.numel; ++i) got[size_t(i)] = t.get(i);
  check(std::string("fill strided ") + dt_name<T>(), got, want, 0);
}
template <typename T>
void test_unary() {
  using U = engine::cpu::Unary;
  for (int op = 0; op <= int(U::Square); ++op) {
    const int64_t n = 1000;
    Ten<T> x({n}), gy({n});
    x.randn(2), gy.randn();
    if (U(op) == U::Log || U(op) == U::Sqrt || U(op) == U::Rsqrt)
      for (int64_t i = 0; i < n; ++i) x.set(i, std::abs(x.get(i)) + 0.05);
    Buf<T> y(size_t(n), from_d<T>(NAN)), gx(size_t(n), from_d<T>(NAN));
    K::unary_forward(U(op), dt_of<T>(), x.buf.data(), y.data(), n);
    K::unary_backward(U(op), dt_of<T>(), x.buf.data(), y.data(), gy.buf.data(), gx.data(), n);
    std::vector<double> gf((size_t)n), wf((size_t)n), gb((size_t)n), wb((size_t)n);
    for (int64_t i = 0; i < n; ++i) {
      const float xv = float(x.get(i)), yv = float(to_d(y[size_t(i)]));
      wf[size_t(i)] = K::unary_value(U(op), xv), gf[size_t(i)] = to_d(y[size_t(i)]);
      wb[size_t(i)] = gy.get(i) * K::unary_derivative(U(op), xv, yv), gb[size_t(i)] = to_d(gx[size_t(i)]);
    }
    check("unary op" + std::to_string(op) + " n=1000 fwd " + dt_name<T>(), gf, wf, tol_of<T>());
    check("unary op" + std::to_string(op) + " n=1000 bwd " + dt_name<T>(), gb, wb, tol_of<T>());
  }
}


}  // namespace

using CudaEmuElementwise = EmuTest;
TEST_F(CudaEmuElementwise, BinaryCompareWhereFloat) { test_binary<float>(); test_binary<double>(); }
TEST_F(CudaEmuElementwise, BinaryCompareWhereHalf) { test_binary<engine::bf16>(); test_binary<engine::f16>(); }
TEST_F(CudaEmuElementwise, BinaryCompareWhereIntegerAndBool) {
  test_binary<int32_t>(); test_binary<int64_t>(); test_binary<bool>();
}
TEST_F(CudaEmuElementwise, CopyEveryDtypePair) {
  copies<float>(); copies<double>(); copies<engine::bf16>(); copies<engine::f16>(); copies<int32_t>();
  copies<int64_t>(); copies<bool>();
}
TEST_F(CudaEmuElementwise, FillStrided) {
  test_fill<float>(); test_fill<double>(); test_fill<engine::bf16>(); test_fill<engine::f16>(); test_fill<int32_t>();
  test_fill<int64_t>(); test_fill<bool>();
}
TEST_F(CudaEmuElementwise, UnaryForwardBackward) { test_unary<float>(); test_unary<engine::bf16>(); test_unary<engine::f16>(); }
