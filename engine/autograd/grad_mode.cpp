#include "engine/autograd/grad_mode.h"

namespace engine::autograd {
namespace {
thread_local bool enabled = true;
}
bool grad_enabled() { return enabled; }
void set_grad_enabled(bool on) { enabled = on; }
NoGradGuard::NoGradGuard() : previous_(enabled) { enabled = false; }
NoGradGuard::~NoGradGuard() { enabled = previous_; }
EnableGradGuard::EnableGradGuard() : previous_(enabled) { enabled = true; }
EnableGradGuard::~EnableGradGuard() { enabled = previous_; }
}  // namespace engine::autograd
