#!/usr/bin/env bash
# E2E NLG with a GPT-2 pretrained by this project: full fine-tuning vs LoRA vs prefix tuning vs
# a bottleneck adapter (+ BitFit, (IA)³), one budget each, scored on the official test set with
# all its references (BLEU, ROUGE-L, NIST, CIDEr). See examples/README.md for the figures.
#   1. corpus: the E2E *training* references as paragraphs, minus any reference that also occurs
#      in the test set (the base never reads a test reference);
#   2. `peft pretrain --arch gpt2` on it (byte-level BPE trained on the same corpus);
#   3. `peft compare` on trainset.csv -> testset_w_refs.csv.
# Results in runs/examples/e2e/compare/ (results.txt, results.json, loss_curves.svg,
# quality_vs_params.svg). A second run reuses the pretrained base (--fresh pretrains again).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

parse_mode "usage: examples/e2e_study.sh [--quick (default, ~10 min on 2 cores) | --full] [--fresh]" "$@"
require_data e2e/trainset.csv e2e/testset_w_refs.csv
require_peft
OUT=${OUT:-$REPO_ROOT/runs/examples/e2e}
TRAIN=$DATA/e2e/trainset.csv TEST=$DATA/e2e/testset_w_refs.csv

if [[ $MODE == quick ]]; then
  # 1.07M-parameter GPT-2; every method trains 400 steps x 16 references (6,400 of the 42,061)
  # and is scored on the first 100 of the 630 test MRs.
  MODEL=(--layers 4 --hidden 128 --heads 4 --context 128 --epochs 2)
  METHODS=full,lora,prefix,adapter,bitfit,ia3 STEPS=400 EVAL_RECORDS=100
else
  # 4.9M parameters, 3 epochs; 2,000 steps x 16 (~0.75 epoch of E2E train); all 630 test MRs.
  MODEL=(--layers 6 --hidden 256 --heads 8 --context 160 --epochs 3)
  METHODS=all STEPS=2000 EVAL_RECORDS=0
fi
OUT=$OUT/$MODE
[[ $FRESH == 1 ]] && rm -rf "$OUT"
mkdir -p "$OUT"

echo "== 1/3 corpus: E2E training references without the test references -> $OUT/corpus.txt"
awk -f "$EXAMPLES_DIR/lib/e2e_refs.awk" "$TEST" "$TRAIN" > "$OUT/corpus.txt"
echo "   $(grep -c . "$OUT/corpus.txt") paragraphs"

if has_checkpoint "$OUT/base"; then
  echo "== 2/3 reusing the pretrained GPT-2 in $OUT/base (--fresh pretrains again)"
else
  echo "== 2/3 pretraining a small GPT-2 on the corpus (${MODEL[*]})"
  peft pretrain --arch gpt2 --corpus "$OUT/corpus.txt" --vocab-size 2000 "${MODEL[@]}" \
    --lr 2e-3 --batch-size 16 --log-every 100 --eval-every 200 --save-every 200 \
    --output-dir "$OUT/pretraining" --out "$OUT/base"
fi

echo "== 3/3 comparing $METHODS: $STEPS steps x 16 examples each, test records scored: ${EVAL_RECORDS/#0/all 630}"
peft compare --model "$OUT/base" --train "$TRAIN" --test "$TEST" --format e2e --methods "$METHODS" \
  --steps "$STEPS" --batch-size 16 --eval-records "$EVAL_RECORDS" --out "$OUT/compare"

echo
echo "results: $OUT/compare/results.txt (table), results.json, quality_vs_params.svg, loss_curves.svg"
echo "base model: $OUT/base; pretraining log: $OUT/pretraining/metrics.jsonl"
