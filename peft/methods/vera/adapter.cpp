// VeRA injection and the shared projections (see adapter.h).
#include "peft/methods/vera/adapter.h"

#include <algorithm>
#include <cmath>

#include "engine/engine.h"
#include "peft/core/targets.h"
#include "peft/methods/vera/layer.h"

namespace peft::vera {

namespace nn = engine::nn;

namespace {

// PEFT's _kaiming_init: U(±√(6/fan_in)) with fan_in = shape[1].
Tensor kaiming_projection(const engine::Shape& shape, engine::Generator& gen) {
  const double bound = std::sqrt(6.0 / static_cast<double>(shape[1]));
  return engine::uniform(shape, -bound, bound, engine::DType::f32, gen);
}

nn::Linear& target_linear(const nn::ModulePtr& module) {
  if (auto* layer = dynamic_cast<TunerLayer*>(module.get())) return *layer->base_linear();
  return static_cast<nn::Linear&>(*module);
}

}  // namespace

bool VeraAdapter::accepts(const nn::Module& m) const { return is_linear(m) || dynamic_cast<const VeraLinear*>(&m); }

void VeraAdapter::before_layers(models::PretrainedModel& model, const std::vector<std::string>& targets) {
  int64_t max_in = 0, max_out = 0;  // PEFT's _find_dim: the largest shape in each dimension
  for (const std::string& path : targets) {
    nn::Linear& linear = target_linear(model.get(path));
    max_in = std::max(max_in, linear.in_features());
    max_out = std::max(max_out, linear.out_features());
  }
  const int64_t r = vera_config().r;
  engine::Generator gen(static_cast<uint64_t>(vera_config().projection_prng_key));
  vera_A_ = kaiming_projection({r, max_in}, gen);   // frozen: never requires grad
  vera_B_ = kaiming_projection({max_out, r}, gen);
}

std::shared_ptr<TunerLayer> VeraAdapter::add_to(const std::string& path, const nn::ModulePtr& module, engine::Generator& gen) {
  (void)path;
  const VeraConfig& c = vera_config();
  std::shared_ptr<VeraLinear> layer = std::dynamic_pointer_cast<VeraLinear>(module);
  if (!layer) {
    if (static_cast<nn::Linear&>(*module).layout() == engine::WeightLayout::in_out && !c.fan_in_fan_out)
      static_cast<VeraConfig&>(mutable_config()).fan_in_fan_out = true;  // PEFT does the same for Conv1D
    layer = std::make_shared<VeraLinear>(module);
  }
  layer->add_adapter(name(), vera_A_, vera_B_, VeraSettings{c.vera_dropout, c.d_initial, c.init_weights}, gen);
  return layer;
}

NamedTensors VeraAdapter::method_tensors() const {
  NamedTensors out = LayerAdapter::method_tensors();
  // PEFT's keys: the model-level BufferDicts with the adapter name removed.
  out.emplace_back("base_model.vera_A", vera_A_);
  out.emplace_back("base_model.vera_B", vera_B_);
  return out;
}

}  // namespace peft::vera
