// Helpers of the tests/cuda_emu GoogleTest cases: strided host "device" tensors of any storage
// type (gaps poisoned with NaN), f64 references, and check() = EXPECT on the worst relative error.
// The emulated kernels live in engine::cuda::emuk (the build defines kernels=emuk so they cannot
// collide with the real kernels of a CUDA-enabled engine library).
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cuda_bf16.h"
#include "cuda_fp16.h"
#include "engine/backend/cuda/kernels.h"
#include "engine/backend/cuda/layout.h"

namespace K = engine::cuda::kernels;  // = engine::cuda::emuk here

// Every test: no launch rejected, no __syncthreads reached after threads returned.
class EmuTest : public ::testing::Test {
 protected:
  void SetUp() override { bad0_ = emu::bad_launches, div0_ = emu::divergent_barriers; }
  void TearDown() override {
    EXPECT_EQ(emu::bad_launches, bad0_) << "a launch configuration was rejected";
    EXPECT_EQ(emu::divergent_barriers, div0_) << "__syncthreads reached after some threads returned";
  }
  long long bad0_ = 0, div0_ = 0;
};

template <typename T> constexpr int dt_of();
template <> constexpr int dt_of<float>() { return K::F32; }
template <> constexpr int dt_of<double>() { return K::F64; }
template <> constexpr int dt_of<engine::bf16>() { return K::BF16; }
template <> constexpr int dt_of<engine::f16>() { return K::F16; }
template <> constexpr int dt_of<int32_t>() { return K::I32; }
template <> constexpr int dt_of<int64_t>() { return K::I64; }
template <> constexpr int dt_of<bool>() { return K::BOOL; }
template <typename T> const char* dt_name() {
  const char* n[] = {"f32", "f64", "bf16", "f16", "i32", "i64", "bool"};
  return n[dt_of<T>()];
}
template <typename T> constexpr bool is_half_v = std::is_same_v<T, engine::bf16> || std::is_same_v<T, engine::f16>;
template <typename T> double tol_of() {
  if constexpr (std::is_same_v<T, engine::bf16>) return 1e-2;
  else if constexpr (std::is_same_v<T, engine::f16>) return 2e-3;
  else if constexpr (std::is_same_v<T, float>) return 2e-5;
  else return 0;
}
template <typename T> double to_d(T v) {
  if constexpr (is_half_v<T>) return double(float(v));
  else return double(v);
}
template <typename T> T from_d(double v) {
  if constexpr (is_half_v<T>) return T(float(v));
  else if constexpr (std::is_same_v<T, bool>) return v != 0;
  else return T(v);
}

// std::vector without the bool specialisation
template <typename T>
struct Buf {
  std::unique_ptr<T[]> p;
  size_t n = 0;
  Buf() = default;
  Buf(size_t k, T v) { assign(k, v); }
  void assign(size_t k, T v) {
    p.reset(new T[k ? k : 1]);
    n = k;
    for (size_t i = 0; i < k; ++i) p[i] = v;
  }
  T* data() { return p.get(); }
  const T* data() const { return p.get(); }
  size_t size() const { return n; }
  T& operator[](size_t i) { return p[i]; }
  const T& operator[](size_t i) const { return p[i]; }
  T* begin() { return p.get(); }
  T* end() { return p.get() + n; }
};
inline std::mt19937 rng(42);

// Logical shape; storage contiguous in the permuted dim order `perm`, every stride times `step`.
template <typename T>
struct Ten {
  std::vector<int64_t> shape, strides;
  Buf<T> buf;  // storage (gaps poisoned)
  int64_t numel = 1;
  Ten(std::vector<int64_t> sh, std::vector<int> perm = {}, int step = 1) : shape(sh) {
    const size_t nd = sh.size();
    if (perm.empty())
      for (size_t i = 0; i < nd; ++i) perm.push_back(int(i));
    strides.assign(nd, 0);
    int64_t s = step;
    for (int k = int(nd) - 1; k >= 0; --k) strides[size_t(perm[size_t(k)])] = s, s *= sh[size_t(perm[size_t(k)])];
    for (auto d : sh) numel *= d;
    buf.assign(size_t(numel ? s : 1), from_d<T>(std::nan("")));
  }
  int64_t off(int64_t i) const {  // row-major logical index -> storage offset
    int64_t o = 0;
    for (int d = int(shape.size()) - 1; d >= 0; --d) o += (i % shape[size_t(d)]) * strides[size_t(d)], i /= shape[size_t(d)];
    return o;
  }
  double get(int64_t i) const { return to_d(buf[size_t(off(i))]); }
  void set(int64_t i, double v) { buf[size_t(off(i))] = from_d<T>(v); }
  void randn(double scale = 1, bool ints = false) {
    std::normal_distribution<double> nd;
    for (int64_t i = 0; i < numel; ++i) set(i, ints ? std::round(nd(rng) * 3 * scale) : nd(rng) * scale);
  }
};

// err_i = |got − want| / (norm_i + |want|) (norm 1 by default); NaN must meet NaN and ±inf the
// same infinity. EXPECTs the worst err ≤ tol, naming the case and the worst element.
inline bool check(const std::string& name, const std::vector<double>& got, const std::vector<double>& want, double tol,
                  const std::vector<double>* norm = nullptr) {
  EXPECT_EQ(got.size(), want.size()) << name;
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < got.size() && i < want.size(); ++i) {
    double e;
    if (std::isnan(want[i]) || std::isnan(got[i])) e = std::isnan(want[i]) && std::isnan(got[i]) ? 0 : INFINITY;
    else if (std::isinf(want[i]) || std::isinf(got[i])) e = want[i] == got[i] ? 0 : INFINITY;
    else e = std::abs(got[i] - want[i]) / ((norm ? (*norm)[i] : 1.0) + std::abs(want[i]));
    if (!(e <= worst)) worst = e, at = i;
  }
  const bool ok = worst <= tol;
  EXPECT_TRUE(ok) << name << ": worst error " << worst << " > tol " << tol << " at element " << at << ": got "
                  << got[at] << ", want " << want[at];
  return ok;
}
