// BitFit (Ben Zaken et al. 2022): train the bias terms of the base model in place, plus the
// classification head for SEQ_CLS (modules_to_save). Biases are whole parameters, so no
// gradient mask is needed: every frozen weight still costs no dW kernel.
#pragma once
#include "peft/methods/bitfit/config.h"
#include "peft/methods/selective_common/selective_adapter.h"

namespace peft::bitfit {

class BitFitAdapter : public selective::SelectiveAdapter {
 public:
  using SelectiveAdapter::SelectiveAdapter;

 protected:
  void choose(models::PretrainedModel& model, uint64_t seed) override;
};

}  // namespace peft::bitfit
