// Ctrl-C for the training loop: SIGINT only sets a flag (the one thing a signal handler may
// safely do); the loop checks it at each step boundary, saves a checkpoint and returns. A
// second Ctrl-C while the flag is set restores the default action, so it kills at once.
#pragma once

namespace app::train {

// Installs the handler (idempotent) and clears the flag.
void install_interrupt_handler();
// Restores the previous SIGINT action.
void remove_interrupt_handler();
bool interrupt_requested();
// Sets / clears the flag as SIGINT would (tests, and callers with their own stop condition).
void request_interrupt();
void clear_interrupt();

}  // namespace app::train
