#include "engine/autograd/gradcheck.h"

#include <cmath>
#include <sstream>

#include "engine/autograd/grad_mode.h"

namespace engine::autograd {
namespace {

double dot(const Tensor& a, const std::vector<double>& r) {
  std::vector<double> v = a.to(DType::f64).to_vector<double>();
  double s = 0;
  for (size_t i = 0; i < v.size(); ++i) s += v[i] * r[i];
  return s;
}

// Storage offsets (in elements) of x's elements in row-major logical order.
std::vector<int64_t> element_offsets(const Tensor& x) {
  std::vector<int64_t> offs;
  std::vector<int64_t> idx(size_t(x.dim()), 0);
  for (int64_t e = 0; e < x.numel(); ++e) {
    int64_t off = x.offset();
    for (size_t d = 0; d < idx.size(); ++d) off += idx[d] * x.strides()[d];
    offs.push_back(off);
    for (int64_t d = x.dim() - 1; d >= 0; --d) {
      if (++idx[size_t(d)] < x.shape()[size_t(d)]) break;
      idx[size_t(d)] = 0;
    }
  }
  return offs;
}

}  // namespace

GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                          const std::vector<Tensor>& inputs, double eps, double atol, double rtol) {
  GradcheckResult result;
  for (const Tensor& x : inputs) x.impl()->grad.reset();
  Tensor out = fn(inputs);
  Generator gen(1234);
  Tensor cot = randn(out.shape(), out.dtype(), gen);
  std::vector<double> r = cot.to(DType::f64).to_vector<double>();
  out.backward(cot);

  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& x = inputs[i];
    if (!x.requires_grad()) continue;
    check<DTypeError>(x.dtype() == DType::f64, "[gradcheck] input ", i, " must be f64");
    std::vector<double> analytic =
        x.grad().defined() ? x.grad().to_vector<double>() : std::vector<double>(size_t(x.numel()), 0.0);
    double* base = static_cast<double*>(x.storage()->data());
    std::vector<int64_t> offs = element_offsets(x);
    for (size_t e = 0; e < offs.size(); ++e) {
      double saved = base[offs[e]], plus, minus;
      {
        NoGradGuard no_grad;
        base[offs[e]] = saved + eps;
        plus = dot(fn(inputs), r);
        base[offs[e]] = saved - eps;
        minus = dot(fn(inputs), r);
        base[offs[e]] = saved;
      }
      double numeric = (plus - minus) / (2 * eps), err = std::abs(numeric - analytic[e]);
      result.max_abs_error = std::max(result.max_abs_error, err);
      if (result.ok && err > atol + rtol * std::abs(numeric)) {
        std::ostringstream os;
        os << "input " << i << " element " << e << ": analytic " << analytic[e] << " vs numeric "
           << numeric;
        result.ok = false;
        result.message = os.str();
      }
    }
  }
  return result;
}

}  // namespace engine::autograd
