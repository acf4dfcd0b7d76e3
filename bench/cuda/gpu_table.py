#!/usr/bin/env python3
"""Prints the GPU benchmark tables from the JSON lines of bench_gpu_gemm, bench_gpu_train and
torch_train_step.py (run_gpu_bench.sh collects them in one file):

  GEMM: per dtype and shape, our matmul's TFLOP/s, cuBLAS's, and ours / cuBLAS.
  Training steps: per (model, mode), tokens/s ours and PyTorch's and their ratio (> 1: we are
  faster), peak GPU memory of each and ours / PyTorch (< 1: we use less), and each side's
  MFU = model FLOPs per second / the measured cuBLAS bf16 rate on the square 4096 GEMM.

  python3 gpu_table.py results.jsonl [--markdown]
Standard library only.
"""
import json
import sys


def load(path):
    rows = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    pass
    return rows


def render(header, body, markdown):
    if markdown:
        out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        out += ["| " + " | ".join(r) + " |" for r in body]
        return "\n".join(out)
    widths = [max(len(str(x)) for x in col) for col in zip(header, *body)]
    fmt = "  ".join("{:>%d}" % w for w in widths)
    return "\n".join(fmt.format(*r) for r in [header] + body)


def num(v, digits=1):
    return "-" if v is None else f"{v:,.{digits}f}"


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    markdown = "--markdown" in argv
    rows = load(argv[1])
    gemm = [r for r in rows if r.get("bench") == "gemm"]
    peak = next((r["cublas_tflops"] for r in gemm if r["dtype"] == "bf16" and r["shape"] == "4096x4096x4096"), None)
    if gemm:
        body = [[r["dtype"], r["shape"], num(r["ours_tflops"]), num(r["cublas_tflops"]), num(r["ours_over_cublas"], 3)]
                for r in gemm]
        print("GEMM rate (TFLOP/s): the engine's matmul vs cuBLAS's cublasGemmEx, same buffers")
        print(render(["dtype", "shape (MxNxK)", "ours", "cuBLAS", "ours/cuBLAS"], body, markdown))
        print()
    keys = []
    for r in rows:
        if "side" in r and (r["model"], r["mode"]) not in keys:
            keys.append((r["model"], r["mode"]))
    body = []
    for model, mode in keys:
        side = {r["side"]: r for r in rows if r.get("model") == model and r.get("mode") == mode and "side" in r}
        ours, torch = side.get("ours", {}), side.get("torch", {})

        def get(r, k):
            return None if "error" in r else r.get(k)

        tps_o, tps_t = get(ours, "tokens_per_s"), get(torch, "tokens_per_s")
        mem_o, mem_t = get(ours, "peak_mem_mib"), get(torch, "peak_mem_mib")

        def mfu(r):
            f, t = get(r, "model_flops_per_step"), get(r, "step_s_median")
            return None if f is None or t is None or not peak else 100 * f / t / (peak * 1e12)

        shape = ours.get("batch") or torch.get("batch"), ours.get("seq") or torch.get("seq")
        body.append([
            model, mode, f"{shape[0]}x{shape[1]}" if shape[0] else "-",
            num(tps_o, 0), num(tps_t, 0), num(tps_o / tps_t, 2) if tps_o and tps_t else "-",
            num(mem_o, 0), num(mem_t, 0), num(mem_o / mem_t, 2) if mem_o and mem_t else "-",
            num(mfu(ours)), num(mfu(torch)),
        ])
        for name, r in (("ours", ours), ("PyTorch", torch)):
            if "error" in r:
                print(f"{model} {mode}: {name} failed: {r['error']}", file=sys.stderr)
            elif not r:
                print(f"{model} {mode}: no {name} row", file=sys.stderr)
    if body:
        print("Training step, bf16 autocast (tokens/s from the median step; memory: peak allocated GPU MiB;"
              f" MFU vs the measured cuBLAS bf16 rate {num(peak)} TFLOP/s)")
        print(render(["model", "mode", "BxT", "ours tok/s", "torch tok/s", "ours/torch", "ours MiB", "torch MiB",
                      "mem ours/torch", "ours MFU%", "torch MFU%"], body, markdown))
    versions = next((r.get("versions") for r in rows if r.get("versions")), None)
    gpu = next((r.get("gpu") for r in rows if r.get("gpu")), None)
    if versions or gpu:
        print(f"\nGPU: {gpu}; PyTorch side: {versions}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
