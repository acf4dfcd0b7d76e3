# Build-time rewrite of one CUDA kernel file into host C++ for the emulator (tests/cuda_emu):
#   cmake -DIN=engine/backend/cuda/<file>.cu -DOUT=<builddir>/cuda_emu/<file>.cpp -P rewrite.cmake
# Two edits, nothing else (line numbers are kept, and #line points diagnostics at the .cu):
#  1. kernel<Targs><<<cfg>>>(args);  ->  emu::launch_("kernel<Targs>", [&] { kernel<Targs>(args); }, cfg);
#     (a launch must not contain ';' inside its configuration or arguments)
#  2. after every `__shared__ T a[..], b[..];` declaration: emu::reg_shared(&a, sizeof(a)); ...
#     so the emulator can poison shared arrays before each block. `extern __shared__` (dynamic
#     shared memory) is not supported and fails the rewrite.
if(NOT IN OR NOT OUT)
  message(FATAL_ERROR "usage: cmake -DIN=<file.cu> -DOUT=<file.cpp> -P rewrite.cmake")
endif()
file(READ "${IN}" src)
if(src MATCHES "extern[ \t]+__shared__")
  message(FATAL_ERROR "${IN}: dynamic (extern) __shared__ memory is not emulated")
endif()

set(name "[A-Za-z_][A-Za-z0-9_]*(<[^;<>()]*>)?")
string(REGEX REPLACE "(${name})[ \t]*<<<([^;]*)>>>[ \t\r\n]*\\(([^;]*)\\)[ \t]*;"
       "emu::launch_(\"\\1\", [&] { \\1(\\4); }, \\3);" src "${src}")
if(src MATCHES "<<<|>>>")
  message(FATAL_ERROR "${IN}: a kernel launch was not rewritten (';' inside it?)")
endif()

# Every distinct `__shared__ ...` declaration (up to its ';') gets one reg_shared per array.
string(REGEX MATCHALL "__shared__[^;]*" decls "${src}")
list(REMOVE_DUPLICATES decls)
foreach(decl IN LISTS decls)
  # Extents dropped (their commas), then names before '@': no '[' may reach a CMake list.
  string(REGEX REPLACE "\\[[^]]*\\]" "@" bare "${decl}")
  string(REGEX MATCHALL "[A-Za-z_][A-Za-z0-9_]*[ \t]*@" arrays "${bare}")
  if(NOT arrays)
    message(FATAL_ERROR "${IN}: no array in shared declaration '${decl}'")
  endif()
  set(regs "")
  foreach(a IN LISTS arrays)
    string(REGEX REPLACE "[ \t]*@$" "" a "${a}")
    string(APPEND regs " emu::reg_shared(&${a}, sizeof(${a}));")
  endforeach()
  string(REPLACE "${decl};" "${decl};${regs}" src "${src}")
endforeach()

file(WRITE "${OUT}.tmp" "// Generated from ${IN} by tests/cuda_emu/rewrite.cmake: do not edit.\n#line 1 \"${IN}\"\n${src}")
file(RENAME "${OUT}.tmp" "${OUT}")
