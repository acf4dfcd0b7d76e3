// SVG plots (see svg_plot.h). Layout: a fixed canvas, a plot area with 5-6 "nice" ticks per
// axis, one colour per series from a colour-blind-safe palette, the legend at the right.
#include "app/report/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

#include "engine/core/error.h"
#include "engine/io/atomic_file.h"

namespace app::report {

namespace {

constexpr double kWidth = 800, kHeight = 500;
constexpr double kLeft = 70, kRight = 190, kTop = 40, kBottom = 60;  // margins around the plot area
const char* kPalette[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"};

struct Range {
  double lo = std::numeric_limits<double>::infinity(), hi = -std::numeric_limits<double>::infinity();
  void add(double v) { lo = std::min(lo, v), hi = std::max(hi, v); }
  void pad() {
    if (!(lo < hi)) lo -= 0.5, hi += 0.5;  // a flat or single-point range still gets an axis
  }
};

// Tick positions at 1, 2 or 5 × 10^k steps covering [lo, hi].
std::vector<double> nice_ticks(double lo, double hi) {
  const double raw = (hi - lo) / 5;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double step = raw / mag < 1.5 ? mag : raw / mag < 3.5 ? 2 * mag : raw / mag < 7.5 ? 5 * mag : 10 * mag;
  std::vector<double> ticks;
  for (double t = std::ceil(lo / step) * step; t <= hi + 1e-9 * step; t += step) ticks.push_back(std::abs(t) < 1e-12 * step ? 0 : t);
  return ticks;
}

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) out += c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '&' ? "&amp;" : std::string(1, c);
  return out;
}

}  // namespace

std::string render_svg(const Plot& plot) {
  Range xr, yr;
  for (const Series& s : plot.series) {
    engine::check<engine::ValueError>(s.x.size() == s.y.size(), "[plot] series '", s.name, "' has ", s.x.size(),
                                      " x values and ", s.y.size(), " y values");
    for (double x : s.x) {
      engine::check<engine::ValueError>(!plot.log_x || x > 0, "[plot] log x axis needs positive x, series '", s.name, "' has ", x);
      xr.add(plot.log_x ? std::log10(x) : x);
    }
    for (double y : s.y) yr.add(y);
  }
  xr.pad(), yr.pad();
  const double pw = kWidth - kLeft - kRight, ph = kHeight - kTop - kBottom;
  auto px = [&](double x) { return kLeft + ((plot.log_x ? std::log10(x) : x) - xr.lo) / (xr.hi - xr.lo) * pw; };
  auto py = [&](double y) { return kTop + (1 - (y - yr.lo) / (yr.hi - yr.lo)) * ph; };

  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << kWidth << "\" height=\"" << kHeight
      << "\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  svg << "<text x=\"" << kLeft + pw / 2 << "\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">" << escape(plot.title) << "</text>\n";
  svg << "<rect x=\"" << kLeft << "\" y=\"" << kTop << "\" width=\"" << pw << "\" height=\"" << ph
      << "\" fill=\"none\" stroke=\"#444\"/>\n";
  // Ticks and grid: decades on a log axis, nice steps otherwise.
  std::vector<double> xticks;
  if (plot.log_x) {
    for (double e = std::ceil(xr.lo); e <= xr.hi + 1e-9; e += 1) xticks.push_back(std::pow(10.0, e));
  } else {
    xticks = nice_ticks(xr.lo, xr.hi);
  }
  for (double t : xticks)
    svg << "<line x1=\"" << px(t) << "\" x2=\"" << px(t) << "\" y1=\"" << kTop << "\" y2=\"" << kTop + ph
        << "\" stroke=\"#ddd\"/><text x=\"" << px(t) << "\" y=\"" << kTop + ph + 18 << "\" text-anchor=\"middle\">" << fmt(t)
        << "</text>\n";
  for (double t : nice_ticks(yr.lo, yr.hi))
    svg << "<line x1=\"" << kLeft << "\" x2=\"" << kLeft + pw << "\" y1=\"" << py(t) << "\" y2=\"" << py(t)
        << "\" stroke=\"#ddd\"/><text x=\"" << kLeft - 6 << "\" y=\"" << py(t) + 4 << "\" text-anchor=\"end\">" << fmt(t)
        << "</text>\n";
  svg << "<text x=\"" << kLeft + pw / 2 << "\" y=\"" << kHeight - 15 << "\" text-anchor=\"middle\">" << escape(plot.x_label)
      << "</text>\n<text transform=\"translate(18," << kTop + ph / 2 << ") rotate(-90)\" text-anchor=\"middle\">"
      << escape(plot.y_label) << "</text>\n";

  for (size_t i = 0; i < plot.series.size(); ++i) {
    const Series& s = plot.series[i];
    const char* colour = kPalette[i % (sizeof kPalette / sizeof *kPalette)];
    if (s.points_only) {
      for (size_t j = 0; j < s.x.size(); ++j)
        svg << "<circle cx=\"" << px(s.x[j]) << "\" cy=\"" << py(s.y[j]) << "\" r=\"5\" fill=\"" << colour << "\"/>\n";
    } else if (!s.x.empty()) {
      svg << "<polyline fill=\"none\" stroke-width=\"1.8\" stroke=\"" << colour << "\" points=\"";
      for (size_t j = 0; j < s.x.size(); ++j) svg << px(s.x[j]) << "," << py(s.y[j]) << " ";
      svg << "\"/>\n";
    }
    const double ly = kTop + 14 + 20 * static_cast<double>(i);
    svg << "<rect x=\"" << kLeft + pw + 15 << "\" y=\"" << ly - 9 << "\" width=\"14\" height=\"10\" fill=\"" << colour
        << "\"/><text x=\"" << kLeft + pw + 35 << "\" y=\"" << ly << "\">" << escape(s.name) << "</text>\n";
  }
  svg << "</svg>\n";
  return svg.str();
}

void write_svg(const Plot& plot, const std::filesystem::path& path) { engine::io::atomic_write_text(path, render_svg(plot)); }

}  // namespace app::report
