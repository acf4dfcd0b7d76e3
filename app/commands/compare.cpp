// `peft compare`: several PEFT methods on one data-to-text task with one budget, from one
// base causal LM: the table of trainable parameters, time per step, peak memory and quality
// (BLEU, ROUGE-L, NIST, CIDEr over all references), results.json and SVG plots in --out.
//   peft compare --model DIR --train FILE --test FILE [--format e2e|webnlg-xml|webnlg-json]
//                [--methods all|full,lora,prefix,adapter,bitfit,ia3,prompt] [--steps N]
//                [--batch-size N] [--eval-records N] [--lr method=value ...] --out DIR
// The main job (`peft demo`) is this comparison on the repository's generated task.
#include <iostream>

#include "app/command.h"
#include "app/data/data_to_text.h"
#include "app/study/compare.h"
#include "engine/engine.h"

namespace app {
namespace {

struct CompareArgs {
  std::string model, train, test, format = "e2e", methods = "all", out;
  std::vector<std::string> lr_overrides;
  study::CompareOptions o;
};

std::vector<data::DataToTextExample> read_examples(const std::string& path, const std::string& format) {
  if (format == "e2e") return data::read_e2e(path);
  if (format == "webnlg-xml") return data::read_webnlg_xml(path);
  if (format == "webnlg-json") return data::read_webnlg_json(path);
  engine::fail<engine::ValueError>("[compare] unknown --format '", format, "' (e2e, webnlg-xml, webnlg-json)");
}

void run(CompareArgs& args) {
  study::Task task{args.model, read_examples(args.train, args.format), read_examples(args.test, args.format)};
  engine::check<engine::ValueError>(!task.train.empty(), "[compare] ", args.train, " holds no example");
  engine::check<engine::ValueError>(!task.test.empty(), "[compare] ", args.test, " holds no example");
  std::vector<study::MethodSpec> methods = study::select_methods(args.methods);
  study::apply_lr_overrides(methods, args.lr_overrides);
  args.o.output_dir = args.out;
  const auto results = study::compare(task, methods, args.o);
  std::cout << study::results_table(results) << "wrote " << args.out << "/results.json, results.txt, loss_curves.svg, "
            << "quality_vs_params.svg\n";
}

const Command kCompare("compare", "Compare PEFT methods on a data-to-text task with one budget", [](CLI::App& sub) {
  auto args = std::make_shared<CompareArgs>();
  sub.add_option("--model", args->model, "base causal LM (HF checkpoint folder with tokenizer)")->required();
  sub.add_option("--train", args->train, "training data")->required();
  sub.add_option("--test", args->test, "held-out data scored by generation")->required();
  sub.add_option("--format", args->format, "e2e | webnlg-xml | webnlg-json")->capture_default_str();
  sub.add_option("--methods", args->methods, "all, or a comma list")->capture_default_str();
  sub.add_option("--steps", args->o.steps, "training steps per method")->capture_default_str();
  sub.add_option("--batch-size", args->o.batch_size, "examples per step")->capture_default_str();
  sub.add_option("--eval-records", args->o.eval_records, "held-out inputs scored (0 = all)")->capture_default_str();
  sub.add_option("--max-new-tokens", args->o.max_new_tokens, "generation length")->capture_default_str();
  sub.add_option("--seed", args->o.seed, "seed")->capture_default_str();
  sub.add_option("--lr", args->lr_overrides, "a method's learning rate, e.g. --lr lora=0.01");
  sub.add_option("--out", args->out, "report folder")->required();
  sub.callback([args] { run(*args); });
});

}  // namespace
}  // namespace app
