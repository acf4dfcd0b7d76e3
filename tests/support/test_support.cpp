#include "support/test_support.h"

#include <cstdlib>

namespace test_support {

std::filesystem::path shared_dir() {
  if (const char* env = std::getenv("PEFT_SHARED_DIR")) return env;
  std::filesystem::path p = std::filesystem::path(PEFT_SOURCE_DIR) / ".." / "shared";
  if (std::filesystem::exists(p)) return std::filesystem::canonical(p);
  return {};
}

std::filesystem::path shared_path(const std::string& rel) { return shared_dir() / rel; }

std::string python_with_numpy() {
  for (const char* py : {"/usr/bin/python3", "python3"}) {
    std::string cmd = std::string(py) + " -c 'import numpy' >/dev/null 2>&1";
    if (std::system(cmd.c_str()) == 0) return py;
  }
  return "";
}

}  // namespace test_support
