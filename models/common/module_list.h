// torch.nn.ModuleList: children named "0", "1", ... so stacked blocks get HF's names
// (encoder.layer.3, transformer.h.3, encoder.block.3).
#pragma once
#include <memory>
#include <string>

#include "engine/nn/module.h"

namespace models::common {

class ModuleList : public engine::nn::Module {
 public:
  std::string type_name() const override { return "ModuleList"; }
  void append(engine::nn::ModulePtr m) { register_module(std::to_string(size_++), std::move(m)); }
  int64_t size() const { return size_; }
  // The i-th child as its concrete type (looked up by name, so a replaced child is seen).
  template <typename M>
  std::shared_ptr<M> at(int64_t i) const {
    return child_as<M>(std::to_string(i));
  }

 private:
  int64_t size_ = 0;
};

}  // namespace models::common
