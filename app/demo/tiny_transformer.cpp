#include "app/demo/tiny_transformer.h"

#include <cmath>

namespace app::demo {
namespace {
// A block is only a named container of layers; TinyTransformer::block runs it.
struct Block : engine::nn::Module {
  std::string type_name() const override { return "Block"; }
};
}  // namespace

using engine::Tensor;
using engine::nn::LayerNorm;
using engine::nn::Linear;

TinyTransformer::TinyTransformer(const TinyConfig& cfg, engine::Generator& gen) : cfg_(cfg) {
  auto tok = register_module("tok", std::make_shared<engine::nn::Embedding>(cfg.vocab, cfg.dim));
  engine::copy_(tok->weight(), engine::normal(tok->weight().shape(), 0.0, 0.02, engine::DType::f32, gen));
  auto pos = register_module("pos", std::make_shared<engine::nn::Embedding>(cfg.seq, cfg.dim));
  engine::copy_(pos->weight(), engine::normal(pos->weight().shape(), 0.0, 0.02, engine::DType::f32, gen));
  for (int64_t i = 0; i < cfg.layers; ++i) {
    auto blk = std::make_shared<Block>();
    auto add_linear = [&](const char* name, int64_t in, int64_t out) {
      auto l = blk->register_module(name, std::make_shared<Linear>(in, out));
      l->reset_parameters(gen);
    };
    blk->register_module("ln1", std::make_shared<LayerNorm>(cfg.dim));
    for (const char* n : {"q", "k", "v", "o"}) add_linear(n, cfg.dim, cfg.dim);
    blk->register_module("ln2", std::make_shared<LayerNorm>(cfg.dim));
    add_linear("up", cfg.dim, cfg.ffn);
    add_linear("down", cfg.ffn, cfg.dim);
    register_module("block" + std::to_string(i), blk);
  }
  register_module("ln_f", std::make_shared<LayerNorm>(cfg.dim));
  register_module("head", std::make_shared<Linear>(cfg.dim, cfg.vocab))->reset_parameters(gen);
}

// Pre-LN block: h + attn(ln1(h)), then + mlp(ln2(h)).
Tensor TinyTransformer::block(int64_t i, const Tensor& h) const {
  const auto& blk = *child("block" + std::to_string(i));
  int64_t B = h.size(0), T = h.size(1), H = cfg_.heads, Dh = cfg_.dim / cfg_.heads;
  auto heads = [&](const Tensor& x) { return x.reshape({B, T, H, Dh}).permute({0, 2, 1, 3}); };  // (B,H,T,Dh)
  Tensor x = blk.call("ln1", h);
  engine::AttentionOptions causal;
  causal.causal = true;
  Tensor a = engine::scaled_dot_product_attention(heads(blk.call("q", x)), heads(blk.call("k", x)),
                                                  heads(blk.call("v", x)), causal);
  Tensor h1 = h + blk.call("o", a.permute({0, 2, 1, 3}).reshape({B, T, cfg_.dim}));
  return h1 + blk.call("down", engine::gelu(blk.call("up", blk.call("ln2", h1))));
}

Tensor TinyTransformer::forward(const Tensor& ids) const {
  int64_t T = ids.size(1);
  Tensor h = call("tok", ids) + call("pos", engine::arange(0, T));
  for (int64_t i = 0; i < cfg_.layers; ++i) h = block(i, h);
  return call("head", call("ln_f", h));
}

LowRankAdapter::LowRankAdapter(std::shared_ptr<Linear> base, int64_t rank, double alpha, engine::Generator& gen)
    : scale_(alpha / double(rank)) {
  int64_t in = base->in_features(), out = base->out_features();
  register_module("base_layer", base);
  auto a = register_module("A", std::make_shared<Linear>(in, rank, false));
  a->reset_parameters(gen);  // Kaiming-uniform, as LoRA's default
  auto b = register_module("B", std::make_shared<Linear>(rank, out, false));
  engine::fill_(b->weight(), 0.0);
}

Tensor LowRankAdapter::forward(const Tensor& x) {
  return call("base_layer", x) + call("B", call("A", x)) * scale_;
}

}  // namespace app::demo
