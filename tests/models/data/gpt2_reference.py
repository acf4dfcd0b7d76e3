#!/usr/bin/python3
"""Reference values for tests/models/test_gpt2_reference.cpp and test_generation.cpp.

A tiny GPT-2 (GPT2LMHeadModel, transformers 4.33 semantics) written by hand in plain PyTorch
(transformers is not installable here), in float64, with deterministic weights given by a
formula both sides compute (see `weight`). It exercises config fields the HF fixture does not:
n_inner != 4*n_embd, scale_attn_by_inverse_layer_idx, a custom layer_norm_epsilon.

Outputs gpt2_reference.json next to this file:
  logits        full forward of a right-padded batch (real positions only)
  greedy        greedy continuations (HF greedy_search, eos stops a row)
  beams_*       beam search (HF BeamSearchScorer: 2*num_beams candidates, eos hypotheses,
                length_penalty, early_stopping) tokens and sequences_scores
Run:  /usr/bin/python3 tests/models/data/gpt2_reference.py
"""
import json
import math
import os

import torch

torch.set_default_dtype(torch.float64)

CONFIG = {
    "model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "vocab_size": 29, "n_positions": 40,
    "n_embd": 16, "n_layer": 2, "n_head": 2, "n_inner": 24, "activation_function": "gelu_new",
    "layer_norm_epsilon": 1e-4, "scale_attn_weights": True, "scale_attn_by_inverse_layer_idx": True,
    "resid_pdrop": 0.1, "embd_pdrop": 0.1, "attn_pdrop": 0.1, "initializer_range": 0.02,
    "bos_token_id": 0, "eos_token_id": 27,
}
V, C, L, H, I = 29, 16, 2, 2, 24
EPS = 1e-4
EOS = CONFIG["eos_token_id"]

# Parameter shapes in HF's named_parameters() order (Conv1D weights are [in, out]).
SHAPES = {"transformer.wte.weight": [V, C], "transformer.wpe.weight": [40, C]}
for i in range(L):
    p = f"transformer.h.{i}."
    SHAPES.update({p + "ln_1.weight": [C], p + "ln_1.bias": [C], p + "attn.c_attn.weight": [C, 3 * C],
                   p + "attn.c_attn.bias": [3 * C], p + "attn.c_proj.weight": [C, C], p + "attn.c_proj.bias": [C],
                   p + "ln_2.weight": [C], p + "ln_2.bias": [C], p + "mlp.c_fc.weight": [C, I],
                   p + "mlp.c_fc.bias": [I], p + "mlp.c_proj.weight": [I, C], p + "mlp.c_proj.bias": [C]})
SHAPES.update({"transformer.ln_f.weight": [C], "transformer.ln_f.bias": [C]})


def name_hash(name):
    h = 0
    for ch in name.encode():
        h = (h * 31 + ch) % 9973
    return h


def weight(name):
    """w[i] = center + scale * (2 u - 1), u = frac(sin(12.9898 i + 78.233 k) * 43758.5453),
    k = name_hash(name); rounded to float32 (the C++ test builds the same values)."""
    shape = SHAPES[name]
    n = math.prod(shape)
    k = name_hash(name)
    if name.endswith("ln_1.weight") or name.endswith("ln_2.weight") or name.endswith("ln_f.weight"):
        center, scale = 1.0, 0.2
    elif name.endswith(".bias"):
        center, scale = 0.0, 0.1
    elif "wte" in name:
        center, scale = 0.0, 0.5
    else:
        center, scale = 0.0, 0.5
    vals = []
    for i in range(n):
        s = math.sin(12.9898 * i + 78.233 * k) * 43758.5453
        u = s - math.floor(s)
        vals.append(center + scale * (2 * u - 1))
    return torch.tensor(vals, dtype=torch.float32).to(torch.float64).reshape(shape)


W = {name: weight(name) for name in SHAPES}


def layer_norm(x, w, b):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + EPS) * w + b


def gelu_new(x):
    return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def forward(ids, mask):
    """ids, mask [B,T] (right padding); positions 0..T-1. Returns logits [B,T,V]."""
    B, T = ids.shape
    h = W["transformer.wte.weight"][ids] + W["transformer.wpe.weight"][torch.arange(T)]
    allowed = torch.tril(torch.ones(T, T, dtype=torch.bool))[None, None] & mask.bool()[:, None, None, :]
    for i in range(L):
        p = f"transformer.h.{i}."
        x = layer_norm(h, W[p + "ln_1.weight"], W[p + "ln_1.bias"])
        qkv = x @ W[p + "attn.c_attn.weight"] + W[p + "attn.c_attn.bias"]
        q, k, v = (t.view(B, T, H, C // H).transpose(1, 2) for t in qkv.split(C, dim=2))
        scores = q @ k.transpose(-1, -2) / math.sqrt(C // H) / float(i + 1)  # scale_attn_by_inverse_layer_idx
        scores = scores.masked_fill(~allowed, float("-inf"))
        probs = torch.nan_to_num(torch.softmax(scores, -1))
        ctx = (probs @ v).transpose(1, 2).reshape(B, T, C)
        h = h + ctx @ W[p + "attn.c_proj.weight"] + W[p + "attn.c_proj.bias"]
        x = layer_norm(h, W[p + "ln_2.weight"], W[p + "ln_2.bias"])
        ff = gelu_new(x @ W[p + "mlp.c_fc.weight"] + W[p + "mlp.c_fc.bias"])
        h = h + ff @ W[p + "mlp.c_proj.weight"] + W[p + "mlp.c_proj.bias"]
    h = layer_norm(h, W["transformer.ln_f.weight"], W["transformer.ln_f.bias"])
    return h @ W["transformer.wte.weight"].T  # tied lm_head


def next_logits(seq):
    """Logits after an unpadded sequence, recomputed from scratch (no cache)."""
    ids = torch.tensor([seq])
    return forward(ids, torch.ones_like(ids))[0, -1]


def greedy(prompt, max_new_tokens):
    seq, out = list(prompt), []
    for _ in range(max_new_tokens):
        tok = int(next_logits(seq).argmax())
        out.append(tok)
        seq.append(tok)
        if tok == EOS:
            break
    return out


class BeamHypotheses:  # transformers 4.33 generation/beam_search.py
    def __init__(self, num_beams, length_penalty, early_stopping, max_length):
        self.num_beams, self.length_penalty = num_beams, length_penalty
        self.early_stopping, self.max_length = early_stopping, max_length
        self.beams, self.worst_score = [], 1e9

    def add(self, hyp, sum_logprobs, length):
        score = sum_logprobs / (length ** self.length_penalty)
        if len(self.beams) < self.num_beams or score > self.worst_score:
            self.beams.append((score, hyp))
            if len(self.beams) > self.num_beams:
                s = sorted([(s, idx) for idx, (s, _) in enumerate(self.beams)])
                del self.beams[s[0][1]]
                self.worst_score = s[1][0]
            else:
                self.worst_score = min(score, self.worst_score)

    def is_done(self, best_sum_logprobs, cur_len):
        if len(self.beams) < self.num_beams:
            return False
        if self.early_stopping is True:
            return True
        if self.early_stopping is False or self.length_penalty <= 0:
            return self.worst_score >= best_sum_logprobs / cur_len ** self.length_penalty
        return self.worst_score >= best_sum_logprobs / self.max_length ** self.length_penalty


def beam_search(prompts, num_beams, max_new_tokens, length_penalty, early_stopping):
    """HF beam_search on a left-padded batch: lengths count the padded prompt length P."""
    B, nb, P = len(prompts), num_beams, max(len(p) for p in prompts)
    max_length = P + max_new_tokens
    hyps = [BeamHypotheses(nb, length_penalty, early_stopping, max_length) for _ in range(B)]
    done = [False] * B
    seqs = [[] for _ in range(B * nb)]
    beam_scores = torch.zeros(B, nb)
    beam_scores[:, 1:] = -1e9
    beam_scores = beam_scores.view(-1)
    cur_len = P
    while True:
        logp = torch.stack([torch.log_softmax(next_logits(prompts[r // nb] + seqs[r]), -1) for r in range(B * nb)])
        scores = (logp + beam_scores[:, None]).view(B, nb * V)
        top, idx = torch.topk(scores, 2 * nb, dim=1, largest=True, sorted=True)
        new_scores, new_rows, new_tokens = [], [], []
        for b in range(B):
            if done[b]:
                new_scores += [0.0] * nb
                new_rows += [b * nb + j for j in range(nb)]
                new_tokens += [EOS] * nb  # pad = eos
                continue
            kept = 0
            for rank, (s, flat) in enumerate(zip(top[b].tolist(), idx[b].tolist())):
                row, tok = b * nb + flat // V, flat % V
                if tok == EOS:
                    if rank >= nb:
                        continue
                    hyps[b].add(seqs[row] + [EOS], s, cur_len)
                else:
                    new_scores.append(s), new_rows.append(row), new_tokens.append(tok)
                    kept += 1
                if kept == nb:
                    break
            done[b] = done[b] or hyps[b].is_done(top[b].max().item(), cur_len)
        seqs = [seqs[r] + [t] for r, t in zip(new_rows, new_tokens)]
        beam_scores = torch.tensor(new_scores)
        cur_len += 1
        if all(done) or cur_len >= max_length:
            break
    out_tokens, out_scores = [], []
    for b in range(B):
        if not done[b]:
            for j in range(nb):
                hyps[b].add(seqs[b * nb + j], beam_scores[b * nb + j].item(), cur_len)
        best = sorted(hyps[b].beams, key=lambda x: x[0]).pop()
        out_tokens.append(best[1])
        out_scores.append(best[0])
    return out_tokens, out_scores


def main():
    prompts = [[5, 17, 9, 22, 1], [12, 7, 26]]
    ids = torch.tensor([prompts[0], prompts[1] + [0, 0]])
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    logits = forward(ids, mask)
    result = {
        "config": CONFIG,
        "prompts": prompts,
        "logits": [logits[0].tolist(), logits[1, :3].tolist()],
        "greedy": {"max_new_tokens": 8, "tokens": [greedy(p, 8) for p in prompts]},
    }
    for name, nb, new, lp, es in [("beams_3", 3, 6, 1.0, False), ("beams_3_lp0", 3, 6, 0.0, False),
                                  ("beams_3_early", 3, 8, 1.0, True), ("beams_4_lp2_never", 4, 5, 2.0, "never")]:
        tokens, scores = beam_search(prompts, nb, new, lp, es)
        result[name] = {"num_beams": nb, "max_new_tokens": new, "length_penalty": lp,
                        "early_stopping": es, "tokens": tokens, "scores": scores}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gpt2_reference.json")
    with open(path, "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps({k: v for k, v in result.items() if k not in ("logits", "config")}, indent=1))


if __name__ == "__main__":
    main()
