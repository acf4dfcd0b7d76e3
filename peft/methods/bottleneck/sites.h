// Where site adapters attach: the hook-site owners of each architecture (a data table per
// model_type), so adapters find blocks by module path and the models never know about them.
//
//   bert / roberta  <prefix>encoder.layer.<i>            after_attention, after_ffn, parallel_ffn
//   gpt2            <prefix>h.<i>                         the same three sites
//   t5              {encoder,decoder}.block.<i>.layer.0   after_attention (self-attention only:
//                                                         the decoder's cross-attention layer.1
//                                                         gets none, adapter-hub's default)
//                   encoder.block.<i>.layer.1, decoder.block.<i>.layer.2   the FFN sites
//
// Layer numbers are adapter-hub's (`iter_layers`): T5 decoder blocks count after the encoder's.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "models/model.h"

namespace peft::bottleneck {

enum class SiteKind { attention, ffn };

struct BlockSite {
  std::string owner;  // module path of the site's owner ("bert.encoder.layer.0")
  SiteKind kind;
  int64_t layer;      // adapter-hub's layer number
};

// Every attention / FFN site of `model`, in model order. Throws ConfigError for a model type
// without a table row.
std::vector<BlockSite> block_sites(const models::PretrainedModel& model);

// The site name a site adapter hooks: after_attention, after_ffn, or parallel_ffn (which
// passes the FFN's input).
const char* site_name(SiteKind kind, bool parallel);

}  // namespace peft::bottleneck
