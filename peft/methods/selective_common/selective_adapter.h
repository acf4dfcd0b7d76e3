// SelectiveAdapter: the Adapter of every method that trains entries of the BASE parameters
// (BitFit, partial freezing, diff pruning after its L0 phase, FishMask, sparse masks).
// It owns the list of trained entries; each is a whole parameter or a sorted set of flat
// indices fenced by an engine element gradient mask (the optimizer then keeps state for
// those entries only and never writes the others). It keeps compact copies of θ0 at the
// trained entries, so that
//   - set_active(false) (PeftModel's disable / another adapter active) writes θ0 back and
//     keeps θ aside; set_active(true) writes θ again — both exact (bytewise copies);
//   - detach (delete_adapter) leaves the base as it was (θ0, frozen, no mask);
//   - merge is a no-op that only marks the adapter merged: the weights already hold θ,
//     there is nothing to fold in; merge_and_unload returns the trained base;
//   - the file holds only what changed (SELECTIVE_FORMAT.md): whole parameters as
//     `base_model.model.<P>` = θ, entry sets as `<P>.sparse_indices` (i64) +
//     `<P>.sparse_delta` (f32, θ−θ0); loading applies them onto a fresh base.
// A method implements choose(): which entries to train, by calling train_whole /
// train_entries. One parameter can be trained by one selective adapter at a time.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "peft/core/adapter.h"

namespace peft::selective {

class SelectiveAdapter : public Adapter {
 public:
  using Adapter::Adapter;
  ~SelectiveAdapter() override;  // drops the gradient masks it installed (merge_and_unload)

  void attach(models::PretrainedModel& model, uint64_t seed) override;
  void detach(models::PretrainedModel& model) override;
  void set_active(bool on) override;
  bool active() const { return active_; }

  // The live base parameters, by file key ("base_model.model.<P>"); masked ones get compact
  // gradients ([nnz]).
  NamedTensors trainable_tensors() const override;
  // The file decides what is trained: any previous choice is undone, then each whole
  // tensor / (sparse_indices, sparse_delta) pair is applied onto θ0.
  void load_file_tensors(const std::map<std::string, Tensor>& file, const std::string& source) override;

  std::string merge_refusal() const override { return ""; }
  void merge() override { merged_ = true; }
  void unmerge() override { merged_ = false; }
  bool merged() const override { return merged_; }

  // One trained parameter: whole (indices undefined) or the entries at `indices`.
  struct Entry {
    std::string name;  // dotted parameter name in the model
    Tensor param;      // the live base parameter
    Tensor indices;    // i64 [k] sorted flat indices; undefined = the whole parameter
    Tensor original;   // θ0 there ([k] or the whole shape), the parameter's dtype
    Tensor stash;      // θ there while the adapter is inactive
  };
  const std::vector<Entry>& entries() const { return entries_; }
  int64_t num_trained_entries() const;  // Σ k (whole parameters count numel)

 protected:
  // Picks what to train (train_whole / train_entries). modules_to_save are already wrapped,
  // so the head copies are not candidates (inside_peft_wrapper()).
  virtual void choose(models::PretrainedModel& model, uint64_t seed) = 0;
  // Both return the new entry (train_entries: null when `flat_indices` is empty).
  Entry* train_whole(const std::string& name, const Tensor& param);
  Entry* train_entries(const std::string& name, const Tensor& param, std::vector<int64_t> flat_indices);
  // Sets θ at an entry (written into the parameter when active, kept aside when not).
  void set_values(Entry& e, const Tensor& values);
  // Restores θ0 on every entry and forgets them (masks cleared, frozen again).
  void release_entries();
  NamedTensors method_tensors() const override;
  models::PretrainedModel& model() const;

 private:
  Entry& add_entry(const std::string& name, const Tensor& param);
  Tensor current_values(const Entry& e) const;  // θ at the entries, wherever it lives now
  void apply_file_entry(const std::string& name, const Tensor& whole, const Tensor& indices, const Tensor& delta,
                        const std::string& source);

  models::PretrainedModel* model_ = nullptr;  // owned by the PeftModel that owns this adapter
  std::vector<Entry> entries_;
  bool active_ = true;
  bool merged_ = false;
};

}  // namespace peft::selective
