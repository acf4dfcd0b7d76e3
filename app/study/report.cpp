// The comparison's report: an aligned table, results.json, loss curves and quality vs
// trainable parameters as SVG (see compare.h).
#include <cmath>

#include "app/report/svg_plot.h"
#include "app/report/table.h"
#include "app/study/compare.h"
#include "engine/io/atomic_file.h"

namespace app::study {

std::string results_table(const std::vector<MethodResult>& results) {
  report::TextTable table({"method", "trainable", "%", "s/step", "peak MiB", "loss", "BLEU", "ROUGE-L", "NIST", "CIDEr"});
  for (const MethodResult& r : results) {
    const double pct = r.all_params ? 100.0 * double(r.trainable) / double(r.all_params) : 0.0;
    auto metric = [&](const char* name, int digits) {
      auto it = r.metrics.find(name);
      return it == r.metrics.end() ? std::string("-") : report::fixed(it->second, digits);
    };
    table.add_row({r.spec.label, report::with_thousands(r.trainable), report::fixed(pct, pct < 1 ? 3 : 1),
                   report::fixed(r.seconds_per_step, 3), report::fixed(r.peak_mb, 0), report::fixed(r.final_loss, 3),
                   metric("bleu", 1), metric("rouge_l", 3), metric("nist", 2), metric("cider", 2)});
  }
  return table.render();
}

void write_report(const std::vector<MethodResult>& results, const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  nlohmann::json all = nlohmann::json::array();
  for (const auto& r : results) all.push_back(r.to_json());
  engine::io::atomic_write_text(dir / "results.json", all.dump(2) + "\n");
  engine::io::atomic_write_text(dir / "results.txt", results_table(results));

  report::Plot losses{"Training loss", "step", "loss", false, {}};
  for (const auto& r : results) {
    report::Series s{r.spec.label, {}, {}};
    for (const auto& [step, loss] : r.loss_curve) s.x.push_back(double(step)), s.y.push_back(loss);
    losses.series.push_back(std::move(s));
  }
  report::write_svg(losses, dir / "loss_curves.svg");

  report::Plot quality{"Quality vs trainable parameters", "trainable parameters (log)", "BLEU", true, {}};
  for (const auto& r : results)
    if (r.trainable > 0 && r.metrics.count("bleu"))
      quality.series.push_back({r.spec.label, {double(r.trainable)}, {r.metrics.at("bleu")}, /*points_only=*/true});
  report::write_svg(quality, dir / "quality_vs_params.svg");
}

}  // namespace app::study
