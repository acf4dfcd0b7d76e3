// Tensor-level entry points of the CUDA indexing kernels (indexing.cu), called by
// engine/ops/indexing.cpp for tensors on a GPU; the op file keeps validation and autograd.
// Index tensors reach these functions as contiguous i64 tensors on the data's device (host
// indices are checked on the host and copied over by the op). Values are stored as f32, bf16
// or f16 and summed in f32; f64 on a GPU is refused with a DTypeError (CPU-only). Every
// backward scatter is deterministic (no float atomics, the CPU backend's summation order).
// Without ENGINE_CUDA every function throws NoKernelError (cuda_indexing_stub.cpp).
#pragma once
#include <cstdint>

#include "engine/core/tensor.h"

namespace engine::cuda {

// `index` (i32/i64, on a GPU) as a contiguous i64 tensor on its device whose every value lies in
// [0, size). A kernel finds the first value out of range and one 8-byte read back (a stream
// sync) tells the host; the error then names that value as the CPU's does:
// "[op] <what> <value> out of range for <limit> <size>" (IndexError).
Tensor checked_index(const Tensor& index, int64_t size, const char* op, const char* what, const char* limit);

// out [o, j, :] = x [o, idx[j], :] around dim (x any layout and dtype but f64; out_shape is x's
// shape with dim resized to idx.numel()).
Tensor index_rows(const char* op, const Tensor& x, int64_t dim, const Tensor& idx, const Shape& out_shape);

// zeros(dst_shape) in g's dtype plus g's rows added at host_idx along dim (host_idx: i64 on the
// host or the device, −1 = skipped). The destinations are grouped on the host (the CPU's
// cpu::group_by_row), then one GPU thread per output element sums its group in increasing
// position order in f32: bit-identical run to run and to the CPU backend for f32.
Tensor index_add_rows(const char* op, const Tensor& g, int64_t dim, const Tensor& host_idx, const Shape& dst_shape);

// torch.gather: out (idx's shape) [.., j, ..] = x [.., idx[.., j, ..], ..] along dim; x any strides.
Tensor gather(const Tensor& x, int64_t dim, const Tensor& idx);

// out (contiguous f32) [.., idx[.., j, ..], ..] += src [.., j, ..] along dim, in place; src
// f32/bf16/f16 with any strides. One thread per line adds j = 0, 1, ... in order (as the CPU).
void scatter_add_into(const Tensor& out, int64_t dim, const Tensor& idx, const Tensor& src);

// x (f32/bf16/f16) times the Philox keep-mask of (seed, offset) scaled by 1/(1−p): element i of
// x in row-major order draws philox_uniform(seed, offset + i), exactly as cpu::dropout_apply.
// Returns a contiguous tensor of x's dtype.
Tensor dropout(const Tensor& x, double p, uint64_t seed, uint64_t offset);

}  // namespace engine::cuda
