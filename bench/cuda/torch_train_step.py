#!/usr/bin/env python3
"""The PyTorch row of a GPU training-step benchmark: the same model, batch, mode and step as
bench/cuda/bench_gpu_train.cpp, written against the public APIs of PyTorch 2.x, transformers and
peft. One JSON line on stdout (bench/cuda/gpu_table.py puts it next to ours):

  {"side": "torch", "model": "gpt2", "mode": "lora", "tokens_per_s": ..., "peak_mem_mib": ..., ...}

  python3 torch_train_step.py --model gpt2|bert --mode full|lora [--steps 10] [--attn sdpa|eager]

Models: GPT2LMHeadModel(GPT2Config()) (GPT-2 small: 12 layers, 768 wide, vocab 50257, 1024
positions), batch 8 x seq 1024; BertForSequenceClassification(BertConfig(num_labels=2))
(BERT-base), batch 32 x seq 128. Random init, no download. Step: forward under
torch.autocast("cuda", dtype=torch.bfloat16) (f32 master weights), backward outside it,
torch.optim.AdamW(lr=1e-4, weight_decay=0.01) over the trainable parameters, zero_grad.
LoRA: peft.LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0) on c_attn (GPT-2) or query/value
(BERT; task SEQ_CLS so peft trains the classifier too), get_peft_model. Two warm-up steps,
then --steps timed steps each ended by torch.cuda.synchronize(); tokens/s from the median step.
Peak memory: torch.cuda.max_memory_allocated() after reset_peak_memory_stats() once the model
is on the GPU (the caching allocator's live bytes, as our allocator's peak).
"""
import argparse
import json
import statistics
import sys
import time


def with_attention(config, attn):
    """transformers' attention implementation for a model built from a config (the setter of
    PretrainedConfig._attn_implementation; older releases lack it and keep their default)."""
    try:
        config._attn_implementation = attn
    except (AttributeError, ValueError):
        pass
    return config


def build(args, torch):
    import transformers
    from transformers import BertConfig, BertForSequenceClassification, GPT2Config, GPT2LMHeadModel

    if args.model == "gpt2":
        config = with_attention(GPT2Config(), args.attn)
        model = GPT2LMHeadModel(config)
        batch, seq, vocab = args.batch or 8, args.seq or 1024, config.vocab_size
    else:
        config = with_attention(BertConfig(num_labels=2), args.attn)
        model = BertForSequenceClassification(config)
        batch, seq, vocab = args.batch or 32, args.seq or 128, config.vocab_size
    gen = torch.Generator().manual_seed(1)
    inputs = {
        "input_ids": torch.randint(0, vocab, (batch, seq), generator=gen),
        "attention_mask": torch.ones(batch, seq, dtype=torch.long),
    }
    if args.model == "bert":
        inputs["token_type_ids"] = torch.zeros(batch, seq, dtype=torch.long)
        inputs["labels"] = torch.randint(0, 2, (batch,), generator=gen)
    else:
        inputs["labels"] = torch.randint(0, vocab, (batch, seq), generator=gen)
    attn_used = getattr(model.config, "_attn_implementation", None)
    if args.mode == "lora":
        from peft import LoraConfig, TaskType, get_peft_model

        if args.model == "gpt2":  # GPT-2's Conv1D stores weights [in, out]
            lora = LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, target_modules=["c_attn"],
                              fan_in_fan_out=True, task_type=TaskType.CAUSAL_LM)
        else:
            lora = LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, target_modules=["query", "value"],
                              task_type=TaskType.SEQ_CLS)
        model = get_peft_model(model, lora)
    return model, inputs, batch, seq, transformers.__version__, attn_used


def forward_flops(model_name, batch, seq):
    """Forward model FLOPs (bench/models/model_specs.h's formula) and its attention part."""
    n = batch * seq
    if model_name == "gpt2":
        c, layers, vocab = 768, 12, 50257
        gemm = 2 * n * (layers * 12 * c * c + c * vocab)
    else:
        c, f, layers = 768, 3072, 12
        gemm = 2 * n * layers * (4 * c * c + 2 * c * f) + 2 * batch * (c * c + c * 2)
    attention = layers * 4 * batch * seq * seq * c
    return gemm + attention, attention


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=["gpt2", "bert"], default="gpt2")
    parser.add_argument("--mode", choices=["full", "lora"], default="lora")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch", type=int, default=0)
    parser.add_argument("--seq", type=int, default=0)
    parser.add_argument("--attn", choices=["sdpa", "eager"], default="sdpa",
                        help="transformers' attention implementation (sdpa: its default)")
    args = parser.parse_args()

    import torch

    if not torch.cuda.is_available():
        print("no CUDA device: nothing measured", file=sys.stderr)
        return 2
    row = {"side": "torch", "model": args.model, "mode": args.mode}
    try:
        import peft

        torch.manual_seed(0)
        model, inputs, batch, seq, tf_version, attn_used = build(args, torch)
        device = torch.device("cuda")
        model.to(device)
        model.train()  # dropout live, as ours
        inputs = {k: v.to(device) for k, v in inputs.items()}
        trainable = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(trainable, lr=1e-4, weight_decay=0.01)
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()

        def step():
            with torch.autocast("cuda", dtype=torch.bfloat16):
                loss = model(**inputs).loss
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            return loss

        for _ in range(2):
            step()
        torch.cuda.synchronize()
        times = []
        for _ in range(args.steps):
            t0 = time.perf_counter()
            loss = step()
            torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
        med = statistics.median(times)
        f, attention = forward_flops(args.model, batch, seq)
        flops = 3 * f if args.mode == "full" else 2 * f + attention
        row.update({
            "batch": batch, "seq": seq, "autocast": "bf16", "attn": attn_used, "steps": args.steps,
            "step_s_median": med, "step_s_best": min(times), "tokens_per_s": batch * seq / med,
            "peak_mem_mib": torch.cuda.max_memory_allocated() / 2**20, "model_flops_per_step": flops,
            "trainable_params": sum(p.numel() for p in trainable), "loss": float(loss.item()),
            "versions": {"torch": torch.__version__, "transformers": tf_version, "peft": peft.__version__},
            "gpu": torch.cuda.get_device_name(0),
        })
    except Exception as e:  # a row that cannot run is reported, not hidden
        row["error"] = f"{type(e).__name__}: {e}"
        print(json.dumps(row))
        return 1
    print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
