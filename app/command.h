// The `peft` program's subcommand registry. Each app/commands/<name>.cpp defines one
// subcommand with a static `app::Command` object, so adding a command touches one file.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace app {

struct Command {
  // `setup` declares the subcommand's flags on `sub` and sets its callback.
  Command(std::string name, std::string help, std::function<void(CLI::App& sub)> setup);
};

// Registered commands, in registration order (used by main).
struct CommandEntry {
  std::string name, help;
  std::function<void(CLI::App&)> setup;
};
std::vector<CommandEntry>& command_registry();

}  // namespace app
