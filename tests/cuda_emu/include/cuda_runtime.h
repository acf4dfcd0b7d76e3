// Host emulation of the CUDA execution model for tests/cuda_emu: the unmodified kernel files of
// engine/backend/cuda (rewritten only at their launches, see ../rewrite.cmake) compile as host
// C++ against this header and run on the CPU, so CI without a GPU still executes every kernel.
//
// What it emulates:
//  - blocks run one after another; every CUDA thread of a block is a fiber on the one OS thread
//    (deterministic, cheap on a 2-core machine); threadIdx/blockIdx/blockDim/gridDim. Fibers
//    switch with emu_switch (x86-64 ELF, emu_switch.cpp: no signal-mask syscall, twice as fast)
//    or ucontext elsewhere or with -DEMU_UCONTEXT;
//  - __syncthreads() as a block barrier; reaching it after some threads of the block returned
//    is counted in emu::divergent_barriers (undefined behaviour on a GPU);
//  - warp shuffles (__shfl_sync/_xor/_down/_up) and __syncwarp as per-warp exchanges;
//  - __shared__ arrays (registered by the rewrite) poisoned with 0xFF before every block: a read
//    before its write gives NaN (floats) or -1 (ints);
//  - launch validation: grid.y/z ≤ 65535, ≤ 1024 threads, ≤ 48 KB dynamic shared memory; a bad
//    launch sets the error that check_launch() reads, as on a GPU;
//  - EMU_ORDER=fwd|rev|rand: fiber order within a pass, so a race hidden by one order shows in
//    another; device memory is host memory (cudaMallocAsync fills it with 0xFF).
// What it cannot show: timing or occupancy; real warp scheduling (lanes do not run in lockstep;
// divergence inside a warp is not modelled); ulp differences of device maths (expf, __expf,
// rsqrtf are the host's, FMA contraction is the host compiler's); the memory model across blocks
// (blocks never overlap, so inter-block races and missing __threadfence are invisible);
// atomics are plain read-modify-writes (no contention); no tensor cores, no dynamic shared memory.
#pragma once
#include <ucontext.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __restrict__
#define __constant__ static
// One instance per kernel (block after block share it; run_block re-poisons registered arrays).
#define __shared__ static
using std::isfinite;
using std::isinf;
using std::isnan;
struct alignas(16) uint4 { unsigned x, y, z, w; };
struct alignas(8) uint2 { unsigned x, y; };
struct alignas(16) float4 { float x, y, z, w; };
struct alignas(8) float2 { float x, y; };

struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  dim3(unsigned long long x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(unsigned(x_)), y(y_), z(z_) {}
};
using cudaError_t = int;
inline constexpr cudaError_t cudaSuccess = 0, cudaErrorInvalidValue = 1, cudaErrorInvalidConfiguration = 9;
using cudaStream_t = void*;

namespace emu {
#if defined(__x86_64__) && defined(__ELF__) && !defined(EMU_UCONTEXT)
extern "C" void emu_switch(void** save_sp, void* to_sp);  // emu_switch.cpp
struct Ctx { void* sp = nullptr; };
inline void ctx_switch(Ctx& from, Ctx& to) { emu_switch(&from.sp, to.sp); }
// A fresh stack that emu_switch "returns" into fn with the ABI's alignment: six callee-saved
// register slots, fn as the return address, a null fake return address for fn (which never returns).
inline void ctx_make(Ctx& c, char* stack, size_t size, void (*fn)()) {
  void** sp = reinterpret_cast<void**>(((reinterpret_cast<uintptr_t>(stack) + size) & ~uintptr_t(15)) - 64);
  for (int i = 0; i < 8; ++i) sp[i] = nullptr;
  sp[6] = reinterpret_cast<void*>(fn);
  c.sp = sp;
}
#else
struct Ctx { ucontext_t uc; };
inline void ctx_switch(Ctx& from, Ctx& to) { swapcontext(&from.uc, &to.uc); }
inline void ctx_make(Ctx& c, char* stack, size_t size, void (*fn)()) {
  getcontext(&c.uc);
  c.uc.uc_stack.ss_sp = stack;
  c.uc.uc_stack.ss_size = size;
  c.uc.uc_link = nullptr;
  makecontext(&c.uc, fn, 0);
}
#endif

enum Wait { RUN = 0, BAR = 1, WARP = 2 };
struct Fiber {
  Ctx ctx;
  int wait = RUN;
  bool done = false;
};
inline Ctx sched;
inline std::vector<Fiber> fibers;
inline std::vector<std::vector<char>> stacks;
inline int cur = 0, nthreads = 0;
inline dim3 g_tid, g_bid, g_bdim, g_gdim;
inline std::function<void()>* g_body = nullptr;
inline cudaError_t last_error = cudaSuccess;
inline long long launches = 0, divergent_barriers = 0, blocks_run = 0, bad_launches = 0;
inline const char* cur_kernel = "";
alignas(16) inline unsigned char xbuf[1024][16];  // one shuffle slot per thread
inline std::vector<std::pair<void*, size_t>> shared_regs;

// After every __shared__ declaration (inserted by the rewrite): poisons the array now and
// before every later block.
inline void reg_shared(void* p, size_t n) {
  for (auto& r : shared_regs)
    if (r.first == p) return;
  shared_regs.emplace_back(p, n);
  std::memset(p, 0xFF, n);
}
inline void yield(int w) {
  fibers[size_t(cur)].wait = w;
  ctx_switch(fibers[size_t(cur)].ctx, sched);
}
[[noreturn]] inline void entry() {
  (*g_body)();
  fibers[size_t(cur)].done = true;
  ctx_switch(fibers[size_t(cur)].ctx, sched);  // never resumed
  std::abort();
}
inline void set_tid(int t) {
  cur = t;
  g_tid = dim3(unsigned(t % int(g_bdim.x)), unsigned((t / int(g_bdim.x)) % int(g_bdim.y)),
               unsigned(t / int(g_bdim.x * g_bdim.y)));
}
inline int order_mode() {  // 0 = fwd, 1 = rev, 2 = rand (EMU_ORDER)
  static const int m = [] {
    const char* e = std::getenv("EMU_ORDER");
    return !e ? 0 : std::string(e) == "rev" ? 1 : std::string(e) == "rand" ? 2 : 0;
  }();
  return m;
}
// Runs one block: passes over the live fibers until all returned. A pass runs each runnable
// fiber up to its next barrier/shuffle; then a warp whose live lanes all wait at a warp sync is
// released, else the block when every live fiber waits at __syncthreads.
inline void run_block(std::function<void()>& body) {
  ++blocks_run;
  for (auto& r : shared_regs) std::memset(r.first, 0xFF, r.second);
  g_body = &body;
  fibers.assign(size_t(nthreads), Fiber{});
  if (stacks.size() < size_t(nthreads)) stacks.resize(size_t(nthreads));
  for (int t = 0; t < nthreads; ++t) {
    auto& st = stacks[size_t(t)];
    if (st.empty()) st.resize(256 * 1024);
    auto& f = fibers[size_t(t)];
    ctx_make(f.ctx, st.data(), st.size(), entry);
  }
  static unsigned long long lcg = 12345;
  std::vector<int> seq(static_cast<size_t>(nthreads));
  for (;;) {
    bool ran = false;
    for (int t = 0; t < nthreads; ++t) seq[size_t(t)] = order_mode() == 1 ? nthreads - 1 - t : t;
    if (order_mode() == 2)
      for (int t = nthreads - 1; t > 0; --t) {
        lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
        std::swap(seq[size_t(t)], seq[size_t((lcg >> 33) % unsigned(t + 1))]);
      }
    for (int t : seq)
      if (!fibers[size_t(t)].done && fibers[size_t(t)].wait == RUN) {
        set_tid(t);
        ran = true;
        ctx_switch(sched, fibers[size_t(t)].ctx);
      }
    int live = 0, at_bar = 0;
    for (auto& f : fibers) live += !f.done, at_bar += !f.done && f.wait == BAR;
    if (!live) break;
    bool released = false;
    for (int w = 0; w * 32 < nthreads; ++w) {
      int l = 0, ww = 0;
      const int end = std::min(nthreads, w * 32 + 32);
      for (int t = w * 32; t < end; ++t) l += !fibers[size_t(t)].done, ww += !fibers[size_t(t)].done && fibers[size_t(t)].wait == WARP;
      if (l && l == ww) {
        for (int t = w * 32; t < end; ++t) fibers[size_t(t)].wait = RUN;
        released = true;
      }
    }
    if (!released && at_bar == live) {
      if (live != nthreads) {
        ++divergent_barriers;
        std::fprintf(stderr, "EMU WARNING: __syncthreads with %d of %d threads exited in %s\n", nthreads - live,
                     nthreads, cur_kernel);
      }
      for (auto& f : fibers) f.wait = RUN;
      released = true;
    }
    if (!released && !ran) {
      std::fprintf(stderr, "EMU DEADLOCK in %s: %d live, %d at __syncthreads, rest at a warp sync\n", cur_kernel, live,
                   at_bar);
      std::abort();
    }
  }
}
// kernel<<<grid, block, smem, stream>>>(args) becomes launch_("kernel", [&] { kernel(args); }, ...).
template <typename F>
void launch_(const char* name, F&& f, dim3 grid, dim3 block, size_t smem = 0, cudaStream_t = nullptr) {
  ++launches;
  cur_kernel = name;
  const unsigned long long nt = 1ull * block.x * block.y * block.z;
  if (grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.y > 65535 || grid.z > 65535 || grid.x > 2147483647u ||
      nt == 0 || nt > 1024 || block.z > 64 || smem > 48 * 1024) {
    std::fprintf(stderr, "EMU: invalid launch config of %s: grid %u,%u,%u block %u,%u,%u\n", name, grid.x, grid.y,
                 grid.z, block.x, block.y, block.z);
    ++bad_launches;
    last_error = cudaErrorInvalidConfiguration;
    return;
  }
  std::function<void()> body = f;
  g_bdim = block, g_gdim = grid, nthreads = int(nt);
  for (unsigned z = 0; z < grid.z; ++z)
    for (unsigned y = 0; y < grid.y; ++y)
      for (unsigned x = 0; x < grid.x; ++x) {
        g_bid = dim3(x, y, z);
        run_block(body);
      }
}
template <typename V>
V shfl(V v, int src_lane) {
  static_assert(sizeof(V) <= 16);
  const int w = cur / 32;
  std::memcpy(xbuf[cur], &v, sizeof(V));
  yield(WARP);  // every live lane has published its value
  V r = v;
  const int src = w * 32 + (src_lane & 31);
  if (src < nthreads && !fibers[size_t(src)].done) std::memcpy(&r, xbuf[src], sizeof(V));
  yield(WARP);  // every lane has read before anyone publishes again
  return r;
}
}  // namespace emu

#define threadIdx (::emu::g_tid)
#define blockIdx (::emu::g_bid)
#define blockDim (::emu::g_bdim)
#define gridDim (::emu::g_gdim)
inline void __syncthreads() { emu::yield(emu::BAR); }
inline void __syncwarp(unsigned = 0xffffffffu) { emu::yield(emu::WARP); }
template <typename V> V __shfl_sync(unsigned, V v, int src, int = 32) { return emu::shfl(v, src); }
template <typename V> V __shfl_xor_sync(unsigned, V v, int m, int = 32) { return emu::shfl(v, (emu::cur % 32) ^ m); }
template <typename V> V __shfl_down_sync(unsigned, V v, unsigned d, int = 32) {
  const int l = emu::cur % 32 + int(d);
  return emu::shfl(v, l > 31 ? emu::cur % 32 : l);  // out of range: own value, as on a GPU
}
template <typename V> V __shfl_up_sync(unsigned, V v, unsigned d, int = 32) {
  const int l = emu::cur % 32 - int(d);
  return emu::shfl(v, l < 0 ? emu::cur % 32 : l);
}
// Fibers never preempt each other: atomics are plain read-modify-writes.
template <typename V> V atomicAdd(V* p, V v) { V o = *p; *p = o + v; return o; }
template <typename V> V atomicMin(V* p, V v) { V o = *p; *p = v < o ? v : o; return o; }
template <typename V> V atomicMax(V* p, V v) { V o = *p; *p = v > o ? v : o; return o; }
template <typename V> V atomicExch(V* p, V v) { V o = *p; *p = v; return o; }
template <typename V> V atomicCAS(V* p, V c, V v) { V o = *p; if (o == c) *p = v; return o; }
// Device maths: the host's (exact-rounding differences of the fast intrinsics are not modelled).
inline float rsqrtf(float x) { return 1.f / std::sqrt(x); }
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fsqrt_rn(float a) { return std::sqrt(a); }
inline float __saturatef(float x) { return x < 0.f ? 0.f : x > 1.f ? 1.f : x; }
template <typename V> V __ldg(const V* p) { return *p; }
// Runtime API: device memory is host memory, streams are synchronous.
inline cudaError_t cudaGetLastError() { cudaError_t e = emu::last_error; emu::last_error = cudaSuccess; return e; }
inline cudaError_t cudaPeekAtLastError() { return emu::last_error; }
inline const char* cudaGetErrorString(cudaError_t e) { return e ? "emulated launch error" : "no error"; }
inline cudaError_t cudaMemsetAsync(void* p, int v, size_t n, cudaStream_t = nullptr) { std::memset(p, v, n); return 0; }
inline cudaError_t cudaMemset(void* p, int v, size_t n) { std::memset(p, v, n); return 0; }
enum cudaMemcpyKind { cudaMemcpyHostToHost, cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost, cudaMemcpyDeviceToDevice, cudaMemcpyDefault };
inline cudaError_t cudaMemcpyAsync(void* d, const void* s, size_t n, cudaMemcpyKind, cudaStream_t = nullptr) { std::memcpy(d, s, n); return 0; }
inline cudaError_t cudaMemcpy(void* d, const void* s, size_t n, cudaMemcpyKind) { std::memcpy(d, s, n); return 0; }
inline cudaError_t cudaStreamSynchronize(cudaStream_t) { return 0; }
inline cudaError_t cudaDeviceSynchronize() { return 0; }
inline cudaError_t cudaMallocAsync(void** p, size_t n, cudaStream_t = nullptr) {
  *p = std::malloc(n ? n : 1);
  std::memset(*p, 0xFF, n);  // uninitialised device memory reads as NaN / -1
  return 0;
}
inline cudaError_t cudaFreeAsync(void* p, cudaStream_t = nullptr) { std::free(p); return 0; }
