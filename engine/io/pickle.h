// A restricted Python unpickler: it builds plain values (None, bool, int, float, str, tuple,
// list, dict) and never runs code. Every GLOBAL, REDUCE and persistent id goes through hooks the
// caller supplies (torch_pickle.cpp whitelists the few that a state dict needs); an opcode it
// does not know is an IOError naming it.
#pragma once
#include <any>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace engine::io {

struct PyValue;
using PyPtr = std::shared_ptr<PyValue>;

struct PyValue {
  enum class Kind { None, Bool, Int, Float, Str, Tuple, List, Dict, Global, Object };
  Kind kind = Kind::None;
  int64_t i = 0;                               // Bool, Int
  double f = 0;                                // Float
  std::string s;                               // Str; Global as "module.name"
  std::vector<PyPtr> items;                    // Tuple, List
  std::vector<std::pair<PyPtr, PyPtr>> dict;   // Dict, in insertion order
  std::any object;                             // Object: whatever a hook built

  bool is(Kind k) const { return kind == k; }
  const char* kind_name() const;
};

struct UnpickleHooks {
  // GLOBAL / STACK_GLOBAL: return a value standing for module.name, or throw to refuse it.
  std::function<PyPtr(const std::string& module, const std::string& name)> find_class;
  // REDUCE: callable(*args), where callable came from find_class.
  std::function<PyPtr(const PyPtr& callable, const PyPtr& args)> reduce;
  // BINPERSID: the object a persistent id stands for.
  std::function<PyPtr(const PyPtr& pid)> persistent_load;
};

// Interprets `bytes` (protocols 2-5, the opcodes a state dict uses) and returns the top value.
// `where` names the source in error messages ("'model.bin' data.pkl").
PyPtr unpickle(std::span<const uint8_t> bytes, const UnpickleHooks& hooks, const std::string& where);

}  // namespace engine::io
