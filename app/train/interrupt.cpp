// SIGINT -> a flag (see interrupt.h).
#include "app/train/interrupt.h"

#include <csignal>

namespace app::train {
namespace {

volatile std::sig_atomic_t g_interrupted = 0;
struct sigaction g_previous;
bool g_installed = false;

void on_sigint(int) {
  if (g_interrupted) std::signal(SIGINT, SIG_DFL);  // second Ctrl-C: the next one kills
  g_interrupted = 1;
}

}  // namespace

void install_interrupt_handler() {
  g_interrupted = 0;
  if (g_installed) return;
  struct sigaction action = {};
  action.sa_handler = on_sigint;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, &g_previous);
  g_installed = true;
}

void remove_interrupt_handler() {
  if (!g_installed) return;
  sigaction(SIGINT, &g_previous, nullptr);
  g_installed = false;
}

bool interrupt_requested() { return g_interrupted != 0; }
void request_interrupt() { g_interrupted = 1; }
void clear_interrupt() { g_interrupted = 0; }

}  // namespace app::train
