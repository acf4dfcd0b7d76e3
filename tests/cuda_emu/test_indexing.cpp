// indexing.cu under emulation (range check, row gather, grouped row sum, gather / scatter_add
// lines, dropout) vs the CPU backend (cpu::group_by_row, cpu::dropout_apply) and naive loops.
#include "emu_test.h"
#include "engine/backend/cpu/indexing.h"
#include "engine/backend/cuda/indexing_kernels.h"

namespace {

void test_range(int64_t n, std::vector<int64_t> bad, int64_t size) {
  std::vector<int64_t> idx((size_t)(n));
  for (auto& v : idx) v = int64_t(rng() % uint64_t(size));
  int64_t want = -1;
  for (auto b : bad) idx[size_t(b)] = b % 2 ? size : -1, want = want < 0 ? b : std::min(want, b);
  int64_t first = 1234;
  K::find_out_of_range(idx.data(), n, size, &first);
  check("find_out_of_range n=" + std::to_string(n), {double(first)}, {double(want)}, 0);
}

void test_row_gather(int elem, int64_t outer, int64_t k, int64_t src_rows, int64_t inner, int mis) {
  const int64_t rb = inner * elem;
  std::vector<unsigned char> src(size_t(outer * src_rows * rb + 64)), out(size_t(outer * k * rb + 64), 0xEE);
  for (auto& c : src) c = (unsigned char)(rng());
  // 16-aligned bases, then `mis` bytes off (a multiple of elem)
  auto al = [](unsigned char* p) { return p + (16 - reinterpret_cast<uintptr_t>(p) % 16) % 16; };
  unsigned char *s = al(src.data()) + mis, *o = al(out.data()) + mis;
  std::vector<int64_t> idx((size_t)(k));
  for (auto& v : idx) v = int64_t(rng() % uint64_t(src_rows));
  K::row_gather(o, s, elem, idx.data(), k, outer, src_rows, inner);
  std::vector<double> got((size_t)(outer * k * rb)), want(got.size());
  for (int64_t a = 0; a < outer; ++a)
    for (int64_t j = 0; j < k; ++j)
      for (int64_t b = 0; b < rb; ++b)
        want[size_t((a * k + j) * rb + b)] = s[(a * src_rows + idx[size_t(j)]) * rb + b],
                                 got[size_t((a * k + j) * rb + b)] = o[(a * k + j) * rb + b];
  const int w = K::row_copy_word(uintptr_t(o), uintptr_t(s), rb);
  check("row_gather elem" + std::to_string(elem) + " inner" + std::to_string(inner) + " word" + std::to_string(w),
         got, want, 0);
}

template <typename T>
void test_grouped(int64_t outer, int64_t k, int64_t dst_rows, int64_t inner) {
  std::vector<int64_t> idx((size_t)(k));
  for (auto& v : idx) v = int64_t(rng() % uint64_t(dst_rows)) - (rng() % 9 == 0 ? dst_rows + 1 : 0);  // some negative
  Ten<T> src({outer, k, inner});
  src.randn();
  const engine::cpu::RowGroups g = engine::cpu::group_by_row(idx.data(), k);
  Buf<T> dst(size_t(outer * dst_rows * inner), from_d<T>(0));
  K::grouped_row_sum(dt_of<T>(), dst.data(), src.buf.data(), g.order.data(), g.starts.data(), g.dest.data(), g.count(),
                     k, outer, dst_rows, inner);
  std::vector<float> ref(dst.size(), 0.f);  // the CPU: f32 rows, k in increasing order
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < k; ++j)
      if (idx[size_t(j)] >= 0)
        for (int64_t e = 0; e < inner; ++e)
          ref[size_t((o * dst_rows + idx[size_t(j)]) * inner + e)] += float(src.get((o * k + j) * inner + e));
  std::vector<double> got(dst.size()), want(dst.size());
  for (size_t i = 0; i < dst.size(); ++i) got[i] = to_d(dst[i]), want[i] = to_d(from_d<T>(ref[i]));
  check(std::string("grouped_row_sum ") + std::to_string(outer) + "x" + std::to_string(k) + "->" +
             std::to_string(dst_rows) + "x" + std::to_string(inner) + " groups=" + std::to_string(g.count()) + " " +
             dt_name<T>() + " (bit-exact)",
         got, want, 0);
}

// index [4,6,3] along dim 1; x/out [4,9,3] with transposed storage; src like the index.
template <typename T>
void test_lines() {
  const std::vector<int64_t> ish = {4, 6, 3}, xsh = {4, 9, 3};
  Ten<int64_t> idx(ish);
  for (int64_t i = 0; i < idx.numel; ++i) idx.set(i, double(rng() % 9));
  Ten<T> x(xsh, {2, 0, 1}), gout(ish, {1, 2, 0}, 2), src(ish, {2, 1, 0});
  x.randn(1, std::is_integral_v<T>), src.randn(1, std::is_integral_v<T>);
  // gather: operand 0 = out (by position), 1 = x (by value), 2 = idx
  const int64_t* st[3] = {gout.strides.data(), x.strides.data(), idx.strides.data()};
  K::LineLayout ll = K::make_line_layout(3, ish.data(), 1, st);
  K::gather_lines(gout.buf.data(), x.buf.data(), sizeof(T), idx.buf.data(), ll);
  std::vector<double> got((size_t)(idx.numel)), want(got.size());
  for (int64_t a = 0; a < 4; ++a)
    for (int64_t j = 0; j < 6; ++j)
      for (int64_t c = 0; c < 3; ++c) {
        const int64_t i = (a * 6 + j) * 3 + c, v = int64_t(idx.get(i));
        want[size_t(i)] = x.get((a * 9 + v) * 3 + c), got[size_t(i)] = gout.get(i);
      }
  check(std::string("gather_lines dim1 strided ") + dt_name<T>(), got, want, 0);
  if constexpr (std::is_integral_v<T>) return;
  else {
  // scatter_add into f32 out (accumulator) [4,9,3] transposed, from src
  Ten<float> out(xsh, {1, 2, 0});
  out.randn();
  std::vector<double> w2((size_t)(out.numel));
  for (int64_t i = 0; i < out.numel; ++i) w2[size_t(i)] = out.get(i);
  std::vector<float> acc(w2.begin(), w2.end());
  const int64_t* st2[3] = {src.strides.data(), out.strides.data(), idx.strides.data()};
  K::LineLayout l2 = K::make_line_layout(3, ish.data(), 1, st2);
  K::scatter_add_lines(out.buf.data(), dt_of<T>(), src.buf.data(), idx.buf.data(), l2);
  for (int64_t a = 0; a < 4; ++a)
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t j = 0; j < 6; ++j) {  // per line j in order, f32
        const int64_t i = (a * 6 + j) * 3 + c, v = int64_t(idx.get(i));
        acc[size_t((a * 9 + v) * 3 + c)] += float(src.get(i));
      }
  std::vector<double> g2(w2.size()), ww(w2.size());
  for (int64_t i = 0; i < out.numel; ++i) g2[size_t(i)] = out.get(i), ww[size_t(i)] = acc[size_t(i)];
  check(std::string("scatter_add_lines dim1 strided ") + dt_name<T>() + " (bit-exact)", g2, ww, 0);
  }
}

template <typename T>
void test_dropout(int64_t n, double p, uint64_t offset) {
  Ten<T> x({n});
  x.randn();
  Buf<T> out(size_t(n), from_d<T>(NAN)), ref(size_t(n), from_d<T>(NAN));
  K::dropout(dt_of<T>(), x.buf.data(), out.data(), n, 77, offset, float(p), K::dropout_scale(p));
  std::vector<float> xf((size_t)(n)), rf((size_t)(n));  // the CPU op: f32 compute for half storage
  for (int64_t i = 0; i < n; ++i) xf[size_t(i)] = float(x.get(i));
  engine::cpu::dropout_apply<float>(xf.data(), rf.data(), n, p, 77, offset);
  for (int64_t i = 0; i < n; ++i) ref[size_t(i)] = from_d<T>(rf[size_t(i)]);
  std::vector<double> got((size_t)(n)), want((size_t)(n));
  for (int64_t i = 0; i < n; ++i) got[size_t(i)] = to_d(out[size_t(i)]), want[size_t(i)] = to_d(ref[size_t(i)]);
  check("dropout n=" + std::to_string(n) + " p=" + std::to_string(p) + " vs cpu::dropout_apply " + dt_name<T>(), got,
         want, 0);
}


}  // namespace

using CudaEmuIndexing = EmuTest;
TEST_F(CudaEmuIndexing, FindOutOfRange) {
  test_range(1000, {700, 5, 999}, 13); test_range(600, {}, 13); test_range(0, {}, 13); test_range(513, {512}, 4);
}
TEST_F(CudaEmuIndexing, RowGatherWordSizes) {
  test_row_gather(4, 2, 7, 5, 3, 0); test_row_gather(4, 2, 7, 5, 4, 0); test_row_gather(4, 2, 7, 5, 4, 4);
  test_row_gather(2, 3, 5, 9, 5, 2); test_row_gather(8, 1, 300, 40, 2, 8); test_row_gather(1, 2, 3, 4, 3, 1);
}
TEST_F(CudaEmuIndexing, GroupedRowSumBitExact) {
  test_grouped<float>(2, 300, 7, 5); test_grouped<float>(1, 1, 1, 1); test_grouped<engine::bf16>(3, 40, 11, 33);
  test_grouped<engine::f16>(1, 1000, 3, 2);
}
TEST_F(CudaEmuIndexing, GatherScatterAddLines) {
  test_lines<float>(); test_lines<engine::bf16>(); test_lines<engine::f16>(); test_lines<int64_t>(); test_lines<bool>();
}
TEST_F(CudaEmuIndexing, DropoutMatchesCpu) {
  test_dropout<float>(1000, 0.25, 5000); test_dropout<engine::bf16>(777, 0.5, 3); test_dropout<engine::f16>(300, 0.1, 0);
  test_dropout<float>(100, 1.0, 9); test_dropout<float>(100, 0.0, 9);
}
