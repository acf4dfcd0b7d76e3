// Fiber switch of the emulator (include/cuda_runtime.h) on x86-64 ELF: saves the callee-saved
// registers and the stack pointer of the running fiber, loads the other's. swapcontext would do
// the same plus a signal-mask syscall per switch, which doubles the emulator's run time.
// Not used (ucontext instead) on other targets or with -DEMU_UCONTEXT.
#if defined(__x86_64__) && defined(__ELF__) && !defined(EMU_UCONTEXT)
// void emu_switch(void** save_sp /* rdi */, void* to_sp /* rsi */)
asm(R"(
  .text
  .globl emu_switch
  .type emu_switch, @function
emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size emu_switch, .-emu_switch
)");
#endif
