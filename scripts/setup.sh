#!/usr/bin/env bash
# Installs the Debian packages peft.cpp needs, when they are missing, then configures and
# builds (Release) into build/. Usage: scripts/setup.sh [--tests]  (--tests adds the packages
# the test suite and benchmarks use: python3-numpy for check_case.py, python3-torch for the
# PyTorch references and comparisons).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(build-essential cmake pkg-config libopenblas-dev libtbb-dev libgtest-dev libbenchmark-dev
          nlohmann-json3-dev libsentencepiece-dev libhwy-dev libcli11-dev gnuplot-nox)
if [[ "${1:-}" == "--tests" ]]; then
  packages+=(python3-numpy python3-torch)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=""
  [[ $(id -u) -ne 0 ]] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

jobs=$(nproc)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$jobs"
