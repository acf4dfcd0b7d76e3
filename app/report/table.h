// Aligned text tables for reports (`peft compare`, the main job): numbers right-aligned,
// text left-aligned, one header rule. The same rows go to JSON next to every printed table.
#pragma once
#include <string>
#include <vector>

namespace app::report {

class TextTable {
 public:
  explicit TextTable(std::vector<std::string> header);
  void add_row(std::vector<std::string> cells);  // ValueError when the cell count differs
  std::string render() const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

// "1,234,567"
std::string with_thousands(long long n);
// printf-style "%.<digits>f"
std::string fixed(double v, int digits);

}  // namespace app::report
