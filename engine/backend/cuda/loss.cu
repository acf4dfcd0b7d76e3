// Fused cross-entropy kernels (llm.c's fused classifier): the forward reads each logits row
// once (online max / Σexp / Σx, merged in a fixed tree) and keeps only the row's logsumexp;
// the backward recomputes softmax from the logits and that lse and writes the gradient in
// one pass, so the probability matrix never exists. The loss reduction is one block summing
// rows in a fixed order (double, no atomics): bit-identical from run to run. Logits are read
// in their storage dtype (f32/bf16/f16) and computed in f32.
#include <climits>

#include "engine/backend/cuda/common.cuh"
#include "engine/backend/cuda/loss_kernels.h"

namespace engine::cuda::kernels {
namespace {

template <typename T>
__global__ void xent_forward_kernel(const T* x, const int64_t* targets, float* loss, float* lse, int64_t cols,
                                    int64_t ignore_index, double eps) {
  __shared__ float sm[kBlock], ss[kBlock], ssx[kBlock];
  const int64_t r = blockIdx.x;
  const T* xr = x + r * cols;
  XentStats st = xent_empty();
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) st = xent_push(st, to_f32(xr[c]));
  const unsigned tid = threadIdx.x;
  sm[tid] = st.m, ss[tid] = st.s, ssx[tid] = st.sx;
  __syncthreads();
  for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {  // every thread reaches each barrier
    if (tid < s) {
      XentStats m = xent_merge({sm[tid], ss[tid], ssx[tid]}, {sm[tid + s], ss[tid + s], ssx[tid + s]});
      sm[tid] = m.m, ss[tid] = m.s, ssx[tid] = m.sx;
    }
    __syncthreads();
  }
  if (tid == 0) {
    const int64_t t = targets[r];
    const bool ignored = t == ignore_index, bad = !ignored && (t < 0 || t >= cols);
    float l = 0.f;
    const float xt = ignored || bad ? 0.f : to_f32(xr[t]);  // never read outside the row
    const float v = xent_row_loss({sm[0], ss[0], ssx[0]}, xt, cols, eps, ignored || bad, &l);
    lse[r] = l;
    loss[r] = bad ? NAN : v;
  }
}

__global__ void xent_reduce_kernel(const float* loss, const int64_t* targets, int64_t rows, int64_t cols,
                                   int64_t ignore_index, bool mean, float* out, int64_t* info) {
  __shared__ double s_sum[kBlock];
  __shared__ long long s_cnt[kBlock], s_bad[kBlock];
  const unsigned tid = threadIdx.x;
  double acc = 0;
  long long cnt = 0, bad = LLONG_MAX;
  for (int64_t r = tid; r < rows; r += blockDim.x) {
    const int64_t t = targets[r];
    acc += double(loss[r]);
    if (t != ignore_index) {
      ++cnt;
      if ((t < 0 || t >= cols) && r < bad) bad = r;
    }
  }
  s_sum[tid] = acc, s_cnt[tid] = cnt, s_bad[tid] = bad;
  __syncthreads();
  for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
    if (tid < s) {
      s_sum[tid] += s_sum[tid + s];
      s_cnt[tid] += s_cnt[tid + s];
      if (s_bad[tid + s] < s_bad[tid]) s_bad[tid] = s_bad[tid + s];
    }
    __syncthreads();
  }
  if (tid == 0) {
    const long long first_bad = s_bad[0] == LLONG_MAX ? -1 : s_bad[0];
    info[0] = s_cnt[0];
    info[1] = first_bad;
    info[2] = first_bad >= 0 ? targets[first_bad] : 0;
    // mean: Σ · (1/count), as the CPU (0/0 = NaN when every row is ignored).
    if (out) out[0] = float(mean ? s_sum[0] * (1.0 / double(s_cnt[0])) : s_sum[0]);
  }
}

template <typename T>
__global__ void xent_backward_kernel(const T* x, const int64_t* targets, const float* lse, const float* g,
                                     int64_t g_stride, double g_scale, T* gx, int64_t cols, int64_t ignore_index,
                                     double eps) {
  const int64_t r = blockIdx.x;
  const int64_t t = targets[r];
  const bool valid = t != ignore_index && t >= 0 && t < cols;
  const float gr = valid ? float(double(g[r * g_stride]) * g_scale) : 0.f;
  const float off = float(eps / double(cols)), sub = float((1.0 - eps) * double(gr)), l = lse[r];
  const T* xr = x + r * cols;
  T* out = gx + r * cols;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x)
    out[c] = from_f32<T>(xent_grad(to_f32(xr[c]), l, off, gr, valid && c == t, sub));
}

}  // namespace

void xent_forward(const void* logits, int dt, const int64_t* targets, float* loss, float* lse, int64_t rows,
                  int64_t cols, int64_t ignore_index, double eps) {
  if (rows == 0) return;
  ENGINE_CUDA_DISPATCH_FLOAT(dt, "cross_entropy", {
    xent_forward_kernel<T><<<unsigned(rows), kBlock>>>(static_cast<const T*>(logits), targets, loss, lse, cols,
                                                        ignore_index, eps);
  });
  check_launch("cross_entropy_forward");
}

void xent_reduce(const float* loss, const int64_t* targets, int64_t rows, int64_t cols, int64_t ignore_index,
                 bool mean, float* out, int64_t* info) {
  xent_reduce_kernel<<<1, kBlock>>>(loss, targets, rows, cols, ignore_index, mean, out, info);
  check_launch("cross_entropy_reduce");
}

void xent_backward(const void* logits, int dt, const int64_t* targets, const float* lse, const float* g,
                   int64_t g_stride, double g_scale, void* gx, int64_t rows, int64_t cols, int64_t ignore_index,
                   double eps) {
  if (rows == 0 || cols == 0) return;
  ENGINE_CUDA_DISPATCH_FLOAT(dt, "cross_entropy", {
    xent_backward_kernel<T><<<unsigned(rows), kBlock>>>(static_cast<const T*>(logits), targets, lse, g, g_stride,
                                                         g_scale, static_cast<T*>(gx), cols, ignore_index, eps);
  });
  check_launch("cross_entropy_backward");
}

}  // namespace engine::cuda::kernels
