#!/usr/bin/env python3
"""Prints the method benchmark table (bench/run_method_bench.sh) from its JSON lines:
per model, each method's trainable parameters, step time and peak memory, and their ratios to
the full fine-tuning row of the same model measured in the same run."""
import json
import sys

rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
for model in dict.fromkeys(r["model"] for r in rows):
    mine = [r for r in rows if r["model"] == model]
    full = next((r for r in mine if r["method"] == "full"), None)
    print(f"\n{model}")
    head = f"{'method':<14}{'trainable':>12}{'%':>9}{'step s':>9}{'x full':>8}{'peak MiB':>10}{'x full':>8}{'state MiB':>10}{'dW GEMMs':>9}"
    print(head)
    print("-" * len(head))
    for r in mine:
        t_ratio = r["best_step_s"] / full["best_step_s"] if full else float("nan")
        m_ratio = r["peak_tensor_mb"] / full["peak_tensor_mb"] if full else float("nan")
        print(f"{r['method']:<14}{r['trainable']:>12,}{r['trainable_pct']:>9.3f}{r['best_step_s']:>9.3f}{t_ratio:>8.2f}"
              f"{r['peak_tensor_mb']:>10.0f}{m_ratio:>8.2f}{r['optimizer_state_mb']:>10.1f}{r['dw_gemms_per_step']:>9}")
