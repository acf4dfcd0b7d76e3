// The hook-site table (see sites.h).
#include "peft/methods/bottleneck/sites.h"

#include <regex>

#include "engine/core/error.h"

namespace peft::bottleneck {

namespace {

// One row: a module path pattern (group 1 = the block index), its site kind, and whether it
// belongs to a T5 decoder (numbered after the encoder's blocks).
struct SitePattern {
  const char* regex;
  SiteKind kind;
  bool decoder;
};

const std::vector<SitePattern>& patterns_for(const std::string& model_type) {
  static const std::vector<SitePattern> bert = {{R"((?:.*\.)?encoder\.layer\.(\d+))", SiteKind::attention, false},
                                                {R"((?:.*\.)?encoder\.layer\.(\d+))", SiteKind::ffn, false}};
  static const std::vector<SitePattern> gpt2 = {{R"((?:.*\.)?h\.(\d+))", SiteKind::attention, false},
                                                {R"((?:.*\.)?h\.(\d+))", SiteKind::ffn, false}};
  static const std::vector<SitePattern> t5 = {{R"(encoder\.block\.(\d+)\.layer\.0)", SiteKind::attention, false},
                                              {R"(encoder\.block\.(\d+)\.layer\.1)", SiteKind::ffn, false},
                                              {R"(decoder\.block\.(\d+)\.layer\.0)", SiteKind::attention, true},
                                              {R"(decoder\.block\.(\d+)\.layer\.2)", SiteKind::ffn, true}};
  if (model_type == "bert" || model_type == "roberta") return bert;
  if (model_type == "gpt2") return gpt2;
  if (model_type == "t5") return t5;
  engine::fail<engine::ConfigError>("[bottleneck] no hook-site table for model type '", model_type,
                                    "' (known: bert, roberta, gpt2, t5)");
}

}  // namespace

std::vector<BlockSite> block_sites(const models::PretrainedModel& model) {
  const auto& table = patterns_for(model.model_type());
  std::vector<std::regex> regexes;
  for (const SitePattern& p : table) regexes.emplace_back(p.regex);
  const std::regex encoder_block(R"(encoder\.block\.(\d+))");
  std::vector<BlockSite> sites;
  int64_t encoder_blocks = 0;  // T5's decoder layers are numbered after these
  for (const auto& [path, module] : model.named_modules()) {
    std::smatch m;
    if (std::regex_match(path, m, encoder_block)) ++encoder_blocks;
    for (size_t i = 0; i < table.size(); ++i)
      if (std::regex_match(path, m, regexes[i]))
        sites.push_back({path, table[i].kind, std::stoll(m[1].str()) + (table[i].decoder ? encoder_blocks : 0)});
  }
  engine::check<engine::ConfigError>(!sites.empty(), "[bottleneck] found no transformer blocks in the ",
                                     model.model_type(), " model");
  return sites;
}

const char* site_name(SiteKind kind, bool parallel) {
  if (kind == SiteKind::attention) return models::kSiteAfterAttention;
  return parallel ? models::kSiteParallelFFN : models::kSiteAfterFFN;
}

}  // namespace peft::bottleneck
