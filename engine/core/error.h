// Typed errors. Every error names what failed (the op, the shapes, the key, the file) so the
// CLI can print it as one readable line. Library code throws; it never calls exit().
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace engine {

// Base of every error thrown by peft.cpp's libraries.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class ShapeError : public Error { using Error::Error; };    // incompatible shapes
class DTypeError : public Error { using Error::Error; };    // unsupported or mismatched dtype
class ValueError : public Error { using Error::Error; };     // a bad argument value
class IndexError : public Error { using Error::Error; };    // an index out of range
class IOError : public Error { using Error::Error; };       // a file missing, unreadable, malformed
class KeyError : public Error { using Error::Error; };      // a missing / unexpected name
class ConfigError : public Error { using Error::Error; };   // an invalid configuration value
class NoKernelError : public Error { using Error::Error; };  // no kernel for this op on this device
class AutogradError : public Error { using Error::Error; };  // misuse of backward / graph

// "[1,2,3]"
std::string shape_str(const std::vector<int64_t>& shape);

// Builds a message from any streamable pieces: fail<ShapeError>("[matmul] ", a, " @ ", b).
template <typename E = Error, typename... Args>
[[noreturn]] void fail(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  throw E(os.str());
}

// ENGINE_CHECK(E, cond, pieces...) throws E built from the pieces when cond is false; the
// pieces (shape strings, virtual calls) are evaluated only on failure, so it is the form to use
// on hot paths and in constructors.
#define ENGINE_CHECK(E, cond, ...)                   \
  do {                                               \
    if (!(cond)) ::engine::fail<E>(__VA_ARGS__);     \
  } while (0)

// check<E>(cond, pieces...): the function form, for pieces that are cheap to pass.
template <typename E = Error, typename... Args>
inline void check(bool cond, const Args&... args) {
  if (!cond) fail<E>(args...);
}

}  // namespace engine
