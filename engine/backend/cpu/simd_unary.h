// Elementwise unary kernels over n contiguous elements, forward and derivative.
// float runs Highway SIMD code chosen at run time (AVX2 / AVX-512 / ...); double runs plain
// scalar C++ (the f64 gradcheck path). Both split the range into fixed chunks handed to
// tbb::parallel_for, and every element is computed the same way wherever it falls, so the
// result is bit-identical for any number of threads.
#pragma once
#include <cstdint>

namespace engine::cpu {

enum class Unary {
  Exp, Log, Sqrt, Rsqrt, Tanh, Sigmoid, Relu,
  Gelu,      // exact: x·Φ(x), Φ the standard normal CDF (torch's nn.functional.gelu)
  GeluTanh,  // HF "gelu_new": 0.5x(1 + tanh(√(2/π)(x + 0.044715x³)))
  Silu, Neg, Abs, Square,
};

// "exp", "gelu_tanh", ... (for error messages and counters).
const char* unary_name(Unary op);

// Which tensors the derivative reads: the input x, the output y, or both. An op saves only
// these for backward; the kernel is handed nullptr for the other.
bool unary_grad_needs_input(Unary op);
bool unary_grad_needs_output(Unary op);

// y[i] = f(x[i]). x and y may alias.
template <class T>
void unary_forward(Unary op, const T* x, T* y, int64_t n);

// gx[i] = gy[i] · f'(x[i]); x or y may be nullptr when the op does not need it (see above).
// gx may alias gy.
template <class T>
void unary_backward(Unary op, const T* x, const T* y, const T* gy, T* gx, int64_t n);

}  // namespace engine::cpu
