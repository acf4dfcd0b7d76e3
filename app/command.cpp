#include "app/command.h"

namespace app {

std::vector<CommandEntry>& command_registry() {
  static std::vector<CommandEntry> registry;
  return registry;
}

Command::Command(std::string name, std::string help, std::function<void(CLI::App&)> setup) {
  command_registry().push_back({std::move(name), std::move(help), std::move(setup)});
}

}  // namespace app
