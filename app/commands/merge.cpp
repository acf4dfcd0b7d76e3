// `peft merge`: folds one or several adapters into the base weights and writes a plain HF
// checkpoint folder (config.json + model.safetensors + the base's tokenizer files) that the
// models loader and transformers load without PEFT.
//   peft merge --model DIR --adapter DIR [--adapter DIR2 ...] --out DIR
// Several adapters are merged together (their updates sum, as PEFT's merge with several
// active adapters). Methods whose math cannot be folded into weights (prompts, prefixes,
// bottleneck adapters) are refused with the reason, and nothing is written.
#include <filesystem>
#include <iostream>
#include <memory>

#include "app/command.h"
#include "engine/engine.h"
#include "models/model.h"
#include "peft/core/peft_model.h"

namespace app {
namespace {

namespace fs = std::filesystem;

struct MergeArgs {
  std::string model, out;
  std::vector<std::string> adapters;
};

// Tokenizer and generation files travel with the weights so the folder is self-contained.
void copy_side_files(const fs::path& from, const fs::path& to) {
  for (const char* name : {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt",
                           "vocab.json", "merges.txt", "spiece.model", "generation_config.json", "added_tokens.json"})
    if (fs::exists(from / name)) fs::copy_file(from / name, to / name, fs::copy_options::overwrite_existing);
}

void run(const MergeArgs& args) {
  engine::check<engine::ValueError>(fs::absolute(args.out) != fs::absolute(args.model),
                                    "[merge] --out must differ from --model (", args.out, ")");
  peft::PeftModel model(models::load_pretrained(args.model));
  std::vector<std::string> names;
  for (size_t i = 0; i < args.adapters.size(); ++i) {
    names.push_back(i == 0 ? "default" : "adapter" + std::to_string(i));
    model.load_adapter(args.adapters[i], names.back());
  }
  model.set_adapter(names);
  models::ModelPtr merged = model.merge_and_unload();
  // Write into a sibling temporary folder, then rename: a crash never leaves a half folder.
  const fs::path out = fs::absolute(args.out);
  const fs::path tmp = out.parent_path() / (out.filename().string() + ".tmp-merge");
  fs::remove_all(tmp);
  models::save_pretrained(*merged, tmp);
  copy_side_files(args.model, tmp);
  fs::remove_all(out);
  fs::rename(tmp, out);
  std::cout << "merged " << names.size() << " adapter(s) into " << out.string() << "\n";
}

const Command kMerge("merge", "Merge adapters into the base weights and save a plain HF checkpoint",
                     [](CLI::App& sub) {
                       auto args = std::make_shared<MergeArgs>();
                       sub.add_option("--model", args->model, "base HF checkpoint folder")->required();
                       sub.add_option("--adapter", args->adapters, "adapter folder (repeat to merge several)")->required();
                       sub.add_option("--out", args->out, "output checkpoint folder")->required();
                       sub.callback([args] { run(*args); });
                     });

}  // namespace
}  // namespace app
