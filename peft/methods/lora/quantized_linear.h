// QLoRA's frozen base (Dettmers et al. 2023): a target Linear whose weight is stored in NF4
// (or int8) and multiplied without ever materialising the f32 weight, wrapped by a LoRA
// layer whose adapters stay in f32. PEFT gets this from bitsandbytes' Linear4bit/Linear8bitLt
// (`quantization_config` at load time); here LoraConfig.quantize_base asks for it.
//
// Merging cannot write into 4-bit codes exactly, so merge_adapter refuses; merge_and_unload
// first swaps the quantized base for a dequantized f32 Linear (prepare_merge_and_unload) and
// then merges into that, giving a plain f32 model with the LoRA delta added.
#pragma once
#include <memory>
#include <string>

#include "engine/nn/layers.h"
#include "engine/quant/quantized.h"
#include "peft/methods/lora/layer.h"

namespace peft::lora {

// y = x · Ŵᵀ + b with Ŵ quantized; frozen (no parameter but the bias, which trains only with
// LoRA's bias="all"/"lora_only").
class QuantizedLinear : public engine::nn::UnaryModule {
 public:
  // Quantizes `linear`'s weight (either layout) and takes a copy of its bias.
  QuantizedLinear(engine::nn::Linear& linear, engine::quant::QuantFormat format);
  std::string type_name() const override { return "QuantizedLinear"; }
  Tensor forward(const Tensor& x) override;

  const engine::quant::QuantizedWeight& qweight() const { return weight_; }
  int64_t in_features() const { return weight_.in_features(); }
  int64_t out_features() const { return weight_.out_features(); }
  // The dequantized weight, f32 [out, in].
  Tensor dequantized_weight() const { return engine::quant::dequantize(weight_); }
  // Quantizes `w` [out, in] again (PiSSA / OLoRA's residual on a quantized base).
  void requantize(const Tensor& w);
  // An f32 Linear in the original layout (Conv1D stays [in, out]) holding Ŵ and the bias.
  std::shared_ptr<engine::nn::Linear> to_linear() const;

 private:
  engine::quant::QuantizedWeight weight_;
  engine::WeightLayout layout_;  // of the Linear it replaced, restored by to_linear()
  Tensor bias_;                  // the registered "bias" parameter; undefined when none
};

class QuantizedLoraLinear : public LoraLinear {
 public:
  explicit QuantizedLoraLinear(std::shared_ptr<QuantizedLinear> base);
  std::string type_name() const override { return "QuantizedLoraLinear"; }
  QuantizedLinear* quantized_base() const;  // null once prepare_merge_and_unload swapped it
  Tensor base_weight_out_in() const override;
  void set_base_weight_out_in(const Tensor& w) override;
  std::string merge_refusal(const std::string& name) const override;
  void prepare_merge_and_unload() override;
};

// A LoraLinear over `base` (a Linear / Conv1D at `path`); quantize "nf4"/"int8" first replaces
// the base by a QuantizedLinear (QLoRA). ConfigError naming the module when it cannot be.
std::shared_ptr<LoraLinear> make_lora_linear(const std::string& path, const engine::nn::ModulePtr& base,
                                             const std::string& quantize);

}  // namespace peft::lora
