// Plain-text corpora (../shared/data/tinyshakespeare style: one text file) read into
// documents for language-model pretraining: either every non-blank line, or paragraphs
// separated by blank lines (a paragraph's lines joined by "\n").
#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace app::corpus {

enum class DocumentSplit { lines, paragraphs };

// Throws engine::IOError naming the file when it is missing, unreadable, not UTF-8, or holds
// no text (only whitespace).
std::vector<std::string> read_documents(const std::filesystem::path& path,
                                        DocumentSplit split = DocumentSplit::paragraphs);

// Same split applied to text already in memory; `source` names it in the error.
std::vector<std::string> split_documents(const std::string& text, DocumentSplit split, const std::string& source);

}  // namespace app::corpus
