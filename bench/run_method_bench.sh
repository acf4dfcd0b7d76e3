#!/usr/bin/env bash
# PEFT method benchmark (bench/README.md, "Methods"): every method on a BERT-base-shaped and a
# GPT-2-small-shaped random model, each row in a fresh process (clean peak memory), then one
# table of trainable parameters, step time and peak memory relative to full fine-tuning.
#
#   bench/run_method_bench.sh [--steps N] [--models bert,gpt2] [--methods lora,ia3,...] [--out FILE]
# Environment: BUILD_DIR (default build), PYTHON (default /usr/bin/python3, for the table only).
set -euo pipefail
cd "$(dirname "$0")/.."

steps=2 models=bert,gpt2 methods="" out=""
while (($#)); do
  case "$1" in
    --steps) steps="$2"; shift ;;
    --models) models="$2"; shift ;;
    --methods) methods="$2"; shift ;;
    --out) out="$2"; shift ;;
    *) echo "usage: $0 [--steps N] [--models LIST] [--methods LIST] [--out FILE]" >&2; exit 2 ;;
  esac
  shift
done
build=${BUILD_DIR:-build}
python=${PYTHON:-/usr/bin/python3}
out=${out:-$(mktemp /tmp/method_bench.XXXXXX.jsonl)}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --target bench_methods -j"$(nproc)" >/dev/null

# method | options per model (bert targets query,value; gpt2 c_attn — PEFT's defaults)
rows() {
  local model=$1
  echo "full {}"
  echo "lora {\"r\":8}"
  echo "rslora {\"r\":8}"
  echo "dora {\"r\":8}"
  echo "qlora {\"r\":8}"
  echo "adalora {\"init_r\":12,\"target_r\":8,\"total_step\":100}"
  echo "loha {\"r\":8}"
  echo "lokr {\"r\":8}"
  echo "vera {\"r\":256}"
  echo "oft {\"r\":8}"
  echo "boft {\"boft_block_size\":4}"
  echo "ia3 {}"
  echo "bitfit {}"
  echo "sparse_mask {\"mask_fraction\":0.005}"
  echo "prompt_tuning {\"num_virtual_tokens\":20}"
  echo "p_tuning {\"num_virtual_tokens\":20,\"encoder_hidden_size\":128}"
  echo "prefix_tuning {\"num_virtual_tokens\":20}"
  echo "houlsby {}"
  echo "pfeiffer {}"
  echo "parallel {}"
  echo "compacter {}"
  echo "mam {}"
  echo "unipelt {}"
  if [ "$model" = bert ]; then echo "ln_tuning {\"target_modules\":[\"LayerNorm\"]}"; else echo "ln_tuning {}"; fi
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
: >"$out"
for model in ${models//,/ }; do
  while read -r method options; do
    if [ -n "$methods" ] && [[ ",full,$methods," != *",$method,"* ]]; then continue; fi
    echo "… $model $method" >&2
    "$build/bench/bench_methods" --model "$model" --method "$method" --options "$options" --steps "$steps" >>"$out" ||
      echo "$model $method: row failed" >&2
  done < <(rows "$model")
done
echo "steps per row: 1 warm-up + $steps timed (best step); raw results: $out"
"$python" bench/methods_table.py "$out"
