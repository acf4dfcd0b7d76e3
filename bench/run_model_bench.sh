#!/usr/bin/env bash
# Model training-step benchmark, ours vs PyTorch, side by side in one run (see
# bench/README.md, "Models"): builds bench_models (Release), then for every (model, mode) row
# runs our row and the PyTorch row back to back, each in a fresh process (peak memory is the
# process's VmHWM), and prints one aligned table.
#
#   bench/run_model_bench.sh [--quick] [--steps N] [--models bert,gpt2,t5] [--modes full,head,forward]
#                            [--out results.jsonl]
# Environment: BUILD_DIR (default build), PYTHON (default /usr/bin/python3: Debian's torch).
set -euo pipefail
cd "$(dirname "$0")/.."

steps=4 models=bert,gpt2,t5 modes=full,head,forward out=""
while (($#)); do
  case "$1" in
    --quick) steps=2 ;;
    --steps) steps="$2"; shift ;;
    --models) models="$2"; shift ;;
    --modes) modes="$2"; shift ;;
    --out) out="$2"; shift ;;
    *) echo "usage: $0 [--quick] [--steps N] [--models LIST] [--modes LIST] [--out FILE]" >&2; exit 2 ;;
  esac
  shift
done
build=${BUILD_DIR:-build}
python=${PYTHON:-/usr/bin/python3}
out=${out:-$(mktemp /tmp/model_bench.XXXXXX.jsonl)}

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --target bench_models -j"$(nproc)" >/dev/null
"$python" -c "import torch" || { echo "$python has no torch (apt-get install python3-torch)" >&2; exit 1; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
: >"$out"
for model in ${models//,/ }; do
  for mode in ${modes//,/ }; do
    echo "… $model $mode" >&2
    "$build/bench/bench_models" --model "$model" --mode "$mode" --steps "$steps" >>"$out" ||
      echo "$model $mode: our row failed" >&2
    (cd bench/pytorch && "$python" bench.py --model "$model" --mode "$mode" --steps "$steps") >>"$out" ||
      echo "$model $mode: PyTorch row failed" >&2
  done
done
echo "steps per row: 1 warm-up + $steps timed (best step; phases are medians); raw results: $out"
"$python" bench/pytorch/table.py "$out"
