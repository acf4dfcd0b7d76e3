// QLoRA's quantized base and its LoRA wrapper (see quantized_linear.h).
#include "peft/methods/lora/quantized_linear.h"

#include "engine/engine.h"

namespace peft::lora {

namespace nn = engine::nn;
namespace quant = engine::quant;

QuantizedLinear::QuantizedLinear(nn::Linear& linear, quant::QuantFormat format)
    : weight_(quant::quantize(linear.weight().detach(), format, linear.layout())),
      layout_(linear.layout()) {
  if (linear.bias().defined()) bias_ = register_parameter("bias", linear.bias().detach().clone(), /*trainable=*/false);
}

Tensor QuantizedLinear::forward(const Tensor& x) {
  return quant::quantized_linear(x, weight_, bias_);  // [..., out]
}

void QuantizedLinear::requantize(const Tensor& w) {
  weight_ = quant::quantize(w, weight_.format(), engine::WeightLayout::out_in);
}

std::shared_ptr<nn::Linear> QuantizedLinear::to_linear() const {
  auto linear = std::make_shared<nn::Linear>(in_features(), out_features(), bias_.defined(), layout_);
  engine::NoGradGuard no_grad;
  Tensor w = dequantized_weight();  // [out,in]
  engine::copy_(linear->weight(), layout_ == engine::WeightLayout::out_in ? w : w.transpose(0, 1));
  if (bias_.defined()) engine::copy_(linear->bias(), bias_);
  linear->requires_grad_(false);
  return linear;
}

// ---------------------------------------------------------------- the LoRA wrapper

QuantizedLoraLinear::QuantizedLoraLinear(std::shared_ptr<QuantizedLinear> base)
    : LoraLinear(base, base->in_features(), base->out_features()) {}

QuantizedLinear* QuantizedLoraLinear::quantized_base() const { return dynamic_cast<QuantizedLinear*>(&base_layer()); }

Tensor QuantizedLoraLinear::base_weight_out_in() const {
  if (QuantizedLinear* q = quantized_base()) return q->dequantized_weight();
  return LoraLinear::base_weight_out_in();
}

void QuantizedLoraLinear::set_base_weight_out_in(const Tensor& w) {
  if (QuantizedLinear* q = quantized_base()) return q->requantize(w);
  LoraLinear::set_base_weight_out_in(w);
}

std::string QuantizedLoraLinear::merge_refusal(const std::string& name) const {
  if (quantized_base()) return "merge into a dequantized copy: use merge_and_unload";
  return LoraLinear::merge_refusal(name);
}

void QuantizedLoraLinear::prepare_merge_and_unload() {
  if (QuantizedLinear* q = quantized_base()) replace_module("base_layer", q->to_linear());
}

std::shared_ptr<LoraLinear> make_lora_linear(const std::string& path, const nn::ModulePtr& base,
                                             const std::string& quantize) {
  if (quantize.empty()) return std::make_shared<LoraLinear>(base);
  auto* linear = dynamic_cast<nn::Linear*>(base.get());
  engine::check<engine::ConfigError>(linear != nullptr, "[LORA] quantize_base='", quantize, "': ", path, " is a ",
                                     base->type_name(), ", not a Linear");
  const quant::QuantFormat format = quant::parse_format(quantize);
  try {
    return std::make_shared<QuantizedLoraLinear>(std::make_shared<QuantizedLinear>(*linear, format));
  } catch (const engine::ShapeError& e) {  // NF4 blocks need in % 64 == 0
    engine::fail<engine::ConfigError>("[LORA] quantize_base='", quantize, "' cannot quantize ", path, ": ", e.what());
  }
}

}  // namespace peft::lora
