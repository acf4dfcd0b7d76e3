// Unit tests of the tokenizers' Unicode layer (UTF-8, NFD/NFC, Python's lower()), GPT-2's
// hand-written pre-tokeniser and transformers' clean_up_tokenization.
#include <gtest/gtest.h>

#include "models/tokenizers/gpt2_pretokenize.h"
#include "models/tokenizers/tokenizer.h"
#include "models/tokenizers/unicode/unicode.h"

namespace {

namespace u = models::unicode;

std::string nfc(const std::string& s) { return u::to_utf8(u::nfc(u::to_u32(s))); }
std::string nfd(const std::string& s) { return u::to_utf8(u::nfd(u::to_u32(s))); }
std::string lower(const std::string& s, bool final_sigma = true) {
  return u::to_utf8(u::to_lower(u::to_u32(s), final_sigma));
}

TEST(TokenizerUnicode, Utf8RoundTripAndPythonReplacement) {
  const std::string text = "a\u00e9\u4e2d\U0001F642";
  EXPECT_EQ(u::to_u32(text), (std::u32string{U'a', 0xE9, 0x4E2D, 0x1F642}));
  EXPECT_EQ(u::to_utf8(u::to_u32(text)), text);
  // Python: b"\xe2\x82a".decode("utf-8", "replace") == "\ufffda" (one U+FFFD per maximal subpart).
  EXPECT_EQ(u::decode_utf8_replace("\xe2\x82"
                                   "a"),
            "\ufffd"
            "a");
  EXPECT_EQ(u::decode_utf8_replace("\xff\xfe"), "\ufffd\ufffd");
  EXPECT_EQ(u::decode_utf8_replace("x\xf0\x9f\x98"), "x\ufffd");
  EXPECT_EQ(u::decode_utf8_replace("\xed\xa0\x80"), "\ufffd\ufffd\ufffd");  // a surrogate
}

TEST(TokenizerUnicode, Categories) {
  EXPECT_EQ(u::category(U'a'), "Ll");
  EXPECT_EQ(u::category(U'A'), "Lu");
  EXPECT_EQ(u::category(0x4E2D), "Lo");
  EXPECT_EQ(u::category(U'7'), "Nd");
  EXPECT_EQ(u::category(0x00BD), "No");
  EXPECT_EQ(u::category(0x0301), "Mn");
  EXPECT_EQ(u::category(0x00AD), "Cf");
  EXPECT_EQ(u::category(0x00A0), "Zs");
  EXPECT_EQ(u::category(U'!'), "Po");
  EXPECT_EQ(u::category(0x10FFFF), "Cn");
  EXPECT_TRUE(u::is_py_space(0x1C));
  EXPECT_FALSE(u::is_white_space(0x1C));
  EXPECT_TRUE(u::is_white_space(0x3000));
  EXPECT_FALSE(u::is_white_space(0x200B));
}

TEST(TokenizerUnicode, Normalisation) {
  EXPECT_EQ(nfd("\u00e9"), "e\u0301");
  EXPECT_EQ(nfc("e\u0301"), "\u00e9");
  EXPECT_EQ(nfd("\u1e69"), "s\u0323\u0307");         // ṩ: two marks
  EXPECT_EQ(nfd("a\u0307\u0323"), "a\u0323\u0307");  // canonical reordering
  EXPECT_EQ(nfc("a\u0307\u0323"), "\u1ea1\u0307");   // ạ + dot above
  EXPECT_EQ(nfd("\ud55c"), "\u1112\u1161\u11ab");    // 한: Hangul arithmetic
  EXPECT_EQ(nfc("\u1112\u1161\u11ab"), "\ud55c");
  EXPECT_EQ(nfc("\u212b"), "\u00c5");        // Angstrom sign -> Å (singleton)
  EXPECT_EQ(nfc("\ufb01"), "\ufb01");        // ﬁ is a compatibility form: kept
  EXPECT_EQ(nfc("\u0344"), "\u0308\u0301");  // composition exclusion
}

TEST(TokenizerUnicode, PythonLower) {
  EXPECT_EQ(lower("HeLLo \u00c0\u00c9"), "hello \u00e0\u00e9");
  EXPECT_EQ(lower("\u0130"), "i\u0307");  // İ: full case mapping, two code points
  EXPECT_EQ(lower("\u039f\u0394\u039f\u03a3 \u03a3"),
            "\u03bf\u03b4\u03bf\u03c2 \u03c3");  // ΟΔΟΣ Σ: final sigma
  EXPECT_EQ(lower("\u039f\u0394\u039f\u03a3", /*final_sigma=*/false), "\u03bf\u03b4\u03bf\u03c3");
}

TEST(TokenizerUnicode, Gpt2PreTokenizer) {
  using V = std::vector<std::string>;
  EXPECT_EQ(models::gpt2_pretokenize("Hello  world"), (V{"Hello", " ", " world"}));
  EXPECT_EQ(models::gpt2_pretokenize("it's they'RE"), (V{"it", "'s", " they", "'", "RE"}));
  EXPECT_EQ(models::gpt2_pretokenize("a\n\nb"), (V{"a", "\n", "\n", "b"}));
  EXPECT_EQ(models::gpt2_pretokenize("x  "), (V{"x", "  "}));
  EXPECT_EQ(models::gpt2_pretokenize("3.14 !!?"), (V{"3", ".", "14", " !!?"}));
  EXPECT_EQ(models::gpt2_pretokenize("caf\u00e9 \u4e2d\u6587"), (V{"caf\u00e9", " \u4e2d\u6587"}));
  EXPECT_EQ(models::gpt2_pretokenize(""), V{});
}

TEST(TokenizerUnicode, ByteToUnicodeIsABijection) {
  const auto& map = models::byte_to_unicode();
  EXPECT_EQ(map[' '], "\u0120");  // Ġ
  EXPECT_EQ(map['a'], "a");
  for (int b = 0; b < 256; ++b) EXPECT_EQ(models::unicode_to_byte(u::to_u32(map[b])[0]), b);
  EXPECT_EQ(models::unicode_to_byte(0x4E2D), -1);
}

TEST(TokenizerUnicode, CleanUpTokenization) {
  EXPECT_EQ(models::clean_up_tokenization("hello , world ! is it ? yes ."), "hello, world! is it? yes.");
  EXPECT_EQ(models::clean_up_tokenization("do n't i 'm it 's we 've they 're rock ' n"),
            "don't i'm it's we've they're rock'n");
}

}  // namespace
