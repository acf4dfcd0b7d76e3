// Matrix products on the GPU through cuBLASLt (see cuda_gemm.h). gemm_layout.{h,cpp} pose the
// row-major product to the column-major BLAS (operands swapped, transposed views as flags).
// Each distinct problem (dtypes, flags, sizes, leading dims, batch strides, pointer
// alignments, epilogue) gets its descriptors and heuristic algorithm built once and cached
// per thread (descriptors carry the per-call bias and aux pointers, so threads must not share
// them). Problems cuBLASLt declines run on classic cuBLAS (cublasGemmStridedBatchedEx), with
// the bias written into the output first. The GELU epilogue (GELU_AUX[_BIAS]) writes out =
// gelu_tanh(pre) and the pre-activation in one call; where its aux rules fail or cuBLASLt
// declines, the GEMM writes pre and the unary gelu_tanh kernel follows (same two tensors).
// The workspace comes from the engine's stream-ordered allocator; everything runs on stream 0,
// the allocator's stream.
#ifdef ENGINE_CUDA
#include <cublasLt.h>
#include <cublas_v2.h>

#include <array>
#include <atomic>
#include <climits>
#include <cstdint>
#include <map>
#include <memory>

#include "engine/autograd/grad_mode.h"
#include "engine/backend/cpu/simd_unary.h"
#include "engine/backend/cuda/cuda_gemm.h"
#include "engine/backend/cuda/cuda_ops.h"
#include "engine/backend/cuda/gemm_layout.h"
#include "engine/core/counters.h"
#include "engine/ops/binary.h"
#include "engine/ops/convert.h"
#include "engine/ops/shape.h"

namespace engine::cuda {
namespace {

#define CUBLASLT_CHECK(call)                                                                        \
  do {                                                                                              \
    cublasStatus_t st_ = (call);                                                                    \
    if (st_ != CUBLAS_STATUS_SUCCESS) fail<Error>("[cuda] ", #call, " failed: ", cublasLtGetStatusString(st_)); \
  } while (0)

#define CUBLAS_CHECK(call)                                                                          \
  do {                                                                                              \
    cublasStatus_t st_ = (call);                                                                    \
    if (st_ != CUBLAS_STATUS_SUCCESS) fail<Error>("[cuda] ", #call, " failed: ", cublasGetStatusString(st_)); \
  } while (0)

std::atomic<bool> tf32_allowed{false}, force_classic{false};

// cuBLAS's recommendation for Hopper; smaller cards use less of it.
constexpr uint64_t kMaxWorkspace = uint64_t(32) << 20;

cublasLtHandle_t handle() {
  static cublasLtHandle_t h = [] {
    cublasLtHandle_t made = nullptr;
    CUBLASLT_CHECK(cublasLtCreate(&made));
    return made;
  }();
  return h;
}

// Classic cuBLAS: the fallback for the problems cuBLASLt's heuristic declines.
cublasHandle_t classic_handle() {
  static cublasHandle_t h = [] {
    cublasHandle_t made = nullptr;
    CUBLAS_CHECK(cublasCreate(&made));
    CUBLAS_CHECK(cublasSetStream(made, 0));  // the stream every kernel and the allocator use
    return made;
  }();
  return h;
}

cudaDataType_t cuda_type(DType dt) {
  switch (dt) {
    case DType::f32: return CUDA_R_32F;
    case DType::bf16: return CUDA_R_16BF;
    case DType::f16: return CUDA_R_16F;
    default: fail<DTypeError>("[cuda gemm] no cuBLASLt type for ", dtype_name(dt));
  }
}

using Key = std::array<int64_t, 23>;

// Descriptors and the chosen algorithm of one problem; destroyed with the thread's cache.
struct Plan {
  cublasLtMatmulDesc_t op = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  cublasLtMatmulAlgo_t algo{};
  size_t workspace = 0;
  bool lt = true;  // false: cuBLASLt found no algorithm; run classic cuBLAS instead
  Plan() = default;
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;
  ~Plan() {  // host-side frees only: safe at thread exit; errors here have nowhere to go
    if (c) cublasLtMatrixLayoutDestroy(c);
    if (b) cublasLtMatrixLayoutDestroy(b);
    if (a) cublasLtMatrixLayoutDestroy(a);
    if (op) cublasLtMatmulDescDestroy(op);
  }
};

cublasComputeType_t compute_type(DType in) {
  return in == DType::f32 && tf32_allowed.load() ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
}

cublasLtMatrixLayout_t make_layout(cudaDataType_t type, int64_t rows, int64_t cols, int64_t ld, int64_t batch,
                                   int64_t batch_stride) {
  cublasLtMatrixLayout_t l = nullptr;
  CUBLASLT_CHECK(cublasLtMatrixLayoutCreate(&l, type, uint64_t(rows), uint64_t(cols), ld));
  if (batch > 1) {
    int32_t count = int32_t(batch);
    CUBLASLT_CHECK(cublasLtMatrixLayoutSetAttribute(l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &count, sizeof(count)));
    CUBLASLT_CHECK(cublasLtMatrixLayoutSetAttribute(l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &batch_stride,
                                                    sizeof(batch_stride)));
  }
  return l;
}

cublasOperation_t op_of(const gemm::Operand& g) { return g.transpose ? CUBLAS_OP_T : CUBLAS_OP_N; }

cublasLtEpilogue_t lt_epilogue(gemm::Epilogue e) {
  switch (e) {
    case gemm::Epilogue::none: return CUBLASLT_EPILOGUE_DEFAULT;
    case gemm::Epilogue::bias: return CUBLASLT_EPILOGUE_BIAS;
    case gemm::Epilogue::gelu_aux: return CUBLASLT_EPILOGUE_GELU_AUX;
    case gemm::Epilogue::gelu_aux_bias: return CUBLASLT_EPILOGUE_GELU_AUX_BIAS;
  }
  fail<Error>("[cuda gemm] unknown epilogue ", int(e));
}

// d_ptr: the matrix D the call writes (out, or the pre-activation when the GELU runs apart);
// aux_ptr: the pre-activation when the GELU is fused (its alignment picks kernels: cuBLASLt
// reads the pointer's value in the heuristic, so it is set before and part of the key).
Plan& plan_for(const gemm::Problem& p, DType in, DType out, const gemm::EpilogueChoice& epi, const void* d_ptr,
               void* aux_ptr) {
  const cublasComputeType_t compute = compute_type(in);
  const int64_t in_size = int64_t(dtype_size(in)), out_size = int64_t(dtype_size(out));
  const gemm::Operand &A = p.A, &B = p.B;
  const int64_t align_a = gemm::alignment(A.t.raw_data(), {A.ld * in_size, A.batch_stride * in_size});
  const int64_t align_b = gemm::alignment(B.t.raw_data(), {B.ld * in_size, B.batch_stride * in_size});
  const int64_t align_c = gemm::alignment(d_ptr, {p.m * out_size, p.m * p.n * out_size});
  const int64_t align_aux =
      epi.fused_gelu ? gemm::alignment(aux_ptr, {epi.aux_ld * out_size, epi.aux_batch_stride * out_size}) : 0;
  const Key key{int64_t(in), int64_t(out), int64_t(compute), int64_t(epi.epilogue), A.transpose, B.transpose,
                p.m, p.n, p.k, p.batch, A.rows, A.cols, A.ld, A.batch_stride,
                B.rows, B.cols, B.ld, B.batch_stride, align_a, align_b, align_c, align_aux, force_classic.load()};
  thread_local std::map<Key, std::unique_ptr<Plan>> cache;
  auto it = cache.find(key);
  if (it != cache.end()) return *it->second;

  if (cache.size() >= 4096) cache.clear();  // shapes that keep changing (growing KV caches) stay bounded
  auto plan = std::make_unique<Plan>();
  CUBLASLT_CHECK(cublasLtMatmulDescCreate(&plan->op, compute, CUDA_R_32F));
  const cublasOperation_t ta = op_of(A), tb = op_of(B);
  CUBLASLT_CHECK(cublasLtMatmulDescSetAttribute(plan->op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta)));
  CUBLASLT_CHECK(cublasLtMatmulDescSetAttribute(plan->op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb)));
  if (epi.epilogue != gemm::Epilogue::none) {  // a bias [N] runs along D's (column-major) rows, shared by every batch
    const cublasLtEpilogue_t e = lt_epilogue(epi.epilogue);
    CUBLASLT_CHECK(cublasLtMatmulDescSetAttribute(plan->op, CUBLASLT_MATMUL_DESC_EPILOGUE, &e, sizeof(e)));
  }
  if (epi.fused_gelu) {  // the aux (pre-activation) is laid out as D; its type defaults to D's
    CUBLASLT_CHECK(cublasLtMatmulDescSetAttribute(plan->op, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, &aux_ptr,
                                                  sizeof(aux_ptr)));
    CUBLASLT_CHECK(cublasLtMatmulDescSetAttribute(plan->op, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD, &epi.aux_ld,
                                                  sizeof(epi.aux_ld)));
    if (p.batch > 1)
      CUBLASLT_CHECK(cublasLtMatmulDescSetAttribute(plan->op, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_BATCH_STRIDE,
                                                    &epi.aux_batch_stride, sizeof(epi.aux_batch_stride)));
  }
  const cudaDataType_t tin = cuda_type(in), tout = cuda_type(out);
  plan->a = make_layout(tin, A.rows, A.cols, A.ld, p.batch, A.batch_stride);
  plan->b = make_layout(tin, B.rows, B.cols, B.ld, p.batch, B.batch_stride);
  plan->c = make_layout(tout, p.m, p.n, p.m, p.batch, p.m * p.n);

  cublasLtMatmulPreference_t pref = nullptr;
  CUBLASLT_CHECK(cublasLtMatmulPreferenceCreate(&pref));
  // Destroy the preference on every path out (the heuristic call may throw).
  std::unique_ptr<cublasLtMatmulPreferenceOpaque_t, cublasStatus_t (*)(cublasLtMatmulPreference_t)> guard(
      pref, cublasLtMatmulPreferenceDestroy);
  const uint64_t ws = kMaxWorkspace;
  const uint32_t al[3] = {uint32_t(align_a), uint32_t(align_b), uint32_t(align_c)};
  CUBLASLT_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ws)));
  CUBLASLT_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &al[0], 4));
  CUBLASLT_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &al[1], 4));
  CUBLASLT_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &al[2], 4));
  CUBLASLT_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &al[2], 4));
  cublasLtMatmulHeuristicResult_t found{};
  int count = 0;
  // Some problems get no algorithm (odd alignments, degenerate shapes with a bias or GELU
  // epilogue: INVALID_VALUE or NOT_SUPPORTED, or zero results): those run on classic cuBLAS.
  const cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic(handle(), plan->op, plan->a, plan->b, plan->c, plan->c,
                                                           pref, 1, &found, &count);
  plan->lt = !force_classic && st == CUBLAS_STATUS_SUCCESS && count > 0 && found.state == CUBLAS_STATUS_SUCCESS;
  if (st != CUBLAS_STATUS_SUCCESS && st != CUBLAS_STATUS_NOT_SUPPORTED && st != CUBLAS_STATUS_INVALID_VALUE)
    CUBLASLT_CHECK(st);  // a real failure (not initialised, allocation, ...)
  if (plan->lt) plan->algo = found.algo, plan->workspace = found.workspaceSize;
  return *cache.emplace(key, std::move(plan)).first->second;
}

// out (+)= bias when K == 0: no GEMM to carry the epilogue.
void empty_product(const Tensor& out, bool accumulate, const Tensor& bias) {
  if (!bias.defined()) {
    if (!accumulate) fill_tensor(out, 0.0);
    return;
  }
  Tensor b = to_dtype(reshape(bias, {out.size(-1)}), out.dtype());  // [N]: a [N, 1] bias must not broadcast down
  copy_(out, accumulate ? add(out, b) : expand(b, out.shape()));
}

// The classic-cuBLAS GEMM of a problem cuBLASLt declined: the bias is written into (or added
// to) out first and the GEMM accumulates onto it.
void classic_gemm(const gemm::Problem& p, const Tensor& out, bool accumulate, const Tensor& bias) {
  if (bias.defined()) {
    copy_(out, accumulate ? add(out, bias) : expand(bias, out.shape()));
    accumulate = true;
  }
  const cudaDataType_t tin = cuda_type(p.A.t.dtype());
  const float alpha = 1.f, beta = accumulate ? 1.f : 0.f;
  CUBLAS_CHECK(cublasGemmStridedBatchedEx_64(classic_handle(), op_of(p.A), op_of(p.B), p.m, p.n, p.k, &alpha,
                                             p.A.t.raw_data(), tin, p.A.ld, p.A.batch_stride, p.B.t.raw_data(), tin,
                                             p.B.ld, p.B.batch_stride, &beta, out.raw_data(), cuda_type(out.dtype()),
                                             p.m, p.m * p.n, p.batch, compute_type(p.A.t.dtype()),
                                             CUBLAS_GEMM_DEFAULT));
}

}  // namespace

void use_classic_cublas_for_testing(bool on) { force_classic = on; }

void set_allow_tf32(bool on) { tf32_allowed = on; }
bool allow_tf32() { return tf32_allowed; }

void matmul_into(const char* name, const Tensor& a, const Tensor& b, const Tensor& out, bool accumulate,
                 const Tensor& bias, const Tensor& gelu_pre) {
  require(name, out.device());
  const bool gelu = gelu_pre.defined();
  check<NoKernelError>(a.device() == out.device() && b.device() == out.device() &&
                           (!bias.defined() || bias.device() == out.device()) &&
                           (!gelu || gelu_pre.device() == out.device()),
                       "[", name, "] operands on ", a.device().str(), " and ", b.device().str(), ", output on ",
                       out.device().str());
  const DType in = a.dtype();
  check<DTypeError>(in == DType::f32 || in == DType::bf16 || in == DType::f16, "[", name,
                    "] cuda GEMMs take f32, bf16 or f16, got ", dtype_name(in), " (f64 is CPU-only)");
  check<DTypeError>(b.dtype() == in && (out.dtype() == in || out.dtype() == DType::f32), "[", name,
                    "] cuda GEMM dtypes: ", dtype_name(in), " @ ", dtype_name(b.dtype()), " -> ",
                    dtype_name(out.dtype()), " (operands must match; the output is theirs or f32)");
  check<ValueError>(out.is_contiguous(), "[", name, "] needs a contiguous output");
  check<ValueError>(!gelu || (gelu_pre.shape() == out.shape() && gelu_pre.dtype() == out.dtype() &&
                              gelu_pre.is_contiguous() && !accumulate &&
                              (out.numel() == 0 || gelu_pre.raw_data() != out.raw_data())),
                    "[", name, "] the GELU epilogue needs a contiguous pre-activation of the output's shape and dtype ",
                    "(", shape_str(out.shape()), " ", dtype_name(out.dtype()), "), apart from the output, and no ",
                    "accumulation");
  NoGradGuard no_grad;
  const int64_t M = out.size(-2), N = out.size(-1), K = a.size(-1);
  check<ShapeError>(a.size(-2) == M && b.size(-2) == K && b.size(-1) == N && (!bias.defined() || bias.numel() == N),
                    "[", name, "] shapes ", shape_str(a.shape()), " @ ", shape_str(b.shape()), " -> ",
                    shape_str(out.shape()), bias.defined() ? " + bias " + shape_str(bias.shape()) : "");
  const int64_t nb = shape_numel(Shape(out.shape().begin(), out.shape().end() - 2));
  if (out.numel() == 0) return;
  // Where the GEMM's (+ bias) result goes when the GELU does not run inside it.
  const Tensor& d = gelu ? gelu_pre : out;
  auto gelu_apart = [&] {
    if (!gelu) return;
    count_kernel("gelu_tanh", out.numel());
    unary_forward(cpu::Unary::GeluTanh, gelu_pre, out);
  };
  if (K == 0) {
    empty_product(d, accumulate, bias);
    gelu_apart();
    return;
  }
  check<ShapeError>(nb < INT_MAX, "[", name, "] batch too large for cuBLASLt: ", shape_str(out.shape()));
  const gemm::Problem p = gemm::describe(a, b, out.shape());
  Tensor bvec;  // bias in out's dtype, contiguous and 256-byte aligned (a fresh allocation is)
  if (bias.defined()) {
    bvec = to_dtype(reshape(bias, {N}), out.dtype());
    if (!bvec.is_contiguous() || reinterpret_cast<uintptr_t>(bvec.raw_data()) % 256) bvec = bvec.clone();
  }
  void* aux = gelu ? gelu_pre.raw_data() : nullptr;
  const int64_t out_size = int64_t(dtype_size(out.dtype()));
  const gemm::EpilogueChoice epi =
      gemm::choose_epilogue(p, bias.defined(), gelu, gelu ? gemm::alignment(aux, {N * out_size, M * N * out_size}) : 0);
  const Tensor& target = epi.fused_gelu ? out : d;  // the matrix D of this call
  Plan& plan = plan_for(p, in, out.dtype(), epi, target.raw_data(), epi.fused_gelu ? aux : nullptr);
  count_kernel(name, 2 * M * N * K * nb);
  if (!plan.lt) {
    classic_gemm(p, d, accumulate, bvec);
    gelu_apart();
    return;
  }
  if (bvec.defined()) {
    const void* bp = bvec.raw_data();
    CUBLASLT_CHECK(cublasLtMatmulDescSetAttribute(plan.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bp, sizeof(bp)));
  }
  if (epi.fused_gelu)
    CUBLASLT_CHECK(
        cublasLtMatmulDescSetAttribute(plan.op, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, &aux, sizeof(aux)));
  Tensor workspace;  // stream-ordered: freed after this call, reused only by later work on stream 0
  if (plan.workspace)
    workspace = empty({int64_t((plan.workspace + 3) / 4)}, DType::f32, out.device());
  const float alpha = 1.f, beta = accumulate ? 1.f : 0.f;
  CUBLASLT_CHECK(cublasLtMatmul(handle(), plan.op, &alpha, p.A.t.raw_data(), plan.a, p.B.t.raw_data(), plan.b, &beta,
                                target.raw_data(), plan.c, target.raw_data(), plan.c, &plan.algo,
                                workspace.defined() ? workspace.raw_data() : nullptr, plan.workspace, /*stream=*/0));
  if (!epi.fused_gelu) gelu_apart();
}

}  // namespace engine::cuda
#endif  // ENGINE_CUDA
