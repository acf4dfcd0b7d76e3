// attention_forward.cu / attention_backward.cu (CUDA-core flash attention) under emulation, f32,
// vs cpu::attention_forward/backward in f64: causal with q offsets, key masks, broadcast additive
// bias, dropout, transposed storage, head dims up to 128, partial gradient sets, empty sequences.
#include <algorithm>
#include <climits>

#include "emu_test.h"
#include "engine/backend/cpu/attention.h"
#include "engine/backend/cuda/attention_kernels.h"

namespace {
using namespace engine;
namespace ak = engine::cuda::kernels::attn;
using cpu::Strides4;

struct Op {  // logical [n0,n1,n2,n3]; stored with the last two dims swapped when `tr`
  int64_t n[4];
  bool tr;
  std::vector<float> f;
  std::vector<double> d;
  Strides4 s;  // real strides
  Op(int64_t a, int64_t b, int64_t c, int64_t e, bool t, std::mt19937& g, bool zero = false) : n{a, b, c, e}, tr(t) {
    size_t N = size_t(a * b * c * e);
    std::normal_distribution<float> nd;
    f.resize(N);
    for (auto& x : f) x = zero ? 0.f : nd(g);
    d.assign(f.begin(), f.end());
    s = t ? Strides4{b * c * e, c * e, 1, c} : Strides4{b * c * e, c * e, e, 1};
  }
  Strides4 bstr() const { return {n[0] == 1 ? 0 : s.b, n[1] == 1 ? 0 : s.h, n[2] == 1 ? 0 : s.t, n[3] == 1 ? 0 : s.d}; }
};

struct Case {
  std::string name;
  int64_t B, H, Tq, Tk, D, Dv;
  bool causal = false;
  int64_t q_offset = INT64_MIN;  // default Tk - Tq
  int mask = 0;                  // 0 none, 1 [B,Tk] (last batch fully masked), 2 [1,Tk]
  int64_t bias[4] = {0, 0, 0, 0};  // sizes, 0 = none
  float dropout = 0.f;
  bool tr = false;
  bool gq = true, gk = true, gv = true, gb = true;
  float scale = 0;
};

// worst |got − want| / (1 + |want|) ≤ 1e-4
bool compare(const char* what, const Case& c, const std::vector<float>& got, const std::vector<double>& want) {
  return check(c.name + " " + what, std::vector<double>(got.begin(), got.end()), want, 1e-4);
}

bool run(const Case& c) {
  std::mt19937 g(1234);
  Op q(c.B, c.H, c.Tq, c.D, c.tr, g), k(c.B, c.H, c.Tk, c.D, c.tr, g), v(c.B, c.H, c.Tk, c.Dv, c.tr, g);
  Op dout(c.B, c.H, c.Tq, c.Dv, c.tr, g);
  bool has_bias = c.bias[0] > 0;
  Op bias(has_bias ? c.bias[0] : 1, has_bias ? c.bias[1] : 1, has_bias ? c.bias[2] : 1, has_bias ? c.bias[3] : 1, c.tr, g);
  int64_t mb = c.mask == 2 ? 1 : c.B;
  std::vector<uint8_t> m8(size_t(mb * c.Tk), 1);
  std::vector<float> mf(size_t(mb * c.Tk), 1.f);
  for (int64_t b = 0; b < mb; ++b)
    for (int64_t j = 0; j < c.Tk; ++j) {
      bool keep = (j % 3 != 1) && !(c.mask == 1 && b == c.B - 1 && c.B > 1);
      m8[size_t(b * c.Tk + j)] = keep, mf[size_t(b * c.Tk + j)] = keep ? 1.f : 0.f;
    }
  const double scale = c.scale ? c.scale : 1.0 / std::sqrt(double(c.D));
  const int64_t qoff = c.q_offset == INT64_MIN ? c.Tk - c.Tq : c.q_offset;
  // CPU reference (f64)
  cpu::AttentionArgs<double> a;
  a.B = c.B, a.H = c.H, a.Tq = c.Tq, a.Tk = c.Tk, a.D = c.D, a.Dv = c.Dv;
  a.q = q.d.data(), a.sq = q.s, a.k = k.d.data(), a.sk = k.s, a.v = v.d.data(), a.sv = v.s, a.scale = scale;
  if (has_bias) a.bias = bias.d.data(), a.sbias = bias.bstr();
  if (c.mask) a.key_mask = m8.data(), a.mask_sb = mb == 1 ? 0 : c.Tk, a.mask_st = 1;
  a.causal = c.causal, a.q_offset = qoff, a.dropout_p = c.dropout, a.seed = 77, a.offset = 5000;
  Strides4 so = cpu::contiguous_strides(c.H, c.Tq, c.Dv);
  std::vector<double> out_r(size_t(c.B * c.H * c.Tq * c.Dv)), lse_r(size_t(c.B * c.H * c.Tq));
  cpu::attention_forward(a, out_r.data(), so, lse_r.data());
  // emulated CUDA (f32)
  ak::Params p;
  p.B = c.B, p.H = c.H, p.Tq = c.Tq, p.Tk = c.Tk, p.D = c.D, p.Dv = c.Dv;
  p.q = q.f.data(), p.sq = q.s, p.k = k.f.data(), p.sk = k.s, p.v = v.f.data(), p.sv = v.s;
  if (has_bias) p.bias = bias.f.data(), p.sbias = bias.bstr();
  if (c.mask) p.mask = mf.data(), p.mask_sb = mb == 1 ? 0 : c.Tk, p.mask_st = 1;
  p.scale = float(scale), p.causal = c.causal, p.q_offset = qoff, p.dropout_p = c.dropout, p.seed = 77, p.offset = 5000;
  std::vector<float> out_g(out_r.size(), 12345.f), lse_g(lse_r.size(), 12345.f);
  ak::attention_forward(engine::cuda::kernels::F32, p, out_g.data(), so, lse_g.data());
  bool ok = compare("out", c, out_g, out_r);
  {  // lse: −inf must match exactly
    std::vector<double> lr(lse_r);
    std::vector<float> lg(lse_g);
    bool inf_ok = true;
    for (size_t i = 0; i < lr.size(); ++i) {
      if (std::isinf(lr[i]) || std::isinf(lg[i])) {
        inf_ok &= std::isinf(lr[i]) && std::isinf(lg[i]) && lr[i] < 0 && lg[i] < 0;
        lr[i] = 0, lg[i] = 0;
      }
    }
    EXPECT_TRUE(inf_ok) << c.name << ": lse −inf pattern differs";
    ok &= inf_ok && compare("lse", c, lg, lr);
  }
  // backward
  const bool ds = c.gq || c.gk || (c.gb && has_bias);
  cpu::AttentionGrads<double> gr;
  gr.out = out_r.data(), gr.so = so, gr.lse = lse_r.data(), gr.dout = dout.d.data(), gr.sdo = dout.s;
  Op dq(c.B, c.H, c.Tq, c.D, c.tr, g, true), dk(c.B, c.H, c.Tk, c.D, c.tr, g, true), dv(c.B, c.H, c.Tk, c.Dv, c.tr, g, true);
  Op db(bias.n[0], bias.n[1], bias.n[2], bias.n[3], false, g, true);
  std::vector<double> dq_r(dq.d.size()), dk_r(dk.d.size()), dv_r(dv.d.size()), db_r(db.d.size());
  if (c.gq) gr.dq = dq_r.data(), gr.sdq = dq.s;
  if (c.gk) gr.dk = dk_r.data(), gr.sdk = dk.s;
  if (c.gv) gr.dv = dv_r.data(), gr.sdv = dv.s;
  if (c.gb && has_bias) gr.dbias = db_r.data(), gr.sdbias = db.bstr();
  if (!ds) a.v = nullptr, gr.out = nullptr;
  cpu::attention_backward(a, gr);
  ak::Grads gg;
  std::vector<float> delta(lse_g.size(), 999.f);
  if (ds) gg.out = out_g.data(), gg.so = so;
  else p.v = nullptr, p.sv = {};
  gg.lse = lse_g.data(), gg.dout = dout.f.data(), gg.sdo = dout.s, gg.delta = ds ? delta.data() : nullptr;
  std::fill(dq.f.begin(), dq.f.end(), 777.f), std::fill(dk.f.begin(), dk.f.end(), 777.f);
  std::fill(dv.f.begin(), dv.f.end(), 777.f), std::fill(db.f.begin(), db.f.end(), 777.f);
  if (c.gq) gg.dq = dq.f.data(), gg.sdq = dq.s;
  if (c.gk) gg.dk = dk.f.data(), gg.sdk = dk.s;
  if (c.gv) gg.dv = dv.f.data(), gg.sdv = dv.s;
  if (c.gb && has_bias) gg.dbias = db.f.data(), gg.sdbias = db.s, gg.nb = db.n[0], gg.nh = db.n[1], gg.nt = db.n[2], gg.nd = db.n[3];
  ak::attention_backward(engine::cuda::kernels::F32, p, gg);
  if (c.gq) ok &= compare("dq", c, dq.f, dq_r);
  if (c.gk) ok &= compare("dk", c, dk.f, dk_r);
  if (c.gv) ok &= compare("dv", c, dv.f, dv_r);
  if (c.gb && has_bias) ok &= compare("dbias", c, db.f, db_r);
  return ok;
}

// Cases of one test, each given as a Case plus edits.
struct Cases {
  std::vector<Case> cs;
  Case* add(Case c) { cs.push_back(c); return &cs.back(); }
  void run_all() { for (auto& c : cs) run(c); }
};
}  // namespace

using CudaEmuAttention = EmuTest;
TEST_F(CudaEmuAttention, PlainCrossAndHeadDims) {
  Cases s;
  s.add({"plain Tq23 Tk37 d24", 1, 2, 23, 37, 24, 24});
  s.add({"plain Tq23 Tk37 d24 transposed B2", 2, 1, 23, 37, 24, 24})->tr = true;
  s.add({"cross Tq19 Tk45 d64 dv40 tr", 1, 1, 19, 45, 64, 40})->tr = true;
  s.add({"d128", 1, 1, 17, 33, 128, 128});
  s.add({"one", 1, 1, 1, 1, 5, 3});
  s.add({"xD1 Dv1 causal", 1, 1, 20, 40, 1, 1})->causal = true;
  s.run_all();
}
TEST_F(CudaEmuAttention, CausalOffsetsAndMasks) {
  Cases s;
  { auto c = s.add({"causal T45 tr", 1, 1, 45, 45, 16, 16}); c->causal = true; c->tr = true; }
  { auto c = s.add({"causal kv Tq5 Tk41", 1, 2, 5, 41, 32, 32}); c->causal = true; }
  { auto c = s.add({"causal q_offset -40 (all hidden)", 1, 1, 9, 37, 16, 16}); c->causal = true; c->q_offset = -40; }
  { auto c = s.add({"causal Tq45 Tk40 q_offset 3", 1, 1, 45, 40, 8, 8}); c->causal = true; c->q_offset = 3; }
  { auto c = s.add({"mask [B,Tk] last batch empty", 2, 1, 23, 37, 24, 24}); c->mask = 1; }
  { auto c = s.add({"mask [1,Tk] causal", 2, 1, 23, 37, 24, 24}); c->mask = 2; c->causal = true; }
  s.run_all();
}
TEST_F(CudaEmuAttention, BroadcastBias) {
  Cases s;
  auto bias = [](Case* c, int64_t b0, int64_t b1, int64_t b2, int64_t b3) {
    c->bias[0] = b0, c->bias[1] = b1, c->bias[2] = b2, c->bias[3] = b3;
    return c;
  };
  bias(s.add({"bias full tr", 2, 2, 21, 37, 16, 16}), 2, 2, 21, 37)->tr = true;
  bias(s.add({"bias [1,H,Tq,Tk] mask", 2, 3, 21, 37, 16, 16}), 1, 3, 21, 37)->mask = 1;
  bias(s.add({"bias [B,1,Tq,Tk]", 2, 3, 21, 37, 16, 16}), 2, 1, 21, 37);
  bias(s.add({"bias [1,H,1,Tk] causal", 2, 3, 21, 37, 16, 16}), 1, 3, 1, 37)->causal = true;
  bias(s.add({"bias [B,H,Tq,1]", 2, 3, 21, 37, 16, 16}), 2, 3, 21, 1);
  s.run_all();
}
TEST_F(CudaEmuAttention, DropoutMatchesCpuMask) {
  Cases s;
  { auto c = s.add({"dropout .25 bias", 1, 2, 23, 37, 24, 24}); c->bias[0] = 1, c->bias[1] = 2, c->bias[2] = 23, c->bias[3] = 37; c->dropout = 0.25f; }
  { auto c = s.add({"dropout .25 causal tr", 1, 1, 29, 29, 64, 64}); c->dropout = 0.25f; c->causal = true; c->tr = true; }
  s.run_all();
}
TEST_F(CudaEmuAttention, PartialGradientsAndEmpty) {
  Cases s;
  { auto c = s.add({"dv only", 1, 2, 23, 37, 24, 40}); c->gq = c->gk = c->gb = false; c->causal = true; }
  { auto c = s.add({"dk only", 1, 2, 23, 37, 24, 40}); c->gq = c->gv = c->gb = false; c->causal = true; }
  { auto c = s.add({"dq only", 1, 2, 23, 37, 24, 40}); c->gk = c->gv = c->gb = false; c->causal = true; }
  { auto c = s.add({"dbias only", 1, 2, 23, 37, 24, 40}); c->bias[0] = 1, c->bias[1] = 2, c->bias[2] = 23, c->bias[3] = 37; c->gq = c->gk = c->gv = false; }
  s.add({"Tq 0", 1, 2, 0, 9, 8, 8});
  s.add({"Tk 0", 1, 2, 9, 0, 8, 8});
  s.run_all();
}
TEST_F(CudaEmuAttention, ManyTilesAllFeatures) {
  Cases s;
  { auto c = s.add({"causal Tq40 Tk100 many tiles", 1, 1, 40, 100, 8, 8}); c->causal = true; c->mask = 2; }
  { auto c = s.add({"xD64 Dv128 causal mask", 2, 1, 13, 41, 64, 128}); c->causal = true; c->mask = 1; }
  { auto c = s.add({"xD100 Dv72 tr all", 2, 1, 19, 35, 100, 72}); c->bias[0] = 2, c->bias[1] = 1, c->bias[2] = 19, c->bias[3] = 35; c->tr = true; c->mask = 2; c->dropout = 0.1f; c->causal = true; c->q_offset = 20; }
  s.run_all();
}
