// tensor_io: Tensors to safetensors and back, zero-copy loading, dtype conversion on request.
#include <gtest/gtest.h>

#include "engine/core/error.h"
#include "engine/io/tensor_io.h"
#include "test_io_support.h"

using namespace engine;
using namespace engine::io;

TEST(IoTensor, SaveLoadRoundTripAnyLayout) {
  test_io::TempDir dir;
  Tensor m = from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor ids = from_vector<int64_t>({7, -8, 1LL << 40}, {3});
  Tensor mask = from_vector<bool>({true, false}, {2});
  const auto p = dir / "t.safetensors";
  save_safetensors(p, {{"m", m}, {"mt", m.t()}, {"ids", ids}, {"mask", mask},
                       {"half", m.to(DType::bf16)}, {"s", scalar(2.5)}},
                   {{"format", "pt"}});
  const auto sd = load_safetensors(p);
  ASSERT_EQ(sd.size(), 6u);
  EXPECT_EQ(sd.at("m").shape(), (Shape{2, 3}));
  EXPECT_EQ(sd.at("m").to_vector<float>(), m.to_vector<float>());
  EXPECT_EQ(sd.at("mt").shape(), (Shape{3, 2}));
  EXPECT_EQ(sd.at("mt").to_vector<float>(), (std::vector<float>{1, 4, 2, 5, 3, 6}));
  EXPECT_EQ(sd.at("ids").to_vector<int64_t>(), ids.to_vector<int64_t>());
  EXPECT_EQ(sd.at("mask").dtype(), DType::boolean);
  EXPECT_EQ(sd.at("mask").to_vector<bool>(), (std::vector<bool>{true, false}));
  EXPECT_EQ(sd.at("half").dtype(), DType::bf16);
  EXPECT_TRUE(sd.at("s").shape().empty());
  EXPECT_EQ(SafetensorsReader(p).metadata().at("format"), "pt");
}

TEST(IoTensor, AlignedTensorsBorrowTheMappingAndWritesStayPrivate) {
  test_io::TempDir dir;
  const auto p = dir / "w.safetensors";
  save_safetensors(p, {{"w", from_vector({1, 2, 3, 4}, {4})}});
  const auto before = test_io::read_bytes(p);
  auto sd = load_safetensors(p);
  Tensor w = sd.at("w");
  EXPECT_TRUE(w.storage()->borrowed());  // a view into the file, not a copy
  w.data<float>()[0] = 42;               // copy-on-write page
  EXPECT_EQ(w.to_vector<float>()[0], 42);
  EXPECT_EQ(test_io::read_bytes(p), before);  // the file is untouched
  sd.clear();
  EXPECT_EQ(w.to_vector<float>()[3], 4);  // the tensor keeps the mapping alive
}

TEST(IoTensor, MisalignedTensorsAreCopied) {
  test_io::TempDir dir;
  const auto p = dir / "mis.safetensors";
  const uint8_t b[1] = {9};
  const float f[2] = {1.5f, -2.0f};
  // A 1-byte tensor first pushes the f32 data to an odd address.
  write_safetensors(p, {{"b", StDType::U8, {1}, b}, {"f", StDType::F32, {2}, f}});
  const auto sd = load_safetensors(p);
  EXPECT_FALSE(sd.at("f").storage()->borrowed());
  EXPECT_EQ(sd.at("f").to_vector<float>(), (std::vector<float>{1.5f, -2.0f}));
  EXPECT_EQ(sd.at("b").dtype(), DType::i32);  // widened U8
  EXPECT_EQ(sd.at("b").to_vector<int32_t>(), (std::vector<int32_t>{9}));
}

TEST(IoTensor, ConvertsFloatsOnRequest) {
  test_io::TempDir dir;
  const auto p = dir / "h.safetensors";
  save_safetensors(p, {{"h", from_vector({0.5f, -1.0f}, {2}).to(DType::f16)},
                       {"i", from_vector<int32_t>({3}, {1})}});
  const auto sd = load_safetensors(p, {DType::f32});
  EXPECT_EQ(sd.at("h").dtype(), DType::f32);
  EXPECT_EQ(sd.at("h").to_vector<float>(), (std::vector<float>{0.5f, -1.0f}));
  EXPECT_EQ(sd.at("i").dtype(), DType::i32);
}

TEST(IoTensor, SaveRejectsUndefinedTensors) {
  test_io::TempDir dir;
  EXPECT_THROW(save_safetensors(dir / "u.safetensors", {{"u", Tensor()}}), ValueError);
}
