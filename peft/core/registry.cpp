// The table of methods (see registry.h). One row per method; presets give the CLI names.
#include "peft/core/registry.h"

#include <sstream>

#include "engine/core/error.h"
#include "peft/core/adapter.h"
#include "peft/methods/lora/adapter.h"
#include "peft/methods/bottleneck/adapter.h"
#include "peft/methods/compacter/adapter.h"
#include "peft/methods/mam/adapter.h"
#include "peft/methods/unipelt/adapter.h"
#include "peft/methods/p_tuning/adapter.h"
#include "peft/methods/prefix_tuning/adapter.h"
#include "peft/methods/prompt_tuning/adapter.h"
#include "peft/methods/bitfit/adapter.h"
#include "peft/methods/diff_pruning/adapter.h"
#include "peft/methods/fish_mask/adapter.h"
#include "peft/methods/partial/adapter.h"
#include "peft/methods/sparse_mask/adapter.h"
#include "peft/methods/adalora/adapter.h"
#include "peft/methods/loha/adapter.h"
#include "peft/methods/lokr/adapter.h"
#include "peft/methods/vera/adapter.h"
#include "peft/methods/boft/adapter.h"
#include "peft/methods/ia3/adapter.h"
#include "peft/methods/ln_tuning/adapter.h"
#include "peft/methods/oft/adapter.h"

namespace peft {

namespace {

template <typename Config, typename AdapterT>
MethodInfo row(const std::string& peft_type, const std::string& family, const std::string& summary) {
  return MethodInfo{
      peft_type, family, summary, [] { return std::make_shared<Config>(); },
      [](const std::string& name, std::shared_ptr<PeftConfig> config) -> std::unique_ptr<Adapter> {
        return std::make_unique<AdapterT>(name, std::move(config));
      }};
}

}  // namespace

const std::vector<MethodInfo>& methods() {
  static const std::vector<MethodInfo> table = {
      row<lora::LoraConfig, lora::LoraAdapter>("LORA", "reparameterized",
                                               "low-rank update W + (α/r)·B·A (also rsLoRA, DoRA, PiSSA, OLoRA, QLoRA)"),
      row<adalora::AdaLoraConfig, adalora::AdaLoraAdapter>("ADALORA", "reparameterized", "SVD-shaped LoRA whose ranks are pruned by importance during training: ΔW = B·diag(E)·A"),
      row<vera::VeraConfig, vera::VeraAdapter>("VERA", "reparameterized", "shared frozen random projections, trained scaling vectors: ΔW = Λ_b·B·Λ_d·A"),
      row<loha::LohaConfig, loha::LohaAdapter>("LOHA", "reparameterized", "Hadamard product of two low-rank products: ΔW = (α/r)·(W1a·W1b)⊙(W2a·W2b)"),
      row<lokr::LokrConfig, lokr::LokrAdapter>("LOKR", "reparameterized", "Kronecker product of two (low-rank) factors: ΔW = W1⊗W2 (PEFT 0.11: no α/r)"),
      row<oft::OftConfig, oft::OftAdapter>("OFT", "reparameterized",
                                           "orthogonal block-diagonal rotation of the layer output (Cayley blocks)"),
      row<boft::BoftConfig, boft::BoftAdapter>("BOFT", "reparameterized",
                                             "butterfly product of orthogonal blocks rotating the weight's input side, plus an output scale"),
      row<ia3::Ia3Config, ia3::Ia3Adapter>("IA3", "additive",
                                           "(IA)³: learned vectors rescale keys, values and the FFN's inner activations"),
      row<ln_tuning::LnTuningConfig, ln_tuning::LnTuningAdapter>("LN_TUNING", "selective",
                                                                 "trainable copies of the LayerNorm / RMSNorm layers"),
      row<prompt_tuning::PromptTuningConfig, prompt_tuning::PromptTuningAdapter>(
          "PROMPT_TUNING", "additive", "trainable virtual-token embeddings in front of the input (soft prompt)"),
      row<p_tuning::PromptEncoderConfig, p_tuning::PTuningAdapter>(
          "P_TUNING", "additive", "virtual tokens produced by a small MLP / LSTM encoder (P-tuning v1)"),
      row<prefix_tuning::PrefixTuningConfig, prefix_tuning::PrefixTuningAdapter>(
          "PREFIX_TUNING", "additive", "trainable key/value prefixes for every self-attention layer"),
      row<bitfit::BitFitConfig, bitfit::BitFitAdapter>("BITFIT", "selective", "BitFit: train the bias terms of the base model in place"),
      row<partial::PartialConfig, partial::PartialAdapter>("PARTIAL", "selective",
                                                          "partial freezing: the head, the top k blocks or named parameters train"),
      row<diff_pruning::DiffPruningConfig, diff_pruning::DiffPruningAdapter>(
          "DIFF_PRUNING", "selective", "diff pruning: θ0 + sparse δ (hard-concrete L0 phase, then a fixed magnitude mask)"),
      row<fish_mask::FishMaskConfig, fish_mask::FishMaskAdapter>("FISH_MASK", "selective",
                                                                "FishMask: the entries of largest Fisher information train"),
      row<sparse_mask::SparseMaskConfig, sparse_mask::SparseMaskAdapter>("SPARSE_MASK", "selective",
                                                                        "a seeded random fraction of the entries trains"),
      row<bottleneck::BnConfig, bottleneck::BottleneckAdapter>("BOTTLENECK", "additive",
                                                               "bottleneck adapters h + up(f(down(h))) at the blocks' sites (Houlsby, Pfeiffer, parallel)"),
      row<compacter::CompacterConfig, compacter::CompacterAdapter>("COMPACTER", "additive",
                                                                   "bottleneck adapters with PHM projections Σ Aᵢ⊗(sᵢtᵢᵀ) (Compacter, Compacter++)"),
      row<mam::MamConfig, mam::MamAdapter>("MAM", "hybrid", "mix-and-match: prefix tuning + a scaled parallel adapter on the FFN"),
      row<unipelt::UnipeltConfig, unipelt::UnipeltAdapter>("UNIPELT", "hybrid",
                                                           "gated LoRA + gated prefix tuning + gated bottleneck adapter"),
  };
  return table;
}

const MethodInfo& method_by_type(const std::string& peft_type) {
  for (const auto& m : methods())
    if (m.peft_type == peft_type) return m;
  std::ostringstream known;
  for (const auto& m : methods()) known << " " << m.peft_type;
  engine::fail<engine::KeyError>("[peft] unknown peft_type '", peft_type, "'; known:", known.str());
}

// adapter-hub's DoubleSeqBnConfig ("houlsby") and ParBnConfig ("parallel") over BnConfig's
// SeqBnConfig defaults; `extra` overrides on top.
static json bottleneck_houlsby(json extra = json::object()) {
  json j = {{"mh_adapter", true}, {"output_adapter", true}, {"non_linearity", "swish"}, {"original_ln_before", false}};
  j.update(extra);
  return j;
}

static json bottleneck_parallel() {
  return {{"is_parallel", true}, {"reduction_factor", 2}, {"scaling", 4.0}, {"init_weights", "mam_adapter"},
          {"original_ln_before", false}};
}

const std::vector<MethodPreset>& method_presets() {
  static const std::vector<MethodPreset> presets = {
      {"lora", "LORA", json::object(), "LoRA (Hu et al. 2021)"},
      {"rslora", "LORA", {{"use_rslora", true}}, "rank-stabilised LoRA: scaling α/√r"},
      {"dora", "LORA", {{"use_dora", true}}, "DoRA: magnitude and direction trained apart"},
      {"pissa", "LORA", {{"init_lora_weights", "pissa"}}, "LoRA initialised from the principal singular vectors"},
      {"olora", "LORA", {{"init_lora_weights", "olora"}}, "LoRA initialised from a QR decomposition"},
      {"qlora", "LORA", {{"quantize_base", "nf4"}}, "LoRA over an NF4-quantized frozen base"},
      {"adalora", "ADALORA", json::object(), "AdaLoRA (Zhang et al. 2023): ranks pruned by importance; set total_step"},
      {"vera", "VERA", json::object(), "VeRA (Kopiczko et al. 2024): shared frozen projections, trained scaling vectors"},
      {"loha", "LOHA", json::object(), "LoHa (Hyeon-Woo et al. 2022): Hadamard product of two low-rank updates"},
      {"lokr", "LOKR", json::object(), "LoKr (Edalati et al. 2022): Kronecker product of two factors"},
      {"oft", "OFT", json::object(), "OFT (Qiu et al. 2023): block-diagonal orthogonal rotation, r = 8 blocks"},
      {"coft", "OFT", {{"coft", true}}, "constrained OFT: rotations kept within an eps-ball of the identity"},
      {"boft", "BOFT", json::object(), "BOFT (Liu et al. 2024): butterfly orthogonal factors, block size 4"},
      {"ia3", "IA3", json::object(), "(IA)³ (Liu et al. 2022): rescale keys, values and FFN activations"},
      {"ln_tuning", "LN_TUNING", json::object(), "LayerNorm tuning (Zhao et al. 2023): train copies of the norms"},
      {"prompt_tuning", "PROMPT_TUNING", {{"num_virtual_tokens", 20}}, "prompt tuning (Lester et al. 2021), 20 virtual tokens"},
      {"p_tuning", "P_TUNING", {{"num_virtual_tokens", 20}}, "P-tuning (Liu et al. 2021): MLP-encoded virtual tokens"},
      {"prefix_tuning", "PREFIX_TUNING", {{"num_virtual_tokens", 20}}, "prefix tuning (Li & Liang 2021), 20 K/V positions"},
      {"prefix_tuning_mlp", "PREFIX_TUNING", {{"num_virtual_tokens", 20}, {"prefix_projection", true}},
       "prefix tuning with the MLP reparameterisation of the paper"},
      {"bitfit", "BITFIT", json::object(), "BitFit (Ben Zaken et al. 2022): biases only"},
      {"head_only", "PARTIAL", {{"head_only", true}}, "train the output head only (linear probing)"},
      {"last_k", "PARTIAL", {{"last_k_layers", 2}}, "train the top 2 blocks (set last_k_layers)"},
      {"diff_pruning", "DIFF_PRUNING", json::object(), "diff pruning (Guo et al. 2021), 0.5% of the entries"},
      {"fish_mask", "FISH_MASK", json::object(), "FishMask (Sung et al. 2021), 0.5% of the entries by Fisher information"},
      {"sparse_mask", "SPARSE_MASK", json::object(), "a random 1% of the entries of every linear weight"},
      {"houlsby", "BOTTLENECK", bottleneck_houlsby(), "Houlsby et al. 2019: adapters after attention and FFN (rf 16, swish)"},
      {"pfeiffer", "BOTTLENECK", json::object(), "Pfeiffer et al. 2021: one adapter after the FFN (rf 16, relu)"},
      {"parallel", "BOTTLENECK", bottleneck_parallel(), "He et al. 2022: a scaled adapter parallel to the FFN (rf 2, s = 4)"},
      {"compacter", "COMPACTER", bottleneck_houlsby({{"reduction_factor", 32}, {"non_linearity", "gelu"}}),
       "Compacter (Mahabadi et al. 2021): PHM adapters placed as Houlsby"},
      {"compacter++", "COMPACTER", json::object(), "Compacter++: PHM adapters placed as Pfeiffer (rf 32, gelu, phm_dim 4)"},
      {"mam", "MAM", json::object(), "MAM adapter (He et al. 2022): prefix (30 positions) + parallel adapter (s = 4)"},
      {"unipelt", "UNIPELT", json::object(), "UniPELT (Mao et al. 2022): LoRA, prefix and adapter, each gated"},
  };
  return presets;
}

const MethodPreset& preset_by_name(const std::string& name) {
  for (const auto& p : method_presets())
    if (p.name == name) return p;
  std::ostringstream known;
  for (const auto& p : method_presets()) known << " " << p.name;
  engine::fail<engine::KeyError>("[peft] unknown method '", name, "'; known:", known.str());
}

std::shared_ptr<PeftConfig> make_config(const std::string& preset_name, const json& overrides) {
  const MethodPreset& preset = preset_by_name(preset_name);
  json j = preset.overrides;
  j["peft_type"] = preset.peft_type;
  for (const auto& [k, v] : overrides.items()) j[k] = v;
  return config_from_json(j, "method '" + preset_name + "'");
}

}  // namespace peft
