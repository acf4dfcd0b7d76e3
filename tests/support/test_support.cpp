#include "support/test_support.h"

#include <array>
#include <cstdio>
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

CommandResult run_command(const std::string& cmd) {
  CommandResult r{-1, ""};
  FILE* pipe = popen((cmd + " 2>&1").c_str(), "r");
  if (!pipe) return r;
  std::array<char, 4096> buf;
  while (size_t n = fread(buf.data(), 1, buf.size(), pipe)) r.output.append(buf.data(), n);
  r.status = pclose(pipe);
  return r;
}

std::string quote(const std::filesystem::path& p) { return "'" + p.string() + "'"; }

std::filesystem::path peft_binary() { return std::filesystem::path(PEFT_BINARY_DIR) / "app" / "peft"; }

}  // namespace test_support
