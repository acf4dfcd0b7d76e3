// WebNLG 2017 readers: the challenge XML and the prefix-tuning JSON layout (see data_to_text.h).
// The XML is simple and regular (entries, triples, lexicalisations), so a small scanner reads it
// instead of pulling in an XML library.
#include <algorithm>
#include <string_view>

#include <nlohmann/json.hpp>

#include "app/data/data_to_text.h"
#include "app/data/text_file.h"
#include "engine/core/error.h"

namespace app::data {
namespace {

std::string unescape_xml(std::string_view s, const std::string& where) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      out += s[i];
      continue;
    }
    const size_t semi = s.find(';', i);
    if (semi == std::string_view::npos) engine::fail<engine::IOError>(where, ": bad XML entity");
    const std::string_view ent = s.substr(i + 1, semi - i - 1);
    if (ent == "amp") out += '&';
    else if (ent == "lt") out += '<';
    else if (ent == "gt") out += '>';
    else if (ent == "quot") out += '"';
    else if (ent == "apos") out += '\'';
    else engine::fail<engine::IOError>(where, ": unknown XML entity '&", ent, ";'");
    i = semi;
  }
  return out;
}

// The value of attribute `name` inside a start tag's text, or "".
std::string attribute(std::string_view tag, std::string_view name) {
  const std::string key = " " + std::string(name) + "=\"";
  const size_t at = tag.find(key);
  if (at == std::string_view::npos) return "";
  const size_t start = at + key.size();
  return std::string(tag.substr(start, tag.find('"', start) - start));
}

Triple parse_triple(const std::string& text, const std::string& where) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t bar; (bar = text.find(" | ", start)) != std::string::npos; start = bar + 3)
    parts.push_back(text.substr(start, bar - start));
  parts.push_back(text.substr(start));
  if (parts.size() != 3)
    engine::fail<engine::IOError>(where, ": malformed triple '", text,
                                  "' (expected 'subject | predicate | object')");
  return Triple{parts[0], parts[1], parts[2]};
}

// Scans one XML file's <entry> elements.
class XmlScanner {
 public:
  XmlScanner(std::string text, std::string path) : text_(std::move(text)), path_(std::move(path)) {}

  void read(std::vector<DataToTextExample>& out) {
    DataToTextExample* entry = nullptr;
    size_t i = 0;
    while ((i = text_.find('<', i)) != std::string::npos) {
      const size_t close = text_.find('>', i);
      if (close == std::string::npos) fail(i, "unterminated tag");
      const std::string_view tag(text_.data() + i, close - i + 1);
      const std::string_view name = tag_name(tag);
      if (name == "entry") {
        out.push_back(DataToTextExample{"", {}, {}, attribute(tag, "category")});
        entry = &out.back();
      } else if (name == "/entry") {
        entry = nullptr;
      } else if ((name == "mtriple" || name == "lex") && !tag.ends_with("/>")) {
        if (!entry) fail(i, "<" + std::string(name) + "> outside an <entry>");
        const std::string end = "</" + std::string(name) + ">";
        const size_t stop = text_.find(end, close);
        if (stop == std::string::npos) fail(i, "missing " + end);
        const std::string where = path_ + ":" + std::to_string(line_of(i));
        std::string body = unescape_xml(std::string_view(text_).substr(close + 1, stop - close - 1), where);
        if (name == "mtriple")
          entry->triples.push_back(parse_triple(body, where));
        else
          entry->references.push_back(std::move(body));
        i = stop + end.size();
        continue;
      }
      i = close + 1;
    }
  }

 private:
  static std::string_view tag_name(std::string_view tag) {
    size_t end = 1;
    while (end < tag.size() && tag[end] != ' ' && tag[end] != '>' && tag[end] != '/' &&
           tag[end] != '\n')
      ++end;
    if (tag.size() > 1 && tag[1] == '/') {
      end = 2;
      while (end < tag.size() && tag[end] != '>' && tag[end] != ' ') ++end;
    }
    return tag.substr(1, end - 1);
  }

  [[noreturn]] void fail(size_t offset, const std::string& problem) const {
    engine::fail<engine::IOError>(path_, ":", line_at(text_, offset), ": malformed XML: ", problem);
  }

  // Line of an offset; offsets only grow while scanning, so count newlines incrementally
  // (counting from the start each time made reading the training set quadratic).
  size_t line_of(size_t offset) {
    line_ += static_cast<size_t>(std::count(text_.begin() + seen_, text_.begin() + offset, '\n'));
    seen_ = offset;
    return line_;
  }

  std::string text_, path_;
  size_t seen_ = 0, line_ = 1;
};

std::string entity_text(std::string s) {
  std::replace(s.begin(), s.end(), '_', ' ');
  return s;
}

}  // namespace

std::vector<DataToTextExample> read_webnlg_xml(const std::filesystem::path& file_or_dir) {
  std::vector<std::filesystem::path> files;
  if (std::filesystem::is_directory(file_or_dir)) {
    for (const auto& e : std::filesystem::recursive_directory_iterator(file_or_dir))
      if (e.is_regular_file() && e.path().extension() == ".xml") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    engine::check<engine::IOError>(!files.empty(), file_or_dir.string(), ": no .xml files");
  } else {
    files.push_back(file_or_dir);
  }
  std::vector<DataToTextExample> out;
  for (const auto& f : files) {
    const size_t before = out.size();
    XmlScanner(read_text_file(f), f.string()).read(out);
    engine::check<engine::IOError>(out.size() > before, f.string(), ": no <entry> elements");
  }
  return out;
}

std::vector<DataToTextExample> read_webnlg_json(const std::filesystem::path& path) {
  nlohmann::json root;
  try {
    root = nlohmann::json::parse(read_text_file(path));
  } catch (const nlohmann::json::exception& e) {
    engine::fail<engine::IOError>(path.string(), ": malformed JSON (", e.what(), ")");
  }
  std::vector<DataToTextExample> out;
  try {
    for (const auto& wrapper : root.at("entries")) {
      const auto& e = wrapper.begin().value();  // {"<n>": {...}}
      DataToTextExample ex{"", {}, {}, e.at("category").get<std::string>()};
      for (const auto& t : e.at("modifiedtripleset"))
        ex.triples.push_back(Triple{t.at("subject").get<std::string>(),
                                    t.at("property").get<std::string>(),
                                    t.at("object").get<std::string>()});
      for (const auto& lex : e.at("lexicalisations")) ex.references.push_back(lex.at("lex").get<std::string>());
      out.push_back(std::move(ex));
    }
  } catch (const nlohmann::json::exception& e) {
    engine::fail<engine::IOError>(path.string(), ": entry ", out.size() + 1,
                                  " does not follow the WebNLG JSON layout (", e.what(), ")");
  }
  return out;
}

std::string linearize_triples(const std::vector<Triple>& triples) {
  std::string out;
  for (const auto& t : triples) {
    if (!out.empty()) out += " && ";
    out += entity_text(t.subject) + " | " + t.predicate + " | " + entity_text(t.object);
  }
  return out;
}

}  // namespace app::data
