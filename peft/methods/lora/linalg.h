// Dense decompositions for PiSSA and OLoRA's initialisations: thin SVD, reduced QR and
// torch.svd_lowrank's randomized SVD, in f64 on OpenBLAS's bundled LAPACK (dgesdd / dgeqrf /
// dorgqr, declared in linalg.cpp: liblapacke is not needed). Inputs and outputs are
// row-major engine tensors; the column-major round trip stays inside linalg.cpp.
#pragma once
#include <cstdint>

#include "engine/core/tensor.h"

namespace peft::lora {

using engine::Tensor;

// a [m, n] = U · diag(S) · Vh with k = min(m, n): U [m, k], S [k] (descending), Vh [k, n].
struct Svd {
  Tensor U, S, Vh;
};
// a [m, n] = Q · R with k = min(m, n): Q [m, k] (orthonormal columns), R [k, n] (upper).
struct Qr {
  Tensor Q, R;
};

// Any float input; results are f64 (torch.linalg.svd(full_matrices=False) / torch.linalg.qr).
Svd svd(const Tensor& a);
Qr qr(const Tensor& a);

// torch.svd_lowrank(a, q, niter): a rank-q approximate SVD from a Gaussian sketch refined
// by `niter` subspace iterations (Halko et al. 2011, alg. 4.4), drawn from `gen`.
// U [m, q], S [q], Vh [q, n].
Svd svd_lowrank(const Tensor& a, int64_t q, int64_t niter, engine::Generator& gen);

}  // namespace peft::lora
