// BOFT on a Linear (either weight layout), as peft 0.11.1's boft.Linear: the input side of
// the frozen weight is rotated by a product of butterfly factors and the output scaled,
//
//   W' = (W·Rᵀ) ⊙ s,   R = B_{m-1} ··· B_0,   B_i = P_i · blockdiag(Cayley(boft_R[i])) · P_iᵀ
//   y  = x·W'ᵀ + b = ((x·R)·Wᵀ) ⊙ sᵀ + b
//
// computed as x ↦ x·R (permutations as gathers, blocks one by one) before the frozen linear,
// so the base weight never needs a gradient. Several adapters: R = R_last ··· R_first, the
// scales multiply. Merge: W ← (W·Rᵀ) ⊙ s; unmerge: W ← (W ⊘ s)·R.
#pragma once
#include <map>
#include <memory>
#include <random>
#include <string>

#include "engine/nn/layers.h"
#include "peft/core/module_dict.h"
#include "peft/core/tuner_layer.h"

namespace peft::boft {

struct BoftSettings {
  int64_t block_size = 4;  // 0: from block_num
  int64_t block_num = 0;   // 0: from block_size
  int64_t n_butterfly_factor = 1;
  double dropout = 0.0;
  bool init_weights = true;
};

class BoftLinear : public TunerLayer {
 public:
  explicit BoftLinear(engine::nn::ModulePtr base);
  std::string type_name() const override { return "BoftLinear"; }

  // boft_R [m, blocks, b, b], boft_s [out, 1] and the permutations boft_P [m, in, in];
  // ConfigError when the sizes do not divide in_features (peft's checks and messages).
  void add_adapter(const std::string& name, const BoftSettings& settings, engine::Generator& gen);
  void remove_adapter(const std::string& name) override;
  bool has_adapter(const std::string& name) const override { return R_->contains(name); }
  std::vector<std::pair<std::string, Tensor>> adapter_tensors(const std::string& name) const override;
  std::string merge_refusal(const std::string& name) const override;

  // x [..., in] -> x·R [..., in] for one adapter (`dropout`: training's multiplicative dropout).
  Tensor rotate_input(const Tensor& x, const std::string& name, bool dropout = false);

 protected:
  Tensor adapted_forward(const Tensor& x, const std::vector<std::string>& adapters) override;
  void merge_into_base(const std::string& name) override;
  void unmerge_from_base(const std::string& name) override;

 private:
  Tensor orthogonal_blocks(const std::string& name, bool dropout);  // Cayley(boft_R) [m, blocks, b, b]
  Tensor base_weight_out_in() const;                  // f32 copy in torch layout [out, in]
  void set_base_weight(const Tensor& w_out_in);

  int64_t in_, out_;
  std::shared_ptr<ParameterDict> R_, s_;
  std::map<std::string, Tensor> P_;      // per adapter (peft keeps one per layer; same values)
  std::map<std::string, double> dropout_;
  std::mt19937_64 rng_;                  // multiplicative dropout's draws
};

}  // namespace peft::boft
