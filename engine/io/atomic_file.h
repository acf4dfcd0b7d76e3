// Atomic file writes: every writer in the project (checkpoints, adapters, configs) goes through
// here so that a crash or an exception never leaves a half-written file under the final name.
#pragma once
#include <filesystem>
#include <functional>
#include <ostream>
#include <string>

namespace engine::io {

// Writes `path` via `<path>.tmp.<pid>`: `write` fills the stream, then the temp file is fsynced
// and renamed over `path` (creating parent folders as needed). If `write` throws, the temp file
// is removed, `path` is left as it was and the exception propagates unchanged.
void atomic_write(const std::filesystem::path& path,
                  const std::function<void(std::ostream&)>& write);

void atomic_write_text(const std::filesystem::path& path, const std::string& text);

}  // namespace engine::io
