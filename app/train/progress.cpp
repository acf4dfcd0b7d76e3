// Progress display (see progress.h).
#include "app/train/progress.h"

#include <unistd.h>

#include <cstdio>

namespace app::train {

Progress::Progress(int64_t total_steps, int64_t first_step, int64_t every, bool enabled)
    : total_(total_steps),
      first_(first_step),
      every_(every > 0 ? every : 1),
      enabled_(enabled),
      tty_(::isatty(::fileno(stderr)) != 0),
      start_(Clock::now()) {}

std::string Progress::format_duration(double s) {
  char buf[32];
  const long t = long(s + 0.5);
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, (t % 3600) / 60);
  else if (t >= 60) std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  else std::snprintf(buf, sizeof buf, "%lds", t);
  return buf;
}

void Progress::update(int64_t step, double loss, double lr, double tokens_per_s) {
  if (!enabled_ || (!tty_ && step % every_ != 0 && step != total_)) return;
  const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
  const int64_t done = step - first_;
  const double eta = done > 0 ? elapsed / double(done) * double(total_ - step) : 0.0;
  std::fprintf(stderr, "%sstep %lld/%lld  loss %.4f  lr %.2e  %.0f tok/s  ETA %s%s", tty_ ? "\r\033[K" : "",
               (long long)step, (long long)total_, loss, lr, tokens_per_s, format_duration(eta).c_str(),
               tty_ ? "" : "\n");
  std::fflush(stderr);
  open_line_ = tty_;
}

void Progress::note(const std::string& message) {
  if (!enabled_) return;
  std::fprintf(stderr, "%s%s\n", open_line_ ? "\r\033[K" : "", message.c_str());
  open_line_ = false;
}

void Progress::finish() {
  if (enabled_ && open_line_) std::fprintf(stderr, "\n");
  open_line_ = false;
}

}  // namespace app::train
