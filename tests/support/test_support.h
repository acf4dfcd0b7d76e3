// Helpers shared by every test suite: where ../shared is, and skipping when it is absent.
#pragma once
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

namespace test_support {

// ../shared beside the repository (the reference fixtures, data, tokenizers), or "" when a
// user's clone has none. PEFT_SHARED_DIR overrides the location.
std::filesystem::path shared_dir();

// A path under ../shared, e.g. shared_path("fixtures/gpt2").
std::filesystem::path shared_path(const std::string& rel);

// Runs a shell command; stdout and stderr together.
struct CommandResult {
  int status;
  std::string output;
};
CommandResult run_command(const std::string& cmd);
// A path single-quoted for the shell.
std::string quote(const std::filesystem::path& p);
// The built `peft` program.
std::filesystem::path peft_binary();

// The /usr/bin/python3 that has numpy (for check_case.py), or "" if none.
std::string python_with_numpy();

}  // namespace test_support

// Skips the current test with a message when ../shared (or the given path in it) is missing.
#define SKIP_WITHOUT_SHARED(rel)                                                        \
  do {                                                                                  \
    if (test_support::shared_dir().empty() ||                                           \
        !std::filesystem::exists(test_support::shared_path(rel)))                       \
      GTEST_SKIP() << "../shared/" << (rel) << " is absent (a user's clone has none)"; \
  } while (0)
