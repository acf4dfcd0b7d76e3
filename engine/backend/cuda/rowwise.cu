// Row CUDA kernels over contiguous [rows, cols]: softmax / log_softmax and layer_norm /
// rms_norm, forward and backward. Rows are read and written in their own dtype (f32, bf16,
// f16) and computed in f32, each result rounded once; norm statistics and γ/β (and their
// gradients) are f32. Every reduction runs in a fixed order (strided per-thread partials, then
// common.cuh's block_reduce tree), so results are bit-identical from run to run; dγ/dβ sum
// rows in order, one thread per column, with no atomics. One block per row, looping when there
// are more rows than blocks.
#include <algorithm>

#include "engine/backend/cuda/common.cuh"

namespace engine::cuda::kernels {
namespace {

unsigned row_blocks(int64_t rows) { return unsigned(rows < (int64_t(1) << 30) ? rows : int64_t(1) << 30); }

template <typename T>
__global__ void softmax_forward_kernel(const T* x, T* y, int64_t rows, int64_t cols, bool log) {
  __shared__ float sh[kBlock];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {  // uniform over the block
    const T* xr = x + row * cols;
    T* yr = y + row * cols;
    float m = -INFINITY;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) m = fmaxf(m, to_f32(xr[c]));
    m = block_reduce(m, sh, true);
    float s = 0.f;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) s += expf(to_f32(xr[c]) - m);
    s = block_reduce(s, sh, false);
    const float lse = m + logf(s), inv = 1.f / s;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
      const float v = to_f32(xr[c]);
      yr[c] = from_f32<T>(log ? v - lse : expf(v - m) * inv);
    }
  }
}

// softmax: gx = y ⊙ (gy − Σ gy⊙y); log_softmax: gx = gy − exp(y)·Σ gy.
template <typename T>
__global__ void softmax_backward_kernel(const T* y, const T* gy, T* gx, int64_t rows, int64_t cols, bool log) {
  __shared__ float sh[kBlock];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const int64_t at = row * cols;
    float d = 0.f;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x)
      d += log ? to_f32(gy[at + c]) : to_f32(gy[at + c]) * to_f32(y[at + c]);
    d = block_reduce(d, sh, false);
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
      const float yv = to_f32(y[at + c]), g = to_f32(gy[at + c]);
      gx[at + c] = from_f32<T>(log ? g - expf(yv) * d : yv * (g - d));
    }
  }
}

// y = (x − mean)·rstd·γ + β (center) or x·rstd·γ (rms); two passes, no cancellation.
template <typename T>
__global__ void norm_forward_kernel(const T* x, const float* gamma, const float* beta, float eps, T* y,
                                    float* mean_out, float* rstd_out, int64_t rows, int64_t cols, bool center) {
  __shared__ float sh[kBlock];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* xr = x + row * cols;
    T* yr = y + row * cols;
    float mean = 0.f;
    if (center) {  // uniform over the block
      float s = 0.f;
      for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) s += to_f32(xr[c]);
      mean = block_reduce(s, sh, false) / float(cols);
    }
    float q = 0.f;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
      const float d = to_f32(xr[c]) - mean;
      q += d * d;
    }
    const float rstd = rsqrtf(block_reduce(q, sh, false) / float(cols) + eps);
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x)
      yr[c] = from_f32<T>((to_f32(xr[c]) - mean) * rstd * (gamma ? gamma[c] : 1.f) + (beta ? beta[c] : 0.f));
    if (threadIdx.x == 0) {
      if (mean_out) mean_out[row] = mean;
      if (rstd_out) rstd_out[row] = rstd;
    }
  }
}

// x̂ = (x − mean)·rstd, w = gy·γ: gx = rstd·(w − mean(w) − x̂·mean(w·x̂)); rms drops mean(w).
template <typename T>
__global__ void norm_backward_x_kernel(const T* x, const float* gamma, const float* mean, const float* rstd,
                                       const T* gy, T* gx, int64_t rows, int64_t cols, bool center) {
  __shared__ float sh[kBlock];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const int64_t at = row * cols;
    const float mu = center ? mean[row] : 0.f, r = rstd[row];
    float sw = 0.f, swx = 0.f;
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
      const float w = to_f32(gy[at + c]) * (gamma ? gamma[c] : 1.f), xh = (to_f32(x[at + c]) - mu) * r;
      sw += w;
      swx += w * xh;
    }
    const float mw = center ? block_reduce(sw, sh, false) / float(cols) : 0.f;
    const float mwx = block_reduce(swx, sh, false) / float(cols);
    for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
      const float w = to_f32(gy[at + c]) * (gamma ? gamma[c] : 1.f), xh = (to_f32(x[at + c]) - mu) * r;
      gx[at + c] = from_f32<T>(r * (w - mw - xh * mwx));
    }
  }
}

// dγ[c] = Σ_rows gy·x̂, dβ[c] = Σ_rows gy: one thread per (column, piece of `chunk` rows), rows in
// order; piece v = s·cols + c writes dγ/dβ directly when there is one piece, else its partials to
// part_g/part_b[v], added in order by norm_params_finish_kernel.
template <typename T>
__global__ void norm_backward_params_kernel(const T* x, const float* mean, const float* rstd, const T* gy,
                                            float* dgamma, float* dbeta, float* part_g, float* part_b, int64_t rows,
                                            int64_t cols, bool center, int64_t splits, int64_t chunk) {
  ENGINE_CUDA_GRID_LOOP(v, cols * splits) {
    const int64_t c = v % cols, r0 = (v / cols) * chunk, r1 = r0 + chunk < rows ? r0 + chunk : rows;
    float sg = 0.f, sb = 0.f;
    for (int64_t r = r0; r < r1; ++r) {
      const float g = to_f32(gy[r * cols + c]);
      sb += g;
      if (dgamma) sg += g * (to_f32(x[r * cols + c]) - (center ? mean[r] : 0.f)) * rstd[r];
    }
    if (splits == 1) {
      if (dgamma) dgamma[c] = sg;
      if (dbeta) dbeta[c] = sb;
    } else {
      part_g[v] = sg;
      part_b[v] = sb;
    }
  }
}

__global__ void norm_params_finish_kernel(const float* part_g, const float* part_b, float* dgamma, float* dbeta,
                                          int64_t cols, int64_t splits) {
  ENGINE_CUDA_GRID_LOOP(c, cols) {
    float sg = 0.f, sb = 0.f;
    for (int64_t s = 0; s < splits; ++s) sg += part_g[s * cols + c], sb += part_b[s * cols + c];
    if (dgamma) dgamma[c] = sg;
    if (dbeta) dbeta[c] = sb;
  }
}

}  // namespace

// Enough (column, piece) threads to fill a large GPU (~32k), pieces of at least 64 rows.
int64_t norm_param_splits(int64_t rows, int64_t cols) {
  if (cols == 0 || cols >= 32768) return 1;
  const int64_t s = std::min((32768 + cols - 1) / cols, (rows + 63) / 64);
  return std::max<int64_t>(1, std::min<int64_t>(s, 4096));
}

void softmax_forward(int dt, const void* x, void* y, int64_t rows, int64_t cols, bool log) {
  if (rows == 0 || cols == 0) return;
  ENGINE_CUDA_DISPATCH_FLOAT(dt, log ? "log_softmax" : "softmax", {
    softmax_forward_kernel<T><<<row_blocks(rows), kBlock>>>(static_cast<const T*>(x), static_cast<T*>(y), rows, cols, log);
  });
  check_launch(log ? "log_softmax" : "softmax");
}

void softmax_backward(int dt, const void* y, const void* gy, void* gx, int64_t rows, int64_t cols, bool log) {
  if (rows == 0 || cols == 0) return;
  ENGINE_CUDA_DISPATCH_FLOAT(dt, log ? "log_softmax" : "softmax", {
    softmax_backward_kernel<T><<<row_blocks(rows), kBlock>>>(static_cast<const T*>(y), static_cast<const T*>(gy),
                                                             static_cast<T*>(gx), rows, cols, log);
  });
  check_launch(log ? "log_softmax_backward" : "softmax_backward");
}

void norm_forward(int dt, const void* x, const float* gamma, const float* beta, double eps, void* y, float* mean,
                  float* rstd, int64_t rows, int64_t cols, bool center) {
  if (rows == 0 || cols == 0) return;
  ENGINE_CUDA_DISPATCH_FLOAT(dt, center ? "layer_norm" : "rms_norm", {
    norm_forward_kernel<T><<<row_blocks(rows), kBlock>>>(static_cast<const T*>(x), gamma, beta, float(eps),
                                                         static_cast<T*>(y), mean, rstd, rows, cols, center);
  });
  check_launch(center ? "layer_norm" : "rms_norm");
}

void norm_backward(int dt, const void* x, const float* gamma, const float* mean, const float* rstd, const void* gy,
                   void* gx, float* dgamma, float* dbeta, int64_t rows, int64_t cols, bool center, float* workspace) {
  if (rows == 0 || cols == 0) return;
  const int64_t splits = norm_param_splits(rows, cols), chunk = (rows + splits - 1) / splits;
  if ((dgamma || dbeta) && splits > 1 && !workspace) fail<ValueError>("[norm_backward] internal: no workspace");
  float *part_g = workspace, *part_b = workspace ? workspace + cols * splits : nullptr;
  ENGINE_CUDA_DISPATCH_FLOAT(dt, center ? "layer_norm" : "rms_norm", {
    if (gx) {
      norm_backward_x_kernel<T><<<row_blocks(rows), kBlock>>>(static_cast<const T*>(x), gamma, mean, rstd,
                                                              static_cast<const T*>(gy), static_cast<T*>(gx), rows,
                                                              cols, center);
      check_launch("norm_backward_x");
    }
    if (dgamma || dbeta) {
      norm_backward_params_kernel<T><<<grid_for(cols * splits), kBlock>>>(
          static_cast<const T*>(x), mean, rstd, static_cast<const T*>(gy), dgamma, dbeta, part_g, part_b, rows, cols,
          center, splits, chunk);
      check_launch("norm_backward_params");
      if (splits > 1) {
        norm_params_finish_kernel<<<grid_for(cols), kBlock>>>(part_g, part_b, dgamma, dbeta, cols, splits);
        check_launch("norm_backward_params_finish");
      }
    }
  });
}

}  // namespace engine::cuda::kernels
