// `peft`: one program to train, evaluate, generate, merge, inspect and benchmark.
// Library errors are typed exceptions; here they become one readable line and exit code 1.
#include <cstdio>
#include <exception>

#include "app/command.h"

int main(int argc, char** argv) {
  CLI::App cli{"peft.cpp: parameter-efficient fine-tuning of BERT, GPT-2 and T5, natively"};
  cli.require_subcommand(1);
  for (auto& entry : app::command_registry()) {
    CLI::App* sub = cli.add_subcommand(entry.name, entry.help);
    entry.setup(*sub);
  }
  try {
    cli.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return cli.exit(e);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "peft: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
