// metrics.jsonl: one JSON object per logged training step or evaluation, appended as the run
// goes, so a plot or a test can read a run's history. A resumed run first drops the lines of
// steps after its checkpoint (they belong to the part of the killed run that is replayed).
#pragma once
#include <cstdint>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

namespace app::train {

class MetricsLog {
 public:
  // Keeps the lines whose "step" is <= keep_through_step (-1 or no file: starts empty).
  MetricsLog(const std::filesystem::path& file, int64_t keep_through_step);
  void write(const nlohmann::json& record);

 private:
  std::filesystem::path file_;
  std::ofstream out_;
};

// Every record of a metrics.jsonl file (IOError naming the file and line when malformed).
std::vector<nlohmann::json> read_metrics(const std::filesystem::path& file);

}  // namespace app::train
