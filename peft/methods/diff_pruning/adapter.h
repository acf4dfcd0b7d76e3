// Diff pruning (Guo, Rush & Kim 2021, "Parameter-Efficient Transfer Learning with Diff
// Pruning", arXiv:2012.07463): θ = θ0 + δ with δ sparse.
//   phase 1 (optimizer steps < fix_step): each chosen matrix is wrapped in a
//     DiffPruningLinear (δ = z ⊙ w, hard-concrete z); regularization_loss() is the expected
//     L0 penalty l0_lambda · Σ P(z ≠ 0);
//   the switch (after_optimizer_step(fix_step), or fix() by hand): δ at the test-time gates,
//     the top (1 − target_sparsity)·N entries by |δ| over all matrices are kept, θ0 + δ is
//     written into W at those entries, the wrappers are removed and W trains through an
//     element gradient mask (no dense δ any more);
//   phase 2: a SelectiveAdapter like FishMask. The trainable set changes at the switch, so
//     a training loop must rebuild its optimizer then (phase_changed tells it).
// Files always hold the sparse form (`<P>.sparse_indices` + `<P>.sparse_delta`); a phase-1
// save stores δ at the test-time gates where it is non-zero. Loading gives a phase-2 adapter.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "peft/methods/diff_pruning/config.h"
#include "peft/methods/diff_pruning/layer.h"
#include "peft/methods/selective_common/selective_adapter.h"

namespace peft::diff_pruning {

class DiffPruningAdapter : public selective::SelectiveAdapter {
 public:
  using SelectiveAdapter::SelectiveAdapter;
  const DiffPruningConfig& dp_config() const { return static_cast<const DiffPruningConfig&>(config()); }

  bool fixed() const { return layers_.empty(); }
  // Ends phase 1 now (see above); no-op when already fixed. Returns the entries kept.
  int64_t fix();
  // True once after the switch happened inside after_optimizer_step (then reset).
  bool phase_changed() { return std::exchange(phase_changed_, false); }

  void detach(models::PretrainedModel& model) override;
  void set_active(bool on) override;
  NamedTensors trainable_tensors() const override;
  void load_file_tensors(const std::map<std::string, Tensor>& file, const std::string& source) override;
  Tensor regularization_loss() const override;
  void after_optimizer_step(int64_t step) override;
  std::string merge_refusal() const override;

  const std::vector<std::pair<std::string, std::shared_ptr<DiffPruningLinear>>>& layers() const { return layers_; }

 protected:
  void choose(models::PretrainedModel& model, uint64_t seed) override;
  NamedTensors method_tensors() const override;

 private:
  void unwrap_layers();  // puts the base layers back (their W untouched)
  std::vector<std::pair<std::string, std::shared_ptr<DiffPruningLinear>>> layers_;  // phase 1 only
  bool phase_changed_ = false;
};

}  // namespace peft::diff_pruning
