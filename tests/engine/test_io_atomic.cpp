// atomic_write: the old file survives a failing writer, no temp file is left behind.
#include <gtest/gtest.h>

#include <stdexcept>

#include "engine/core/error.h"
#include "engine/io/atomic_file.h"
#include "test_io_support.h"

using engine::io::atomic_write;
using engine::io::atomic_write_text;

namespace {

size_t count_files(const std::filesystem::path& dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++n;
  return n;
}

}  // namespace

TEST(IoAtomic, WritesAndReplaces) {
  test_io::TempDir dir;
  const auto p = dir / "config.json";
  atomic_write_text(p, "first");
  EXPECT_EQ(test_io::read_text(p), "first");
  atomic_write_text(p, "second, longer");
  EXPECT_EQ(test_io::read_text(p), "second, longer");
  EXPECT_EQ(count_files(dir.path()), 1u);
}

TEST(IoAtomic, CreatesParentFolders) {
  test_io::TempDir dir;
  const auto p = dir / "a/b/adapter_config.json";
  atomic_write_text(p, "{}");
  EXPECT_EQ(test_io::read_text(p), "{}");
}

TEST(IoAtomic, FailingWriterKeepsOldFileAndRemovesTemp) {
  test_io::TempDir dir;
  const auto p = dir / "model.safetensors";
  atomic_write_text(p, "old contents");
  auto failing = [](std::ostream& os) {
    os << "half a new file";
    throw std::runtime_error("writer broke");
  };
  try {
    atomic_write(p, failing);
    FAIL() << "atomic_write swallowed the writer's exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "writer broke");  // propagated unchanged
  }
  EXPECT_EQ(test_io::read_text(p), "old contents");
  EXPECT_EQ(count_files(dir.path()), 1u) << "the temp file was left behind";
}

TEST(IoAtomic, FailingWriterWithoutOldFileLeavesNothing) {
  test_io::TempDir dir;
  const auto p = dir / "new.bin";
  EXPECT_THROW(atomic_write(p, [](std::ostream&) { throw engine::ValueError("no"); }),
               engine::ValueError);
  EXPECT_FALSE(std::filesystem::exists(p));
  EXPECT_EQ(count_files(dir.path()), 0u);
}

TEST(IoAtomic, UnwritableTargetIsIOErrorNamingIt) {
  test_io::TempDir dir;
  std::filesystem::create_directories(dir / "taken");  // a folder where the file should go
  try {
    atomic_write_text(dir / "taken", "x");
    FAIL() << "expected IOError";
  } catch (const engine::IOError& e) {
    EXPECT_NE(std::string(e.what()).find("taken"), std::string::npos) << e.what();
  }
  EXPECT_EQ(count_files(dir.path()), 1u);
}
