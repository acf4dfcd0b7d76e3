// Tokenised features, padding and length bucketing (see batching.h).
#include "app/train/batching.h"

#include <algorithm>

#include "app/data/shuffle.h"
#include "engine/core/error.h"

namespace app::train {
namespace {

using Ids = std::vector<int64_t>;

Ids encode(const models::Tokenizer& tok, std::string_view text) { return tok.encode(text, false).ids; }

int64_t required_eos(const models::Tokenizer& tok, const char* what) {
  const auto eos = tok.eos_id();
  engine::check<engine::ValueError>(eos.has_value(), "[batching] ", what, " needs a tokenizer with an eos token");
  return *eos;
}

// Rows of `rows`, padded with `pad` to the longest: [B, T] i64.
engine::Tensor pad_rows(const std::vector<const Ids*>& rows, int64_t pad) {
  size_t T = 0;
  for (const Ids* r : rows) T = std::max(T, r->size());
  Ids flat(rows.size() * T, pad);
  for (size_t b = 0; b < rows.size(); ++b) std::copy(rows[b]->begin(), rows[b]->end(), flat.begin() + long(b * T));
  return engine::from_vector(flat, {int64_t(rows.size()), int64_t(T)});
}

}  // namespace

std::vector<int64_t> causal_lm_prompt(const models::Tokenizer& tok, std::string_view source,
                                      const CausalLmFormat& format) {
  return encode(tok, std::string(source) + format.separator);
}

Features causal_lm_features(const models::Tokenizer& tok, std::string_view source, std::string_view target,
                            const CausalLmFormat& format) {
  Ids prompt = causal_lm_prompt(tok, source, format);
  Ids answer = encode(tok, " " + std::string(target));
  answer.push_back(required_eos(tok, "causal LM data-to-text"));
  engine::check<engine::ValueError>(answer.size() < format.max_length, "[batching] target of ", answer.size(),
                                    " tokens does not fit max_length ", format.max_length, ": '", target, "'");
  // Too long: keep the separator and the whole target, cut the source's end.
  if (prompt.size() + answer.size() > format.max_length) {
    const size_t sep = encode(tok, format.separator).size();
    const size_t keep = format.max_length - answer.size();
    Ids cut(prompt.begin(), prompt.begin() + long(keep > sep ? keep - sep : 0));
    cut.insert(cut.end(), prompt.end() - long(std::min(sep, keep)), prompt.end());
    prompt = std::move(cut);
  }
  Features f;
  f.input_ids = prompt;
  f.input_ids.insert(f.input_ids.end(), answer.begin(), answer.end());
  f.labels.assign(prompt.size(), kIgnoreIndex);
  f.labels.insert(f.labels.end(), answer.begin(), answer.end());
  return f;
}

std::string linearized_source(const data::DataToTextExample& ex) {
  return ex.triples.empty() ? data::linearize_e2e(ex.source) : data::linearize_triples(ex.triples);
}

std::vector<Features> data_to_text_features(const models::Tokenizer& tok,
                                            const std::vector<data::DataToTextExample>& examples,
                                            const CausalLmFormat& format) {
  std::vector<Features> out;
  for (const data::DataToTextExample& ex : examples) {
    const std::string source = linearized_source(ex);
    for (const std::string& ref : ex.references) out.push_back(causal_lm_features(tok, source, ref, format));
  }
  return out;
}

Features classification_features(const models::Tokenizer& tok, const data::Example& ex, size_t max_length) {
  models::EncodeOptions o;
  o.truncation = true;
  o.max_length = max_length;
  const models::Encoding e = ex.text_pair.empty() ? tok.encode_batch({ex.text}, o)[0]
                                                  : tok.encode_pair_batch({ex.text}, {ex.text_pair}, o)[0];
  Features f;
  f.input_ids = e.ids;
  if (!ex.text_pair.empty()) f.token_type_ids = e.token_type_ids;
  f.label = ex.label;
  return f;
}

Features seq2seq_features(const models::Tokenizer& tok, std::string_view source, std::string_view target,
                          size_t max_source, size_t max_target) {
  const int64_t eos = required_eos(tok, "seq2seq");
  // T5's tokenizer appends </s> itself; a byte-level BPE one does not.
  auto with_eos = [&](std::string_view text, size_t max) {
    Ids ids = tok.encode(text, true).ids;
    if (ids.empty() || ids.back() != eos) ids.push_back(eos);
    if (ids.size() > max) ids.resize(max), ids.back() = eos;
    return ids;
  };
  Features f;
  f.input_ids = with_eos(source, max_source);
  f.labels = with_eos(target, max_target);
  return f;
}

models::Batch collate(std::span<const Features* const> examples, TaskKind kind, int64_t pad_id) {
  engine::check<engine::ValueError>(!examples.empty(), "[batching] collate of an empty batch");
  std::vector<const Ids*> ids, labels, types;
  std::vector<Ids> ones;
  ones.reserve(examples.size());
  bool any_types = false;
  for (const Features* f : examples) {
    ids.push_back(&f->input_ids);
    labels.push_back(&f->labels);
    types.push_back(&f->token_type_ids);
    ones.emplace_back(f->input_ids.size(), 1);
    any_types = any_types || !f->token_type_ids.empty();
  }
  std::vector<const Ids*> mask;
  for (const Ids& m : ones) mask.push_back(&m);
  models::Batch b;
  b.input_ids = pad_rows(ids, pad_id);        // [B,T]
  b.attention_mask = pad_rows(mask, 0);       // [B,T]
  if (any_types) b.token_type_ids = pad_rows(types, 0);
  if (kind == TaskKind::classification) {
    Ids y;
    for (const Features* f : examples) y.push_back(f->label);
    b.labels = engine::from_vector(y, {int64_t(y.size())});  // [B]
  } else {
    b.labels = pad_rows(labels, kIgnoreIndex);  // [B,T] or [B,T_target]
    if (kind != TaskKind::seq2seq)
      engine::check<engine::ShapeError>(b.labels.shape() == b.input_ids.shape(),
                                        "[batching] token labels must match input_ids, got ",
                                        engine::shape_str(b.labels.shape()), " vs ",
                                        engine::shape_str(b.input_ids.shape()));
  }
  return b;
}

std::vector<size_t> bucketed_order(const std::vector<size_t>& lengths, size_t batch_size, size_t bucket_batches,
                                   uint64_t seed) {
  std::vector<size_t> order = data::shuffled_indices(lengths.size(), seed);
  if (batch_size == 0 || bucket_batches == 0) return order;
  const size_t bucket = batch_size * bucket_batches;
  for (size_t start = 0; start < order.size(); start += bucket) {
    auto end = order.begin() + long(std::min(order.size(), start + bucket));
    std::stable_sort(order.begin() + long(start), end, [&](size_t a, size_t b) { return lengths[a] < lengths[b]; });
  }
  std::vector<std::vector<size_t>> batches;
  for (size_t start = 0; start < order.size(); start += batch_size)
    batches.emplace_back(order.begin() + long(start), order.begin() + long(std::min(order.size(), start + batch_size)));
  data::seeded_shuffle(batches, mix_seed(seed, 0xB0C4E7ull));
  order.clear();
  for (const auto& b : batches) order.insert(order.end(), b.begin(), b.end());
  return order;
}

Dataset features_dataset(std::shared_ptr<const std::vector<Features>> features, TaskKind kind, int64_t pad_id,
                         size_t batch_size, size_t bucket_batches) {
  Dataset d;
  d.size = features->size();
  if (batch_size > 0 && bucket_batches > 0) {
    std::vector<size_t> lengths;
    for (const Features& f : *features) lengths.push_back(f.length());
    d.order = [lengths, batch_size, bucket_batches](uint64_t seed) {
      return bucketed_order(lengths, batch_size, bucket_batches, seed);
    };
  }
  d.collate = [features, kind, pad_id](std::span<const size_t> indices, uint64_t) {
    std::vector<const Features*> rows;
    for (size_t i : indices) rows.push_back(&(*features)[i]);
    return collate(rows, kind, pad_id);
  };
  return d;
}

}  // namespace app::train
