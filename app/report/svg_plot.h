// Plots written as standalone SVG files (no plotting dependency): line plots (loss curves) and
// scatter plots (quality vs trainable parameters), with optional log-scaled x axes, ticks,
// axis labels and a legend. Enough for the reports of `peft compare` and the main job.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace app::report {

struct Series {
  std::string name;
  std::vector<double> x, y;
  bool points_only = false;  // scatter markers instead of a line
};

struct Plot {
  std::string title, x_label, y_label;
  bool log_x = false;
  std::vector<Series> series;
};

// The SVG document (800×500). Throws engine::ValueError when a series' x and y differ in size,
// or log_x is asked for with a non-positive x.
std::string render_svg(const Plot& plot);
// Writes render_svg(plot) atomically.
void write_svg(const Plot& plot, const std::filesystem::path& path);

}  // namespace app::report
