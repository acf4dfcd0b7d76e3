// Grad mode: ops record graph nodes only while it is on (the default). NoGradGuard turns it
// off for a scope (inference, optimizer updates, the backward pass itself).
#pragma once

namespace engine::autograd {

bool grad_enabled();
void set_grad_enabled(bool on);

class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;
 private:
  bool previous_;
};

class EnableGradGuard {
 public:
  EnableGradGuard();
  ~EnableGradGuard();
  EnableGradGuard(const EnableGradGuard&) = delete;
  EnableGradGuard& operator=(const EnableGradGuard&) = delete;
 private:
  bool previous_;
};

}  // namespace engine::autograd

namespace engine {
using autograd::NoGradGuard;
}
