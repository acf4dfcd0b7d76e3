// CPU matrix products on OpenBLAS: strided tensors in, BLAS calls out. Transposed operands are
// read in place (CblasTrans with the right leading dimension); only a layout BLAS cannot read
// (e.g. a stride-0 row or a doubly strided slice) is packed first. Batches either fold into
// one tall GEMM, run one GEMM after the other, or — when each GEMM is small — run in parallel
// over oneTBB. A large GEMM runs on OpenBLAS's threads, or as a fixed grid of single-threaded
// tiles over oneTBB where OpenBLAS's threads would make results depend on the thread count
// (see threading.h).
#pragma once
#include <cstdint>

#include "engine/core/tensor.h"

namespace engine::cpu {

// out [batch..., M, N] (contiguous) = a [..., M, K] @ b [..., K, N], or += when `accumulate`.
// a, b and out share one dtype (f32 or f64); the batch dims of a and b broadcast to out's.
// Counts `name` once per GEMM launch with 2·M·N·K FLOPs.
void matmul_into(const char* name, const Tensor& a, const Tensor& b, const Tensor& out,
                 bool accumulate = false);

// A GEMM of at most this many multiply-adds (M·N·K) runs as one single-threaded BLAS call
// (a batch of them in parallel over oneTBB); a larger one is split into tiles.
inline constexpr int64_t kSmallGemm = int64_t{1} << 22;

}  // namespace engine::cpu
