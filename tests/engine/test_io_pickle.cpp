// The restricted unpickler on plain-data pickles (bytes from CPython's pickle.dumps, protocols
// 2 and 4), and its refusals.
#include <gtest/gtest.h>

#include "engine/core/error.h"
#include "engine/io/pickle.h"

using namespace engine::io;
using K = PyValue::Kind;

namespace {

// pickle.dumps({'ints': [0, 255, 256, 65535, 65536, -1, -(1<<31), 1<<40, -(1<<40), (1<<63)-1],
//               'f': 2.5, 't': (True, False, None), 's': 'ü'}, protocol)
const std::string kProto2(
    "\x80\x02\x7d\x71\x00\x28\x58\x04\x00\x00\x00\x69\x6e\x74\x73\x71\x01\x5d\x71\x02\x28\x4b\x00"
    "\x4b\xff\x4d\x00\x01\x4d\xff\xff\x4a\x00\x00\x01\x00\x4a\xff\xff\xff\xff\x4a\x00\x00\x00\x80"
    "\x8a\x06\x00\x00\x00\x00\x00\x01\x8a\x06\x00\x00\x00\x00\x00\xff\x8a\x08\xff\xff\xff\xff\xff"
    "\xff\xff\x7f\x65\x58\x01\x00\x00\x00\x66\x71\x03\x47\x40\x04\x00\x00\x00\x00\x00\x00\x58\x01"
    "\x00\x00\x00\x74\x71\x04\x88\x89\x4e\x87\x71\x05\x58\x01\x00\x00\x00\x73\x71\x06\x58\x02\x00"
    "\x00\x00\xc3\xbc\x71\x07\x75\x2e", 123);
const std::string kProto4(
    "\x80\x04\x95\x62\x00\x00\x00\x00\x00\x00\x00\x7d\x94\x28\x8c\x04\x69\x6e\x74\x73\x94\x5d\x94"
    "\x28\x4b\x00\x4b\xff\x4d\x00\x01\x4d\xff\xff\x4a\x00\x00\x01\x00\x4a\xff\xff\xff\xff\x4a\x00"
    "\x00\x00\x80\x8a\x06\x00\x00\x00\x00\x00\x01\x8a\x06\x00\x00\x00\x00\x00\xff\x8a\x08\xff\xff"
    "\xff\xff\xff\xff\xff\x7f\x65\x8c\x01\x66\x94\x47\x40\x04\x00\x00\x00\x00\x00\x00\x8c\x01\x74"
    "\x94\x88\x89\x4e\x87\x94\x8c\x01\x73\x94\x8c\x02\xc3\xbc\x94\x75\x2e", 109);

// Hooks that allow nothing: plain data never needs them.
UnpickleHooks refuse_all() {
  return {[](const std::string& m, const std::string& n) -> PyPtr {
            throw engine::IOError("refused " + m + "." + n);
          },
          [](const PyPtr&, const PyPtr&) -> PyPtr { throw engine::IOError("refused REDUCE"); },
          [](const PyPtr&) -> PyPtr { throw engine::IOError("refused BINPERSID"); }};
}

PyPtr run(const std::string& bytes) {
  return unpickle({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}, refuse_all(),
                  "test");
}

const PyPtr& lookup(const PyPtr& dict, const std::string& key) {
  for (const auto& [k, v] : dict->dict)
    if (k->is(K::Str) && k->s == key) return v;
  throw std::runtime_error("no key " + key);
}

}  // namespace

TEST(IoPickle, PlainDataInProtocols2And4) {
  for (const std::string* bytes : {&kProto2, &kProto4}) {
    const PyPtr top = run(*bytes);
    ASSERT_TRUE(top->is(K::Dict));
    ASSERT_EQ(top->dict.size(), 4u);
    EXPECT_EQ(top->dict[0].first->s, "ints");  // insertion order kept
    std::vector<int64_t> ints;
    for (const auto& v : lookup(top, "ints")->items) {
      ASSERT_TRUE(v->is(K::Int));
      ints.push_back(v->i);
    }
    EXPECT_EQ(ints, (std::vector<int64_t>{0, 255, 256, 65535, 65536, -1, INT32_MIN, int64_t(1) << 40,
                                          -(int64_t(1) << 40), INT64_MAX}));
    EXPECT_EQ(lookup(top, "f")->f, 2.5);
    const auto& t = lookup(top, "t");
    ASSERT_TRUE(t->is(K::Tuple));
    ASSERT_EQ(t->items.size(), 3u);
    EXPECT_TRUE(t->items[0]->is(K::Bool) && t->items[0]->i == 1);
    EXPECT_TRUE(t->items[1]->is(K::Bool) && t->items[1]->i == 0);
    EXPECT_TRUE(t->items[2]->is(K::None));
    EXPECT_EQ(lookup(top, "s")->s, "\xc3\xbc");
  }
}

TEST(IoPickle, GlobalsGoThroughTheHook) {
  // pickle.dumps(os.system, 2) on Linux: GLOBAL 'posix system'
  try {
    run(std::string("\x80\x02" "cposix\nsystem\nq\x00.", 19));
    FAIL() << "expected the hook's refusal";
  } catch (const engine::IOError& e) {
    EXPECT_STREQ(e.what(), "refused posix.system");
  }
}

TEST(IoPickle, UnknownOpcodesAndMalformedStreamsAreIOErrors) {
  auto expect_error = [](const std::string& bytes, const std::string& phrase) {
    try {
      run(bytes);
      ADD_FAILURE() << "no error, expected: " << phrase;
    } catch (const engine::IOError& e) {
      EXPECT_NE(std::string(e.what()).find(phrase), std::string::npos) << e.what();
    }
  };
  expect_error(std::string("\x80\x02(i__main__\nX\n.", 16), "unsupported pickle opcode 0x69 'i'");
  expect_error("\x80\x02t.", "MARK expected");
  expect_error("\x80\x02.", "stack underflow");
  expect_error("\x80\x02h\x05.", "memo key 5 was never stored");
  expect_error(std::string("\x80\x02X\xff\x00\x00\x00" "ab", 9), "truncated pickle");
  expect_error(std::string("\x80\x02K\x00K\x01K\x02s.", 10), "SETITEM(S) on a int");
}
