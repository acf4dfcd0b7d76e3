// save_atomically: a trained tokenizer's HF files, all or nothing. Tokenizer::save writes
// plain files, so it writes into a staging folder beside the target first; a failure there
// leaves the target untouched.
#include <unistd.h>

#include <filesystem>
#include <system_error>

#include "engine/core/error.h"
#include "engine/io/atomic_file.h"
#include "models/tokenizers/hf_files.h"
#include "models/tokenizers/train/train.h"

namespace models::train {
namespace fs = std::filesystem;

namespace {

// Moves every file of `staging` into the existing folder `target`, each one atomically.
void replace_files(const fs::path& staging, const fs::path& target) {
  for (const fs::directory_entry& entry : fs::directory_iterator(staging))
    engine::io::atomic_write_text(target / entry.path().filename(), hf::read_file(entry.path()));
}

}  // namespace

void save_atomically(const Tokenizer& tokenizer, const fs::path& folder) {
  fs::path target = folder.lexically_normal();
  if (!target.has_filename()) target = target.parent_path();  // "out/" -> "out"
  engine::check<engine::IOError>(!fs::exists(target) || fs::is_directory(target), "[tokenizer train] ",
                                 target.string(), " exists and is not a folder");
  fs::path staging = target;
  staging += ".tmp." + std::to_string(::getpid());
  std::error_code ec;
  fs::remove_all(staging, ec);
  try {
    tokenizer.save(staging);
    if (fs::exists(target)) {
      replace_files(staging, target);
      fs::remove_all(staging);
    } else {
      if (target.has_parent_path()) fs::create_directories(target.parent_path());
      fs::rename(staging, target);  // the whole folder appears at once
    }
  } catch (const fs::filesystem_error& e) {
    fs::remove_all(staging, ec);
    engine::fail<engine::IOError>("[tokenizer train] cannot save to ", target.string(), ": ", e.what());
  } catch (...) {
    fs::remove_all(staging, ec);
    throw;
  }
}

}  // namespace models::train
