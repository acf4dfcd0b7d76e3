// Cayley transform, batched inverse and block-diagonal products (see cayley.h).
#include "peft/methods/oft/cayley.h"

#include <cmath>
#include <vector>

#include "engine/autograd/node.h"
#include "engine/engine.h"

namespace peft::oft {

using engine::DType;
using engine::ShapeError;
using engine::ValueError;

namespace {

// Inverts one row-major n×n matrix in place (Gauss-Jordan on [A | I], partial pivoting).
void invert_block(double* a, int64_t n, int64_t block) {
  std::vector<double> inv(static_cast<size_t>(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i) inv[i * n + i] = 1.0;
  for (int64_t col = 0; col < n; ++col) {
    int64_t pivot = col;
    for (int64_t r = col + 1; r < n; ++r)
      if (std::abs(a[r * n + col]) > std::abs(a[pivot * n + col])) pivot = r;
    engine::check<ValueError>(a[pivot * n + col] != 0.0, "[batched_inverse] block ", block, " is singular");
    if (pivot != col)
      for (int64_t c = 0; c < n; ++c) std::swap(a[col * n + c], a[pivot * n + c]), std::swap(inv[col * n + c], inv[pivot * n + c]);
    const double d = a[col * n + col];
    for (int64_t c = 0; c < n; ++c) a[col * n + c] /= d, inv[col * n + c] /= d;
    for (int64_t r = 0; r < n; ++r) {
      const double f = a[r * n + col];
      if (r == col || f == 0.0) continue;
      for (int64_t c = 0; c < n; ++c) a[r * n + c] -= f * a[col * n + c], inv[r * n + c] -= f * inv[col * n + c];
    }
  }
  std::copy(inv.begin(), inv.end(), a);
}

}  // namespace

Tensor eye(int64_t n, DType dtype) {
  std::vector<double> v(static_cast<size_t>(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i) v[i * n + i] = 1.0;
  return engine::to_dtype(engine::from_vector(v, {n, n}), dtype);
}

Tensor batched_inverse(const Tensor& a) {
  engine::check<ShapeError>(a.dim() == 3 && a.size(1) == a.size(2), "[batched_inverse] expects [B, n, n], got ",
                            engine::shape_str(a.shape()));
  const int64_t batch = a.size(0), n = a.size(1);
  std::vector<double> data = a.to_vector<double>();
  engine::count_kernel("batched_inverse", batch * 2 * n * n * n);
  for (int64_t b = 0; b < batch; ++b) invert_block(data.data() + b * n * n, n, b);
  // Solved on the host (small blocks), the result placed back where `a` lives.
  Tensor out = engine::to_dtype(engine::from_vector(data, a.shape()), a.dtype()).to(a.device());

  engine::autograd::Recorder rec("batched_inverse", {a});
  if (!rec) return out;
  rec.save({out});
  return rec.finish(out, [](const Tensor& g, engine::autograd::Node& node) -> std::vector<Tensor> {
    const Tensor inv_t = node.saved[0].transpose(1, 2);                 // A⁻ᵀ [B, n, n]
    return {-engine::matmul(engine::matmul(inv_t, g), inv_t)};          // −A⁻ᵀ g A⁻ᵀ
  });
}

Tensor cayley(const Tensor& a) {
  engine::check<ShapeError>(a.dim() == 3 && a.size(1) == a.size(2), "[cayley] expects [B, n, n] blocks, got ",
                            engine::shape_str(a.shape()));
  const Tensor skew = (a - a.transpose(1, 2)) * 0.5;  // [B, n, n]
  const Tensor id = eye(a.size(1), a.dtype()).to(a.device());  // [n, n], broadcast over B
  return engine::matmul(id - skew, batched_inverse(id + skew));
}

Tensor block_diag_apply(const Tensor& x, const Tensor& blocks) {
  const int64_t k = blocks.size(0), b = blocks.size(1), d = x.size(-1);
  engine::check<ShapeError>(blocks.dim() == 3 && blocks.size(2) == b && k * b >= d, "[block_diag_apply] ", k,
                            " blocks of ", b, "x", b, " cannot rotate a last dim of ", d);
  Tensor padded = x;
  if (k * b > d) {
    engine::Shape pad_shape = x.shape();
    pad_shape.back() = k * b - d;
    padded = engine::concat({x, engine::zeros(pad_shape, x.dtype(), x.device())}, -1);
  }
  engine::Shape out_shape = padded.shape();
  Tensor grouped = padded.reshape({-1, k, b}).transpose(0, 1);         // [k, M, b]
  Tensor rotated = engine::matmul(grouped, blocks).transpose(0, 1);   // [k, M, b] @ [k, b, b] -> [M, k, b]
  Tensor y = rotated.reshape(out_shape);                               // [..., k·b]
  return k * b > d ? y.narrow(-1, 0, d) : y;
}

Tensor block_diag(const Tensor& blocks, int64_t d) {
  const int64_t n = blocks.size(0) * blocks.size(1);
  return block_diag_apply(eye(n, blocks.dtype()).to(blocks.device()), blocks).narrow(0, 0, d).narrow(1, 0, d);  // I @ BD = BD, [d, d]
}

}  // namespace peft::oft
