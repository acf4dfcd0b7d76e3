// metrics.jsonl writer and reader (see metrics_log.h).
#include "app/train/metrics_log.h"

#include <string>
#include <vector>

#include "engine/core/error.h"
#include "engine/io/atomic_file.h"

namespace app::train {

std::vector<nlohmann::json> read_metrics(const std::filesystem::path& file) {
  std::ifstream in(file);
  engine::check<engine::IOError>(in.good(), "[train] cannot read ", file.string());
  std::vector<nlohmann::json> out;
  std::string line;
  for (size_t n = 1; std::getline(in, line); ++n) {
    if (line.empty()) continue;
    try {
      out.push_back(nlohmann::json::parse(line));
    } catch (const nlohmann::json::exception&) {
      engine::fail<engine::IOError>("[train] ", file.string(), ":", n, ": not a JSON object");
    }
  }
  return out;
}

MetricsLog::MetricsLog(const std::filesystem::path& file, int64_t keep_through_step) : file_(file) {
  std::string kept;
  if (keep_through_step >= 0 && std::filesystem::exists(file))
    for (const nlohmann::json& r : read_metrics(file))
      if (r.value("step", int64_t(0)) <= keep_through_step) kept += r.dump() + "\n";
  engine::io::atomic_write_text(file, kept);
  out_.open(file, std::ios::app);
  engine::check<engine::IOError>(out_.good(), "[train] cannot append to ", file.string());
}

void MetricsLog::write(const nlohmann::json& record) {
  out_ << record.dump() << "\n";
  out_.flush();  // a killed run keeps every line written so far
}

}  // namespace app::train
