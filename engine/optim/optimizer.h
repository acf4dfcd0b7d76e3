// Optimizer: the base of SGD and AdamW. It holds the trainable set only (parameters with
// requires_grad), one state tensor per slot ("exp_avg", ...) shaped like each parameter's
// *compact* gradient, so a masked parameter (engine/autograd/grad_mask.h) carries state for
// its trainable entries only, and updates write those entries only: everything outside the
// mask stays bit-identical. State round-trips through state_dict() / save_optimizer() so a
// resumed run continues bit-identically. Parameters on a GPU are updated together at the end
// of step() (update_gpu: one multi-tensor kernel launch for AdamW / SGD).
#pragma once
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/autograd/grad_mask.h"
#include "engine/core/tensor.h"

namespace engine::nn {
class Module;
}

namespace engine::optim {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;
// Says whether the parameter of this dotted name gets weight decay.
using DecayFilter = std::function<bool(const std::string& name)>;

// A stretch of consecutive entries: compact gradient [compact, compact+length) lands on the
// parameter's flat entries [param, param+length). Runs are at most one work chunk long.
struct Run {
  int64_t compact, param, length;
};

struct ParamSlot {
  std::string name;
  Tensor param;
  bool decay = true;          // weight decay applies to this parameter
  int64_t step = 0;           // updates applied so far (torch keeps one count per parameter)
  std::vector<Tensor> state;  // one per slot_names(), shaped like the compact gradient
  std::vector<Run> runs;      // where the compact gradient lands in the parameter
  std::shared_ptr<GradMask> mask;  // the mask the runs and state were sized for
};

// Everything a resumed run needs (see save_optimizer).
struct OptimizerState {
  std::string type;                       // "AdamW", "SGD"
  int64_t step = 0;                       // step() calls
  double lr = 0;
  std::map<std::string, int64_t> steps;   // per parameter
  std::map<std::string, Tensor> tensors;  // "<param name>.<slot>"
  std::map<std::string, double> hyperparameters;  // informational
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  virtual std::string type_name() const = 0;
  virtual std::vector<std::string> slot_names() const = 0;
  virtual std::map<std::string, double> hyperparameters() const = 0;

  // Updates every trainable parameter that has a gradient (those without are skipped, as in
  // torch). Runs without autograd.
  void step();
  void zero_grad();  // drops the gradients (torch's set_to_none)

  double lr() const { return lr_; }
  void set_lr(double lr) { lr_ = lr; }
  int64_t step_count() const { return steps_; }
  const std::vector<ParamSlot>& params() const { return params_; }
  std::vector<Tensor> tensors() const;  // the trainable parameters (for clip_grad_norm_)
  int64_t state_numel() const;          // elements held in optimizer state

  OptimizerState state_dict() const;  // tensors are copies
  // Copies state in place. KeyError listing every missing/unexpected parameter or slot and
  // every shape mismatch; ValueError if the optimizer type differs.
  void load_state_dict(const OptimizerState& state);

 protected:
  // Keeps the parameters with requires_grad; `decay` (null = all) picks who gets weight decay.
  Optimizer(const NamedTensors& params, double lr, const DecayFilter& decay);
  // Allocates `slots` zero state tensors per parameter; called by the subclass constructor
  // (slot_names() is not callable from the base constructor).
  void init_state(size_t slots);
  // Applies one update to `p` from its compact gradient `g` (contiguous, state dtype);
  // p.step is already incremented.
  virtual void update(ParamSlot& p, const Tensor& g) = 0;
  // Updates the GPU parameters of one step together, each with its compact gradient as
  // update() takes it (p.step already incremented). The default calls update() per parameter;
  // AdamW and SGD override it with one multi-tensor launch (ENGINE_CUDA_OPTIM=per_tensor keeps
  // the per-parameter kernels).
  virtual void update_gpu(std::vector<std::pair<ParamSlot*, Tensor>>& batch);

 private:
  std::vector<ParamSlot> params_;
  double lr_;
  int64_t steps_ = 0;
};

// The dtype optimizer state and update arithmetic use for a parameter: f64 for f64, else f32.
DType state_dtype(DType param_dtype);

// HF Trainer's rule: no weight decay for biases and for LayerNorm/RMSNorm weights.
DecayFilter hf_decay_filter(const nn::Module& model);

// Saves to `dir`/optimizer.safetensors + `dir`/optimizer.json (each written atomically).
void save_optimizer(const Optimizer& opt, const std::filesystem::path& dir);
// Loads what save_optimizer wrote (IOError naming a missing/unreadable file).
void load_optimizer(Optimizer& opt, const std::filesystem::path& dir);

}  // namespace engine::optim
