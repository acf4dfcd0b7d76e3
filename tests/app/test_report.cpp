// Report helpers: aligned tables and SVG plots.
#include <algorithm>

#include <gtest/gtest.h>

#include "app/report/svg_plot.h"
#include "app/report/table.h"
#include "engine/core/error.h"

namespace {
using namespace app::report;

TEST(TextTable, AlignsNumbersRightAndTextLeft) {
  TextTable t({"method", "params"});
  t.add_row({"lora", "1,234"});
  t.add_row({"full fine-tuning", "12"});
  EXPECT_EQ(t.render(),
            "method            params\n"
            "------------------------\n"
            "lora               1,234\n"
            "full fine-tuning      12\n");
  EXPECT_THROW(t.add_row({"only one"}), engine::ValueError);
}

TEST(TextTable, Formatting) {
  EXPECT_EQ(with_thousands(1234567), "1,234,567");
  EXPECT_EQ(with_thousands(-1000), "-1,000");
  EXPECT_EQ(with_thousands(12), "12");
  EXPECT_EQ(fixed(3.14159, 2), "3.14");
}

TEST(SvgPlot, DrawsEverySeriesWithLegend) {
  Plot p{"loss", "step", "loss", false, {{"lora", {1, 2, 3}, {3, 2, 1}}, {"full", {1, 2, 3}, {3, 1.5, 0.5}}}};
  const std::string svg = render_svg(p);
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find(">lora</text>"), std::string::npos);
  EXPECT_NE(svg.find(">full</text>"), std::string::npos);
  EXPECT_EQ(std::count(svg.begin(), svg.end(), '\n') > 10, true);
  size_t polylines = 0;
  for (size_t at = svg.find("<polyline"); at != std::string::npos; at = svg.find("<polyline", at + 1)) ++polylines;
  EXPECT_EQ(polylines, 2u);
}

TEST(SvgPlot, LogAxisAndErrors) {
  Plot scatter{"quality", "trainable", "BLEU", true, {{"methods", {10, 1000, 100000}, {1, 2, 3}, true}}};
  const std::string svg = render_svg(scatter);
  EXPECT_NE(svg.find(">1000</text>"), std::string::npos);  // a decade tick
  EXPECT_NE(svg.find("<circle"), std::string::npos);
  Plot bad{"t", "x", "y", true, {{"s", {0, 1}, {1, 2}}}};
  EXPECT_THROW(render_svg(bad), engine::ValueError);
  Plot mismatch{"t", "x", "y", false, {{"s", {1, 2}, {1}}}};
  EXPECT_THROW(render_svg(mismatch), engine::ValueError);
}

}  // namespace
