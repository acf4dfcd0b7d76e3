// Thin SVD / reduced QR over LAPACK (see linalg.h). LAPACK is column-major: a row-major
// [m, n] buffer is the column-major [n, m] transpose, so we transpose on the way in and out
// rather than reinterpret, which keeps every formula below in the textbook orientation.
#include "peft/methods/lora/linalg.h"

#include <algorithm>
#include <vector>

#include "engine/engine.h"

extern "C" {
// LP64 Fortran interfaces exported by libopenblas.
void dgesdd_(const char* jobz, const int* m, const int* n, double* a, const int* lda, double* s, double* u,
             const int* ldu, double* vt, const int* ldvt, double* work, const int* lwork, int* iwork, int* info);
void dgeqrf_(const int* m, const int* n, double* a, const int* lda, double* tau, double* work, const int* lwork,
             int* info);
void dorgqr_(const int* m, const int* n, const int* k, double* a, const int* lda, const double* tau, double* work,
             const int* lwork, int* info);
}

namespace peft::lora {

namespace {

using engine::DType;

// Column-major copy of a 2-d tensor (any float dtype, any strides).
std::vector<double> to_col_major(const Tensor& a, int64_t& m, int64_t& n) {
  engine::check<engine::ShapeError>(a.dim() == 2, "[linalg] expected a 2-d matrix, got ", a.dim(), " dims");
  m = a.size(0), n = a.size(1);
  const std::vector<double> rows = engine::to_dtype(a, DType::f64).contiguous().to_vector<double>();
  std::vector<double> col(rows.size());
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) col[j * m + i] = rows[i * n + j];
  return col;
}

// The leading [rows, cols] block of a column-major buffer with leading dimension ld, row-major.
Tensor from_col_major(const std::vector<double>& col, int64_t ld, int64_t rows, int64_t cols) {
  std::vector<double> out(static_cast<size_t>(rows * cols));
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) out[i * cols + j] = col[j * ld + i];
  return engine::from_vector(out, {rows, cols});
}

void check_info(int info, const char* routine, int64_t m, int64_t n) {
  engine::check<engine::ValueError>(info == 0, "[linalg] LAPACK ", routine, " failed on a [", m, ", ", n,
                                    "] matrix (info ", info, ")");
}

}  // namespace

Svd svd(const Tensor& a) {
  int64_t m64, n64;
  std::vector<double> buf = to_col_major(a, m64, n64);
  const int m = int(m64), n = int(n64), k = std::min(m, n);
  std::vector<double> s(k), u(size_t(m) * k), vt(size_t(k) * n);
  std::vector<int> iwork(8 * size_t(k));
  int lwork = -1, info = 0;
  double query = 0;
  const char jobz = 'S';  // thin: U [m,k], Vᵀ [k,n]
  dgesdd_(&jobz, &m, &n, buf.data(), &m, s.data(), u.data(), &m, vt.data(), &k, &query, &lwork, iwork.data(), &info);
  check_info(info, "dgesdd (workspace query)", m, n);
  lwork = int(query);
  std::vector<double> work(std::max(lwork, 1));
  dgesdd_(&jobz, &m, &n, buf.data(), &m, s.data(), u.data(), &m, vt.data(), &k, work.data(), &lwork, iwork.data(),
          &info);
  check_info(info, "dgesdd", m, n);
  return {from_col_major(u, m, m, k), engine::from_vector(s, {k}), from_col_major(vt, k, k, n)};
}

Qr qr(const Tensor& a) {
  int64_t m64, n64;
  std::vector<double> buf = to_col_major(a, m64, n64);
  const int m = int(m64), n = int(n64), k = std::min(m, n);
  std::vector<double> tau(std::max(k, 1));
  int lwork = -1, info = 0;
  double query = 0;
  dgeqrf_(&m, &n, buf.data(), &m, tau.data(), &query, &lwork, &info);
  check_info(info, "dgeqrf (workspace query)", m, n);
  lwork = std::max(int(query), n);
  std::vector<double> work(lwork);
  dgeqrf_(&m, &n, buf.data(), &m, tau.data(), work.data(), &lwork, &info);
  check_info(info, "dgeqrf", m, n);
  // R is the upper triangle of the first k rows; read it before dorgqr overwrites buf.
  Tensor r = from_col_major(buf, m, k, n);
  double* rp = r.data<double>();
  for (int64_t i = 1; i < k; ++i)
    for (int64_t j = 0; j < std::min<int64_t>(i, n); ++j) rp[i * n + j] = 0.0;
  // Q's first k columns from the Householder reflectors.
  dorgqr_(&m, &k, &k, buf.data(), &m, tau.data(), work.data(), &lwork, &info);
  check_info(info, "dorgqr", m, n);
  return {from_col_major(buf, m, m, k), r};
}

Svd svd_lowrank(const Tensor& a_in, int64_t q, int64_t niter, engine::Generator& gen) {
  Tensor a = engine::to_dtype(a_in, DType::f64);
  const bool wide = a.size(0) < a.size(1);
  if (wide) a = a.transpose(0, 1).contiguous();  // torch works on the tall orientation
  const int64_t n = a.size(1);
  engine::check<engine::ValueError>(q > 0 && q <= n, "[svd_lowrank] rank ", q, " out of range for a [", a.size(0),
                                    ", ", a.size(1), "] matrix");
  Tensor at = a.transpose(0, 1);
  // get_approximate_basis: Q spans the range of A·Ω, refined by power iterations.
  Tensor basis = qr(engine::matmul(a, engine::randn({n, q}, DType::f64, gen))).Q;  // [m,q]
  for (int64_t i = 0; i < niter; ++i) {
    basis = qr(engine::matmul(at, basis)).Q;  // [n,q]
    basis = qr(engine::matmul(a, basis)).Q;   // [m,q]
  }
  Svd small = svd(engine::matmul(basis.transpose(0, 1), a));  // Qᵀ A [q,n] = U' S Vh
  Tensor u = engine::matmul(basis, small.U);                  // [m,q]
  if (!wide) return {u, small.S, small.Vh};
  return {small.Vh.transpose(0, 1).contiguous(), small.S, u.transpose(0, 1).contiguous()};  // back to [n_orig...]
}

}  // namespace peft::lora
