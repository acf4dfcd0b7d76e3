// Runs a test body once per SIMD target that Highway compiled and this CPU supports (AVX-512,
// AVX2, SSE4, ... on x86), so a machine with AVX-512 also checks the kernels a user's CPU
// without it runs. Failures name the target through SCOPED_TRACE.
#pragma once
#include <cstdint>

#include <gtest/gtest.h>
#include <hwy/targets.h>

namespace engine::test {

template <class F>
void for_each_simd_target(F&& body) {
  for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
    SCOPED_TRACE(std::string("SIMD target ") + hwy::TargetName(target));
    hwy::SetSupportedTargetsForTest(target);  // HWY_DYNAMIC_DISPATCH now picks this target
    body();
  }
  hwy::SetSupportedTargetsForTest(0);  // back to the best target
}

}  // namespace engine::test
