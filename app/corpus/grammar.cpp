// The pretraining grammar (see grammar.h). Rules are plain strings with {slots}; a slot is
// replaced by one of its alternatives, chosen uniformly, recursively.
#include "app/corpus/grammar.h"

#include <cctype>
#include <map>

#include "app/corpus/restaurants.h"
#include "app/data/shuffle.h"
#include "engine/core/error.h"

namespace app::corpus {
namespace {

using Strings = std::vector<std::string>;
using Rules = std::map<std::string, Strings>;

Strings lowercased(const Strings& words) {
  Strings out;
  for (std::string w : words) {
    for (char& c : w) c = char(std::tolower(static_cast<unsigned char>(c)));
    out.push_back(w);
  }
  return out;
}

Rules make_rules() {
  Rules r = {
      {"sentence",
       {"{person} {went} to the {place} {when}.", "the weather in the {area} was {weather} {when}.",
        "{person} {likes} {dish} with {drink}.", "we travelled by {vehicle} to the {place} near the {thing}.",
        "the {adj} {thing} stood beside the {place}.", "{person} told {person} that the {thing} was {quality}.",
        "my {relative} cooked {food} {dish} for the children.", "it was {weather}, so {person} stayed at home with the family.",
        "the {shop} in the {area} sells {goods} at {price} prices.", "the customers said the {dish} was {quality}.",
        "on {day} the {vehicle} to the {area} was {late}.", "a {animal} walked slowly across the {adj} {thing}.",
        "{person} gave the {dish} a score of {digit} out of 5.", "people from the {area} like to visit the {venue} on {day}.",
        "the {venue} by the {place} was {crowd} {when}.", "{person} and {person} walked along the river to the {adj} {thing}.",
        "after the rain the {area} looked {quality}.", "the map showed a {adj} {thing} and an old {place}.",
        "{person} bought {goods} for the trip to the {area}.", "the children played near the {thing} while the adults talked.",
        "a friend of {person} works at the {shop} {when}.", "the train was {late}, but the {weather} evening was pleasant.",
        "{food} {dish} is {quality} when it is {cooked}.", "in {season} the {area} is {weather} and {crowd}.",
        "the family rated the hotel as {rating}.", "prices in the {area} are {price} this {season}."}},
      {"person", {"Anna", "Tom", "Maria", "David", "Sara", "James", "Lucy", "Omar", "Nina", "Peter", "my {relative}", "the teacher", "a tourist"}},
      {"relative", {"sister", "brother", "mother", "father", "aunt", "uncle", "cousin", "grandmother"}},
      {"went", {"went", "drove", "walked", "cycled", "returned", "hurried"}},
      {"likes", {"likes", "enjoys", "ordered", "shared", "prefers"}},
      {"place", {"park", "station", "museum", "market", "library", "beach", "hill", "school", "bakery", "hotel", "river", "castle"}},
      {"venue", {"restaurant", "coffee shop", "pub", "market", "cinema", "gallery"}},
      {"shop", {"bakery", "grocery", "book shop", "coffee shop", "market stall", "florist"}},
      {"when", {"in the morning", "after lunch", "last week", "on a cold evening", "yesterday", "at dawn", "every summer"}},
      {"weather", {"sunny", "rainy", "windy", "cold", "warm", "foggy", "mild"}},
      {"vehicle", {"train", "bus", "ferry", "car", "bicycle", "tram"}},
      {"drink", {"tea", "coffee", "orange juice", "lemonade", "water"}},
      {"dish", {"soup", "pasta", "bread", "curry", "noodles", "pie", "salad", "rice", "fish", "cake"}},
      {"goods", {"apples", "a map", "fresh bread", "flowers", "a new book", "some cheese", "postcards", "umbrellas"}},
      {"quality", {"lovely", "quiet", "excellent", "disappointing", "ordinary", "wonderful", "average", "busy"}},
      {"price", {"cheap", "moderate", "high", "low", "fair"}},
      {"rating", {"low", "average", "high", "excellent"}},
      {"day", {"monday", "friday", "saturday", "sunday", "weekends", "holidays"}},
      {"late", {"late", "early", "crowded", "empty", "on time"}},
      {"crowd", {"crowded", "empty", "full of families", "quiet", "noisy"}},
      {"animal", {"cat", "dog", "duck", "horse", "squirrel", "goose"}},
      {"season", {"spring", "summer", "autumn", "winter"}},
      {"cooked", {"fresh", "hot", "spicy", "cooked slowly", "served warm"}},
      {"digit", {"1", "2", "3", "4", "5"}},
  };
  // The task's vocabulary, in other sentences: venue-name words in lower case, foods, areas.
  r["adj"] = lowercased(venue_adjectives());
  r["thing"] = lowercased(venue_nouns());
  r["food"] = foods();
  r["area"] = areas();
  return r;
}

const Rules& rules() {
  static const Rules r = make_rules();
  return r;
}

std::string expand(const std::string& pattern, data::SplitMix64& rng) {
  std::string out;
  for (size_t i = 0; i < pattern.size();) {
    if (pattern[i] != '{') {
      out += pattern[i++];
      continue;
    }
    const size_t end = pattern.find('}', i);
    const Strings& options = rules().at(pattern.substr(i + 1, end - i - 1));
    out += expand(options[rng.below(options.size())], rng);
    i = end + 1;
  }
  return out;
}

std::string sentence(data::SplitMix64& rng) {
  while (true) {
    std::string s = expand("{sentence}", rng);
    s[0] = char(std::toupper(static_cast<unsigned char>(s[0])));
    if (!has_capitalised_pair(s)) return s;  // the disjointness guarantee (see grammar.h)
  }
}

}  // namespace

bool has_capitalised_pair(std::string_view t) {
  auto upper = [](char c) { return c >= 'A' && c <= 'Z'; };
  auto letter = [](char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; };
  for (size_t i = 0; i < t.size(); ++i) {
    if (!upper(t[i]) || (i > 0 && letter(t[i - 1]))) continue;  // a word that starts with a capital
    size_t j = i + 1;
    while (j < t.size() && letter(t[j])) ++j;
    if (j + 1 < t.size() && t[j] == ' ' && upper(t[j + 1])) return true;
  }
  return false;
}

std::vector<std::string> generate_documents(const PretrainCorpusOptions& o) {
  engine::check<engine::ValueError>(o.min_sentences > 0 && o.min_sentences <= o.max_sentences,
                                    "[corpus] need 0 < min_sentences <= max_sentences, got ", o.min_sentences,
                                    ", ", o.max_sentences);
  data::SplitMix64 rng(o.seed ^ 0x6E4A3A11ull);
  std::vector<std::string> docs;
  docs.reserve(o.documents);
  for (size_t d = 0; d < o.documents; ++d) {
    const size_t n = o.min_sentences + rng.below(o.max_sentences - o.min_sentences + 1);
    std::string doc;
    for (size_t s = 0; s < n; ++s) doc += (s ? " " : "") + sentence(rng);
    docs.push_back(std::move(doc));
  }
  return docs;
}

std::string join_documents(const std::vector<std::string>& documents) {
  std::string out;
  for (const std::string& d : documents) out += d + "\n";
  return out;
}

}  // namespace app::corpus
