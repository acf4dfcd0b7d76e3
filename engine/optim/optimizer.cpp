// Optimizer base: the trainable set, where each compact gradient lands (runs), the step
// driver, and state dicts. Parameters may live on a GPU: their state is created there, the
// update runs there (the CUDA kernels scatter through the mask's indices, so no runs; all GPU
// parameters of a step go to update_gpu together), and state dicts hold host copies (loading
// copies them back to the device).
#include "engine/optim/optimizer.h"

#include <set>
#include <sstream>

#include "engine/autograd/grad_mode.h"
#include "engine/backend/cpu/simd_parallel.h"
#include "engine/nn/layers.h"

namespace engine::optim {

namespace {

// Appends [compact, param) x length, merging with the previous run when both sides continue
// it and cutting runs at one work chunk.
void append_run(std::vector<Run>& runs, int64_t compact, int64_t param, int64_t length) {
  if (!runs.empty()) {
    Run& last = runs.back();
    if (last.compact + last.length == compact && last.param + last.length == param &&
        last.length < cpu::kElementChunk) {
      int64_t take = std::min(length, cpu::kElementChunk - last.length);
      last.length += take, compact += take, param += take, length -= take;
    }
  }
  for (; length > 0;) {
    int64_t take = std::min(length, cpu::kElementChunk);
    runs.push_back({compact, param, take});
    compact += take, param += take, length -= take;
  }
}

std::vector<Run> build_runs(const Tensor& param, const GradMask* mask) {
  std::vector<Run> runs;
  if (!mask) {
    append_run(runs, 0, 0, param.numel());
    return runs;
  }
  int64_t width = 1;
  if (mask->kind == GradMask::Kind::rows)
    width = param.size(0) ? param.numel() / param.size(0) : 0;
  const int64_t* idx = mask->indices.data<int64_t>();
  for (int64_t k = 0; k < mask->count(); ++k) append_run(runs, k * width, idx[k] * width, width);
  return runs;
}

}  // namespace

DType state_dtype(DType param_dtype) { return param_dtype == DType::f64 ? DType::f64 : DType::f32; }

Optimizer::Optimizer(const NamedTensors& params, double lr, const DecayFilter& decay) : lr_(lr) {
  for (const auto& [name, t] : params) {
    if (!t.defined() || !t.requires_grad()) continue;
    check<ValueError>(t.is_leaf(), "[optimizer] parameter '", name, "' is not a leaf tensor");
    check<ValueError>(t.is_contiguous(), "[optimizer] parameter '", name, "' must be a contiguous tensor");
    ParamSlot p;
    p.name = name;
    p.param = t;
    p.decay = !decay || decay(name);
    p.mask = t.impl()->grad_mask;
    if (t.device().is_cpu()) p.runs = build_runs(t, p.mask.get());
    params_.push_back(std::move(p));
  }
}

void Optimizer::init_state(size_t slots) {
  for (ParamSlot& p : params_) {
    p.state.clear();
    for (size_t s = 0; s < slots; ++s)
      p.state.push_back(zeros(compact_shape(p.param), state_dtype(p.param.dtype()), p.param.device()));
  }
}

void Optimizer::step() {
  NoGradGuard no_grad;
  std::vector<std::pair<ParamSlot*, Tensor>> gpu;  // updated together after the loop
  try {
    for (ParamSlot& p : params_) {
      Tensor g = p.param.grad();
      if (!g.defined()) continue;
      // The state was sized for the mask at construction; a mask set later would silently
      // misalign it, so it is an error (build the optimizer after setting masks).
      check<ValueError>(p.param.impl()->grad_mask == p.mask, "[optimizer] the gradient mask of '",
                        p.name, "' changed after the optimizer was created");
      check<ValueError>(g.device() == p.param.device(), "[optimizer] gradient of '", p.name, "' is on ",
                        g.device().str(), ", the parameter on ", p.param.device().str());
      check<ShapeError>(g.shape() == compact_shape(p.param), "[optimizer] gradient of '", p.name, "' is ",
                        shape_str(g.shape()), ", expected ", shape_str(compact_shape(p.param)));
      ++p.step;
      Tensor gs = g.to(state_dtype(p.param.dtype())).contiguous();
      if (p.param.device().is_cpu()) update(p, gs);
      else gpu.emplace_back(&p, std::move(gs));
    }
  } catch (...) {
    for (auto& item : gpu) --item.first->step;  // the GPU parameters collected so far were not updated
    throw;
  }
  // Every entry of every parameter is independent, so updating the GPU ones after the CPU ones
  // changes no result; it lets them share one kernel launch.
  if (!gpu.empty()) update_gpu(gpu);
  ++steps_;
}

void Optimizer::update_gpu(std::vector<std::pair<ParamSlot*, Tensor>>& batch) {
  for (auto& [p, g] : batch) update(*p, g);
}

void Optimizer::zero_grad() {
  for (ParamSlot& p : params_) p.param.zero_grad();
}

std::vector<Tensor> Optimizer::tensors() const {
  std::vector<Tensor> out;
  for (const ParamSlot& p : params_) out.push_back(p.param);
  return out;
}

int64_t Optimizer::state_numel() const {
  int64_t n = 0;
  for (const ParamSlot& p : params_)
    for (const Tensor& s : p.state) n += s.numel();
  return n;
}

OptimizerState Optimizer::state_dict() const {
  NoGradGuard no_grad;
  OptimizerState st{type_name(), steps_, lr_, {}, {}, hyperparameters()};
  std::vector<std::string> slots = slot_names();
  for (const ParamSlot& p : params_) {
    st.steps[p.name] = p.step;
    for (size_t s = 0; s < p.state.size(); ++s) {  // host copies, also of GPU state
      const Tensor& t = p.state[s];
      st.tensors[p.name + "." + slots[s]] = t.device().is_cpu() ? t.clone() : t.to(Device::cpu());
    }
  }
  return st;
}

void Optimizer::load_state_dict(const OptimizerState& st) {
  check<ValueError>(st.type == type_name(), "[optimizer] cannot load ", st.type, " state into ", type_name());
  std::vector<std::string> slots = slot_names(), problems;
  std::map<std::string, int> used;
  for (const ParamSlot& p : params_) {
    if (!st.steps.count(p.name)) problems.push_back("missing step of parameter " + p.name);
    for (size_t s = 0; s < p.state.size(); ++s) {
      std::string key = p.name + "." + slots[s];
      auto it = st.tensors.find(key);
      if (it == st.tensors.end()) problems.push_back("missing " + key + " " + shape_str(p.state[s].shape()));
      else if (it->second.shape() != p.state[s].shape())
        problems.push_back("shape mismatch " + key + ": expected " + shape_str(p.state[s].shape()) +
                           ", got " + shape_str(it->second.shape()));
      used[key] = 1;
    }
  }
  for (const auto& [key, t] : st.tensors)
    if (!used.count(key)) problems.push_back("unexpected " + key + " " + shape_str(t.shape()));
  for (const auto& [name, step] : st.steps) {
    bool known = false;
    for (const ParamSlot& p : params_) known = known || p.name == name;
    if (!known) problems.push_back("unexpected parameter " + name);
  }
  if (!problems.empty()) {
    std::ostringstream os;
    os << "[optimizer] " << type_name() << " state does not match its parameters:";
    for (const auto& s : problems) os << "\n  " << s;
    throw KeyError(os.str());
  }
  for (ParamSlot& p : params_) {
    p.step = st.steps.at(p.name);
    // copy_ moves host state onto a GPU parameter's state (and the reverse) as needed.
    for (size_t s = 0; s < p.state.size(); ++s) copy_(p.state[s], st.tensors.at(p.name + "." + slots[s]));
  }
  steps_ = st.step;
  lr_ = st.lr;
}

// transformers' get_decay_parameter_names: every parameter except those inside a LayerNorm
// layer (ALL_LAYERNORM_LAYERS, which includes T5's RMS norm) and those named "bias".
DecayFilter hf_decay_filter(const nn::Module& model) {
  auto no_decay = std::make_shared<std::set<std::string>>();
  for (const auto& [prefix, m] : model.named_modules()) {
    bool norm = dynamic_cast<const nn::LayerNorm*>(m.get()) || dynamic_cast<const nn::RMSNorm*>(m.get()) ||
                m->type_name().find("LayerNorm") != std::string::npos ||
                m->type_name().find("RMSNorm") != std::string::npos;
    for (const auto& [n, t] : m->own_parameters()) {
      std::string full = prefix.empty() ? n : prefix + "." + n;
      if (norm || full.find("bias") != std::string::npos) no_decay->insert(full);  // HF: "bias" in name
    }
  }
  return [no_decay](const std::string& name) { return !no_decay->count(name); };
}

}  // namespace engine::optim
