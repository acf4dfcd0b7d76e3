// E2E NLG reader: groups references by MR and linearises MRs (see data_to_text.h).
#include <unordered_map>

#include "app/data/data_to_text.h"
#include "app/data/table.h"
#include "engine/core/error.h"

namespace app::data {
namespace {

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

// The MR column is "mr" in the train/dev/test-with-refs files and "MR" in the blind test set.
size_t mr_column(const Table& t) {
  for (size_t k = 0; k < t.header.size(); ++k)
    if (t.header[k] == "mr" || t.header[k] == "MR") return k;
  return t.column("mr");  // throws "missing column 'mr'"
}

}  // namespace

std::vector<DataToTextExample> read_e2e(const std::filesystem::path& csv_path) {
  const Table t = read_csv(csv_path);
  const size_t mr = mr_column(t);
  const bool has_ref = t.header.size() > 1;
  const size_t ref = has_ref ? t.column("ref") : 0;
  std::vector<DataToTextExample> out;
  std::unordered_map<std::string, size_t> index;  // MR -> position in out
  for (size_t r = 0; r < t.rows.size(); ++r) {
    const std::string& key = t.rows[r][mr];
    auto [it, fresh] = index.emplace(key, out.size());
    if (fresh) out.push_back(DataToTextExample{key, {}, {}, ""});
    if (has_ref) out[it->second].references.push_back(t.rows[r][ref]);
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> parse_e2e_mr(const std::string& mr) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t i = 0;
  while (i < mr.size()) {
    const size_t open = mr.find('[', i);
    const size_t close = open == std::string::npos ? open : mr.find(']', open);
    if (close == std::string::npos)
      engine::fail<engine::ValueError>("[e2e] malformed MR (expected attr[value]): '", mr, "'");
    std::string attr = trim(mr.substr(i, open - i));
    engine::check<engine::ValueError>(!attr.empty(), "[e2e] malformed MR (empty attribute): '",
                                      mr, "'");
    out.emplace_back(std::move(attr), mr.substr(open + 1, close - open - 1));
    i = close + 1;
    while (i < mr.size() && (mr[i] == ',' || mr[i] == ' ')) ++i;
  }
  engine::check<engine::ValueError>(!out.empty(), "[e2e] empty MR");
  return out;
}

std::string linearize_e2e(const std::string& mr) {
  static const std::unordered_map<std::string, std::string> kNames = {
      {"eatType", "Type"}, {"priceRange", "price"}, {"familyFriendly", "family friendly"}};
  std::string out;
  for (const auto& [attr, value] : parse_e2e_mr(mr)) {
    auto it = kNames.find(attr);
    if (!out.empty()) out += " | ";
    out += (it == kNames.end() ? attr : it->second) + " : " + value;
  }
  return out;
}

}  // namespace app::data
