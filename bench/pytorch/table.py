"""Reads the JSON lines of bench_models (side "ours") and bench.py (side "pytorch") and prints
the side-by-side table of bench/run_model_bench.sh: one row per (model, mode).

  /usr/bin/python3 bench/pytorch/table.py results.jsonl
"""
import json
import sys


def main(path):
    rows, order = {}, []
    with open(path) as f:
        for line in f:
            if not line.startswith("{"):
                continue
            r = json.loads(line)
            key = (r["model"], r["mode"])
            if key not in rows:
                rows[key] = {}
                order.append(key)
            rows[key][r["side"]] = r

    head = ["model", "mode", "ours tok/s", "torch tok/s", "speed ×", "ours MB", "torch MB", "tensor MB",
            "MFU", "ours f/b/o s", "torch f/b/o s"]
    table = [head]
    for key in order:
        ours, torch = rows[key].get("ours"), rows[key].get("pytorch")
        cell = lambda r, k, fmt: fmt.format(r[k]) if r else "-"
        phases = lambda r: "{:.2f}/{:.2f}/{:.2f}".format(r["forward_s"], r["backward_s"], r["optimizer_s"]) if r else "-"
        ratio = "{:.2f}".format(ours["tokens_per_s"] / torch["tokens_per_s"]) if ours and torch else "-"
        table.append([key[0], key[1], cell(ours, "tokens_per_s", "{:.0f}"), cell(torch, "tokens_per_s", "{:.0f}"), ratio,
                      cell(ours, "peak_rss_mb", "{:.0f}"), cell(torch, "peak_rss_mb", "{:.0f}"),
                      cell(ours, "peak_tensor_mb", "{:.0f}"), cell(ours, "mfu", "{:.1%}"), phases(ours), phases(torch)])
    widths = [max(len(r[i]) for r in table) for i in range(len(head))]
    for r in table:
        print("  ".join(c.rjust(w) if i > 1 else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))))
    rates = [r["ours"]["sgemm_gflops"] for r in rows.values() if "ours" in r]
    if rates:
        print("OpenBLAS sgemm (MFU reference, measured per row): {:.0f}-{:.0f} GFLOP/s".format(min(rates), max(rates)))


if __name__ == "__main__":
    main(sys.argv[1])
