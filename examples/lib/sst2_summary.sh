# The SST-2 study's summary: one row per method from the `peft` program's own outputs
# (<run>/<method>/results.json from `peft train`, <run>/<method>/eval.json from `peft eval --json`)
# -> <run>/summary.txt (aligned table), summary.json and quality_vs_params.svg.
#   bash examples/lib/sst2_summary.sh RUN_DIR METHOD...
# No jq: the program pretty-prints its JSON with two-space indents and sorted keys, so a
# top-level number is the one line `  "key": value,` (a nested one has four spaces).
set -euo pipefail
run=$1; shift
lib=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# num FILE KEY [INDENT]: the number on the line `<INDENT>"KEY": number`.
num() {
  local indent=${3:-  }
  sed -n "s/^$indent\"$2\": \(-\{0,1\}[0-9][0-9.eE+-]*\),\{0,1\}$/\1/p" "$1" | head -n 1
}

table=$run/summary.txt json=$run/summary.json points=$run/points.txt
printf "%-14s %10s %8s %6s %8s %9s %10s %9s %8s\n" method trainable % steps "train s" "peak MiB" "train loss" "accuracy" F1 > "$table"
printf -- "-%.0s" {1..92} >> "$table"; echo >> "$table"
echo "[" > "$json"
: > "$points"
sep=""
for m in "$@"; do
  r=$run/$m/results.json e=$run/$m/eval.json
  [[ -f $r && -f $e ]] || { echo "sst2_summary: $m has no results.json/eval.json in $run" >&2; exit 1; }
  trainable=$(num "$r" trainable_params) all=$(num "$r" all_params) pct=$(num "$r" trainable_percent)
  steps=$(num "$r" steps) secs=$(num "$r" seconds) peak=$(num "$r" peak_memory_bytes)
  loss=$(num "$r" loss "    ") acc=$(num "$e" accuracy) f1=$(num "$e" f1)
  peak_mib=$(awk -v b="$peak" 'BEGIN { printf "%.1f", b / 1048576 }')
  acc_pct=$(awk -v a="$acc" 'BEGIN { printf "%.1f", 100 * a }')
  printf "%-14s %10d %8.3f %6d %8.1f %9s %10.3f %9s %8.3f\n" "$m" "$trainable" "$pct" "$steps" "$secs" "$peak_mib" \
    "$loss" "$acc_pct" "$f1" >> "$table"
  printf '%s  {"method": "%s", "trainable_params": %s, "all_params": %s, "trainable_percent": %s, "steps": %s, "train_seconds": %s, "peak_memory_bytes": %s, "final_train_loss": %s, "dev_accuracy": %s, "dev_f1": %s}' \
    "$sep" "$m" "$trainable" "$all" "$pct" "$steps" "$secs" "$peak" "$loss" "$acc" "$f1" >> "$json"
  sep=$',\n'
  echo "$m $trainable $acc_pct" >> "$points"
done
printf "\n]\n" >> "$json"
awk -v title="SST-2 dev accuracy vs trainable parameters (BERT pretrained here)" -v ylabel="dev accuracy (%)" \
  -f "$lib/scatter_svg.awk" "$points" > "$run/quality_vs_params.svg"
rm -f "$points"
