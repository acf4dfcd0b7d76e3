// Reducing CUDA kernels: sum over any dims, and the row-wise softmax / log_softmax /
// layer_norm / rms_norm forward and backward over contiguous f32 rows. Every reduction runs
// in a fixed order (strided per-thread partials, then a shared-memory tree of fixed shape), so
// results are bit-identical from run to run; dgamma/dbeta sum rows in order, one thread per
// column, with no atomics.
#include <cuda_runtime.h>

#include "engine/backend/cuda/kernels.h"
#include "engine/core/error.h"

namespace engine::cuda::kernels {
namespace {

constexpr int kThreads = 256;  // a power of two: block_sum / block_max halve it

void check_launch(const char* kernel) {
  cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) fail<Error>("[cuda] kernel ", kernel, " failed to launch: ", cudaGetErrorString(err));
}

// The sum (or max) of v over the block, returned to every thread. `sh` holds kThreads floats.
__device__ float block_reduce(float v, float* sh, bool is_max) {
  sh[threadIdx.x] = v;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) {
      float o = sh[threadIdx.x + s];
      sh[threadIdx.x] = is_max ? fmaxf(sh[threadIdx.x], o) : sh[threadIdx.x] + o;
    }
    __syncthreads();
  }
  float r = sh[0];
  __syncthreads();  // sh is reused by the next reduction
  return r;
}

__device__ int64_t offset_of(const Layout& l, int64_t i) {
  int64_t off = 0;
  for (int d = l.ndim - 1; d >= 0; --d) {
    off += (i % l.shape[d]) * l.stride[0][d];
    i /= l.shape[d];
  }
  return off;
}

__global__ void sum_kernel(const float* x, float* out, Layout kept, Layout red, int64_t n_red) {
  __shared__ float sh[kThreads];
  const float* base = x + offset_of(kept, blockIdx.x);
  float acc = 0.f;
  for (int64_t r = threadIdx.x; r < n_red; r += blockDim.x) acc += base[offset_of(red, r)];
  float total = block_reduce(acc, sh, false);
  if (threadIdx.x == 0) out[blockIdx.x] = total;
}

__global__ void softmax_forward_kernel(const float* x, float* y, int64_t cols, bool log) {
  __shared__ float sh[kThreads];
  const float* xr = x + blockIdx.x * cols;
  float* yr = y + blockIdx.x * cols;
  float m = -INFINITY;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) m = fmaxf(m, xr[c]);
  m = block_reduce(m, sh, true);
  float s = 0.f;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) s += expf(xr[c] - m);
  s = block_reduce(s, sh, false);
  const float lse = m + logf(s), inv = 1.f / s;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) yr[c] = log ? xr[c] - lse : expf(xr[c] - m) * inv;
}

// softmax: gx = y ⊙ (gy − Σ gy⊙y); log_softmax: gx = gy − exp(y)·Σ gy.
__global__ void softmax_backward_kernel(const float* y, const float* gy, float* gx, int64_t cols, bool log) {
  __shared__ float sh[kThreads];
  const int64_t row = int64_t(blockIdx.x) * cols;
  float d = 0.f;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) d += log ? gy[row + c] : gy[row + c] * y[row + c];
  d = block_reduce(d, sh, false);
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
    float yv = y[row + c], g = gy[row + c];
    gx[row + c] = log ? g - expf(yv) * d : yv * (g - d);
  }
}

// y = (x − mean)·rstd·γ + β (center) or x·rstd·γ (rms); two passes, no cancellation.
__global__ void norm_forward_kernel(const float* x, const float* gamma, const float* beta, float eps, float* y,
                                    float* mean_out, float* rstd_out, int64_t cols, bool center) {
  __shared__ float sh[kThreads];
  const float* xr = x + blockIdx.x * cols;
  float* yr = y + blockIdx.x * cols;
  float mean = 0.f;
  if (center) {
    float s = 0.f;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) s += xr[c];
    mean = block_reduce(s, sh, false) / float(cols);
  }
  float q = 0.f;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) q += (xr[c] - mean) * (xr[c] - mean);
  const float rstd = rsqrtf(block_reduce(q, sh, false) / float(cols) + eps);
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x)
    yr[c] = (xr[c] - mean) * rstd * (gamma ? gamma[c] : 1.f) + (beta ? beta[c] : 0.f);
  if (threadIdx.x == 0) {
    if (mean_out) mean_out[blockIdx.x] = mean;
    if (rstd_out) rstd_out[blockIdx.x] = rstd;
  }
}

// x̂ = (x − mean)·rstd, w = gy·γ: gx = rstd·(w − mean(w) − x̂·mean(w·x̂)); rms drops mean(w).
__global__ void norm_backward_x_kernel(const float* x, const float* gamma, const float* mean, const float* rstd,
                                       const float* gy, float* gx, int64_t cols, bool center) {
  __shared__ float sh[kThreads];
  const int64_t row = int64_t(blockIdx.x) * cols;
  const float mu = center ? mean[blockIdx.x] : 0.f, r = rstd[blockIdx.x];
  float sw = 0.f, swx = 0.f;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
    float w = gy[row + c] * (gamma ? gamma[c] : 1.f), xh = (x[row + c] - mu) * r;
    sw += w;
    swx += w * xh;
  }
  const float mw = center ? block_reduce(sw, sh, false) / float(cols) : 0.f;
  const float mwx = block_reduce(swx, sh, false) / float(cols);
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
    float w = gy[row + c] * (gamma ? gamma[c] : 1.f), xh = (x[row + c] - mu) * r;
    gx[row + c] = r * (w - mw - xh * mwx);
  }
}

// dγ[c] = Σ_rows gy·x̂, dβ[c] = Σ_rows gy: one thread per column, rows in order.
__global__ void norm_backward_params_kernel(const float* x, const float* mean, const float* rstd, const float* gy,
                                            float* dgamma, float* dbeta, int64_t rows, int64_t cols,
                                            bool center) {
  const int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (c >= cols) return;
  float sg = 0.f, sb = 0.f;
  for (int64_t r = 0; r < rows; ++r) {
    float g = gy[r * cols + c];
    sb += g;
    if (dgamma) sg += g * (x[r * cols + c] - (center ? mean[r] : 0.f)) * rstd[r];
  }
  if (dgamma) dgamma[c] = sg;
  if (dbeta) dbeta[c] = sb;
}

}  // namespace

void sum(const float* x, float* out, const Layout& kept, int64_t n_out, const Layout& red, int64_t n_red) {
  if (n_out == 0) return;
  sum_kernel<<<unsigned(n_out), kThreads>>>(x, out, kept, red, n_red);
  check_launch("sum");
}

void softmax_forward(const float* x, float* y, int64_t rows, int64_t cols, bool log) {
  if (rows == 0 || cols == 0) return;
  softmax_forward_kernel<<<unsigned(rows), kThreads>>>(x, y, cols, log);
  check_launch(log ? "log_softmax" : "softmax");
}

void softmax_backward(const float* y, const float* gy, float* gx, int64_t rows, int64_t cols, bool log) {
  if (rows == 0 || cols == 0) return;
  softmax_backward_kernel<<<unsigned(rows), kThreads>>>(y, gy, gx, cols, log);
  check_launch(log ? "log_softmax_backward" : "softmax_backward");
}

void norm_forward(const float* x, const float* gamma, const float* beta, double eps, float* y, float* mean,
                  float* rstd, int64_t rows, int64_t cols, bool center) {
  if (rows == 0 || cols == 0) return;
  norm_forward_kernel<<<unsigned(rows), kThreads>>>(x, gamma, beta, float(eps), y, mean, rstd, cols, center);
  check_launch(center ? "layer_norm" : "rms_norm");
}

void norm_backward(const float* x, const float* gamma, const float* mean, const float* rstd, const float* gy,
                   float* gx, float* dgamma, float* dbeta, int64_t rows, int64_t cols, bool center) {
  if (rows == 0 || cols == 0) return;
  if (gx) {
    norm_backward_x_kernel<<<unsigned(rows), kThreads>>>(x, gamma, mean, rstd, gy, gx, cols, center);
    check_launch("norm_backward_x");
  }
  if (dgamma || dbeta) {
    norm_backward_params_kernel<<<unsigned((cols + kThreads - 1) / kThreads), kThreads>>>(
        x, mean, rstd, gy, dgamma, dbeta, rows, cols, center);
    check_launch("norm_backward_params");
  }
}

}  // namespace engine::cuda::kernels
