"""A plain-PyTorch T5 (transformers 4.33 modeling_t5.py, T5ForConditionalGeneration and
T5EncoderModel) written out by hand, the reference for tests/models/test_t5_reference.cpp.

transformers is not installable here, so the golden fixture only covers T5 v1.0 (relu, tied
embeddings); this script covers every other config path: "gated-<act>" feed-forward
(wi_0/wi_1, gelu_new for "gated-gelu"), untied lm_head without the d_model**-0.5 rescale,
d_kv != d_model / num_heads, num_decoder_layers != num_layers, other bucket counts/distances,
layer_norm_epsilon. It runs in float64 and also writes the gradient of the loss for every
parameter (tied uses summed), so the relative-bias gradient through the shared bias is checked.

usage: /usr/bin/python3 t5_reference.py MODEL_DIR INPUTS.json OUT.json
  MODEL_DIR: config.json + model.safetensors (float32); INPUTS.json: input_ids, attention_mask,
  labels (and optional decoder_attention_mask); OUT.json: {name: {"shape", "data"}}.
"""
import json, math, struct, sys

import numpy as np
import torch
import torch.nn.functional as F


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header, data = json.loads(f.read(n)), f.read()
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        assert v["dtype"] == "F32", (k, v["dtype"])
        a, b = v["data_offsets"]
        out[k] = torch.from_numpy(np.frombuffer(data[a:b], dtype="<f4").reshape(v["shape"]).astype(np.float64))
    return out


ACT = {"relu": F.relu, "gelu": F.gelu, "gelu_new": lambda x: F.gelu(x, approximate="tanh"), "silu": F.silu}


def bucket(rel, bidirectional, num_buckets, max_distance):  # T5Attention._relative_position_bucket
    out = 0
    if bidirectional:
        num_buckets //= 2
        out += (rel > 0).long() * num_buckets
        rel = rel.abs()
    else:
        rel = -torch.min(rel, torch.zeros_like(rel))
    max_exact = num_buckets // 2
    large = max_exact + (torch.log(rel.float() / max_exact) / math.log(max_distance / max_exact)
                         * (num_buckets - max_exact)).long()
    large = torch.min(large, torch.full_like(large, num_buckets - 1))
    return out + torch.where(rel < max_exact, rel, large)


def main(model_dir, inputs_path, out_path):
    cfg = json.load(open(model_dir + "/config.json"))
    W = {k: v.requires_grad_() for k, v in read_safetensors(model_dir + "/model.safetensors").items()}
    inp = json.load(open(inputs_path))
    arch = cfg["architectures"][0]
    H, dkv, eps = cfg["num_heads"], cfg["d_kv"], cfg["layer_norm_epsilon"]
    nb, md = cfg["relative_attention_num_buckets"], cfg["relative_attention_max_distance"]
    proj = cfg["feed_forward_proj"]
    gated = proj.startswith("gated-")
    act = ACT["gelu_new" if proj == "gated-gelu" else proj.split("-")[-1]]
    tied = cfg.get("tie_word_embeddings", True)
    shared = W["shared.weight"]
    lm_head = shared if tied else W.get("lm_head.weight")

    rms = lambda x, n: W[n + ".weight"] * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))
    lin = lambda x, n: x @ W[n + ".weight"].T
    minus_inf = torch.finfo(torch.float64).min

    def attention(x, kv, n, bias):  # scores = q k^T (no scaling) + bias (+ mask); softmax; @ v; o
        B, T, _ = x.shape
        heads = lambda t: t.view(B, -1, H, dkv).transpose(1, 2)
        q, k, v = heads(lin(x, n + ".q")), heads(lin(kv, n + ".k")), heads(lin(kv, n + ".v"))
        a = torch.softmax(q @ k.transpose(-1, -2) + bias, -1) @ v
        return lin(a.transpose(1, 2).reshape(B, T, H * dkv), n + ".o")

    def ffn(x, n):
        h = act(lin(x, n + ".wi_0")) * lin(x, n + ".wi_1") if gated else act(lin(x, n + ".wi"))
        return lin(h, n + ".wo")

    def stack(name, ids, mask, enc=None, enc_mask=None):
        decoder = enc is not None
        h = shared[ids]
        T = ids.shape[1]
        pos = torch.arange(T)
        rel_bias = W[name + ".block.0.layer.0.SelfAttention.relative_attention_bias.weight"]
        bias = rel_bias[bucket(pos[None, :] - pos[:, None], not decoder, nb, md)].permute(2, 0, 1)[None]
        m = mask[:, None, None, :].bool()
        if decoder:
            m = m & torch.tril(torch.ones(T, T, dtype=torch.bool))[None, None]
            cross = torch.zeros(1, 1, 1, enc.shape[1], dtype=torch.float64).masked_fill(
                ~enc_mask[:, None, None, :].bool(), minus_inf)
        bias = bias.masked_fill(~m, minus_inf)
        states = []
        n_layers = cfg.get("num_decoder_layers") or cfg["num_layers"] if decoder else cfg["num_layers"]
        for i in range(n_layers):
            states.append(h)
            b = f"{name}.block.{i}.layer."
            h = h + attention(rms(h, b + "0.layer_norm"), rms(h, b + "0.layer_norm"), b + "0.SelfAttention", bias)
            if decoder:
                h = h + attention(rms(h, b + "1.layer_norm"), enc, b + "1.EncDecAttention", cross)
            f = b + ("2" if decoder else "1")
            h = h + ffn(rms(h, f + ".layer_norm"), f + ".DenseReluDense")
        h = rms(h, name + ".final_layer_norm")
        states.append(h)
        return h, states

    ids, mask = torch.tensor(inp["input_ids"]), torch.tensor(inp["attention_mask"])
    enc, enc_states = stack("encoder", ids, mask)
    out = {}
    if arch == "T5EncoderModel":
        out["last_hidden_state"] = enc
        out.update({f"hidden_states.{i}": s for i, s in enumerate(enc_states)})
        loss = (enc * torch.linspace(-1, 1, enc.numel(), dtype=torch.float64).view(enc.shape)).sum()
    else:
        labels = torch.tensor(inp["labels"])
        dec_ids = torch.cat([torch.full_like(labels[:, :1], cfg["decoder_start_token_id"]), labels[:, :-1]], 1)
        dec_ids = dec_ids.masked_fill(dec_ids == -100, cfg["pad_token_id"])  # _shift_right
        dec_mask = torch.tensor(inp.get("decoder_attention_mask", torch.ones_like(labels).tolist()))
        dec, dec_states = stack("decoder", dec_ids, dec_mask, enc, mask)
        logits = (dec * cfg["d_model"] ** -0.5 if tied else dec) @ lm_head.T
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100)
        out.update(logits=logits, loss=loss, last_hidden_state=dec, encoder_last_hidden_state=enc)
        out.update({f"encoder_hidden_states.{i}": s for i, s in enumerate(enc_states)})
        out.update({f"decoder_hidden_states.{i}": s for i, s in enumerate(dec_states)})
    loss.backward()
    out.update({"grad." + k: v.grad if v.grad is not None else torch.zeros_like(v) for k, v in W.items()})
    json.dump({k: {"shape": list(v.shape), "data": v.detach().flatten().tolist()} for k, v in out.items()},
              open(out_path, "w"))


if __name__ == "__main__":
    main(*sys.argv[1:4])
