// Malformed safetensors files: each failure mode is an IOError naming the file and the problem.
#include <gtest/gtest.h>

#include "engine/core/error.h"
#include "engine/io/safetensors.h"
#include "engine/io/st_detail.h"
#include "test_io_support.h"

using engine::io::SafetensorsReader;

namespace {

// 8-byte length + header + `data_bytes` zero bytes; `declared` overrides the length field.
std::string st_bytes(const std::string& header, size_t data_bytes, int64_t declared = -1) {
  uint8_t len[8];
  engine::io::detail::store_le64(len, declared >= 0 ? uint64_t(declared) : header.size());
  return std::string(reinterpret_cast<char*>(len), 8) + header + std::string(data_bytes, '\0');
}

struct Case {
  const char* label;
  std::string bytes;
  const char* expect;  // a phrase the message must contain
};

const std::string kF32x2 = R"("dtype":"F32","shape":[2])";

std::vector<Case> cases() {
  return {
      {"truncated", "\x10\0\0\0", "truncated file"},
      {"header_past_end", st_bytes("{}", 0, 1000), "exceeds"},
      {"absurd_header", st_bytes("{}", 0, int64_t(1) << 40), "absurd"},
      {"not_json", st_bytes("{not json", 0), "not valid JSON"},
      {"not_object", st_bytes("[1,2]", 0), "not a JSON object"},
      {"unknown_dtype", st_bytes(R"({"a":{"dtype":"F8","shape":[1],"data_offsets":[0,1]}})", 1),
       "unknown dtype"},
      {"size_mismatch", st_bytes(R"({"a":{)" + kF32x2 + R"(,"data_offsets":[0,4]}})", 4),
       "needs 8 bytes"},
      {"out_of_range", st_bytes(R"({"a":{)" + kF32x2 + R"(,"data_offsets":[0,8]}})", 4),
       "out of range"},
      {"overlap",
       st_bytes(R"({"a":{)" + kF32x2 + R"(,"data_offsets":[0,8]},"b":{)" + kF32x2 +
                    R"(,"data_offsets":[4,12]}})", 12),
       "overlap"},
      {"hole",
       st_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})", 12),
       "hole"},
      {"trailing_bytes", st_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 8),
       "cover only 4"},
      {"negative_dim", st_bytes(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}})", 0),
       "negative"},
      {"duplicate_name",
       st_bytes(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                R"("a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})", 2),
       "duplicate tensor name 'a'"},
      {"reversed_offsets", st_bytes(R"({"a":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}})", 4),
       "end before they begin"},
      {"missing_field", st_bytes(R"({"a":{"dtype":"U8","data_offsets":[0,0]}})", 0),
       "has no \"shape\""},
      {"bad_metadata", st_bytes(R"({"__metadata__":{"format":1}})", 0), "is not a string"},
      {"negative_offset", st_bytes(R"({"a":{"dtype":"U8","shape":[0],"data_offsets":[-1,0]}})", 0),
       "non-negative integers"},
  };
}

}  // namespace

TEST(IoSafetensorsErrors, EachMalformedFileIsAnIOErrorNamingFileAndProblem) {
  test_io::TempDir dir;
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.label);
    const auto p = dir / (std::string(c.label) + ".safetensors");
    test_io::write_bytes(p, c.bytes);
    try {
      SafetensorsReader r(p);
      ADD_FAILURE() << "no error for " << c.label;
    } catch (const engine::IOError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(p.string()), std::string::npos) << msg;
      EXPECT_NE(msg.find(c.expect), std::string::npos) << msg;
    }
  }
}

TEST(IoSafetensorsErrors, MissingFileIsIOError) {
  test_io::TempDir dir;
  EXPECT_THROW(SafetensorsReader(dir / "nope.safetensors"), engine::IOError);
}

// The well-formed twins of the cases above parse, so the errors come from the defects alone.
TEST(IoSafetensorsErrors, WellFormedNeighboursParse) {
  test_io::TempDir dir;
  const auto p = dir / "ok.safetensors";
  test_io::write_bytes(
      p, st_bytes(R"({"__metadata__":{"format":"pt"},"b":{"dtype":"F32","shape":[1],)"
                  R"("data_offsets":[4,8]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                  R"("e":{"dtype":"U8","shape":[0],"data_offsets":[8,8]}}    )", 8));
  SafetensorsReader r(p);
  ASSERT_EQ(r.tensors().size(), 3u);
  EXPECT_EQ(r.tensors()[0].name, "a");  // data order, not header order
  EXPECT_EQ(r.tensors()[1].name, "b");
  EXPECT_EQ(r.metadata().at("format"), "pt");
}
