// `peft pretrain`: pretrain a small GPT-2 (causal LM), BERT (masked LM) or T5 (span
// corruption) from scratch and save an HF checkpoint folder (app/train/pretrain.h).
//   peft pretrain --arch gpt2 --generated --out base/            (the repository's corpus)
//   peft pretrain --arch bert --corpus input.txt --vocab-size 4000 --layers 2 --out bert/
// Training flags (--lr, --max-steps, --batch-size, ...) are TrainOptions'; --train-config
// reads them from JSON (flags given on the command line win). Ctrl-C saves a checkpoint under
// <out>/training; running the same command again resumes from it.
#include <cstdio>
#include <fstream>
#include <memory>

#include "app/command.h"
#include "app/train/pretrain.h"
#include "engine/core/error.h"

namespace app {
namespace {

struct PretrainArgs {
  train::PretrainOptions o;
  std::string train_config;
};

void run(PretrainArgs& args, const CLI::App& sub) {
  if (!args.train_config.empty()) {
    std::ifstream in(args.train_config);
    engine::check<engine::IOError>(in.good(), "[pretrain] cannot read --train-config ", args.train_config);
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
      engine::fail<engine::IOError>("[pretrain] ", args.train_config, ": ", e.what());
    }
    train::apply_json(args.o.train, j, &sub);
  }
  const train::PretrainResult r = train::run_pretrain(args.o);
  const train::TrainResult& t = r.train;
  std::printf("pretrain %s: %lld parameters, %zu training blocks, %zu held out\n", args.o.arch.c_str(),
              (long long)r.parameters, r.train_blocks, r.eval_blocks);
  if (t.steps == t.resumed_from && !t.interrupted)
    std::printf("the checkpoint in %s/training is already at step %lld of %lld", args.o.out.c_str(),
                (long long)t.steps, (long long)t.total_steps);
  else
    std::printf("%lld/%lld steps (resumed from %lld) in %.1f s, %.0f tokens; last loss %.4f", (long long)t.steps,
                (long long)t.total_steps, (long long)t.resumed_from, t.seconds, t.tokens, t.last_loss);
  for (const auto& [k, v] : t.last_eval) std::printf(", %s %.4f", k.c_str(), v);
  std::printf("\n");
  if (t.interrupted)
    std::printf("interrupted: checkpoint saved; run the same command again to resume\n");
  else
    std::printf("saved %s (config.json, model.safetensors, tokenizer files)\n", r.folder.string().c_str());
}

const Command kPretrain("pretrain", "Pretrain a small GPT-2 / BERT / T5 from scratch", [](CLI::App& sub) {
  auto args = std::make_shared<PretrainArgs>();
  train::PretrainOptions& o = args->o;
  sub.add_option("--arch", o.arch, "gpt2 (causal LM) | bert (masked LM) | t5 (span corruption)")
      ->check(CLI::IsMember({"gpt2", "bert", "t5"}))
      ->capture_default_str();
  auto* corpus = sub.add_option("--corpus", o.corpus, "a text corpus file (documents = paragraphs)");
  sub.add_flag("--generated", o.generated, "use the repository's generated corpus")->excludes(corpus);
  sub.add_option("--documents", o.generated_documents, "documents of the generated corpus")->capture_default_str();
  sub.add_option("--corpus-seed", o.corpus_seed, "seed of the generated corpus")->capture_default_str();
  sub.add_option("--tokenizer", o.tokenizer, "a tokenizer folder (default: train one on the corpus)");
  sub.add_option("--vocab-size", o.vocab_size, "vocabulary of the trained tokenizer")->capture_default_str();
  sub.add_option("--layers", o.layers, "transformer layers (T5: per stack)")->capture_default_str();
  sub.add_option("--hidden", o.hidden, "hidden size")->capture_default_str();
  sub.add_option("--heads", o.heads, "attention heads")->capture_default_str();
  sub.add_option("--ffn", o.ffn, "feed-forward size (0: 4 * hidden)")->capture_default_str();
  sub.add_option("--context", o.context, "tokens per training block")->capture_default_str();
  sub.add_option("--dropout", o.dropout, "dropout probability")->capture_default_str();
  sub.add_option("--config", o.config, "a model config.json (replaces the size flags)");
  sub.add_option("--eval-fraction", o.eval_fraction, "blocks held out for eval_loss")->capture_default_str();
  sub.add_option("--out", o.out, "output folder (HF checkpoint)")->required();
  sub.add_option("--train-config", args->train_config, "training options as JSON (flags win)");
  o.train.lr = 2e-3;
  o.train.batch_size = 16;
  o.train.max_steps = 0;
  o.train.epochs = 1;
  o.train.warmup_ratio = 0.05;
  o.train.schedule = "cosine";
  o.train.log_every = 20;
  o.train.save_every = 100;  // a killed run loses at most 100 steps
  o.train.eval_every = 100;
  train::add_train_flags(sub, o.train);
  sub.callback([args, &sub] { run(*args, sub); });
});

}  // namespace
}  // namespace app
