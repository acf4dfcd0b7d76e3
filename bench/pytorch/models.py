"""Plain-PyTorch BERT, GPT-2 and T5 with HF's exact architectures (transformers 4.33
modeling_bert.py / modeling_gpt2.py / modeling_t5.py, eager attention), for the model
benchmarks in bench/run_model_bench.sh. transformers is not installable here, so these
are written out; parameter names follow HF so the sizes are checkable. Random weights
(init_weights: HF's normal(0, 0.02) for BERT and GPT-2; T5 keeps torch's defaults, which
are close to HF's fan-in scaled normals and give `shared` HF's N(0, 1)).

Configs: CONFIGS below holds the three sizes the benchmark uses (bert-base-uncased,
gpt2, t5-small); dropout probabilities are HF's defaults (0.1) and are live in train mode.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

CONFIGS = {
    "bert": dict(vocab_size=30522, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                 intermediate_size=3072, max_position_embeddings=512, type_vocab_size=2,
                 layer_norm_eps=1e-12, dropout=0.1, num_labels=2),
    "gpt2": dict(vocab_size=50257, n_positions=1024, n_embd=768, n_layer=12, n_head=12,
                 layer_norm_epsilon=1e-5, dropout=0.1),
    "t5": dict(vocab_size=32128, d_model=512, d_kv=64, d_ff=2048, num_layers=6, num_decoder_layers=6,
               num_heads=8, relative_attention_num_buckets=32, relative_attention_max_distance=128,
               layer_norm_epsilon=1e-6, dropout=0.1),
}


def split_heads(x, h):  # [B,T,H*d] -> [B,H,T,d]
    b, t, _ = x.shape
    return x.view(b, t, h, -1).transpose(1, 2)


def merge_heads(x):  # [B,H,T,d] -> [B,T,H*d]
    b, h, t, d = x.shape
    return x.transpose(1, 2).reshape(b, t, h * d)


# ---------------------------------------------------------------- BERT (BertForSequenceClassification)
class BertLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, self.h = c["hidden_size"], c["num_attention_heads"]
        self.query, self.key, self.value = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)
        self.attn_out = nn.Linear(d, d)
        self.attn_ln = nn.LayerNorm(d, eps=c["layer_norm_eps"])
        self.intermediate = nn.Linear(d, c["intermediate_size"])
        self.output = nn.Linear(c["intermediate_size"], d)
        self.out_ln = nn.LayerNorm(d, eps=c["layer_norm_eps"])
        self.drop = nn.Dropout(c["dropout"])

    def forward(self, x, mask):  # x [B,T,C], mask [B,1,1,T] additive
        q, k, v = (split_heads(f(x), self.h) for f in (self.query, self.key, self.value))
        s = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]) + mask  # [B,H,T,T]
        ctx = merge_heads(self.drop(s.softmax(-1)) @ v)
        x = self.attn_ln(self.drop(self.attn_out(ctx)) + x)
        y = self.output(F.gelu(self.intermediate(x)))  # erf gelu ("gelu")
        return self.out_ln(self.drop(y) + x)


class BertForSequenceClassification(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["hidden_size"]
        self.word_embeddings = nn.Embedding(c["vocab_size"], d)
        self.position_embeddings = nn.Embedding(c["max_position_embeddings"], d)
        self.token_type_embeddings = nn.Embedding(c["type_vocab_size"], d)
        self.emb_ln = nn.LayerNorm(d, eps=c["layer_norm_eps"])
        self.drop = nn.Dropout(c["dropout"])
        self.layer = nn.ModuleList(BertLayer(c) for _ in range(c["num_hidden_layers"]))
        self.pooler = nn.Linear(d, d)
        self.classifier = nn.Linear(d, c["num_labels"])
        self.head_names = ("classifier.",)  # trainable in the frozen-base mode

    def forward(self, batch):
        ids, mask = batch["input_ids"], batch["attention_mask"]
        pos = torch.arange(ids.shape[1]).unsqueeze(0)
        x = self.word_embeddings(ids) + self.token_type_embeddings(torch.zeros_like(ids)) + self.position_embeddings(pos)
        x = self.drop(self.emb_ln(x))
        amask = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        for layer in self.layer:
            x = layer(x, amask)
        pooled = torch.tanh(self.pooler(x[:, 0]))
        logits = self.classifier(self.drop(pooled))  # [B,L]
        return F.cross_entropy(logits, batch["labels"])


# ---------------------------------------------------------------- GPT-2 (GPT2LMHeadModel)
def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class Conv1D(nn.Module):  # HF's GPT-2 linear: weight [in, out]
    def __init__(self, n_in, n_out):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_in, n_out) * 0.02)
        self.bias = nn.Parameter(torch.zeros(n_out))

    def forward(self, x):
        return torch.addmm(self.bias, x.reshape(-1, x.shape[-1]), self.weight).view(*x.shape[:-1], -1)


class GPT2Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, self.h = c["n_embd"], c["n_head"]
        self.ln_1, self.ln_2 = nn.LayerNorm(d, eps=c["layer_norm_epsilon"]), nn.LayerNorm(d, eps=c["layer_norm_epsilon"])
        self.c_attn, self.attn_proj = Conv1D(d, 3 * d), Conv1D(d, d)
        self.c_fc, self.mlp_proj = Conv1D(d, 4 * d), Conv1D(4 * d, d)
        self.drop = nn.Dropout(c["dropout"])
        n = c["n_positions"]
        self.register_buffer("bias", torch.tril(torch.ones(n, n, dtype=torch.bool)).view(1, 1, n, n), persistent=False)

    def forward(self, x):
        t = x.shape[1]
        q, k, v = (split_heads(y, self.h) for y in self.c_attn(self.ln_1(x)).split(x.shape[-1], dim=2))
        s = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])  # [B,H,T,T]
        s = torch.where(self.bias[:, :, :t, :t], s, torch.tensor(torch.finfo(s.dtype).min))
        x = x + self.drop(self.attn_proj(merge_heads(self.drop(s.softmax(-1)) @ v)))
        return x + self.drop(self.mlp_proj(gelu_new(self.c_fc(self.ln_2(x)))))


class GPT2LMHeadModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["n_embd"]
        self.wte, self.wpe = nn.Embedding(c["vocab_size"], d), nn.Embedding(c["n_positions"], d)
        self.drop = nn.Dropout(c["dropout"])
        self.h = nn.ModuleList(GPT2Block(c) for _ in range(c["n_layer"]))
        self.ln_f = nn.LayerNorm(d, eps=c["layer_norm_epsilon"])
        self.head_names = ("ln_f.",)  # lm_head is tied to wte (the input embedding): it stays frozen

    def forward(self, batch):
        ids = batch["input_ids"]
        x = self.drop(self.wte(ids) + self.wpe(torch.arange(ids.shape[1]).unsqueeze(0)))
        for block in self.h:
            x = block(x)
        logits = F.linear(self.ln_f(x), self.wte.weight)  # tied lm_head, [B,T,V]
        labels = batch["labels"]
        return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1))


# ---------------------------------------------------------------- T5 (T5ForConditionalGeneration)
class T5LayerNorm(nn.Module):  # RMS norm, no bias, no mean subtraction
    def __init__(self, d, eps):
        super().__init__()
        self.weight, self.eps = nn.Parameter(torch.ones(d)), eps

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


def relative_bucket(rel, bidirectional, num_buckets, max_distance):  # HF's _relative_position_bucket
    buckets = 0
    if bidirectional:
        num_buckets //= 2
        buckets += (rel > 0).long() * num_buckets
        rel = rel.abs()
    else:
        rel = -torch.min(rel, torch.zeros_like(rel))
    max_exact = num_buckets // 2
    is_small = rel < max_exact
    large = max_exact + (torch.log(rel.float() / max_exact) / math.log(max_distance / max_exact)
                         * (num_buckets - max_exact)).long()
    large = torch.min(large, torch.full_like(large, num_buckets - 1))
    return buckets + torch.where(is_small, rel, large)


class T5Attention(nn.Module):
    def __init__(self, c, has_bias, bidirectional):
        super().__init__()
        self.h, inner, d = c["num_heads"], c["num_heads"] * c["d_kv"], c["d_model"]
        self.q, self.k, self.v = (nn.Linear(d, inner, bias=False) for _ in range(3))
        self.o = nn.Linear(inner, d, bias=False)
        self.c, self.bidirectional = c, bidirectional
        self.relative_attention_bias = nn.Embedding(c["relative_attention_num_buckets"], self.h) if has_bias else None
        self.drop = nn.Dropout(c["dropout"])

    def position_bias(self, tq, tk):  # [1,H,Tq,Tk]
        rel = torch.arange(tk)[None, :] - torch.arange(tq)[:, None]
        b = relative_bucket(rel, self.bidirectional, self.c["relative_attention_num_buckets"],
                            self.c["relative_attention_max_distance"])
        return self.relative_attention_bias(b).permute(2, 0, 1).unsqueeze(0)

    def forward(self, x, kv, bias):  # no 1/sqrt(d) scaling in T5
        q, k, v = split_heads(self.q(x), self.h), split_heads(self.k(kv), self.h), split_heads(self.v(kv), self.h)
        s = q @ k.transpose(-1, -2) + bias
        return self.o(merge_heads(self.drop(s.float().softmax(-1)) @ v))


class T5Block(nn.Module):
    def __init__(self, c, first, decoder):
        super().__init__()
        d, eps = c["d_model"], c["layer_norm_epsilon"]
        self.self_ln, self.self_attn = T5LayerNorm(d, eps), T5Attention(c, first, not decoder)
        if decoder:
            self.cross_ln, self.cross_attn = T5LayerNorm(d, eps), T5Attention(c, False, False)
        self.ff_ln = T5LayerNorm(d, eps)
        self.wi, self.wo = nn.Linear(d, c["d_ff"], bias=False), nn.Linear(c["d_ff"], d, bias=False)
        self.drop, self.decoder = nn.Dropout(c["dropout"]), decoder

    def forward(self, x, bias, enc=None, cross_bias=None):
        h = self.self_ln(x)
        x = x + self.drop(self.self_attn(h, h, bias))
        if self.decoder:
            x = x + self.drop(self.cross_attn(self.cross_ln(x), enc, cross_bias))
        return x + self.drop(self.wo(self.drop(F.relu(self.wi(self.ff_ln(x))))))


class T5Stack(nn.Module):
    def __init__(self, c, decoder):
        super().__init__()
        n = c["num_decoder_layers"] if decoder else c["num_layers"]
        self.block = nn.ModuleList(T5Block(c, i == 0, decoder) for i in range(n))
        self.final_layer_norm = T5LayerNorm(c["d_model"], c["layer_norm_epsilon"])
        self.drop, self.decoder = nn.Dropout(c["dropout"]), decoder

    def forward(self, x, mask, enc=None, enc_mask=None):  # masks are additive [B,1,1,T]
        t = x.shape[1]
        bias = self.block[0].self_attn.position_bias(t, t) + mask
        if self.decoder:  # causal
            bias = bias + torch.triu(torch.full((t, t), torch.finfo(x.dtype).min), 1)
        x = self.drop(x)
        for blk in self.block:
            x = blk(x, bias, enc, enc_mask)
        return self.drop(self.final_layer_norm(x))


class T5ForConditionalGeneration(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.shared = nn.Embedding(c["vocab_size"], c["d_model"])
        self.encoder, self.decoder = T5Stack(c, False), T5Stack(c, True)
        self.d_model = c["d_model"]
        self.head_names = ("decoder.final_layer_norm.",)  # lm_head is tied to `shared`: it stays frozen

    def forward(self, batch):
        ids, labels = batch["input_ids"], batch["labels"]
        neg = torch.finfo(torch.float32).min
        enc_mask = (1.0 - batch["attention_mask"][:, None, None, :].float()) * neg
        enc = self.encoder(self.shared(ids), enc_mask)
        dec_ids = torch.cat([torch.zeros_like(labels[:, :1]), labels[:, :-1]], 1)  # shift right, start 0
        dec = self.decoder(self.shared(dec_ids), torch.zeros(1, 1, 1, labels.shape[1]), enc, enc_mask)
        logits = F.linear(dec * self.d_model ** -0.5, self.shared.weight)  # tied: scaled by d_model^-0.5
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1))


MODELS = {"bert": BertForSequenceClassification, "gpt2": GPT2LMHeadModel, "t5": T5ForConditionalGeneration}
SHAPES = {"bert": (8, 128), "gpt2": (4, 256), "t5": (8, 128)}  # (batch, sequence)


def init_weights(model, name):
    """HF's _init_weights for BERT / GPT-2: weights and embeddings N(0, 0.02), biases 0."""
    if name == "t5":
        return model
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if "ln" in pname.split(".")[-2]:
                continue  # LayerNorms (ln_1, attn_ln, ...) keep weight 1, bias 0
            p.normal_(0.0, 0.02) if p.dim() > 1 else p.zero_()
    return model


def make_batch(name, gen):
    b, t = SHAPES[name]
    vocab = CONFIGS[name]["vocab_size"]
    ids = torch.randint(0, vocab, (b, t), generator=gen)
    labels = torch.randint(0, 2, (b,), generator=gen) if name == "bert" else torch.randint(0, vocab, (b, t), generator=gen)
    return {"input_ids": ids, "attention_mask": torch.ones(b, t, dtype=torch.long), "labels": labels}
