#!/usr/bin/env bash
# The GPU benchmark in one call (see bench/README.md, "GPU"): builds (Release, ENGINE_CUDA=ON),
# runs the GPU parity tests, then times side by side on the same card in this same call:
#   (a) GEMM rate: the engine's matmul vs cuBLAS's own (bf16, TF32, f32; 4096² and GPT-2 shapes)
#   (b) training steps of GPT-2 small (8×1024) and BERT-base (32×128), full and LoRA r=8 on
#       q/v (c_attn), bf16 autocast: ours (bench_gpu_train) then PyTorch + transformers + peft
#       (torch_train_step.py), each row in a fresh process
#   (c) the table: tokens/s and peak memory ratios, MFU against the measured bf16 GEMM rate.
#
#   bench/cuda/run_gpu_bench.sh [--steps N] [--quick] [--skip-tests] [--out results.jsonl]
# Environment: BUILD_DIR (default build-gpu), PYTHON (default python3: the one with torch),
# JOBS (default nproc). Architectures are the project's (sm_80, sm_90, PTX: CMakeLists.txt).
# Exit status: 1 with "no CUDA device: nothing measured" when no GPU is present; 1 when a
# parity test fails (timings of a wrong engine mean nothing); rows that fail are listed.
set -euo pipefail
cd "$(dirname "$0")/../.."

steps=10 quick=0 skip_tests=0 out=""
while (($#)); do
  case "$1" in
    --steps) steps="$2"; shift ;;
    --quick) quick=1; steps=3 ;;
    --skip-tests) skip_tests=1 ;;
    --out) out="$2"; shift ;;
    *) echo "usage: $0 [--steps N] [--quick] [--skip-tests] [--out FILE]" >&2; exit 2 ;;
  esac
  shift
done
build=${BUILD_DIR:-build-gpu}
python=${PYTHON:-python3}
jobs=${JOBS:-$(nproc)}
out=${out:-$(mktemp /tmp/gpu_bench.XXXXXX.jsonl)}

# No GPU, no figures: say so before spending minutes on a build.
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then
  echo "no CUDA device: nothing measured" >&2
  exit 1
fi
nvidia-smi -L

echo "== build ($build, Release, ENGINE_CUDA=ON)" >&2
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DENGINE_CUDA=ON >/dev/null
cmake --build "$build" --target test_engine test_models test_app peft_cli bench_gpu_gemm bench_gpu_train -j"$jobs" >/dev/null

if ((!skip_tests)); then
  echo "== GPU parity tests" >&2
  "$build/tests/test_engine" --gtest_filter='Cuda*' --gtest_brief=1
  "$build/tests/test_models" --gtest_filter='CudaModels*:ModuleTo*:BatchTo*' --gtest_brief=1
  "$build/tests/test_app" --gtest_filter='DeviceCli*' --gtest_brief=1
fi

"$python" -c "import torch, transformers, peft; assert torch.cuda.is_available()" ||
  { echo "$python lacks torch/transformers/peft or sees no GPU: the PyTorch rows cannot run" >&2; exit 1; }

: >"$out"
echo "== GEMM rate" >&2
gemm_flags=()
((quick)) && gemm_flags+=(--quick --reps 5)
"$build/bench/cuda/bench_gpu_gemm" ${gemm_flags[@]+"${gemm_flags[@]}"} | tee -a "$out"

echo "== training steps ($steps timed steps per row)" >&2
failed=()
for model in gpt2 bert; do
  for mode in full lora; do
    echo "-- $model $mode: ours" >&2
    "$build/bench/cuda/bench_gpu_train" --model "$model" --mode "$mode" --steps "$steps" | tee -a "$out" ||
      failed+=("ours $model $mode")
    echo "-- $model $mode: PyTorch" >&2
    "$python" bench/cuda/torch_train_step.py --model "$model" --mode "$mode" --steps "$steps" | tee -a "$out" ||
      failed+=("torch $model $mode")
  done
done

echo
"$python" bench/cuda/gpu_table.py "$out"
echo "raw results: $out"
if ((${#failed[@]})); then
  printf 'failed row: %s\n' "${failed[@]}" >&2
  exit 1
fi
