// The unpickler's stack machine. Opcode names and layouts follow CPython's Lib/pickletools.py;
// only the data-building subset is implemented, by design: no INST/OBJ/NEWOBJ, no EXT codes.
#include "engine/io/pickle.h"

#include <bit>
#include <cstdio>
#include <cstring>
#include <unordered_map>

#include "engine/core/error.h"
#include "engine/io/st_detail.h"

namespace engine::io {

const char* PyValue::kind_name() const {
  static const char* names[] = {"None", "bool", "int",    "float",  "str",
                                "tuple", "list", "dict", "global", "object"};
  return names[static_cast<int>(kind)];
}

namespace {

PyPtr make(PyValue::Kind k) {
  auto v = std::make_shared<PyValue>();
  v->kind = k;
  return v;
}
PyPtr make_int(PyValue::Kind k, int64_t i) {
  auto v = make(k);
  v->i = i;
  return v;
}
PyPtr make_str(PyValue::Kind k, std::string s) {
  auto v = make(k);
  v->s = std::move(s);
  return v;
}

class Machine {
 public:
  Machine(std::span<const uint8_t> bytes, const UnpickleHooks& hooks, const std::string& where)
      : in_(bytes), hooks_(hooks), where_(where) {}

  PyPtr run() {
    while (true) {
      const uint8_t op = take(1)[0];
      if (op == '.') return pop();  // STOP
      step(op);
    }
  }

 private:
  template <typename... Args>
  [[noreturn]] void bad(const Args&... args) const {
    fail<IOError>("unpickle ", where_, ": ", args..., " (at byte ", pos_, ")");
  }

  const uint8_t* take(size_t n) {
    if (n > in_.size() - pos_) bad("truncated pickle");
    const uint8_t* p = in_.data() + pos_;
    pos_ += n;
    return p;
  }
  uint64_t take_le(int n) { return detail::load_le(take(n), n); }
  std::string take_str(size_t n) { return std::string(reinterpret_cast<const char*>(take(n)), n); }
  std::string take_line() {
    const size_t start = pos_;
    while (take(1)[0] != '\n') {}
    return std::string(reinterpret_cast<const char*>(in_.data() + start), pos_ - start - 1);
  }

  void push(PyPtr v) { stack_.push_back(std::move(v)); }
  PyPtr pop() {
    if (stack_.size() <= floor()) bad("stack underflow");
    PyPtr v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  PyPtr& top() {
    if (stack_.size() <= floor()) bad("stack underflow");
    return stack_.back();
  }
  size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
  // The items pushed since the last MARK, which is removed.
  std::vector<PyPtr> pop_mark() {
    if (marks_.empty()) bad("MARK expected");
    const size_t m = marks_.back();
    marks_.pop_back();
    std::vector<PyPtr> items(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
    stack_.resize(m);
    return items;
  }

  PyPtr tuple(std::vector<PyPtr> items) {
    auto t = make(PyValue::Kind::Tuple);
    t->items = std::move(items);
    return t;
  }
  void put(uint64_t key) { memo_[key] = top(); }
  void get(uint64_t key) {
    auto it = memo_.find(key);
    if (it == memo_.end()) bad("memo key ", key, " was never stored");
    push(it->second);
  }
  void global(const std::string& module, const std::string& name) {
    push(hooks_.find_class(module, name));
  }
  void set_items(PyPtr& target, const std::vector<PyPtr>& kv) {
    if (!target->is(PyValue::Kind::Dict)) bad("SETITEM(S) on a ", target->kind_name());
    if (kv.size() % 2) bad("SETITEMS with an odd number of items");
    for (size_t i = 0; i < kv.size(); i += 2) target->dict.emplace_back(kv[i], kv[i + 1]);
  }
  void append(PyPtr& target, const std::vector<PyPtr>& items) {
    if (!target->is(PyValue::Kind::List)) bad("APPEND(S) on a ", target->kind_name());
    target->items.insert(target->items.end(), items.begin(), items.end());
  }
  PyPtr long1(size_t n) {  // little-endian two's complement
    if (n > 8) bad("LONG1 of ", n, " bytes does not fit in 64 bits");
    uint64_t u = n ? take_le(int(n)) : 0;
    if (n && n < 8 && (u >> (8 * n - 1)) & 1) u |= ~uint64_t(0) << (8 * n);  // sign-extend
    return make_int(PyValue::Kind::Int, static_cast<int64_t>(u));
  }

  void step(uint8_t op);

  std::span<const uint8_t> in_;
  size_t pos_ = 0;
  const UnpickleHooks& hooks_;
  const std::string& where_;
  std::vector<PyPtr> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, PyPtr> memo_;
};

void Machine::step(uint8_t op) {
  using K = PyValue::Kind;
  switch (op) {
    case 0x80: take(1); break;                      // PROTO
    case 0x95: take(8); break;                      // FRAME: framing is only a hint
    case '(': marks_.push_back(stack_.size()); break;  // MARK
    case '}': push(make(K::Dict)); break;           // EMPTY_DICT
    case ']': push(make(K::List)); break;           // EMPTY_LIST
    case ')': push(make(K::Tuple)); break;          // EMPTY_TUPLE
    case 'N': push(make(K::None)); break;           // NONE
    case 0x88: push(make_int(K::Bool, 1)); break;   // NEWTRUE
    case 0x89: push(make_int(K::Bool, 0)); break;   // NEWFALSE
    case 'J': push(make_int(K::Int, int32_t(take_le(4)))); break;  // BININT
    case 'K': push(make_int(K::Int, take_le(1))); break;           // BININT1
    case 'M': push(make_int(K::Int, take_le(2))); break;           // BININT2
    case 0x8a: push(long1(take_le(1))); break;                     // LONG1
    case 'G': {                                                    // BINFLOAT, big-endian
      uint64_t u = 0;
      for (const uint8_t* p = take(8), *e = p + 8; p < e; ++p) u = (u << 8) | *p;
      auto v = make(K::Float);
      v->f = std::bit_cast<double>(u);
      push(v);
      break;
    }
    case 'X': push(make_str(K::Str, take_str(take_le(4)))); break;     // BINUNICODE
    case 0x8c: push(make_str(K::Str, take_str(take_le(1)))); break;    // SHORT_BINUNICODE
    case 0x8d: push(make_str(K::Str, take_str(take_le(8)))); break;    // BINUNICODE8
    case 't': push(tuple(pop_mark())); break;                          // TUPLE
    case 0x85: { auto a = pop(); push(tuple({a})); break; }            // TUPLE1
    case 0x86: { auto b = pop(), a = pop(); push(tuple({a, b})); break; }  // TUPLE2
    case 0x87: { auto c = pop(), b = pop(), a = pop(); push(tuple({a, b, c})); break; }  // TUPLE3
    case 'q': put(take_le(1)); break;               // BINPUT
    case 'r': put(take_le(4)); break;               // LONG_BINPUT
    case 0x94: put(memo_.size()); break;            // MEMOIZE
    case 'h': get(take_le(1)); break;               // BINGET
    case 'j': get(take_le(4)); break;               // LONG_BINGET
    case '0': pop(); break;                         // POP
    case '1': pop_mark(); break;                    // POP_MARK
    case '2': push(top()); break;                   // DUP
    case 'c': { auto m = take_line(); global(m, take_line()); break; }  // GLOBAL
    case 0x93: {                                    // STACK_GLOBAL
      auto name = pop(), module = pop();
      if (!module->is(K::Str) || !name->is(K::Str)) bad("STACK_GLOBAL needs two str");
      global(module->s, name->s);
      break;
    }
    case 'R': { auto args = pop(); auto fn = pop(); push(hooks_.reduce(fn, args)); break; }  // REDUCE
    case 'Q': push(hooks_.persistent_load(pop())); break;  // BINPERSID
    case 's': { auto v = pop(), k = pop(); set_items(top(), {k, v}); break; }  // SETITEM
    case 'u': { auto kv = pop_mark(); set_items(top(), kv); break; }          // SETITEMS
    case 'a': { auto v = pop(); append(top(), {v}); break; }                  // APPEND
    case 'e': { auto items = pop_mark(); append(top(), items); break; }       // APPENDS
    case 'b': pop(); break;  // BUILD: the state (e.g. a state dict's _metadata) is not needed
    default: {
      char buf[8];
      std::snprintf(buf, sizeof buf, "0x%02x", op);
      bad("unsupported pickle opcode ", buf,
          (op >= 0x20 && op < 0x7f) ? std::string(" '") + char(op) + "'" : std::string(),
          " (the restricted unpickler only reads plain data and tensors)");
    }
  }
}

}  // namespace

PyPtr unpickle(std::span<const uint8_t> bytes, const UnpickleHooks& hooks,
               const std::string& where) {
  return Machine(bytes, hooks, where).run();
}

}  // namespace engine::io
