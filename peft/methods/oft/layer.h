// OFT on a Linear (either weight layout), as peft 0.11.1's OFTLayer: the output of the frozen
// layer (before its bias) is multiplied by an orthogonal block-diagonal R,
//
//   y = (x·Wᵀ)·R + b,   R = blockdiag(Cayley(oft_r[0]), ..., Cayley(oft_r[r-1]))  [out, out]
//
// applied block by block (never built densely in the forward). Several adapters rotate in
// turn. Merge: W ← Rᵀ·W (torch layout); unmerge: W ← (Rᵀ)⁻¹·W (= R·W when R is orthogonal).
#pragma once
#include <map>
#include <memory>
#include <string>

#include "engine/nn/layers.h"
#include "peft/core/module_dict.h"
#include "peft/core/tuner_layer.h"

namespace peft::oft {

// One adapter's settings on one layer.
struct OftSettings {
  int64_t r = 8;  // blocks
  double module_dropout = 0.0;
  bool coft = false;
  double eps = 6e-5;  // the config's eps; the layer uses eps·b² (peft)
  bool block_share = false;
  bool init_weights = true;
};

class OftLinear : public TunerLayer {
 public:
  explicit OftLinear(engine::nn::ModulePtr base);
  std::string type_name() const override { return "OftLinear"; }

  // oft_r [r, b, b] (or [1, b, b] with block_share), b = ceil(out / r): zero (R = I) or
  // Kaiming-uniform(a=√5) = U(±1/b) when !init_weights; `gen` also seeds module dropout.
  void add_adapter(const std::string& name, const OftSettings& settings, engine::Generator& gen);
  void remove_adapter(const std::string& name) override;
  bool has_adapter(const std::string& name) const override { return settings_.count(name) > 0; }
  std::vector<std::pair<std::string, Tensor>> adapter_tensors(const std::string& name) const override;

  Tensor& oft_r(const std::string& name) const { return params_->at(name); }
  // The orthogonal blocks [r, b, b] (block_share expanded); COFT first projects oft_r in place.
  Tensor rotation_blocks(const std::string& name) const;

 protected:
  Tensor adapted_forward(const Tensor& x, const std::vector<std::string>& adapters) override;
  void merge_into_base(const std::string& name) override;
  void unmerge_from_base(const std::string& name) override;

 private:
  void project_coft(const std::string& name) const;  // peft's `_project_batch`
  void rotate_base_weight(const std::string& name, bool merge);

  int64_t out_;
  std::map<std::string, OftSettings> settings_;
  std::map<std::string, engine::Generator> dropout_gen_;
  std::shared_ptr<ParameterDict> params_;
};

}  // namespace peft::oft
