// Data-to-text datasets (E2E, WebNLG): one example per input with all its references, and the
// linearisations that turn an input into the text a language model conditions on.
//
// Linearisation (the LoRA / prefix-tuning papers' format):
//   E2E MR   "name[The Eagle], eatType[coffee shop], priceRange[cheap]"
//         -> "name : The Eagle | Type : coffee shop | price : cheap"
//            (attribute names as in the LoRA code's e2e files: eatType -> Type,
//             priceRange -> price, familyFriendly -> family friendly; others unchanged)
//   WebNLG   triples (s, p, o) -> "s | p | o" per triple, triples joined by " && ";
//            underscores in subjects and objects become spaces (DBpedia names such as
//            "Abilene,_Texas" read as text), predicates are kept as they are.
#pragma once
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace app::data {

struct Triple {
  std::string subject, predicate, object;
};

struct DataToTextExample {
  std::string source;                   // the raw input: an E2E MR string, or "" for WebNLG
  std::vector<Triple> triples;          // WebNLG input (empty for E2E)
  std::vector<std::string> references;  // every reference text, in file order
  std::string category;                 // WebNLG category ("Airport", ...), "" for E2E
};

// E2E csv (`mr,ref`, or `MR` alone for the blind test set). Rows sharing an MR become one
// example holding all their references, in the order the MRs first appear.
std::vector<DataToTextExample> read_e2e(const std::filesystem::path& csv_path);

// "name[The Eagle], eatType[coffee shop]" -> {{"name","The Eagle"}, {"eatType","coffee shop"}}.
// Throws engine::ValueError naming the MR when it is malformed.
std::vector<std::pair<std::string, std::string>> parse_e2e_mr(const std::string& mr);

std::string linearize_e2e(const std::string& mr);

// WebNLG 2017 XML: every <entry> of one file, or of every *.xml below a directory (sorted
// paths, so the order is the same on every machine). Uses the modified triple set.
std::vector<DataToTextExample> read_webnlg_xml(const std::filesystem::path& file_or_dir);

// The prefix-tuning JSON layout ({"entries": [{"1": {category, modifiedtripleset,
// lexicalisations, ...}}, ...]}).
std::vector<DataToTextExample> read_webnlg_json(const std::filesystem::path& path);

std::string linearize_triples(const std::vector<Triple>& triples);

}  // namespace app::data
