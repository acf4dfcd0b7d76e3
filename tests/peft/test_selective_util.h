// Shared by the selective-method tests (BitFit, partial freezing, sparse masks, FishMask,
// diff pruning): a few AdamW steps on a PeftModel, parameter-name helpers and the "only
// these entries changed" check.
#pragma once
#include <set>
#include <string>

#include "peft/test_lora_helpers.h"
#include "peft/methods/selective_common/selective_adapter.h"

namespace selective_test {

using namespace lora_test;
using engine::Tensor;

// `steps` AdamW steps (lr 1e-2, no weight decay so untouched entries could only move through
// a bug) on the PeftModel's trainable tensors; returns the optimizer for inspection.
inline std::unique_ptr<engine::optim::AdamW> train_steps(peft::PeftModel& peft, const models::Batch& batch, int steps) {
  engine::optim::AdamWOptions o;
  o.lr = 1e-2;
  o.weight_decay = 0;
  auto opt = std::make_unique<engine::optim::AdamW>(peft.trainable_parameters(), o);
  for (int s = 0; s < steps; ++s) {
    opt->zero_grad();
    peft.forward(batch).loss.backward();
    opt->step();
    peft.after_optimizer_step(s + 1);
  }
  return opt;
}

inline peft::selective::SelectiveAdapter& selective(peft::PeftModel& peft, const std::string& name = "default") {
  return dynamic_cast<peft::selective::SelectiveAdapter&>(peft.adapter(name));
}

// Every parameter/buffer of `before` is bit-identical in `after`, except the flat entries
// `changed` allows per name (an empty set = the whole tensor may change). Returns how many
// allowed entries did change, so a test can also check that training moved something.
inline int64_t expect_only_changed(const std::map<std::string, Tensor>& before, const std::map<std::string, Tensor>& after,
                                   const std::map<std::string, std::set<int64_t>>& changed) {
  int64_t moved = 0;
  for (const auto& [name, b] : before) {
    auto it = after.find(name);
    if (it == after.end()) continue;  // wrapped by modules_to_save: compared by the caller
    const std::vector<float> x = b.to_vector<float>(), y = it->second.to_vector<float>();
    auto allowed = changed.find(name);
    for (size_t i = 0; i < x.size(); ++i) {
      const bool same = std::memcmp(&x[i], &y[i], sizeof(float)) == 0;
      const bool may = allowed != changed.end() && (allowed->second.empty() || allowed->second.count(int64_t(i)));
      if (!same && may) ++moved;
      if (!same && !may) {
        ADD_FAILURE() << name << "[" << i << "] changed but is not trained";
        return moved;
      }
    }
  }
  return moved;
}

// The flat indices an adapter trains, per parameter name (whole parameters: empty set).
inline std::map<std::string, std::set<int64_t>> trained_entries(const peft::selective::SelectiveAdapter& a) {
  std::map<std::string, std::set<int64_t>> out;
  for (const auto& e : a.entries()) {
    std::set<int64_t> idx;
    if (e.indices.defined())
      for (int64_t i : e.indices.to_vector<int64_t>()) idx.insert(i);
    out[e.name] = idx;
  }
  return out;
}

}  // namespace selective_test
