// The empirical Fisher information of parameters (Sung et al. 2021, eq. 2, batched): the
// mean over `num_batches` of the squared gradient of the task loss, per entry.
#pragma once
#include <functional>

#include "peft/methods/selective_common/entries.h"

namespace peft::fish_mask {

// `loss_of_next_batch` runs the model on the next batch and returns its scalar loss. The
// parameters are made trainable for the duration (their flags are restored after), so their
// dW kernels run; other trainable tensors accumulate gradients as usual (zero them before
// training). Returns one f32 tensor per parameter, same shapes. Parameters must carry no
// gradient mask.
selective::NamedParams compute_fisher(const selective::NamedParams& params,
                                      const std::function<engine::Tensor()>& loss_of_next_batch, int64_t num_batches);

}  // namespace peft::fish_mask
