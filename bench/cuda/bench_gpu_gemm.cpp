// GEMM rate on the GPU: the engine's matmul (engine::matmul on cuda tensors, what every model
// layer calls) next to cuBLAS's own cublasGemmEx on the same device buffers, in the same
// process, back to back per shape: bf16 (tensor cores, f32 accumulate), TF32 (f32 storage)
// and strict f32. Shapes: square 4096 and the GEMMs of GPT-2 small at batch 8 × seq 1024
// (8192 tokens: c_attn, attn c_proj, mlp c_fc, mlp c_proj, the LM head). One JSON line per
// (dtype, shape) on stdout, read by bench/cuda/gpu_table.py:
//
//   {"bench":"gemm","dtype":"bf16","shape":"4096x4096x4096","m":..,"n":..,"k":..,
//    "ours_tflops":..,"cublas_tflops":..,"ours_over_cublas":..}
//
// and one row for GPT-2's MLP c_fc with its gelu_new (8192×768 → 3072, bf16, Conv1D layout):
// linear_gelu_tanh (one cuBLASLt call, GELU epilogue) against linear then gelu_tanh:
//
//   {"bench":"gemm_gelu","dtype":"bf16","shape":"gpt2.mlp.c_fc+gelu_new","m":..,"n":..,"k":..,
//    "fused_ms":..,"unfused_ms":..,"unfused_over_fused":..}
//
//   bench_gpu_gemm [--reps 20] [--quick]
// Exit code 2 with "no CUDA device: nothing measured" when no GPU is present.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>
#include <vector>

#include "engine/backend/cuda/cuda_device.h"
#include "engine/backend/cuda/cuda_gemm.h"
#include "engine/engine.h"

namespace {
using namespace engine;

void cuda_ok(cudaError_t e, const char* what) {
  if (e != cudaSuccess) fail<Error>("[bench_gpu_gemm] ", what, ": ", cudaGetErrorString(e));
}
void cublas_ok(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS) fail<Error>("[bench_gpu_gemm] ", what, ": cuBLAS status ", int(s));
}

struct Shape3 {
  std::string name;
  int64_t m, n, k;
};

// Seconds per call of `fn` on stream 0: `reps` calls between two events after 3 warm-ups.
template <typename Fn>
double time_per_call(Fn&& fn, int reps) {
  for (int i = 0; i < 3; ++i) fn();
  cuda_ok(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  cudaEvent_t start, stop;
  cuda_ok(cudaEventCreate(&start), "cudaEventCreate");
  cuda_ok(cudaEventCreate(&stop), "cudaEventCreate");
  cuda_ok(cudaEventRecord(start, 0), "cudaEventRecord");
  for (int i = 0; i < reps; ++i) fn();
  cuda_ok(cudaEventRecord(stop, 0), "cudaEventRecord");
  cuda_ok(cudaEventSynchronize(stop), "cudaEventSynchronize");
  float ms = 0;
  cuda_ok(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
  cuda_ok(cudaEventDestroy(start), "cudaEventDestroy");
  cuda_ok(cudaEventDestroy(stop), "cudaEventDestroy");
  return double(ms) / 1e3 / reps;
}

// label: "bf16" | "tf32" | "f32".
void run_one(cublasHandle_t handle, const std::string& label, const Shape3& s, int reps) {
  const DType dt = label == "bf16" ? DType::bf16 : DType::f32;
  Generator gen(3);
  const Tensor a = randn({s.m, s.k}, DType::f32, gen).to(dt).to(Device::cuda());
  const Tensor b = randn({s.k, s.n}, DType::f32, gen).to(dt).to(Device::cuda());
  const Tensor c = empty({s.m, s.n}, dt, Device::cuda());
  cuda::set_allow_tf32(label == "tf32");
  NoGradGuard no_grad;
  const double ours = time_per_call([&] { (void)matmul(a, b); }, reps);

  // cuBLAS is column-major: row-major C[m,n] = A[m,k] B[k,n] is column-major Cᵀ = Bᵀ Aᵀ.
  const cudaDataType_t type = dt == DType::bf16 ? CUDA_R_16BF : CUDA_R_32F;
  const cublasComputeType_t compute = label == "tf32" ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  const float alpha = 1.f, beta = 0.f;
  auto ref = [&] {
    cublas_ok(cublasGemmEx(handle, CUBLAS_OP_N, CUBLAS_OP_N, int(s.n), int(s.m), int(s.k), &alpha, b.raw_data(), type,
                           int(s.n), a.raw_data(), type, int(s.k), &beta, c.raw_data(), type, int(s.n), compute,
                           CUBLAS_GEMM_DEFAULT),
              "cublasGemmEx");
  };
  const double theirs = time_per_call(ref, reps);
  cuda::set_allow_tf32(false);
  const double flops = 2.0 * double(s.m) * double(s.n) * double(s.k);
  std::printf(
      "{\"bench\":\"gemm\",\"dtype\":\"%s\",\"shape\":\"%s\",\"m\":%lld,\"n\":%lld,\"k\":%lld,"
      "\"ours_tflops\":%.2f,\"cublas_tflops\":%.2f,\"ours_over_cublas\":%.3f}\n",
      label.c_str(), s.name.c_str(), (long long)s.m, (long long)s.n, (long long)s.k, flops / ours / 1e12,
      flops / theirs / 1e12, theirs / ours);
  std::fflush(stdout);
}

// GPT-2 c_fc + gelu_new forward (no autograd) in bf16: fused against the composite.
void run_gelu(int reps) {
  const int64_t m = 8 * 1024, k = 768, n = 3072;
  Generator gen(4);
  const Tensor x = randn({m, k}, DType::f32, gen).to(DType::bf16).to(Device::cuda());
  const Tensor w = (randn({k, n}, DType::f32, gen) * 0.02).to(DType::bf16).to(Device::cuda());
  const Tensor b = randn({n}, DType::f32, gen).to(DType::bf16).to(Device::cuda());
  NoGradGuard no_grad;
  const double fused = time_per_call([&] { (void)linear_gelu_tanh(x, w, b, WeightLayout::in_out); }, reps);
  const double unfused = time_per_call([&] { (void)gelu_tanh(linear(x, w, b, WeightLayout::in_out)); }, reps);
  std::printf(
      "{\"bench\":\"gemm_gelu\",\"dtype\":\"bf16\",\"shape\":\"gpt2.mlp.c_fc+gelu_new\",\"m\":%lld,\"n\":%lld,"
      "\"k\":%lld,\"fused_ms\":%.4f,\"unfused_ms\":%.4f,\"unfused_over_fused\":%.3f}\n",
      (long long)m, (long long)n, (long long)k, fused * 1e3, unfused * 1e3, unfused / fused);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli("GEMM rate: the engine's matmul vs cuBLAS on the GPU");
  int reps = 20;
  bool quick = false;
  cli.add_option("--reps", reps, "timed calls per (dtype, shape)")->capture_default_str();
  cli.add_flag("--quick", quick, "square 4096 only");
  CLI11_PARSE(cli, argc, argv);
  if (!cuda::available()) {
    std::fprintf(stderr, "no CUDA device: nothing measured (built with CUDA: %d)\n", int(cuda::built()));
    return 2;
  }
  try {
    const int64_t tokens = 8 * 1024;  // GPT-2 small, batch 8 × seq 1024
    std::vector<Shape3> shapes = {{"4096x4096x4096", 4096, 4096, 4096}};
    if (!quick) {
      shapes.push_back({"gpt2.c_attn", tokens, 2304, 768});
      shapes.push_back({"gpt2.attn.c_proj", tokens, 768, 768});
      shapes.push_back({"gpt2.mlp.c_fc", tokens, 3072, 768});
      shapes.push_back({"gpt2.mlp.c_proj", tokens, 768, 3072});
      shapes.push_back({"gpt2.lm_head", tokens, 50257, 768});
    }
    cublasHandle_t handle;
    cublas_ok(cublasCreate(&handle), "cublasCreate");
    cublas_ok(cublasSetStream(handle, 0), "cublasSetStream");
    for (const char* label : {"bf16", "tf32", "f32"})
      for (const Shape3& s : shapes) run_one(handle, label, s, reps);
    if (!quick) run_gelu(reps);
    cublas_ok(cublasDestroy(handle), "cublasDestroy");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_gpu_gemm: %s\n", e.what());
    return 1;
  }
  return 0;
}
