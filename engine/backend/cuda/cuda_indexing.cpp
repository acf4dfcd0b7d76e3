// Tensor-level CUDA indexing ops (see cuda_indexing.h): device and dtype checks, layouts, the
// host-side grouping of scatter destinations, and the launches of indexing.cu. Host↔device
// traffic per op: checked_index reads back 8 bytes (16 when it fails); index_add_rows copies
// the destinations to the host (when they live on the device) and uploads their grouping in
// one copy. Everything else stays on the device, on stream 0.
#ifdef ENGINE_CUDA
#include "engine/backend/cuda/cuda_indexing.h"

#include <initializer_list>
#include <vector>

#include "engine/autograd/grad_mode.h"
#include "engine/backend/cpu/indexing.h"
#include "engine/backend/cuda/cuda_device.h"
#include "engine/backend/cuda/cuda_ops.h"
#include "engine/backend/cuda/indexing_kernels.h"
#include "engine/ops/convert.h"

namespace engine::cuda {
namespace {
namespace k = kernels;

// f64 is CPU-only everywhere; sums (`arithmetic`) also refuse the integer and bool dtypes.
void check_dtype(const char* op, const Tensor& t, bool arithmetic) {
  check<DTypeError>(t.dtype() != DType::f64, "[", op, "] cuda kernels compute in f32, got f64 (CPU-only)");
  if (arithmetic)
    check<DTypeError>(t.dtype() == DType::f32 || t.dtype() == DType::bf16 || t.dtype() == DType::f16, "[", op,
                      "] cuda kernels add f32, bf16 or f16 values, got ", dtype_name(t.dtype()));
}

void check_same_device(const char* op, const Tensor& a, std::initializer_list<Tensor> others) {
  for (const Tensor& b : others)
    check<NoKernelError>(b.device() == a.device(), "[", op, "] operands on ", a.device().str(), " and ",
                         b.device().str());
}

void check_index(const char* op, const Tensor& idx) {
  check<ValueError>(idx.dtype() == DType::i64 && idx.is_contiguous(), "[", op,
                    "] cuda kernels take a contiguous i64 index, got ", dtype_name(idx.dtype()));
}

const int64_t* index_ptr(const Tensor& idx) { return static_cast<const int64_t*>(idx.raw_data()); }

int64_t read_i64(const void* device_ptr, Device dev) {
  int64_t v = 0;
  copy_bytes(&v, Device::cpu(), device_ptr, dev, sizeof v);
  return v;
}

using cpu::Split3;
using cpu::split_at;

// Lines of an index along dim over the strides of (position operand, value operand, index).
k::LineLayout line_layout(const char* op, const Shape& index_shape, int64_t dim, const Shape& s0, const Shape& s1,
                          const Shape& s2) {
  check<ShapeError>(index_shape.size() <= size_t(k::kMaxDims), "[", op, "] cuda kernels take at most ", k::kMaxDims,
                    " dims, got ", shape_str(index_shape));
  const int64_t* strides[3] = {s0.data(), s1.data(), s2.data()};
  return k::make_line_layout(int(index_shape.size()), index_shape.data(), int(dim), strides);
}

}  // namespace

Tensor checked_index(const Tensor& index, int64_t size, const char* op, const char* what, const char* limit) {
  require(op, index.device());
  check<DTypeError>(index.dtype() == DType::i64 || index.dtype() == DType::i32, "[", op, "] ", what,
                    " must be i32 or i64, got ", dtype_name(index.dtype()));
  NoGradGuard no_grad;
  const Device dev = index.device();
  Tensor idx = to_dtype(index.detach(), DType::i64).contiguous();
  Tensor first = empty({1}, DType::i64, dev);
  k::find_out_of_range(index_ptr(idx), idx.numel(), size, static_cast<int64_t*>(first.raw_data()));
  const int64_t bad = read_i64(first.raw_data(), dev);
  if (bad >= 0)
    fail<IndexError>("[", op, "] ", what, " ", read_i64(index_ptr(idx) + bad, dev), " out of range for ", limit, " ",
                     size);
  return idx;
}

Tensor index_rows(const char* op, const Tensor& x, int64_t dim, const Tensor& idx, const Shape& out_shape) {
  require(op, x.device());
  check_dtype(op, x, false);
  check_same_device(op, x, {idx});
  check_index(op, idx);
  NoGradGuard no_grad;
  Tensor xc = x.contiguous();
  const Split3 s = split_at(x.shape(), dim);
  Tensor out = empty(out_shape, x.dtype(), x.device());
  k::row_gather(out.raw_data(), xc.raw_data(), int(dtype_size(x.dtype())), index_ptr(idx), idx.numel(), s.outer,
                s.rows, s.inner);
  return out;
}

Tensor index_add_rows(const char* op, const Tensor& g, int64_t dim, const Tensor& host_idx, const Shape& dst_shape) {
  require(op, g.device());
  check_dtype(op, g, true);
  NoGradGuard no_grad;
  Tensor hi = to_dtype(host_idx.device().is_cpu() ? host_idx : host_idx.to(Device::cpu()), DType::i64).contiguous();
  const int64_t kpos = hi.numel();
  check<ShapeError>(g.dim() == int64_t(dst_shape.size()) && g.size(dim) == kpos, "[", op, "] gradient ",
                    shape_str(g.shape()), " does not match ", kpos, " indices along dim ", dim);
  const cpu::RowGroups groups = cpu::group_by_row(hi.data<int64_t>(), kpos);
  Tensor out = zeros(dst_shape, g.dtype(), g.device());
  if (groups.count() == 0) return out;
  // order | starts | dest in one upload (one copy, one sync).
  std::vector<int64_t> packed(groups.order);
  packed.insert(packed.end(), groups.starts.begin(), groups.starts.end());
  packed.insert(packed.end(), groups.dest.begin(), groups.dest.end());
  Tensor plan = empty({int64_t(packed.size())}, DType::i64, g.device());
  copy_bytes(plan.raw_data(), g.device(), packed.data(), Device::cpu(), packed.size() * sizeof(int64_t));
  const int64_t* order = index_ptr(plan);
  const int64_t* starts = order + groups.order.size();
  const int64_t* dest = starts + groups.starts.size();
  Tensor gc = g.contiguous();
  const Split3 s = split_at(dst_shape, dim);
  k::grouped_row_sum(int(g.dtype()), out.raw_data(), gc.raw_data(), order, starts, dest, groups.count(), kpos, s.outer,
                     s.rows, s.inner);
  return out;  // plan is freed stream-ordered (cudaFreeAsync on stream 0), after the kernel
}

Tensor gather(const Tensor& x, int64_t dim, const Tensor& idx) {
  require("gather", x.device());
  check_dtype("gather", x, false);
  check_same_device("gather", x, {idx});
  check_index("gather", idx);
  NoGradGuard no_grad;
  Tensor out = empty(idx.shape(), x.dtype(), x.device());
  if (out.numel() == 0) return out;
  const auto ll = line_layout("gather", idx.shape(), dim, out.strides(), x.strides(), idx.strides());
  k::gather_lines(out.raw_data(), x.raw_data(), int(dtype_size(x.dtype())), index_ptr(idx), ll);
  return out;
}

void scatter_add_into(const Tensor& out, int64_t dim, const Tensor& idx, const Tensor& src) {
  require("scatter_add", out.device());
  check_dtype("scatter_add", src, true);
  check<DTypeError>(out.dtype() == DType::f32 && out.is_contiguous(), "[scatter_add] cuda kernels add into a "
                    "contiguous f32 buffer, got ", dtype_name(out.dtype()));
  check_same_device("scatter_add", out, {idx, src});
  check_index("scatter_add", idx);
  if (idx.numel() == 0) return;
  const auto ll = line_layout("scatter_add", idx.shape(), dim, src.strides(), out.strides(), idx.strides());
  k::scatter_add_lines(static_cast<float*>(out.raw_data()), int(src.dtype()), src.raw_data(), index_ptr(idx), ll);
}

Tensor dropout(const Tensor& x, double p, uint64_t seed, uint64_t offset) {
  require("dropout", x.device());
  check_dtype("dropout", x, true);
  NoGradGuard no_grad;
  Tensor xc = x.contiguous();
  Tensor out = empty(x.shape(), x.dtype(), x.device());
  k::dropout(int(x.dtype()), xc.raw_data(), out.raw_data(), x.numel(), seed, offset, float(p), k::dropout_scale(p));
  return out;
}

}  // namespace engine::cuda
#endif  // ENGINE_CUDA
