// Reading text data files: whole-file reads that reject missing, empty and non-UTF-8 files with
// one readable line (file, line, byte offset), and plain-text corpora.
#pragma once
#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace app::data {

// The file's bytes, checked to be valid UTF-8 and non-empty; a leading UTF-8 BOM is dropped.
// Throws engine::IOError "<file>: empty file" / "<file>:<line>: wrong encoding: invalid UTF-8
// at byte <offset>" / "<file>: cannot open".
std::string read_text_file(const std::filesystem::path& path);

// Byte offset of the first invalid UTF-8 sequence, or npos when the text is valid.
size_t find_invalid_utf8(std::string_view text);

// 1-based line number of a byte offset.
size_t line_at(std::string_view text, size_t offset);

// A plain-text corpus (language modelling): the whole text, validated as above.
inline std::string read_corpus(const std::filesystem::path& path) { return read_text_file(path); }

// The file's lines without their "\n" / "\r\n" endings; a final newline adds no empty line.
std::vector<std::string> read_lines(const std::filesystem::path& path);

}  // namespace app::data
