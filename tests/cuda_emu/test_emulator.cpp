// Self-tests of the emulator (include/cuda_runtime.h): without them a broken emulator could
// hide broken kernels. Divergent barriers are counted, bad launch configurations reach
// check_launch, shuffles exchange lanes as on a GPU, shared memory starts poisoned.
#include <stdexcept>

#include "emu_test.h"
#include "engine/backend/cuda/common.cuh"

namespace {
using namespace engine::cuda::kernels;  // check_launch

__global__ void early_exit(float* out, int n) {
  __shared__ float sh[64];
  emu::reg_shared(&sh, sizeof(sh));
  if (int(threadIdx.x) >= n) return;  // returns before the barrier: undefined on a GPU
  sh[threadIdx.x] = 1.f;
  __syncthreads();
  out[threadIdx.x] = sh[(threadIdx.x + 1) % unsigned(n)];
}
__global__ void shuffles(float* out) {
  float v = float(threadIdx.x);
  for (int m = 16; m > 0; m >>= 1) v += __shfl_xor_sync(0xffffffffu, v, m);
  out[threadIdx.x] = v + __shfl_down_sync(0xffffffffu, float(threadIdx.x), 1) * 1000.f;
}
__global__ void unsynced(float* out) {  // reads a neighbour's shared slot without a barrier
  __shared__ float sh[64];
  emu::reg_shared(&sh, sizeof(sh));
  sh[threadIdx.x] = 1.f;
  out[threadIdx.x] = sh[(threadIdx.x + 1) % 64];
}
}  // namespace

TEST(CudaEmuEmulator, DivergentBarrierIsCounted) {
  std::vector<float> out(64, 0.f);
  const long long before = emu::divergent_barriers;
  emu::launch_("early_exit", [&] { early_exit(out.data(), 40); }, dim3(1), dim3(64));
  EXPECT_EQ(emu::divergent_barriers, before + 1);
}
TEST(CudaEmuEmulator, BadLaunchReachesCheckLaunch) {
  std::vector<float> out(64, 0.f);
  emu::launch_("bad", [&] { shuffles(out.data()); }, dim3(1, 70000), dim3(64));  // grid.y > 65535
  EXPECT_THROW(check_launch("bad"), engine::Error);
  EXPECT_NO_THROW(check_launch("after"));  // the error is consumed, as cudaGetLastError does
  emu::launch_("bad", [&] { shuffles(out.data()); }, dim3(1), dim3(1025));
  EXPECT_THROW(check_launch("bad"), engine::Error);
}
TEST(CudaEmuEmulator, WarpShuffles) {
  std::vector<float> out(64, 0.f);
  emu::launch_("shuffles", [&] { shuffles(out.data()); }, dim3(1), dim3(64));
  EXPECT_EQ(out[0], 496.f + 1000.f);             // lanes 0..31 summed; lane 1 shuffled down
  EXPECT_EQ(out[31], 496.f + 31000.f);           // shfl_down past the warp: own value
  EXPECT_EQ(out[32], 1520.f + 33000.f);          // second warp: lanes 32..63
}
TEST(CudaEmuEmulator, SharedMemoryStartsPoisoned) {
  std::vector<float> out(64, 0.f);
  emu::launch_("unsynced", [&] { unsynced(out.data()); }, dim3(1), dim3(64));
  int nan = 0;
  for (float v : out) nan += std::isnan(v);
  EXPECT_GT(nan, 0) << "a read before the writer ran must see the poison";
}
