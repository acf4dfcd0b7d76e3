// safetensors: round trips for every dtype and shape kind, header layout, and the real
// checkpoints in ../shared.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/core/error.h"
#include "engine/io/safetensors.h"
#include "engine/io/st_detail.h"
#include "support/test_support.h"
#include "test_io_support.h"

using namespace engine::io;

namespace {

constexpr StDType kAll[] = {StDType::F64, StDType::F32, StDType::F16, StDType::BF16,
                            StDType::I64, StDType::I32, StDType::I16, StDType::I8,
                            StDType::U8,  StDType::BOOL};

struct Owned {
  StTensorView view;
  std::vector<uint8_t> bytes;
};

// A tensor whose bytes are a recognisable pattern (distinct per tensor via `seed`).
Owned pattern(const std::string& name, StDType dt, std::vector<int64_t> shape, int seed) {
  size_t n = st_dtype_size(dt);
  for (int64_t d : shape) n *= size_t(d);
  Owned o{{name, dt, std::move(shape), nullptr}, std::vector<uint8_t>(n)};
  for (size_t i = 0; i < n; ++i) o.bytes[i] = uint8_t(i * 31 + seed * 7 + 1);
  if (dt == StDType::BOOL)
    for (auto& b : o.bytes) b &= 1;
  return o;
}

std::vector<StTensorView> views(std::vector<Owned>& owned) {
  std::vector<StTensorView> v;
  for (auto& o : owned) {
    o.view.data = o.bytes.data();
    v.push_back(o.view);
  }
  return v;
}

}  // namespace

TEST(IoSafetensors, DTypeNamesRoundTrip) {
  for (StDType dt : kAll) EXPECT_EQ(st_dtype_from_name(st_dtype_name(dt)), dt);
  EXPECT_EQ(st_dtype_size(StDType::BF16), 2u);
  EXPECT_EQ(st_dtype_size(StDType::I64), 8u);
  EXPECT_THROW(st_dtype_from_name("F8_E4M3"), engine::IOError);
}

TEST(IoSafetensors, RoundTripEveryDTypeAndShapeKind) {
  test_io::TempDir dir;
  std::vector<Owned> owned;
  int seed = 0;
  for (StDType dt : kAll) {
    const std::string n = st_dtype_name(dt);
    owned.push_back(pattern(n + ".matrix", dt, {2, 3}, ++seed));
    owned.push_back(pattern(n + ".scalar", dt, {}, ++seed));
    owned.push_back(pattern(n + ".empty", dt, {0}, ++seed));
    owned.push_back(pattern(n + ".empty3d", dt, {3, 0, 2}, ++seed));
    owned.push_back(pattern(n + ".odd", dt, {1, 5, 1}, ++seed));
  }
  const std::map<std::string, std::string> meta{{"format", "pt"}, {"note", "ünïcode"}};
  const auto p = dir / "all.safetensors";
  write_safetensors(p, views(owned), meta);

  SafetensorsReader r(p);
  EXPECT_EQ(r.metadata(), meta);
  ASSERT_EQ(r.tensors().size(), owned.size());
  for (size_t i = 0; i < owned.size(); ++i) {
    const auto& o = owned[i];
    SCOPED_TRACE(o.view.name);
    EXPECT_EQ(r.tensors()[i].name, o.view.name);  // written order is file order
    const StTensorInfo& info = r.info(o.view.name);
    EXPECT_EQ(info.dtype, o.view.dtype);
    EXPECT_EQ(info.shape, o.view.shape);
    ASSERT_EQ(info.nbytes(), o.bytes.size());
    EXPECT_EQ(std::memcmp(r.data(o.view.name), o.bytes.data(), o.bytes.size()), 0);
  }
}

TEST(IoSafetensors, HeaderIsPaddedTo8AndMatchesReferenceLayout) {
  test_io::TempDir dir;
  std::vector<Owned> owned{pattern("a", StDType::F32, {3}, 1), pattern("bb", StDType::F16, {1}, 2)};
  const auto p = dir / "x.safetensors";
  write_safetensors(p, views(owned));
  const auto bytes = test_io::read_bytes(p);
  const uint64_t n = engine::io::detail::load_le64(bytes.data());
  EXPECT_EQ(n % 8, 0u);
  ASSERT_EQ(bytes.size(), 8 + n + 12 + 2);
  const std::string header(bytes.begin() + 8, bytes.begin() + 8 + long(n));
  const auto json = nlohmann::json::parse(header);  // the padding is JSON whitespace
  EXPECT_EQ(header.substr(0, header.find_last_not_of(' ') + 1),
            R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},)"
            R"("bb":{"dtype":"F16","shape":[1],"data_offsets":[12,14]}})");
  EXPECT_FALSE(json.contains("__metadata__"));  // omitted when empty, like the reference
}

TEST(IoSafetensors, EmptyFileOfNoTensors) {
  test_io::TempDir dir;
  write_safetensors(dir / "none.safetensors", {});
  SafetensorsReader r(dir / "none.safetensors");
  EXPECT_TRUE(r.tensors().empty());
  EXPECT_FALSE(r.contains("x"));
}

TEST(IoSafetensors, MissingKeyIsKeyErrorNamingFileAndKey) {
  test_io::TempDir dir;
  std::vector<Owned> owned{pattern("present", StDType::U8, {2}, 1)};
  write_safetensors(dir / "k.safetensors", views(owned));
  SafetensorsReader r(dir / "k.safetensors");
  EXPECT_TRUE(r.contains("present"));
  try {
    r.info("absent.weight");
    FAIL() << "expected KeyError";
  } catch (const engine::KeyError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("absent.weight"), std::string::npos) << msg;
    EXPECT_NE(msg.find("k.safetensors"), std::string::npos) << msg;
  }
}

TEST(IoSafetensors, WriterRejectsBadTensors) {
  test_io::TempDir dir;
  std::vector<Owned> dup{pattern("x", StDType::U8, {1}, 1), pattern("x", StDType::U8, {1}, 2)};
  EXPECT_THROW(write_safetensors(dir / "d.safetensors", views(dup)), engine::ValueError);
  std::vector<StTensorView> neg{{"n", StDType::F32, {-1}, nullptr}};
  EXPECT_THROW(write_safetensors(dir / "n.safetensors", neg), engine::ValueError);
  std::vector<StTensorView> null_data{{"z", StDType::F32, {2}, nullptr}};
  EXPECT_THROW(write_safetensors(dir / "z.safetensors", null_data), engine::ValueError);
  EXPECT_FALSE(std::filesystem::exists(dir / "d.safetensors"));
}

// Every fixture checkpoint opens and holds exactly the keys and shapes meta.json lists.
TEST(IoSafetensors, ReadsFixtureCheckpoints) {
  SKIP_WITHOUT_SHARED("fixtures");
  int checked = 0;
  for (const char* c : {"bert", "bert_mlm", "bert_seqcls", "gpt2", "t5"}) {
    const auto dir = test_support::shared_path(std::string("fixtures/") + c);
    if (!std::filesystem::exists(dir / "meta.json")) continue;
    SCOPED_TRACE(c);
    std::ifstream mf(dir / "meta.json");
    const auto keys = nlohmann::json::parse(mf).at("checkpoint_keys");
    SafetensorsReader r(dir / "model" / "model.safetensors");
    EXPECT_EQ(r.tensors().size(), keys.size());
    for (const auto& [name, shape] : keys.items()) {
      ASSERT_TRUE(r.contains(name)) << name;
      EXPECT_EQ(r.info(name).shape, shape.get<std::vector<int64_t>>()) << name;
      EXPECT_EQ(r.info(name).dtype, StDType::F32) << name;
    }
    // The data is real: a finite, not-all-zero weight.
    const auto& first = r.tensors().front();
    const float* v = reinterpret_cast<const float*>(r.data(first.name));
    double sum_abs = 0;
    for (size_t i = 0; i < first.nbytes() / 4; ++i) {
      ASSERT_TRUE(std::isfinite(v[i]));
      sum_abs += std::fabs(v[i]);
    }
    EXPECT_GT(sum_abs, 0.0) << first.name;
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

TEST(IoSafetensors, ReadsTinyGpt2Random) {
  SKIP_WITHOUT_SHARED("models/tiny-gpt2-random/model.safetensors");
  const auto dir = test_support::shared_path("models/tiny-gpt2-random");
  std::ifstream cf(dir / "config.json");
  const auto cfg = nlohmann::json::parse(cf);
  const int64_t d = cfg.at("n_embd"), vocab = cfg.at("vocab_size"), pos = cfg.at("n_positions");
  SafetensorsReader r(dir / "model.safetensors");
  // HF may save with or without the "transformer." prefix; accept either.
  const std::string pre = r.contains("transformer.wte.weight") ? "transformer." : "";
  EXPECT_EQ(r.info(pre + "wte.weight").shape, (std::vector<int64_t>{vocab, d}));
  EXPECT_EQ(r.info(pre + "wpe.weight").shape, (std::vector<int64_t>{pos, d}));
  EXPECT_EQ(r.info(pre + "h.0.attn.c_attn.weight").shape, (std::vector<int64_t>{d, 3 * d}));
  EXPECT_EQ(r.info(pre + "ln_f.bias").shape, (std::vector<int64_t>{d}));
}
