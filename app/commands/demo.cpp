// `peft demo`: the main job. A complete study on data the repository makes itself (no
// download, nothing from outside the repository):
//   1. pretrain a small GPT-2 on a generated English corpus (app/corpus/grammar.h) — or reuse
//      the one a previous run left in <work-dir>/base;
//   2. fine-tune it on a held-out data-to-text task (generated restaurant records in E2E's
//      format, whose references never occur in the pretraining corpus) with full fine-tuning,
//      LoRA, prefix tuning, a bottleneck adapter, BitFit, (IA)³ and prompt tuning, each with
//      the same budget;
//   3. score each on held-out records (BLEU, ROUGE-L, NIST, CIDEr over all references) and
//      print the table (trainable parameters and %, time per step, peak memory, quality);
//      write results.json, results.txt and the plots loss_curves.svg and quality_vs_params.svg.
//   peft demo [--work-dir runs/demo] [--methods all|full,lora,...] [--steps 300] [--fresh]
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "app/command.h"
#include "app/corpus/restaurants.h"
#include "app/study/compare.h"
#include "app/train/pretrain.h"
#include "engine/engine.h"

namespace app {
namespace {

namespace fs = std::filesystem;

struct DemoArgs {
  std::string work_dir = "runs/demo", methods = "all";
  int64_t steps = 300, batch_size = 16;
  size_t eval_records = 100, records = 1500, documents = 36000;
  uint64_t seed = 0;
  bool fresh = false, no_progress = false;
  std::vector<std::string> lr_overrides;  // "label=lr"
};


bool has_checkpoint(const fs::path& dir) {
  return fs::exists(dir / "config.json") && fs::exists(dir / "model.safetensors");
}

fs::path ensure_base(const DemoArgs& args) {
  const fs::path base = fs::path(args.work_dir) / "base";
  if (args.fresh) fs::remove_all(fs::path(args.work_dir));
  if (has_checkpoint(base)) {
    std::cout << "step 1/3: reusing the pretrained base in " << base.string() << " (--fresh pretrains again)\n";
    return base;
  }
  std::cout << "step 1/3: pretraining a small GPT-2 on the generated corpus (" << args.documents << " documents)\n";
  train::PretrainOptions p;
  p.arch = "gpt2";
  p.generated = true;
  p.generated_documents = args.documents;
  p.out = base.string();
  p.context = 256;  // room for the task: source + reference + virtual tokens
  p.train.output_dir = (fs::path(args.work_dir) / "pretraining").string();
  p.train.lr = 2e-3, p.train.batch_size = 16, p.train.epochs = 1;
  p.train.warmup_ratio = 0.05, p.train.schedule = "cosine";
  p.train.log_every = 20, p.train.save_every = 100, p.train.eval_every = 100;  // a killed run resumes
  p.train.seed = args.seed, p.train.progress = !args.no_progress;
  const train::PretrainResult r = train::run_pretrain(p);
  engine::check<engine::ValueError>(!r.train.interrupted, "[demo] pretraining was interrupted: run the same command "
                                                          "again to resume it");
  std::printf("         %lld parameters, %lld steps in %.0f s, final loss %.3f\n", (long long)r.parameters,
              (long long)r.train.steps, r.train.seconds, r.train.last_loss);
  return base;
}

void run(const DemoArgs& args) {
  const fs::path base = ensure_base(args);
  corpus::DataToTextOptions d;
  d.records = args.records;
  d.seed = args.seed;
  const corpus::DataToTextSplits splits = corpus::generate_data_to_text(d);
  std::cout << "step 2/3: fine-tuning on the generated data-to-text task (" << splits.train.size()
            << " training records, " << std::min(args.eval_records, splits.test.size())
            << " held-out records scored by generation)\n";
  study::Task task{base, splits.train, splits.test};
  study::CompareOptions o;
  o.steps = args.steps, o.batch_size = args.batch_size, o.eval_records = args.eval_records, o.seed = args.seed;
  o.output_dir = fs::path(args.work_dir) / "compare";
  o.progress = !args.no_progress;
  std::vector<study::MethodSpec> methods = study::select_methods(args.methods);
  study::apply_lr_overrides(methods, args.lr_overrides);
  const std::vector<study::MethodResult> results = study::compare(task, methods, o);
  std::cout << "step 3/3: results (" << args.steps << " steps of " << args.batch_size << " examples each)\n\n"
            << study::results_table(results) << "\n";
  if (!results.empty() && !results.front().samples.empty())
    std::cout << "sample (" << results.front().spec.label << "): " << results.front().samples.front() << "\n";
  std::cout << "wrote " << (o.output_dir / "results.json").string() << ", results.txt, loss_curves.svg, "
            << "quality_vs_params.svg; adapters in " << o.output_dir.string() << "/<method>/checkpoint\n";
}

const Command kDemo("demo", "The main job: pretrain a small GPT-2 and compare PEFT methods on a data-to-text task",
                    [](CLI::App& sub) {
                      auto args = std::make_shared<DemoArgs>();
                      sub.add_option("--work-dir", args->work_dir, "where the base, runs and report go")->capture_default_str();
                      sub.add_option("--methods", args->methods, "all, or a comma list of full,lora,prefix,adapter,bitfit,ia3,prompt")
                          ->capture_default_str();
                      sub.add_option("--steps", args->steps, "fine-tuning steps per method")->capture_default_str();
                      sub.add_option("--batch-size", args->batch_size, "examples per step")->capture_default_str();
                      sub.add_option("--eval-records", args->eval_records, "held-out records scored")->capture_default_str();
                      sub.add_option("--records", args->records, "records of the generated task")->capture_default_str();
                      sub.add_option("--documents", args->documents, "documents of the pretraining corpus")->capture_default_str();
                      sub.add_option("--seed", args->seed, "seed of everything")->capture_default_str();
                      sub.add_option("--lr", args->lr_overrides, "a method's learning rate, e.g. --lr lora=0.01");
                      sub.add_flag("--fresh", args->fresh, "delete the work dir first (pretrain again)");
                      sub.add_flag("--no-progress", args->no_progress, "no progress lines");
                      sub.callback([args] { run(*args); });
                    });

}  // namespace
}  // namespace app
