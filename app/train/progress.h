// The training loop's progress display on stderr: one line (step/total, loss, learning rate,
// tokens/s, ETA) rewritten in place with '\r' on a terminal, or printed as plain lines every
// `every` steps when stderr is a file or a pipe (logs stay readable).
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace app::train {

class Progress {
 public:
  // `first_step`: steps already done (a resumed run measures speed from where it started).
  Progress(int64_t total_steps, int64_t first_step, int64_t every, bool enabled);
  void update(int64_t step, double loss, double lr, double tokens_per_s);
  // A message on its own line (an evaluation, a checkpoint), not overwritten by the next update.
  void note(const std::string& message);
  void finish();

  static std::string format_duration(double seconds);  // "1h02m", "3m05s", "12s"

 private:
  using Clock = std::chrono::steady_clock;
  int64_t total_, first_, every_;
  bool enabled_, tty_, open_line_ = false;
  Clock::time_point start_;
};

}  // namespace app::train
