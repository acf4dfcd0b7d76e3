// PiSSA and OLoRA: LoRA initialised from a decomposition of the base weight, which is
// replaced by the residual so that the model's output is unchanged at the start (init.h).
// Computed in f64 (PEFT: f32), then stored in the tensors' own dtypes.
#include <string>

#include "engine/engine.h"
#include "peft/methods/lora/init.h"
#include "peft/methods/lora/linalg.h"

namespace peft::lora {

namespace {

using engine::DType;

// The rank must fit the thin factors of W [out, in].
void check_rank(const LoraLinear& layer, int64_t r, const std::string& mode) {
  const int64_t k = std::min(layer.in_features(), layer.out_features());
  engine::check<engine::ConfigError>(r <= k, "[LORA] init_lora_weights=", mode, " needs r <= min(in, out) = ", k,
                                     ", got r=", r);
}

// A, B := a, b; W := W − s·B·A (the residual), so that W + s·B·A is the old W.
void install(LoraLinear& layer, const std::string& adapter, const Tensor& w, const Tensor& a, const Tensor& b) {
  engine::NoGradGuard no_grad;
  const double s = layer.settings(adapter).scaling;
  engine::copy_(layer.lora_A(adapter), a);                       // [r,in]
  engine::copy_(layer.lora_B(adapter), b);                       // [out,r]
  layer.set_base_weight_out_in(w - engine::matmul(b, a) * s);    // [out,in]
}

int64_t parse_niter(const std::string& mode) {
  const std::string digits = mode.substr(std::string("pissa_niter_").size());
  const bool ok = !digits.empty() && digits.find_first_not_of("0123456789") == std::string::npos;
  engine::check<engine::ConfigError>(ok, "[LORA] init_lora_weights='", mode, "': expected pissa_niter_<k>, k >= 0");
  return std::stoll(digits);
}

}  // namespace

void pissa_init(LoraLinear& layer, const std::string& adapter, const std::string& mode) {
  const int64_t r = layer.settings(adapter).r;
  check_rank(layer, r, mode);
  Tensor w = engine::to_dtype(layer.base_weight_out_in(), DType::f64);  // [out,in]
  Svd d;
  if (mode == "pissa") {
    d = svd(w);
  } else {
    engine::Generator gen = init_generator(adapter + ".pissa", w);
    d = svd_lowrank(w, r, parse_niter(mode), gen);
  }
  // PEFT: S_r /= scaling, A = diag(√S_r)·Vh_r, B = U_r·diag(√S_r)  (so s·B·A = U_r S_r Vh_r).
  Tensor root = engine::sqrt(d.S.narrow(0, 0, r) / layer.settings(adapter).scaling);  // [r]
  Tensor a = engine::unsqueeze(root, 1) * d.Vh.narrow(0, 0, r);                        // [r,in]
  Tensor b = d.U.narrow(1, 0, r) * engine::unsqueeze(root, 0);                         // [out,r]
  install(layer, adapter, w, a, b);
}

void olora_init(LoraLinear& layer, const std::string& adapter) {
  const int64_t r = layer.settings(adapter).r;
  check_rank(layer, r, "olora");
  // PEFT factors the stored weight as it is; we factor [out, in] for Conv1D too (PEFT's
  // shapes would not fit lora_A / lora_B there).
  Tensor w = engine::to_dtype(layer.base_weight_out_in(), DType::f64);  // [out,in]
  Qr f = qr(w);
  install(layer, adapter, w, f.R.narrow(0, 0, r), f.Q.narrow(1, 0, r));  // A = R[:r] [r,in], B = Q[:, :r] [out,r]
}

}  // namespace peft::lora
