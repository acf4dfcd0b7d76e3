// Site-adapter composition and LoRA's weighted adapters (see composition.h).
#include "peft/core/composition.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <set>

#include "engine/engine.h"
#include "peft/core/targets.h"
#include "peft/methods/lora/adapter.h"
#include "peft/methods/lora/layer.h"
#include "peft/methods/lora/linalg.h"

namespace peft {

using engine::ValueError;

// ---- SiteAdapter

void SiteAdapter::add_slot(engine::nn::Module& owner, const std::string& owner_path, const std::string& site, SiteFn apply) {
  SiteSlot slot{&owner, owner_path, site, apply, -1};
  // The hook shares the flags (not `this`): a model kept after its PeftModel stays valid.
  slot.hook_id = owner.add_hook(site, [flags = flags_, apply](const Tensor& h, const Tensor& input) {
    return flags->active && !flags->suspended ? apply(h, input) : h;
  });
  slots_.push_back(std::move(slot));
}

void SiteAdapter::remove_slots() {
  for (const SiteSlot& s : slots_) s.owner->remove_hook(s.site, s.hook_id);
  slots_.clear();
}

// ---- composition of site adapters

namespace {

// The named adapters, which must all be composable site adapters.
std::vector<SiteAdapter*> site_adapters(PeftModel& model, const std::vector<std::string>& names, const char* block) {
  engine::check<ValueError>(!names.empty(), "[", block, "] needs at least one adapter");
  std::vector<SiteAdapter*> out;
  for (const auto& n : names) {
    auto* s = dynamic_cast<SiteAdapter*>(&model.adapter(n));
    engine::check<ValueError>(s != nullptr && s->composable(), "[", block, "] adapter '", n, "' (",
                              model.adapter(n).config().peft_type,
                              ") is not a pure hook-site adapter: only bottleneck and Compacter adapters compose");
    out.push_back(s);
  }
  return out;
}

// The sites the adapters use, each with one function per adapter (null where it has none).
struct SiteGroup {
  engine::nn::Module* owner;
  std::string site;
  std::vector<SiteFn> fns;
};

std::vector<SiteGroup> group_sites(const std::vector<SiteAdapter*>& adapters) {
  std::vector<SiteGroup> groups;
  for (size_t i = 0; i < adapters.size(); ++i)
    for (const SiteSlot& slot : adapters[i]->slots()) {
      auto g = std::find_if(groups.begin(), groups.end(),
                            [&](const SiteGroup& x) { return x.owner == slot.owner && x.site == slot.site; });
      if (g == groups.end()) g = groups.insert(groups.end(), {slot.owner, slot.site, std::vector<SiteFn>(adapters.size())});
      g->fns[i] = slot.apply;
    }
  return groups;
}

// For one forward pass: every site adapter of the model suspended, the composition's own
// hooks installed; both undone on exit (also when the forward throws).
class CompositionScope {
 public:
  CompositionScope(PeftModel& model, const std::vector<SiteGroup>& groups,
                   const std::function<Tensor(const SiteGroup&, const Tensor&, const Tensor&)>& combine) {
    for (const auto& n : model.adapter_names())
      if (auto* s = dynamic_cast<SiteAdapter*>(&model.adapter(n))) {
        s->set_suspended(true);
        suspended_.push_back(s);
      }
    for (const SiteGroup& g : groups)
      hooks_.emplace_back(g.owner, g.site, g.owner->add_hook(g.site, [g, combine](const Tensor& h, const Tensor& in) {
        return combine(g, h, in);
      }));
  }
  ~CompositionScope() {
    for (auto& [owner, site, id] : hooks_) owner->remove_hook(site, id);
    for (SiteAdapter* s : suspended_) s->set_suspended(false);
  }
  CompositionScope(const CompositionScope&) = delete;
  CompositionScope& operator=(const CompositionScope&) = delete;

 private:
  std::vector<SiteAdapter*> suspended_;
  std::vector<std::tuple<engine::nn::Module*, std::string, int64_t>> hooks_;
};

Tensor repeat_rows(const Tensor& t, int64_t n) {
  return t.defined() ? engine::concat(std::vector<Tensor>(size_t(n), t), 0) : t;  // [B,...] -> [nB,...]
}

}  // namespace

models::ModelOutput forward_stack(PeftModel& model, const std::vector<std::string>& adapters, const models::Batch& batch,
                                  const models::ForwardOptions& options) {
  auto groups = group_sites(site_adapters(model, adapters, "Stack"));
  CompositionScope scope(model, groups, [](const SiteGroup& g, const Tensor& h, const Tensor& in) {
    Tensor out = h;
    for (const SiteFn& f : g.fns)
      if (f) out = f(out, in);  // each adapter sees the previous one's output
    return out;
  });
  return model.forward(batch, options);
}

models::ModelOutput forward_average(PeftModel& model, const std::vector<std::string>& adapters,
                                    const std::vector<double>& weights, const models::Batch& batch,
                                    const models::ForwardOptions& options) {
  engine::check<ValueError>(weights.size() == adapters.size(), "[Average] ", adapters.size(), " adapters but ",
                            weights.size(), " weights");
  double total = 0;
  for (double w : weights) total += w;
  engine::check<ValueError>(total != 0, "[Average] the weights sum to 0");
  auto groups = group_sites(site_adapters(model, adapters, "Average"));
  CompositionScope scope(model, groups, [weights, total](const SiteGroup& g, const Tensor& h, const Tensor& in) {
    Tensor out;
    for (size_t i = 0; i < g.fns.size(); ++i) {
      Tensor term = (g.fns[i] ? g.fns[i](h, in) : h) * (weights[i] / total);  // [B,T,C]
      out = out.defined() ? out + term : term;
    }
    return out;
  });
  return model.forward(batch, options);
}

std::vector<models::ModelOutput> forward_parallel(PeftModel& model, const std::vector<std::string>& adapters,
                                                  const models::Batch& batch, const models::ForwardOptions& options) {
  engine::check<ValueError>(options.cache == nullptr && options.prefix == nullptr,
                            "[Parallel] replicates the batch: no KV cache or prefix");
  const auto n = static_cast<int64_t>(adapters.size());
  auto groups = group_sites(site_adapters(model, adapters, "Parallel"));
  CompositionScope scope(model, groups, [n](const SiteGroup& g, const Tensor& h, const Tensor& in) {
    engine::check<engine::ShapeError>(h.size(0) % n == 0, "[Parallel] site batch ", h.size(0), " is not ", n, " copies");
    std::vector<Tensor> hs = engine::chunk(h, n, 0), ins;  // n × [B,T,C]
    if (in.defined()) ins = engine::chunk(in, n, 0);
    for (size_t i = 0; i < hs.size(); ++i)
      if (g.fns[i]) hs[i] = g.fns[i](hs[i], in.defined() ? ins[i] : Tensor{});
    return engine::concat(hs, 0);
  });
  models::Batch b = batch;
  for (Tensor* t : {&b.input_ids, &b.attention_mask, &b.token_type_ids, &b.position_ids, &b.inputs_embeds, &b.labels,
                    &b.decoder_input_ids, &b.decoder_attention_mask, &b.decoder_inputs_embeds})
    *t = repeat_rows(*t, n);
  models::ForwardOptions o = options;
  o.encoder_output = repeat_rows(o.encoder_output, n);
  o.encoder_attention_mask = repeat_rows(o.encoder_attention_mask, n);
  models::ModelOutput all = model.forward(b, o);
  std::vector<models::ModelOutput> outs(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const int64_t rows = all.logits.size(0) / n;
    outs[size_t(i)].logits = all.logits.narrow(0, i * rows, rows);
    if (all.last_hidden_state.defined())
      outs[size_t(i)].last_hidden_state = all.last_hidden_state.narrow(0, i * rows, rows);
    outs[size_t(i)].loss = all.loss;
  }
  return outs;
}

// ---- LoRA: add_weighted_adapter

namespace {

// PEFT's rule for the new target_modules: the union of lists, or "(a)|(b)" of regexes.
// Null target_modules stand for the model type's default list (PEFT fills them at injection).
ModuleSelector union_of_targets(const std::vector<const lora::LoraConfig*>& configs, const std::string& model_type) {
  auto targets = [&](const lora::LoraConfig* c) {
    return c->target_modules.is_set() ? c->target_modules
                                      : ModuleSelector::list_of(default_targets("LORA", model_type));
  };
  ModuleSelector out;
  const bool all_lists = std::all_of(configs.begin(), configs.end(), [&](auto* c) {
    return targets(c).kind == ModuleSelector::Kind::list;
  });
  if (all_lists) {
    std::set<std::string> names;
    for (auto* c : configs) {
      const ModuleSelector t = targets(c);
      names.insert(t.names.begin(), t.names.end());
    }
    return ModuleSelector::list_of({names.begin(), names.end()});
  }
  for (auto* c : configs) {
    const ModuleSelector t = targets(c);
    engine::check<ValueError>(t.kind == ModuleSelector::Kind::regex, "[add_weighted_adapter] ",
                              "cannot combine target_modules given as a list and as a regex");
    out.regex += (out.regex.empty() ? "(" : "|(") + t.regex + ")";
  }
  out.kind = ModuleSelector::Kind::regex;
  return out;
}

// One source adapter on one layer.
struct Source {
  Tensor A, B;  // [r, in], [out, r]
  double scaling, weight;
  Tensor delta;  // s·B·A [out, in]
};

// The new A [k, in] and B [out, k] for one layer.
std::pair<Tensor, Tensor> combine(const std::vector<Source>& src, const std::string& type, int64_t k) {
  if (type == "linear") {  // A = Σ √(w·s)·Aᵢ, B = Σ √(w·s)·Bᵢ
    Tensor A = engine::zeros(src[0].A.shape()), B = engine::zeros(src[0].B.shape());
    for (const Source& s : src) {
      const double c = std::sqrt(s.weight * s.scaling);
      engine::add_(A, s.A, c);
      engine::add_(B, s.B, c);
    }
    return {A, B};
  }
  if (type == "cat") {  // A = [w·s·Aᵢ] rows, B = [Bᵢ] columns
    std::vector<Tensor> As, Bs;
    for (const Source& s : src) As.push_back(s.A * (s.weight * s.scaling)), Bs.push_back(s.B);
    return {engine::concat(As, 0), engine::concat(Bs, 1)};
  }
  Tensor delta = engine::zeros(src[0].delta.shape());  // "svd": Σ w·ΔW, truncated to rank k
  for (const Source& s : src) engine::add_(delta, s.delta, s.weight);
  lora::Svd d = lora::svd(delta);  // U [out,m] S [m] Vh [m,in]
  engine::check<ValueError>(k <= d.S.size(0), "[add_weighted_adapter] svd_rank ", k, " exceeds min(out, in) = ", d.S.size(0));
  Tensor U = d.U.narrow(1, 0, k) * d.S.narrow(0, 0, k);  // [out,k] · diag(S)
  return {engine::to_dtype(d.Vh.narrow(0, 0, k), engine::DType::f32), engine::to_dtype(U, engine::DType::f32)};
}

}  // namespace

Adapter& add_weighted_adapter(PeftModel& model, const std::vector<std::string>& adapters, const std::vector<double>& weights,
                              const std::string& new_name, const std::string& combination_type,
                              std::optional<int64_t> svd_rank) {
  const char* where = "[add_weighted_adapter] ";
  engine::check<ValueError>(!adapters.empty() && adapters.size() == weights.size(), where, adapters.size(),
                            " adapters and ", weights.size(), " weights (need as many, at least one)");
  engine::check<ValueError>(combination_type == "linear" || combination_type == "cat" || combination_type == "svd", where,
                            "combination_type must be linear, cat or svd, got '", combination_type, "'");
  std::vector<const lora::LoraConfig*> configs;
  int64_t rank_sum = 0, rank_max = 0;
  for (const auto& n : adapters) {
    auto* c = dynamic_cast<const lora::LoraConfig*>(&model.adapter(n).config());
    engine::check<ValueError>(c != nullptr, where, "adapter '", n, "' is ", model.adapter(n).config().peft_type, ", not LORA");
    engine::check<ValueError>(!c->use_dora, where, "adapter '", n, "' uses DoRA, which has no weighted combination");
    configs.push_back(c);
    rank_sum += c->r, rank_max = std::max(rank_max, c->r);
  }
  for (auto* c : configs)
    engine::check<ValueError>(combination_type != "linear" || c->r == configs[0]->r, where,
                              "all adapters must have the same r for combination_type linear");
  const int64_t rank = combination_type == "cat" ? rank_sum : combination_type == "svd" ? svd_rank.value_or(rank_max) : rank_max;

  auto config = std::make_shared<lora::LoraConfig>(*configs[0]);
  config->r = rank, config->lora_alpha = static_cast<double>(rank);  // scaling 1: the factors carry it
  config->rank_pattern.clear(), config->alpha_pattern.clear();
  config->init_lora_weights = true;  // overwritten below (and never re-decomposes the base)
  config->target_modules = union_of_targets(configs, model.base().model_type());
  auto& added = static_cast<lora::LoraAdapter&>(model.add_adapter(new_name, config));

  engine::NoGradGuard no_grad;
  for (const auto& [path, layer] : added.layers()) {
    auto* lin = dynamic_cast<lora::LoraLinear*>(layer.get());
    engine::check<ValueError>(lin != nullptr, where, path, " is a ", layer->type_name(), ": only Linear layers combine");
    std::vector<Source> src;
    for (size_t i = 0; i < adapters.size(); ++i)
      if (lin->has_adapter(adapters[i]))
        src.push_back({lin->lora_A(adapters[i]), lin->lora_B(adapters[i]), lin->settings(adapters[i]).scaling, weights[i],
                       combination_type == "svd" ? lin->delta_weight(adapters[i]) : Tensor{}});
    engine::fill_(lin->lora_A(new_name), 0.0);
    engine::fill_(lin->lora_B(new_name), 0.0);
    if (src.empty()) continue;
    auto [A, B] = combine(src, combination_type, rank);
    engine::copy_(lin->lora_A(new_name).narrow(0, 0, A.size(0)), A);  // "linear" with fewer sources fits too
    engine::copy_(lin->lora_B(new_name).narrow(1, 0, B.size(1)), B);
  }
  for (auto& [key, t] : added.trainable_tensors()) t.requires_grad_(false);  // PEFT freezes it (_freeze_adapter)
  return added;
}

}  // namespace peft
