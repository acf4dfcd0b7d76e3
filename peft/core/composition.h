// Adapter composition (adapter-hub's composition blocks, PEFT's add_weighted_adapter).
//
// Site adapters (bottleneck, Compacter, ...) run at the models' hook sites. Each one hooks
// its sites itself; the functions below suspend those hooks for one forward pass and run
// the named adapters together instead:
//   forward_stack     Stack(a, b):    h ← b(a(h)) at every site (a's output feeds b)
//   forward_average   Average(a, b):  h ← Σᵢ wᵢ·aᵢ(h), weights normalised to sum 1
//                                     (adapter-hub's normalize_weights=True)
//   forward_parallel  Parallel(a, b): the batch is replicated once per adapter along dim 0,
//                                     copy i runs through adapter i at every site, and the
//                                     logits / last hidden state come back per adapter
// An adapter without a slot at a site leaves that site's h unchanged.
//
// For LoRA, add_weighted_adapter builds a new adapter from existing ones (PEFT 0.11,
// tuners/lora/model.py): "linear" A = Σ √(wᵢsᵢ)·Aᵢ, B = Σ √(wᵢsᵢ)·Bᵢ (equal ranks; note the
// cross terms: BA ≠ Σ wᵢsᵢBᵢAᵢ, as PEFT); "cat" A = [wᵢsᵢ·Aᵢ]ᵢ stacked, B = [Bᵢ]ᵢ side by side
// (rank Σ rᵢ, exactly Σ wᵢsᵢBᵢAᵢ); "svd" the rank-k truncated SVD of Σ wᵢ·ΔWᵢ (k = svd_rank or
// max rᵢ): B = U·S, A = Vh. The new adapter has lora_alpha = r (scaling 1) and the union of
// the sources' target_modules.
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "models/model.h"
#include "peft/core/adapter.h"
#include "peft/core/peft_model.h"

namespace peft {

// What a site adapter does at one site: h' = apply(h, input) (input: the FFN's input at the
// parallel site, undefined elsewhere).
using SiteFn = std::function<Tensor(const Tensor& h, const Tensor& input)>;

struct SiteSlot {
  engine::nn::Module* owner = nullptr;  // the module that runs the site (a block)
  std::string owner_path;               // its module path, for file keys and messages
  std::string site;                     // models::kSiteAfterAttention, ...
  SiteFn apply;
  int64_t hook_id = -1;                 // the adapter's own hook on `owner`
};

// An Adapter that works through hook sites. Its own hook at each slot runs `apply` while the
// adapter is active and no composition has suspended it.
class SiteAdapter : public Adapter {
 public:
  using Adapter::Adapter;
  void set_active(bool on) override { flags_->active = on; }
  bool active() const { return flags_->active; }
  const std::vector<SiteSlot>& slots() const { return slots_; }
  // While suspended, the adapter's own hooks pass h through (compositions run it instead).
  void set_suspended(bool on) { flags_->suspended = on; }
  // Whether compositions may run this adapter (hybrids with non-site parts say no).
  virtual bool composable() const { return true; }

 protected:
  void add_slot(engine::nn::Module& owner, const std::string& owner_path, const std::string& site, SiteFn apply);
  void remove_slots();  // removes every hook this adapter added

 private:
  struct Flags {
    bool active = false, suspended = false;
  };
  std::vector<SiteSlot> slots_;
  std::shared_ptr<Flags> flags_ = std::make_shared<Flags>();
};

models::ModelOutput forward_stack(PeftModel& model, const std::vector<std::string>& adapters,
                                  const models::Batch& batch, const models::ForwardOptions& options = {});
models::ModelOutput forward_average(PeftModel& model, const std::vector<std::string>& adapters,
                                    const std::vector<double>& weights, const models::Batch& batch,
                                    const models::ForwardOptions& options = {});
// One output per adapter (logits and last_hidden_state; the loss of the replicated batch, the
// mean over the adapters' copies, is in every output's `loss` when the batch has labels).
std::vector<models::ModelOutput> forward_parallel(PeftModel& model, const std::vector<std::string>& adapters,
                                                  const models::Batch& batch, const models::ForwardOptions& options = {});

// PEFT's LoraModel.add_weighted_adapter (see above). Adds adapter `new_name` (inactive) and
// returns it; ValueError for mismatched ranks ("linear"), non-LoRA sources or unknown types.
Adapter& add_weighted_adapter(PeftModel& model, const std::vector<std::string>& adapters,
                              const std::vector<double>& weights, const std::string& new_name,
                              const std::string& combination_type = "svd", std::optional<int64_t> svd_rank = {});

}  // namespace peft
