// Moving a whole module between devices and dtypes (torch's `module.to(device)` /
// `module.to(dtype)`), as free functions so that module.h stays untouched.
//
// The move is done IN PLACE on each parameter's and buffer's TensorImpl: the impl keeps its
// identity and only its storage (and, for a dtype change, its dtype and strides) is replaced.
// So every handle to a parameter stays valid and sees the new placement: registered names,
// requires_grad flags, gradient masks, tied weights (one impl under two names), modules that
// keep a handle to a registered tensor (QuantizedLinear's bias_) and an optimizer that was
// built before the move. Views that share one storage (ties through views) are moved as one
// storage, so they stay tied. Accumulated gradients move with their parameter.
#pragma once
#include <vector>

#include "engine/core/tensor.h"
#include "engine/nn/module.h"

namespace engine::nn {

// Moves every parameter, buffer and gradient of `m`'s subtree to `device`. Tensors already
// there are untouched (so moving to the current device is free). Throws NoKernelError
// naming the module and device when the device is a GPU this build or machine lacks.
void module_to(Module& m, Device device);

// Converts every floating parameter and buffer (and gradient) of the subtree to `dtype`;
// integer tensors (ids, index buffers) keep their dtype. Ties through one impl stay tied.
void module_to(Module& m, DType dtype);

// The device of a module: that of its first parameter, else its first buffer, else the CPU.
// Throws ValueError when its parameters and buffers are spread over several devices.
Device module_device(const Module& m);

// Moves the given tensors in place, as module_to does (for tensors that live outside a
// module tree, e.g. an adapter's prompt table). Undefined tensors are skipped.
void tensors_to(const std::vector<Tensor>& tensors, Device device, const char* who = "tensors_to");

// Throws NoKernelError "[who] <device>: this build has no CUDA backend" / "...: this machine
// has no CUDA device" unless `device` can hold tensors. Free for the CPU.
void require_device(Device device, const char* who);

}  // namespace engine::nn
