// Row-wise kernels over a contiguous row-major [rows, cols] matrix, reducing along cols:
// softmax / log_softmax, layer_norm, rms_norm and fused cross-entropy, forward and backward.
// float runs Highway SIMD code picked at run time; double runs scalar C++ (f64 gradchecks).
// Rows run in parallel (oneTBB); reductions across rows (dgamma, dbeta) use partial sums over
// row blocks fixed by the shape, added in order, so results are bit-identical for any
// number of threads. Parameter gradients are written (not accumulated into).
#pragma once
#include <cstdint>

namespace engine::cpu {

// y = softmax(x) along each row (max-subtracted, so ±1000 is fine). x and y may alias.
template <class T>
void softmax_forward(const T* x, T* y, int64_t rows, int64_t cols);
// y = x - logsumexp(x) along each row.
template <class T>
void log_softmax_forward(const T* x, T* y, int64_t rows, int64_t cols);
// gx = y ⊙ (gy − Σ gy⊙y), from the softmax output y. gx may alias gy.
template <class T>
void softmax_backward(const T* y, const T* gy, T* gx, int64_t rows, int64_t cols);
// gx = gy − exp(y)·Σ gy, from the log_softmax output y. gx may alias gy.
template <class T>
void log_softmax_backward(const T* y, const T* gy, T* gx, int64_t rows, int64_t cols);

// y = (x − mean)·rstd·gamma + beta with rstd = 1/√(biased var + eps). gamma/beta may be
// null (1 and 0); mean/rstd ([rows]) are saved for backward when non-null.
template <class T>
void layer_norm_forward(const T* x, const T* gamma, const T* beta, double eps, T* y, T* mean,
                        T* rstd, int64_t rows, int64_t cols);
// gx ([rows, cols]), dgamma and dbeta ([cols]) are each computed only when non-null, so a
// frozen LayerNorm costs no parameter-gradient work. gamma null means 1. When only dbeta
// is wanted, x / mean / rstd are not read (and may be null).
template <class T>
void layer_norm_backward(const T* x, const T* gamma, const T* mean, const T* rstd, const T* gy,
                         T* gx, T* dgamma, T* dbeta, int64_t rows, int64_t cols);

// T5 style: y = x·rstd·weight, rstd = 1/√(mean(x²) + eps) (no mean subtraction, no bias).
// weight may be null (1); rstd ([rows]) is saved when non-null.
template <class T>
void rms_norm_forward(const T* x, const T* weight, double eps, T* y, T* rstd, int64_t rows,
                      int64_t cols);
// gx and dweight each computed only when non-null.
template <class T>
void rms_norm_backward(const T* x, const T* weight, const T* rstd, const T* gy, T* gx,
                       T* dweight, int64_t rows, int64_t cols);

struct CrossEntropyOptions {
  int64_t ignore_index = -100;   // rows with this target get loss 0 and gradient 0
  double label_smoothing = 0.0;  // ε: loss = (1−ε)·nll + ε·mean_c(−log p_c), as torch
};

// Per-row loss and logsumexp (lse, saved for backward) from logits rows and int64 targets,
// in one pass over the logits. Throws engine::IndexError for a target outside [0, cols)
// that is not ignore_index.
template <class T>
void cross_entropy_forward(const T* logits, const int64_t* targets, T* loss, T* lse,
                           int64_t rows, int64_t cols, const CrossEntropyOptions& opt);
// gx = (softmax(logits) − smoothed one-hot)·g[row·g_stride]: g_stride 0 broadcasts one
// scalar (reduction mean / sum), 1 takes a per-row gradient (reduction none).
template <class T>
void cross_entropy_backward(const T* logits, const int64_t* targets, const T* lse, const T* g,
                            int64_t g_stride, T* gx, int64_t rows, int64_t cols,
                            const CrossEntropyOptions& opt);

}  // namespace engine::cpu
