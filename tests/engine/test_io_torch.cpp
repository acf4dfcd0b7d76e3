// torch.save() archives: reference .bin files are generated at test time by the system torch,
// then read back without Python; hostile or unsupported archives must be refused with IOErrors.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>

#include "engine/core/error.h"
#include "engine/io/tensor_io.h"
#include "engine/io/torch_pickle.h"
#include "test_io_support.h"

using namespace engine::io;

namespace {

// Writes the reference archives into argv[1]. Values are exact in every dtype used.
constexpr const char* kScript = R"PY(
import collections, os, pickle, sys, zipfile, torch
out = sys.argv[1]
def state_dict():
    d = collections.OrderedDict()
    d["f32"] = torch.arange(6, dtype=torch.float32).reshape(2, 3) * 0.5 - 1
    d["f16"] = (torch.arange(4, dtype=torch.float32) * 0.25 - 0.5).half()
    d["bf16"] = (torch.arange(4, dtype=torch.float32) * 0.5 - 1).bfloat16()
    d["f64"] = torch.tensor([1.0 / 3, -2.5], dtype=torch.float64)
    d["i64"] = torch.tensor([-3, 0, 5, 1 << 40])
    d["i32"] = torch.tensor([-7, 7], dtype=torch.int32)
    d["i8"] = torch.tensor([-128, 127], dtype=torch.int8)
    d["u8"] = torch.tensor([0, 255], dtype=torch.uint8)
    d["bool"] = torch.tensor([True, False, True])
    d["scalar"] = torch.tensor(2.5)
    d["empty"] = torch.zeros(0, 3)
    d["transposed"] = torch.arange(6, dtype=torch.float32).reshape(2, 3).t()
    base = torch.arange(10, dtype=torch.float32)
    d["shared.full"] = base
    d["shared.view"] = base[4:8]
    lin = torch.nn.Linear(3, 2)
    with torch.no_grad():
        lin.weight.copy_(torch.arange(6.0).reshape(2, 3)); lin.bias.fill_(0.5)
    for k, v in lin.state_dict().items():
        d["linear." + k] = v
    d._metadata = collections.OrderedDict([("", {"version": 1})])  # as Module.state_dict() sets
    return d
torch.save(state_dict(), out + "/p2.bin")
torch.save(state_dict(), out + "/p4.bin", pickle_protocol=4)
torch.save({"p": torch.nn.Parameter(torch.ones(2))}, out + "/param.bin")
class Evil:
    def __reduce__(self):
        return (os.system, ("true",))
torch.save({"x": Evil()}, out + "/evil.bin")
torch.save({"a": torch.ones(2)}, out + "/legacy.bin", _use_new_zipfile_serialization=False)
def rezip(name, method=zipfile.ZIP_STORED, edit=lambda n, b: b):
    with zipfile.ZipFile(out + "/p2.bin") as src, zipfile.ZipFile(out + "/" + name, "w", method) as dst:
        for i in src.infolist():
            dst.writestr(i.filename, edit(i.filename, src.read(i.filename)))
rezip("deflated.bin", zipfile.ZIP_DEFLATED)
rezip("short_storage.bin", edit=lambda n, b: b[:-4] if n.endswith("/data/0") else b)
rezip("proto0.bin", edit=lambda n, b: pickle.dumps({"a": 1}, 0) if n.endswith("data.pkl") else b)
rezip("truncated.bin", edit=lambda n, b: b[:-3] if n.endswith("data.pkl") else b)
rezip("not_tensor.bin", edit=lambda n, b: pickle.dumps({"a": 1}, 2) if n.endswith("data.pkl") else b)
)PY";

class IoTorch : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (std::system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") != 0) return;
    dir_ = new std::filesystem::path(std::filesystem::temp_directory_path() /
                                     ("peft_io_torch_" + std::to_string(::getpid())));
    std::filesystem::create_directories(*dir_);
    std::ofstream(*dir_ / "make.py") << kScript;
    const std::string cmd = "/usr/bin/python3 " + (*dir_ / "make.py").string() + " " + dir_->string();
    ok_ = std::system(cmd.c_str()) == 0;
  }
  static void TearDownTestSuite() {
    if (dir_) std::filesystem::remove_all(*dir_);
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    if (!dir_) GTEST_SKIP() << "/usr/bin/python3 has no torch: cannot make reference .bin files";
    ASSERT_TRUE(ok_) << "the reference generator script failed";
  }
  static std::filesystem::path file(const std::string& name) { return *dir_ / name; }

  static inline std::filesystem::path* dir_ = nullptr;
  static inline bool ok_ = false;
};

const TorchTensorRecord& find(const std::vector<TorchTensorRecord>& v, const std::string& name) {
  for (const auto& r : v)
    if (r.name == name) return r;
  throw std::runtime_error("no tensor " + name);
}

template <typename T>
std::vector<T> values(const TorchTensorRecord& r) {
  auto bytes = contiguous_bytes(r);
  std::vector<T> out(bytes.size() / sizeof(T));
  std::memcpy(out.data(), bytes.data(), bytes.size());
  return out;
}

void expect_invalid(const std::filesystem::path& p, const std::string& phrase) {
  try {
    read_torch_state_dict(p);
    ADD_FAILURE() << "no error for " << p;
  } catch (const engine::IOError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(p.string()), std::string::npos) << msg;
    EXPECT_NE(msg.find(phrase), std::string::npos) << msg;
  }
}

}  // namespace

TEST_F(IoTorch, ReadsEveryDTypeWithValues) {
  for (const char* name : {"p2.bin", "p4.bin"}) {  // pickle protocols 2 (torch default) and 4
    SCOPED_TRACE(name);
    const auto sd = read_torch_state_dict(file(name));
    std::vector<std::string> names;
    for (const auto& r : sd) names.push_back(r.name);
    EXPECT_EQ(names, (std::vector<std::string>{"f32", "f16", "bf16", "f64", "i64", "i32", "i8", "u8",
                                               "bool", "scalar", "empty", "transposed", "shared.full",
                                               "shared.view", "linear.weight", "linear.bias"}));
    const auto& f32 = find(sd, "f32");
    EXPECT_EQ(f32.dtype, StDType::F32);
    EXPECT_EQ(f32.shape, (std::vector<int64_t>{2, 3}));
    EXPECT_EQ(values<float>(f32), (std::vector<float>{-1, -0.5, 0, 0.5, 1, 1.5}));
    // -0.5, -0.25, 0, 0.25 in IEEE half; -1, -0.5, 0, 0.5 in bfloat16.
    EXPECT_EQ(values<uint16_t>(find(sd, "f16")), (std::vector<uint16_t>{0xB800, 0xB400, 0, 0x3400}));
    EXPECT_EQ(find(sd, "bf16").dtype, StDType::BF16);
    EXPECT_EQ(values<uint16_t>(find(sd, "bf16")), (std::vector<uint16_t>{0xBF80, 0xBF00, 0, 0x3F00}));
    EXPECT_EQ(values<double>(find(sd, "f64")), (std::vector<double>{1.0 / 3, -2.5}));
    EXPECT_EQ(values<int64_t>(find(sd, "i64")), (std::vector<int64_t>{-3, 0, 5, int64_t(1) << 40}));
    EXPECT_EQ(values<int32_t>(find(sd, "i32")), (std::vector<int32_t>{-7, 7}));
    EXPECT_EQ(values<int8_t>(find(sd, "i8")), (std::vector<int8_t>{-128, 127}));
    EXPECT_EQ(values<uint8_t>(find(sd, "u8")), (std::vector<uint8_t>{0, 255}));
    EXPECT_EQ(find(sd, "bool").dtype, StDType::BOOL);
    EXPECT_EQ(values<uint8_t>(find(sd, "bool")), (std::vector<uint8_t>{1, 0, 1}));
    EXPECT_TRUE(find(sd, "scalar").shape.empty());
    EXPECT_EQ(values<float>(find(sd, "scalar")), (std::vector<float>{2.5f}));
    EXPECT_EQ(find(sd, "empty").shape, (std::vector<int64_t>{0, 3}));
    EXPECT_TRUE(contiguous_bytes(find(sd, "empty")).empty());
    EXPECT_EQ(values<float>(find(sd, "linear.weight")), (std::vector<float>{0, 1, 2, 3, 4, 5}));
    EXPECT_EQ(values<float>(find(sd, "linear.bias")), (std::vector<float>{0.5, 0.5}));
  }
}

TEST_F(IoTorch, TransposedTensorKeepsStridesAndCopiesInLogicalOrder) {
  const auto t = find(read_torch_state_dict(file("p2.bin")), "transposed");
  EXPECT_EQ(t.shape, (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(t.strides, (std::vector<int64_t>{1, 3}));
  EXPECT_FALSE(t.is_contiguous());
  EXPECT_EQ(values<float>(t), (std::vector<float>{0, 3, 1, 4, 2, 5}));  // arange(6).view(2,3).T
}

TEST_F(IoTorch, ViewsShareOneStorage) {
  const auto sd = read_torch_state_dict(file("p2.bin"));
  const auto& full = find(sd, "shared.full");
  const auto& view = find(sd, "shared.view");
  EXPECT_EQ(full.storage.get(), view.storage.get());  // loaded once, shared
  EXPECT_EQ(view.storage_offset, 4);
  EXPECT_EQ(view.shape, (std::vector<int64_t>{4}));
  EXPECT_TRUE(view.is_contiguous());
  EXPECT_EQ(values<float>(view), (std::vector<float>{4, 5, 6, 7}));
  EXPECT_EQ(values<float>(full).size(), 10u);
}

TEST_F(IoTorch, ReadsParameters) {
  const auto sd = read_torch_state_dict(file("param.bin"));
  ASSERT_EQ(sd.size(), 1u);
  EXPECT_EQ(sd[0].name, "p");
  EXPECT_EQ(values<float>(sd[0]), (std::vector<float>{1, 1}));
}

TEST_F(IoTorch, RefusesCodeExecutingGlobal) {
  expect_invalid(file("evil.bin"), "refusing pickle GLOBAL 'posix.system'");
}

TEST_F(IoTorch, RejectsUnsupportedArchives) {
  expect_invalid(file("legacy.bin"), "not a zip archive");
  expect_invalid(file("deflated.bin"), "is compressed");
  expect_invalid(file("short_storage.bin"), "storage '0' has");
  expect_invalid(file("proto0.bin"), "unsupported pickle opcode");
  expect_invalid(file("truncated.bin"), "truncated pickle");
  expect_invalid(file("not_tensor.bin"), "entry 'a' is a int, not a tensor");
  expect_invalid(file("missing.bin"), "does not exist");
}

TEST_F(IoTorch, LoadsAsTensorsKeepingViewsAndSharing) {
  const auto sd = load_torch_state_dict(file("p2.bin"));
  const engine::Tensor& t = sd.at("transposed");
  EXPECT_EQ(t.strides(), (engine::Shape{1, 3}));
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  EXPECT_EQ(sd.at("shared.view").storage().get(), sd.at("shared.full").storage().get());
  EXPECT_EQ(sd.at("shared.view").to_vector<float>(), (std::vector<float>{4, 5, 6, 7}));
  EXPECT_EQ(sd.at("i8").dtype(), engine::DType::i32);  // widened: the engine has no int8
  EXPECT_EQ(sd.at("i8").to_vector<int32_t>(), (std::vector<int32_t>{-128, 127}));
  EXPECT_EQ(sd.at("u8").to_vector<int32_t>(), (std::vector<int32_t>{0, 255}));
  EXPECT_EQ(sd.at("bf16").dtype(), engine::DType::bf16);
  const auto f32 = load_torch_state_dict(file("p2.bin"), {engine::DType::f32});
  EXPECT_EQ(f32.at("f16").dtype(), engine::DType::f32);
  EXPECT_EQ(f32.at("f16").to_vector<float>(), (std::vector<float>{-0.5, -0.25, 0, 0.25}));
  EXPECT_EQ(f32.at("bf16").to_vector<float>(), (std::vector<float>{-1, -0.5, 0, 0.5}));
  EXPECT_EQ(f32.at("i64").dtype(), engine::DType::i64);  // integers are left alone
}
