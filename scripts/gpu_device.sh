#!/usr/bin/env bash
# Builds and tests peft.cpp on the lent GPU machine (the `run` tool: bench/README.md, "Running on
# the lent GPU machine"). That machine has nvcc, CMake, ninja and PyTorch but none of our Debian
# build dependencies and no network, so the dependencies travel as .deb files:
#
#   scripts/gpu_device.sh prepare            # HERE: download the .debs into .gpu_deps/ (ignored)
#   scripts/gpu_device.sh build [options]    # THERE: unpack into a private prefix, configure,
#                                            # build, check isolation, run the GPU tests
#   scripts/gpu_device.sh env                # print the exports (source them to run binaries
#                                            # or bench/cuda/run_gpu_bench.sh afterwards)
#   scripts/gpu_device.sh check              # re-run the isolation checks on a built tree
#
# build options: --prefix DIR (default /tmp/deps; never /), --build-dir DIR (default build-gpu),
#   --jobs N (default nproc), --configure-only, --targets "T ...", --no-tests,
#   --tests all|cuda (cuda: the Cuda*/device filters, the default; all: every test),
#   --filter GTEST_FILTER (overrides the default filter), -- EXTRA_CMAKE_ARGS...
#   Environment: TEST_TIMEOUT (s per test binary, default 300), GPU_DEVICE_DEADLINE (s after
#   start by which the tests must end so the summary prints; default 580 when $OUT is set),
#   GPU_DEPS_DIR.
# The .debs are unpacked with `dpkg -x` into the prefix, never into / (dpkg -x there would
# clobber the image's own files). Debian .pc files say prefix=/usr: they are rewritten to the
# prefix; the CMake package configs compute their prefix from their own location. Binaries get
# the prefix's library folders as DT_RPATH (not RUNPATH), so libopenblas finds libgfortran
# without LD_LIBRARY_PATH; LD_LIBRARY_PATH is set as well for anything else started from here.
# Logs go to $OUT (the run tool's return folder) when set, else to BUILD_DIR/gpu_logs.
set -Eeuo pipefail
trap 'echo "gpu_device: ERROR: command failed at line $LINENO (exit $?)" >&2' ERR
repo=$(cd "$(dirname "$0")/.." && pwd)
deps=${GPU_DEPS_DIR:-$repo/.gpu_deps}
max_mib=${GPU_DEPS_MAX_MIB:-60}   # the run tool carries 64 MiB in all, working tree included
arch=x86_64-linux-gnu

# Headers + link-time files, then the shared libraries they load, then pkg-config itself (used
# only where the device has none). libhwloc15 is left out on purpose: TBB dlopens tbbbind, which
# needs it, and runs without NUMA binding when that fails.
dev_pkgs=(libopenblas-dev libopenblas-pthread-dev libtbb-dev libhwy-dev libsentencepiece-dev
          libgtest-dev libbenchmark-dev nlohmann-json3-dev libcli11-dev)
lib_pkgs=(libopenblas0 libopenblas0-pthread libgfortran5 libquadmath0 libtbb12 libtbbmalloc2
          libtbbbind-2-5 libhwy1 libsentencepiece0 libbenchmark1debian)
tool_pkgs=(pkgconf-bin libpkgconf3)
# Sonames the bundle may take from the device's own system (glibc, the C++ runtime) or that are
# dlopened optionally (hwloc, by tbbbind).
base_sonames=" libc.so.6 libm.so.6 libstdc++.so.6 libgcc_s.so.1 ld-linux-x86-64.so.2 libpthread.so.0
  libdl.so.2 librt.so.1 libhwloc.so.15 "

die() { echo "gpu_device: ERROR: $*" >&2; exit 1; }
say() { echo "gpu_device: $*" >&2; }
t0=$SECONDS
step() { echo "== [$((SECONDS - t0))s] $*" >&2; }
ver_ge() { [[ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | sed -n 1,1p)" == "$2" ]]; }  # $1 >= $2

# Highest GLIBC_2.x / GLIBCXX_3.4.x version that the ELF files under $1 need.
max_needed() {
  local root=$1 sym=$2
  find "$root" -type f \( -name '*.so*' -o -path '*/bin/*' \) -print0 |
    xargs -0 -r readelf -V --wide 2>/dev/null | grep -oE "Name: ${sym}_[0-9.]+" |
    sed "s/Name: ${sym}_//" | sort -V | tail -1
}

# ---------------------------------------------------------------------------------- prepare ---
prepare() {
  [[ $(dpkg --print-architecture) == amd64 ]] || die "prepare must run on an amd64 Debian 12 machine"
  command -v apt-get >/dev/null || die "prepare needs apt-get (Debian 12, as the build machine)"
  tmp=$(mktemp -d /tmp/gpu_deps.XXXXXX)
  trap 'rm -rf "$tmp"' EXIT
  step "downloading ${#dev_pkgs[@]} -dev, ${#lib_pkgs[@]} library and ${#tool_pkgs[@]} tool packages"
  # apt warns that it downloads unsandboxed (the _apt user cannot write $tmp): harmless.
  (cd "$tmp" || exit
   apt-get download -q "${dev_pkgs[@]}" "${lib_pkgs[@]}" "${tool_pkgs[@]}" 2>&1 |
     grep -v -e '^Get:' -e 'unsandboxed') || true   # success is checked file by file below
  local p missing=()
  for p in "${dev_pkgs[@]}" "${lib_pkgs[@]}" "${tool_pkgs[@]}"; do
    compgen -G "$tmp/${p}_*.deb" >/dev/null || missing+=("$p")
  done
  ((${#missing[@]} == 0)) || die "apt-get download failed for: ${missing[*]} (apt-get update?)"

  step "checking the bundle: every library it needs is in it or part of the base system"
  mkdir "$tmp/root"
  for p in "$tmp"/*.deb; do dpkg -x "$p" "$tmp/root"; done
  local have needed unmet=()
  have=" $(find "$tmp/root" \( -type f -o -type l \) -name 'lib*.so.*' -printf '%f ') "
  needed=$(find "$tmp/root" -type f \( -name '*.so*' -o -path '*/bin/*' \) -print0 |
             xargs -0 -r readelf -d 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort -u)
  for p in $needed; do
    [[ $have == *" $p "* || $base_sonames == *" $p "* ]] || unmet+=("$p")
  done
  ((${#unmet[@]} == 0)) || die "the bundle needs libraries it does not carry: ${unmet[*]}"
  local glibc glibcxx
  glibc=$(max_needed "$tmp/root" GLIBC); glibcxx=$(max_needed "$tmp/root" GLIBCXX)

  rm -rf "$deps"; mkdir -p "$deps"
  mv "$tmp"/*.deb "$deps/"
  { echo "# written by scripts/gpu_device.sh prepare on $(date -u +%F); read by build"
    echo "glibc=$glibc"; echo "glibcxx=$glibcxx"; } >"$deps/REQUIRES"
  # shellcheck disable=SC2016  # dpkg-deb expands ${Package}, not the shell
  for p in "$deps"/*.deb; do dpkg-deb -W --showformat='${Package} ${Version}\n' "$p"; done >"$deps/MANIFEST"
  local bytes tree mib
  bytes=$(du -cb "$deps"/*.deb | tail -1 | cut -f1)
  mib=$(( (bytes + 1048575) / 1048576 ))
  tree=$(cd "$repo" && git ls-files -co --exclude-standard -z | du -cb --files0-from=- 2>/dev/null |
           tail -1 | cut -f1)
  say "$(find "$deps" -name '*.deb' | wc -l) packages, $((bytes / 1024)) KiB ($mib MiB) in $deps"
  say "needs on the device: glibc >= $glibc, libstdc++ with GLIBCXX_$glibcxx"
  say "working tree that travels besides: $((tree / 1048576)) MiB (the run tool's limit: 64 MiB)"
  ((mib <= max_mib)) || die "bundle is $mib MiB, over the $max_mib MiB limit"
  (((bytes + tree) / 1048576 < 63)) || die "bundle + working tree exceed the 64 MiB carry limit"
  say "ready: run on the device with carry [\".gpu_deps\"]: scripts/gpu_device.sh build"
}

# ------------------------------------------------------------------------------ environment ---
prefix=/tmp/deps build_dir=$repo/build-gpu
lib_dirs() { echo "$prefix/usr/lib/$arch" "$prefix/usr/lib/$arch/openblas-pthread"; }
# The device's pkg-config if it has one, else the bundled pkgconf (GPU_DEPS_PKG_CONFIG=bundled
# forces the latter, to test it on a machine that has both).
pick_pkg_config() {
  if [[ ${GPU_DEPS_PKG_CONFIG:-} != bundled ]] && command -v pkg-config >/dev/null; then
    command -v pkg-config
  else echo "$prefix/usr/bin/pkgconf"; fi
}
# The exports, one per line (`eval "$(scripts/gpu_device.sh env)"` or `. PREFIX/env.sh`).
emit_env() {
  local pc="$prefix/usr/lib/$arch/pkgconfig:$prefix/usr/lib/$arch/openblas-pthread/pkgconfig"
  pc+=":$prefix/usr/share/pkgconfig"
  local ld; ld=$(lib_dirs | tr ' ' ':')
  cat <<EOF
export GPU_DEPS_PREFIX='$prefix'
export PKG_CONFIG_LIBDIR='$pc'
export PKG_CONFIG_PATH='$pc'
export PKG_CONFIG='$(pick_pkg_config)'
export CMAKE_PREFIX_PATH='$prefix/usr'\${CMAKE_PREFIX_PATH:+:\$CMAKE_PREFIX_PATH}
export CXXFLAGS='-isystem $prefix/usr/include'\${CXXFLAGS:+ \$CXXFLAGS}
export LDFLAGS='-Wl,--disable-new-dtags'\${LDFLAGS:+ \$LDFLAGS}
export LD_LIBRARY_PATH='$ld'\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}
export BUILD_DIR='$build_dir'
EOF
}

# ------------------------------------------------------------------------------- isolation ---
# Every dependency must come from the prefix, not from /usr (on the device /usr has none of them;
# here it has all of them, so a leak would pass here and fail there).
check_isolation() {
  local cache=$build_dir/CMakeCache.txt bad=0 line v
  [[ -f $cache ]] || die "no $cache: configure first"
  step "isolation: CMake cache"
  # The package configs, and every library/include folder pkg_check_modules resolved.
  local keys='^(TBB_DIR|GTest_DIR|benchmark_DIR|nlohmann_json_DIR|pkgcfg_lib_[A-Z]+_[A-Za-z_]+'
  keys+='|(OPENBLAS|HWY|SENTENCEPIECE)_(INCLUDEDIR|LIBDIR|INCLUDE_DIRS|LIBRARY_DIRS)):'
  for v in TBB_DIR GTest_DIR benchmark_DIR nlohmann_json_DIR pkgcfg_lib_OPENBLAS_openblas \
           pkgcfg_lib_HWY_hwy pkgcfg_lib_SENTENCEPIECE_sentencepiece; do
    grep -qE "^$v:" "$cache" || { say "  $v: not in the cache"; bad=1; }
  done
  while IFS= read -r line; do
    v=${line%%:*}; line=${line#*=}
    [[ -n $line ]] || continue
    local e
    for e in ${line//;/ }; do
      [[ $e == "$prefix"/* ]] || { say "  $v -> $e: OUTSIDE the prefix"; bad=1; }
    done
    echo "  $v = $line" >&2
  done < <(grep -E "$keys" "$cache")
  local pc; pc=$(pick_pkg_config)
  for v in openblas libhwy sentencepiece; do
    line=$("$pc" --variable=libdir "$v")
    [[ $line == "$prefix"/* ]] || { say "  pkg-config $v libdir=$line: OUTSIDE the prefix"; bad=1; }
  done
  if grep -rlE '(^|[=[:space:]])(-[IL])?/usr(/|$)' "$prefix/usr/lib/$arch/pkgconfig" \
       "$prefix/usr/lib/$arch/openblas-pthread/pkgconfig" "$prefix/usr/share/pkgconfig" 2>/dev/null |
       grep -q .; then say "  a .pc file still names /usr"; bad=1; fi
  local ndeps=0
  if [[ -f $build_dir/build.ninja ]]; then
    ndeps=$(cd "$build_dir" && ninja -t deps 2>/dev/null | grep -c '#deps') || true
  fi
  if ((ndeps > 0)); then
    step "isolation: headers of the $ndeps objects compiled so far (ninja -t deps)"
    local leaks
    leaks=$(cd "$build_dir" && ninja -t deps 2>/dev/null |
      grep -oE '(^|[[:space:]])/usr/include/(tbb|oneapi|hwy|nlohmann|CLI|gtest|benchmark|sentencepiece|x86_64-linux-gnu/openblas|cblas)[^[:space:]]*' |
      sort -u | sed -n 1,20p) || true
    if [[ -n $leaks ]]; then say "  headers read from /usr, not the prefix:"; echo "$leaks" >&2; bad=1
    else echo "  no dependency header read from /usr/include" >&2; fi
  fi
  local exe
  for exe in "$build_dir"/tests/test_engine "$build_dir"/app/peft "$build_dir"/bench/cuda/bench_gpu_gemm; do
    [[ -x $exe ]] || continue
    step "isolation: libraries $(basename "$exe") loads (ldd, without LD_LIBRARY_PATH)"
    local libs
    libs=$(env -u LD_LIBRARY_PATH ldd "$exe" |
           grep -E 'lib(openblas|gfortran|quadmath|tbb|hwy|sentencepiece|benchmark)') || true
    echo "$libs" >&2
    if echo "$libs" | grep -v "=> $prefix/" | grep -q .; then
      say "  $(basename "$exe") loads a dependency from outside the prefix (or misses one)"; bad=1
    fi
  done
  ((bad == 0)) || die "isolation check failed: a dependency resolves outside $prefix"
  say "isolation: every dependency resolves inside $prefix"
}

# ----------------------------------------------------------------------------------- build ---
build() {
  local jobs configure_only=0 run_tests=1 tests=cuda filter="" extra=()
  local targets="test_engine test_models test_peft test_app peft_cli bench_gpu_gemm bench_gpu_train"
  jobs=$(nproc)
  while (($#)); do
    case "$1" in
      --prefix) prefix=$2; shift ;;
      --build-dir) build_dir=$2; shift ;;
      --jobs) jobs=$2; shift ;;
      --configure-only) configure_only=1 ;;
      --targets) targets=$2; shift ;;
      --no-tests) run_tests=0 ;;
      --tests) tests=$2; shift ;;
      --filter) filter=$2; shift ;;
      --) shift; extra=("$@"); break ;;
      *) die "unknown build option $1 (see the header of $0)" ;;
    esac
    shift
  done
  [[ $prefix == /* && $prefix != / && $prefix != /usr* ]] || die "--prefix must be a private absolute folder, not $prefix"
  [[ $build_dir == /* ]] || build_dir=$repo/$build_dir
  local logs=${OUT:-$build_dir/gpu_logs}
  mkdir -p "$logs" "$build_dir"

  step "machine"
  local glibc req_glibc req_glibcxx libstdcxx
  local lddv; lddv=$(ldd --version 2>&1 || true); echo "${lddv%%$'\n'*}" >&2
  glibc=$(echo "${lddv%%$'\n'*}" | grep -oE '[0-9]+\.[0-9]+$')
  [[ -f $deps/REQUIRES ]] || die "no $deps/REQUIRES: run 'scripts/gpu_device.sh prepare' here and carry .gpu_deps"
  req_glibc=$(sed -n 's/^glibc=//p' "$deps/REQUIRES"); req_glibcxx=$(sed -n 's/^glibcxx=//p' "$deps/REQUIRES")
  ver_ge "$glibc" "$req_glibc" ||
    die "this machine's glibc is $glibc; the Debian 12 libraries in .gpu_deps need >= $req_glibc"
  libstdcxx=$(g++ -print-file-name=libstdc++.so.6 2>/dev/null || true)
  [[ -n $libstdcxx && $libstdcxx == /* ]] || libstdcxx=$(ldconfig -p | sed -n 's/.*libstdc++.so.6 (libc6,x86-64) => //p' | sed -n 1,1p)
  if [[ -n $req_glibcxx ]] && ! grep -aq "GLIBCXX_$req_glibcxx" "$(readlink -f "$libstdcxx")"; then
    die "$libstdcxx lacks GLIBCXX_$req_glibcxx (the bundle was built by GCC 12): need libstdc++ >= 12"
  fi
  local nvcc; nvcc=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
  [[ -x $nvcc ]] || die "no nvcc on PATH or in /usr/local/cuda/bin"
  echo "  g++: $(g++ -dumpfullversion)  cmake: $(cmake --version | sed -n 1,1p | awk '{print $3}')" \
       " ninja: $(ninja --version 2>/dev/null || echo none)  nvcc: $("$nvcc" --version | grep -oE 'release [0-9.]+')" \
       " cores: $(nproc)" >&2
  ver_ge "$(cmake --version | sed -n 1,1p | awk '{print $3}')" 3.25 || die "CMake >= 3.25 needed"
  local gpu; gpu=$(nvidia-smi -L 2>/dev/null | grep '^GPU' || true)
  if [[ -n $gpu ]]; then echo "  $gpu" >&2; else say "WARNING: no GPU visible: Cuda* tests will SKIP"; fi

  step "unpacking $(find "$deps" -name '*.deb' | wc -l) packages into $prefix"
  if [[ -e $prefix ]]; then
    [[ -f $prefix/.gpu_deps_prefix ]] || die "$prefix exists and is not ours: choose another --prefix"
    rm -rf "$prefix"
  fi
  mkdir -p "$prefix"; touch "$prefix/.gpu_deps_prefix"
  local d
  for d in "$deps"/*.deb; do
    if command -v dpkg >/dev/null; then dpkg -x "$d" "$prefix"
    else ar p "$d" data.tar.xz | tar -xJ -C "$prefix"; fi   # no dpkg: a .deb is an ar archive
  done
  # Debian's .pc files name /usr (prefix=/usr, or libdir=/usr/... in openblas.pc): rewrite them.
  find "$prefix" -name '*.pc' -exec sed -i -E \
    -e "s#(^[A-Za-z_]+=)/usr(/|\$)#\\1$prefix/usr\\2#" \
    -e "s#([[:space:]]-[IL])/usr/#\\1$prefix/usr/#g" {} +
  # Absolute symlinks would point back into the image's /usr: none in these packages; say so if
  # a new package version brings one.
  if find "$prefix" -type l -lname '/*' | grep -q .; then
    die "absolute symlinks in the bundle: $(find "$prefix" -type l -lname '/*' | sed -n 1,3p)"
  fi
  emit_env >"$prefix/env.sh"
  eval "$(emit_env)"
  local pc; pc=$(pick_pkg_config)
  echo "  pkg-config: $pc; openblas $("$pc" --modversion openblas), hwy $("$pc" --modversion libhwy)," \
       "sentencepiece $("$pc" --modversion sentencepiece)" >&2

  step "configure ($build_dir, Release, ENGINE_CUDA=ON) -> $logs/configure.log"
  local gen=() rpath
  [[ -f $build_dir/CMakeCache.txt ]] || { command -v ninja >/dev/null && gen=(-G Ninja); }
  rpath=$(lib_dirs | tr ' ' ';')
  local cmk="$prefix/usr/lib/$arch/cmake"
  if ! cmake -S "$repo" -B "$build_dir" ${gen[@]+"${gen[@]}"} -DCMAKE_BUILD_TYPE=Release -DENGINE_CUDA=ON \
      -DCMAKE_CUDA_COMPILER="$nvcc" -DCMAKE_PREFIX_PATH="$prefix/usr" \
      -DTBB_DIR="$cmk/TBB" -DGTest_DIR="$cmk/GTest" -Dbenchmark_DIR="$cmk/benchmark" \
      -Dnlohmann_json_DIR="$prefix/usr/share/cmake/nlohmann_json" -DPKG_CONFIG_EXECUTABLE="$pc" \
      -DCMAKE_CXX_FLAGS="-isystem $prefix/usr/include" -DCMAKE_BUILD_RPATH="$rpath" \
      -DCMAKE_EXE_LINKER_FLAGS="-Wl,--disable-new-dtags" \
      ${extra[@]+"${extra[@]}"} >"$logs/configure.log" 2>&1; then
    tail -40 "$logs/configure.log" >&2; die "configure failed (full log: $logs/configure.log)"
  fi
  check_isolation
  ((configure_only)) && { say "configured (--configure-only): $build_dir"; return 0; }

  step "build -j$jobs: $targets -> $logs/build.log"
  local b0=$SECONDS
  # shellcheck disable=SC2086
  if ! cmake --build "$build_dir" --target $targets -j"$jobs" >"$logs/build.log" 2>&1; then
    grep -E 'error|Error|FAILED' "$logs/build.log" | sed -n 1,40p >&2 || true
    tail -15 "$logs/build.log" >&2
    die "build failed after $((SECONDS - b0))s (full log: $logs/build.log)"
  fi
  say "built in $((SECONDS - b0))s"
  check_isolation
  ((run_tests)) || { summary_line "build ok, tests not run"; return 0; }
  run_gtests "$tests" "$filter" "$logs"
}

summary_line() { echo "gpu_device SUMMARY: $* (total $((SECONDS - t0))s)"; }

# Runs each test binary (device filters by default), then one summary line per binary.
run_gtests() {
  local mode=$1 filter=$2 logs=$3 rows=() failed=0 suite
  local -A filters=([engine]='Cuda*' [models]='Cuda*:ModuleTo*:BatchTo*' [peft]='*Cuda*'
                    [app]='DeviceCli*:*Cuda*')
  for suite in engine models peft app; do
    local exe=$build_dir/tests/test_$suite f log=$logs/test_$suite.log
    [[ -x $exe ]] || continue
    if [[ $mode == all ]]; then f=${filter:-*}; else f=${filter:-${filters[$suite]}}; fi
    step "test_$suite --gtest_filter='$f' -> $log"
    # Each binary gets TEST_TIMEOUT s, cut so that the summary prints before the run tool's
    # 600 s limit: GPU_DEVICE_DEADLINE s after this script started (default 580 under the run
    # tool, where $OUT is set; none elsewhere).
    local rc=0 s0=$SECONDS limit=${TEST_TIMEOUT:-300} deadline=${GPU_DEVICE_DEADLINE:-}
    [[ -z $deadline && -n ${OUT:-} ]] && deadline=580
    if [[ -n $deadline ]]; then
      local left=$((deadline - (SECONDS - t0) - 5))
      ((left < limit)) && limit=$left
      if ((limit < 10)); then rows+=("test_$suite: not run (deadline)"); failed=1; continue; fi
    fi
    (cd "$build_dir" && timeout "$limit" "$exe" --gtest_filter="$f" --gtest_brief=1) \
      >"$log" 2>&1 || rc=$?
    local pass fail skip
    pass=$(grep -oE '^\[  PASSED  \] [0-9]+' "$log" | grep -oE '[0-9]+$' || echo 0)
    fail=$(grep -oE '^\[  FAILED  \] [0-9]+ test' "$log" | grep -oE '[0-9]+' || echo 0)
    skip=$(grep -oE '^\[  SKIPPED \] [0-9]+' "$log" | grep -oE '[0-9]+$' || echo 0)
    grep -E '^\[  FAILED  \] [A-Za-z_]' "$log" | sort -u | sed -n 1,30p >&2 || true
    if ((rc != 0)); then
      failed=1
      ((fail > 0)) || { tail -20 "$log" >&2; fail="crashed/timed out (rc $rc)"; }
    fi
    rows+=("test_$suite: passed $pass, failed $fail, skipped $skip ($((SECONDS - s0))s)")
  done
  echo
  printf 'gpu_device   %s\n' "${rows[@]}"
  if ((failed)); then summary_line "FAILED"; exit 1; fi   # exit: no ERR-trap noise
  summary_line "all selected tests passed"
}

# One function read whole before it runs, so editing this file mid-run cannot derail it.
main() {
  local verb=${1:-}; shift || true
  case "$verb" in
    prepare) prepare ;;
    build) build "$@" ;;
    env)
      while (($#)); do
        case "$1" in --prefix) prefix=$2; shift ;; --build-dir) build_dir=$2; shift ;;
          *) die "env takes --prefix and --build-dir" ;; esac; shift
      done
      emit_env ;;
    check)
      while (($#)); do
        case "$1" in --prefix) prefix=$2; shift ;; --build-dir) build_dir=$2; shift ;;
          *) die "check takes --prefix and --build-dir" ;; esac; shift
      done
      [[ $build_dir == /* ]] || build_dir=$repo/$build_dir
      eval "$(emit_env)"; check_isolation ;;
    *) sed -n '2,25p' "$0"; exit 2 ;;
  esac
}
main "$@"; exit $?
