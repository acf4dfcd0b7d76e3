// QuantizedWeight's storage, quantize_nf4 / quantize_int8 and dequantize (math and layout in
// quantized.h). Quantization runs once per weight at load time: plain C++ over oneTBB. The
// storage also keeps the GPU copies of the parts (backend/cuda/cuda_quant.cpp uploads them).
#include <algorithm>
#include <cmath>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "engine/autograd/grad_mode.h"
#include "engine/backend/cpu/simd_parallel.h"
#include "engine/backend/cuda/cuda_quant.h"
#include "engine/ops/convert.h"
#include "engine/ops/shape.h"
#include "engine/quant/dequant_tile.h"

namespace engine::quant {

struct QuantizedWeight::Parts {
  QuantFormat format = QuantFormat::nf4;
  int64_t out = 0, in = 0;
  std::vector<uint8_t> codes;        // nf4: packed index pairs; int8: the int8 values' bytes
  std::vector<int8_t> absmax_codes;  // nf4 only
  std::vector<float> scales;         // nf4: per group; int8: per row
  float offset = 0;                  // nf4 only
  // GPU copies, one per device, made on first use (the parts above never change).
  mutable std::mutex device_mu;
  mutable std::vector<std::pair<Device, std::unique_ptr<DeviceParts>>> device;
};

const char* format_name(QuantFormat f) { return f == QuantFormat::nf4 ? "nf4" : "int8"; }

QuantFormat parse_format(const std::string& name) {
  if (name == "nf4") return QuantFormat::nf4;
  if (name == "int8") return QuantFormat::int8;
  fail<ValueError>("[quantize] unknown format '", name, "' (expected nf4 or int8)");
}

namespace {
constexpr std::array<float, 15> nf4_midpoints() {
  std::array<float, 15> m{};
  for (size_t i = 0; i < m.size(); ++i) m[i] = (kNF4[i] + kNF4[i + 1]) * 0.5f;
  return m;
}
constexpr std::array<float, 15> kMidpoints = nf4_midpoints();
}  // namespace

int nf4_index(float v) {  // the number of midpoints strictly below v (a tie stays below)
  return int(std::lower_bound(kMidpoints.begin(), kMidpoints.end(), v) - kMidpoints.begin());
}

// ---- QuantizedWeight accessors

const QuantizedWeight::Parts& QuantizedWeight::parts() const {
  check<ValueError>(p_ != nullptr, "[QuantizedWeight] used while undefined");
  return *p_;
}
QuantFormat QuantizedWeight::format() const { return parts().format; }
int64_t QuantizedWeight::out_features() const { return parts().out; }
int64_t QuantizedWeight::in_features() const { return parts().in; }
std::span<const uint8_t> QuantizedWeight::codes() const { return parts().codes; }
std::span<const int8_t> QuantizedWeight::absmax_codes() const { return parts().absmax_codes; }
std::span<const float> QuantizedWeight::scales() const { return parts().scales; }
float QuantizedWeight::offset() const { return parts().offset; }

int64_t QuantizedWeight::bytes() const {
  const Parts& p = parts();
  const int64_t offset_bytes = p.format == QuantFormat::nf4 ? int64_t(sizeof(float)) : 0;
  return int64_t(p.codes.size() + p.absmax_codes.size() + p.scales.size() * sizeof(float)) + offset_bytes;
}

double QuantizedWeight::bits_per_parameter() const { return 8.0 * double(bytes()) / double(numel()); }

Tensor QuantizedWeight::block_scales() const {
  const Parts& p = parts();
  if (p.format == QuantFormat::int8) return from_vector(p.scales, {p.out});
  std::vector<float> a(p.absmax_codes.size());
  for (size_t b = 0; b < a.size(); ++b)
    a[b] = nf4_absmax(p.offset, p.absmax_codes[b], p.scales[b / kNF4ScaleGroup]);
  return from_vector(a, {int64_t(a.size())});
}

const QuantizedWeight::DeviceParts& QuantizedWeight::device_parts(Device device) const {
  check<ValueError>(!device.is_cpu(), "[QuantizedWeight] device_parts of cpu: the host parts are codes()/scales()");
  const Parts& p = parts();
  std::lock_guard<std::mutex> lock(p.device_mu);
  for (const auto& [d, parts] : p.device)
    if (d == device) return *parts;
  auto made = std::make_unique<DeviceParts>(cuda::upload_quantized(*this, device));
  p.device.emplace_back(device, std::move(made));
  return *p.device.back().second;
}

QuantizedWeight QuantizedWeight::to(Device device) const {
  if (!device.is_cpu()) device_parts(device);
  return *this;
}

// ---- quantization

namespace {

// The weight as contiguous f32 [out, in], checked (the error names the op and shape).
Tensor out_in_f32(const Tensor& w, WeightLayout layout, const char* op) {
  check<ShapeError>(w.defined() && w.dim() == 2, "[", op, "] expects a 2-d weight, got ",
                    w.defined() ? shape_str(w.shape()) : "an undefined tensor");
  check<DTypeError>(is_floating(w.dtype()), "[", op, "] expects a floating weight, got ",
                    dtype_name(w.dtype()));
  NoGradGuard no_grad;
  // Quantization runs on the host (once, at load time); a GPU weight is read back first and
  // the result uploads its parts on first GPU use.
  Tensor host = w.device().is_cpu() ? w : w.to(Device::cpu());
  Tensor t = layout == WeightLayout::out_in ? host : transpose(host, 0, 1);
  return contiguous(to_dtype(t, DType::f32));
}

// Double quantization of the block absmax a: offset m, per-group scale s_g, int8 codes.
void double_quantize(const std::vector<float>& a, QuantizedWeight::Parts& p) {
  double sum = 0;
  for (float v : a) sum += v;
  p.offset = float(sum / double(a.size()));
  const size_t groups = (a.size() + kNF4ScaleGroup - 1) / kNF4ScaleGroup;
  p.scales.assign(groups, 0.0f);
  p.absmax_codes.assign(a.size(), 0);
  for (size_t g = 0; g < groups; ++g) {
    const size_t b0 = g * kNF4ScaleGroup, b1 = std::min(a.size(), b0 + kNF4ScaleGroup);
    float s = 0;
    for (size_t b = b0; b < b1; ++b) s = std::max(s, std::fabs(a[b] - p.offset));
    p.scales[g] = s;
    if (s == 0) continue;  // every block equals m: codes 0 reproduce it exactly
    for (size_t b = b0; b < b1; ++b)
      p.absmax_codes[b] = int8_t(std::clamp(std::nearbyint((a[b] - p.offset) / s * 127.0f), -127.0f, 127.0f));
  }
}

}  // namespace

QuantizedWeight quantize_nf4(const Tensor& w, WeightLayout layout) {
  Tensor t = out_in_f32(w, layout, "quantize_nf4");
  auto p = std::make_shared<QuantizedWeight::Parts>();
  p->format = QuantFormat::nf4, p->out = t.size(0), p->in = t.size(1);
  check<ShapeError>(p->in % kNF4Block == 0, "[quantize_nf4] in_features must be a multiple of ",
                    kNF4Block, ": weight [out, in] = ", shape_str(t.shape()));
  const float* x = t.data<float>();
  const int64_t nblocks = t.numel() / kNF4Block;
  std::vector<float> absmax(static_cast<size_t>(nblocks));
  p->codes.assign(size_t(t.numel() / 2), 0);
  cpu::for_chunks(nblocks, 256, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const float* v = x + b * kNF4Block;
      float a = 0;
      for (int64_t i = 0; i < kNF4Block; ++i) a = std::max(a, std::fabs(v[i]));
      absmax[size_t(b)] = a;
      const float inv = a > 0 ? 1.0f / a : 0.0f;
      uint8_t* out = p->codes.data() + b * kNF4Block / 2;
      for (int64_t i = 0; i < kNF4Block; i += 2)  // even element in the high nibble
        out[i / 2] = uint8_t(nf4_index(v[i] * inv) << 4 | nf4_index(v[i + 1] * inv));
    }
  });
  double_quantize(absmax, *p);
  return QuantizedWeight(std::move(p));
}

QuantizedWeight quantize_int8(const Tensor& w, WeightLayout layout) {
  Tensor t = out_in_f32(w, layout, "quantize_int8");
  auto p = std::make_shared<QuantizedWeight::Parts>();
  p->format = QuantFormat::int8, p->out = t.size(0), p->in = t.size(1);
  const float* x = t.data<float>();
  const int64_t in = p->in;
  p->codes.assign(size_t(t.numel()), 0);
  p->scales.assign(size_t(p->out), 0.0f);
  cpu::for_rows(p->out, in, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* v = x + r * in;
      float a = 0;
      for (int64_t j = 0; j < in; ++j) a = std::max(a, std::fabs(v[j]));
      const float s = a / 127.0f, inv = a > 0 ? 127.0f / a : 0.0f;
      p->scales[size_t(r)] = s;
      for (int64_t j = 0; j < in; ++j)
        p->codes[size_t(r * in + j)] = uint8_t(int8_t(std::clamp(std::nearbyint(v[j] * inv), -127.0f, 127.0f)));
    }
  });
  return QuantizedWeight(std::move(p));
}

QuantizedWeight quantize(const Tensor& w, QuantFormat format, WeightLayout layout) {
  return format == QuantFormat::nf4 ? quantize_nf4(w, layout) : quantize_int8(w, layout);
}

Tensor dequantize(const QuantizedWeight& w) {
  const int64_t out = w.out_features(), in = w.in_features();
  Tensor y = empty({out, in});  // [out, in] f32
  float* dst = y.data<float>();
  cpu::for_rows(out, in, [&](int64_t r0, int64_t r1) { dequantize_tile(w, r0, r1, 0, in, dst + r0 * in, in); });
  return y;
}

}  // namespace engine::quant
