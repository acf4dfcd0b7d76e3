// The engine's public API in one include: tensors, ops, autograd, nn, optim, io.
#pragma once
#include "engine/autograd/backward.h"
#include "engine/autograd/grad_mask.h"
#include "engine/autograd/grad_mode.h"
#include "engine/core/counters.h"
#include "engine/core/tensor.h"
#include "engine/ops/binary.h"
#include "engine/ops/convert.h"
#include "engine/ops/indexing.h"
#include "engine/ops/linalg.h"
#include "engine/ops/reduce.h"
#include "engine/ops/shape.h"
#include "engine/ops/unary.h"
