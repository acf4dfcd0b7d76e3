// Temp file + fsync + rename: rename(2) within one folder is atomic on POSIX file systems.
#include "engine/io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "engine/core/error.h"

namespace engine::io {
namespace {

// std::ofstream exposes no descriptor, so durability comes from reopening the closed file:
// fsync on any descriptor of a file flushes that file's data on Linux.
void fsync_path(const std::filesystem::path& p, bool directory) {
  int fd = ::open(p.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) {
    if (directory) return;  // some file systems refuse to open folders; the rename still holds
    fail<IOError>("cannot reopen '", p.string(), "' to sync it: ", std::strerror(errno));
  }
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  check<IOError>(rc == 0 || directory, "fsync of '", p.string(), "' failed: ", std::strerror(err));
}

std::filesystem::path temp_path_for(const std::filesystem::path& path) {
  return path.string() + ".tmp." + std::to_string(::getpid());
}

void write_temp(const std::filesystem::path& tmp, const std::filesystem::path& path,
                const std::function<void(std::ostream&)>& write) {
  std::ofstream os(tmp, std::ios::binary | std::ios::trunc);
  check<IOError>(os.is_open(), "cannot create '", tmp.string(), "' to write '", path.string(),
                 "': ", std::strerror(errno));
  write(os);
  os.flush();
  check<IOError>(os.good(), "writing '", path.string(), "' failed (disk full?)");
  os.close();
  check<IOError>(!os.fail(), "closing '", tmp.string(), "' failed");
}

}  // namespace

void atomic_write(const std::filesystem::path& path,
                  const std::function<void(std::ostream&)>& write) {
  check<IOError>(!path.empty() && path.has_filename(), "atomic_write: invalid path '",
                 path.string(), "'");
  std::filesystem::path parent = path.parent_path();
  std::error_code ec;
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  check<IOError>(!ec, "cannot create folder '", parent.string(), "': ", ec.message());

  const std::filesystem::path tmp = temp_path_for(path);
  try {
    write_temp(tmp, path, write);
    fsync_path(tmp, false);
    std::filesystem::rename(tmp, path, ec);
    check<IOError>(!ec, "cannot rename '", tmp.string(), "' to '", path.string(),
                   "': ", ec.message());
  } catch (...) {
    std::filesystem::remove(tmp, ec);
    throw;
  }
  fsync_path(parent.empty() ? std::filesystem::path(".") : parent, true);
}

void atomic_write_text(const std::filesystem::path& path, const std::string& text) {
  atomic_write(path, [&](std::ostream& os) { os.write(text.data(), std::streamsize(text.size())); });
}

}  // namespace engine::io
