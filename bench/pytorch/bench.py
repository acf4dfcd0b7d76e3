"""One PyTorch row of the model benchmark: builds a model from models.py, runs a warm-up step
and `--steps` timed steps of one mode, and prints one JSON line (tokens/s, peak RSS).

Modes (the same on the C++ side, bench/bench_models.cpp):
  full     train mode (dropout 0.1 live), forward + backward + AdamW step over every parameter
  head     the base frozen; only the head trains (BERT: classifier; GPT-2: ln_f; T5:
           decoder.final_layer_norm -- the LM heads are tied to the input embedding, so they
           stay frozen), forward + backward + AdamW step over the trainable set
  forward  eval mode (no dropout), torch.no_grad(), forward + loss only

Run each row in a fresh process: peak memory is the process's VmHWM (/proc/self/status),
which only means something for one row per process.
  /usr/bin/python3 bench/pytorch/bench.py --model bert --mode full --steps 3
"""
import argparse
import json
import os
import statistics
import time

import torch

from models import MODELS, CONFIGS, SHAPES, init_weights, make_batch


def vm_hwm_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0  # kB -> MiB
    return float("nan")


def make_step(model, mode, batch):
    """Returns step() -> ((forward_s, backward_s, optimizer_s), loss)."""
    if mode == "forward":
        model.eval()

        def step():
            t0 = time.perf_counter()
            with torch.no_grad():
                loss = float(model(batch))
            return (time.perf_counter() - t0, 0.0, 0.0), loss
        return step

    model.train()
    if mode == "head":
        for name, p in model.named_parameters():
            p.requires_grad_(name.startswith(model.head_names))
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.01)

    def step():
        t0 = time.perf_counter()
        loss = model(batch)
        value = float(loss)
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return (t1 - t0, t2 - t1, time.perf_counter() - t2), value
    return step


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=sorted(MODELS), required=True)
    ap.add_argument("--mode", choices=["full", "head", "forward"], required=True)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = init_weights(MODELS[args.model](CONFIGS[args.model]), args.model)
    batch = make_batch(args.model, torch.Generator().manual_seed(1))
    step = make_step(model, args.mode, batch)
    step()  # warm-up: allocator, optimizer state, OpenMP threads
    phases = []
    for _ in range(args.steps):
        times, loss = step()
        phases.append(times)
    total = [sum(p) for p in phases]
    b, t = SHAPES[args.model]
    sec = min(total)  # the best step is the headline (least disturbed by other load)
    print(json.dumps({
        "side": "pytorch", "model": args.model, "mode": args.mode, "batch": b, "seq": t,
        "threads": torch.get_num_threads(), "torch": torch.__version__,
        "params": sum(p.numel() for p in model.parameters()),
        "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad) if args.mode != "forward" else 0,
        "step_s": total, "best_step_s": sec, "median_step_s": statistics.median(total), "tokens_per_s": b * t / sec,
        "forward_s": statistics.median(p[0] for p in phases), "backward_s": statistics.median(p[1] for p in phases),
        "optimizer_s": statistics.median(p[2] for p in phases),
        "peak_rss_mb": vm_hwm_mb(), "loss": loss,
    }))


if __name__ == "__main__":
    main()
