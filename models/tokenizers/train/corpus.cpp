// Reading and counting the training corpus. Counting runs per thread over blocks of lines
// (pre-tokenisation is the costly part), then the per-thread tables are summed.
#include "models/tokenizers/train/corpus.h"

#include <tbb/blocked_range.h>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include "engine/core/error.h"

namespace models::train {

std::vector<std::string> read_corpus(const std::vector<std::filesystem::path>& files) {
  std::vector<std::string> texts;
  for (const std::filesystem::path& file : files) {
    engine::check<engine::IOError>(std::filesystem::is_regular_file(file),
                                   "[tokenizer train] no such corpus file: ", file.string());
    std::ifstream in(file, std::ios::binary);
    engine::check<engine::IOError>(in.good(), "[tokenizer train] cannot open ", file.string());
    std::ostringstream ss;
    ss << in.rdbuf();
    engine::check<engine::IOError>(!in.bad(), "[tokenizer train] failed reading ", file.string());
    texts.push_back(std::move(ss).str());
  }
  return texts;
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  for (std::size_t start = 0; start < text.size();) {
    std::size_t end = text.find('\n', start);
    end = end == std::string_view::npos ? text.size() : end + 1;
    lines.push_back(text.substr(start, end - start));
    start = end;
  }
  return lines;
}

WordCounts count_words(std::span<const std::string> texts, const WordSplitter& split) {
  std::vector<std::string_view> lines;
  for (const std::string& text : texts)
    for (std::string_view line : split_lines(text)) lines.push_back(line);

  using Table = std::unordered_map<std::string, uint64_t>;
  tbb::enumerable_thread_specific<Table> tables;
  tbb::parallel_for(tbb::blocked_range<std::size_t>(0, lines.size(), 256), [&](const auto& range) {
    Table& table = tables.local();
    for (std::size_t i = range.begin(); i < range.end(); ++i)
      for (std::string& word : split(lines[i])) ++table[std::move(word)];
  });
  Table total;
  for (Table& table : tables)
    for (auto& [word, n] : table) total[word] += n;

  WordCounts out;
  out.reserve(total.size());
  for (auto& [word, n] : total) out.push_back({word, n});
  std::sort(out.begin(), out.end(), [](const WordCount& a, const WordCount& b) { return a.word < b.word; });
  return out;
}

uint64_t total_count(const WordCounts& words) {
  uint64_t n = 0;
  for (const WordCount& w : words) n += w.count;
  return n;
}

}  // namespace models::train
