// Reading plain-text corpora into documents (see text_corpus.h).
#include "app/corpus/text_corpus.h"

#include <sstream>

#include "app/data/text_file.h"
#include "engine/core/error.h"

namespace app::corpus {
namespace {

bool blank(const std::string& line) { return line.find_first_not_of(" \t\r\f\v") == std::string::npos; }

}  // namespace

std::vector<std::string> split_documents(const std::string& text, DocumentSplit split, const std::string& source) {
  std::vector<std::string> docs;
  std::istringstream in(text);
  std::string line, paragraph;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (split == DocumentSplit::lines) {
      if (!blank(line)) docs.push_back(line);
    } else if (blank(line)) {
      if (!paragraph.empty()) docs.push_back(std::move(paragraph));
      paragraph.clear();
    } else {
      paragraph += (paragraph.empty() ? "" : "\n") + line;
    }
  }
  if (!paragraph.empty()) docs.push_back(std::move(paragraph));
  engine::check<engine::IOError>(!docs.empty(), "[corpus] ", source, ": no text (only whitespace)");
  return docs;
}

std::vector<std::string> read_documents(const std::filesystem::path& path, DocumentSplit split) {
  return split_documents(data::read_text_file(path), split, path.string());
}

}  // namespace app::corpus
