// Restaurant records and their realisations (see restaurants.h).
#include "app/corpus/restaurants.h"

#include <set>

#include "engine/core/error.h"
#include "engine/io/atomic_file.h"

namespace app::corpus {
namespace {

using data::SplitMix64;
using Strings = std::vector<std::string>;

const std::string& pick(const Strings& options, SplitMix64& rng) { return options[rng.below(options.size())]; }
bool chance(SplitMix64& rng, unsigned percent) { return rng.below(100) < percent; }

const Strings kEatTypes = {"restaurant", "coffee shop", "pub"};
const Strings kPrices = {"cheap", "moderate", "high"};
const Strings kRatings = {"low", "average", "high", "1 out of 5", "3 out of 5", "5 out of 5"};

std::string venue_name(SplitMix64& rng) { return pick(venue_adjectives(), rng) + " " + pick(venue_nouns(), rng); }

std::string article(const std::string& next) {
  return std::string("aeiouAEIOU").find(next[0]) == std::string::npos ? "a " : "an ";
}

// Verb phrases that follow a subject ("It ...", "The pub ...", "<name> ..."), one list per
// attribute; the synonyms are what makes the references of one record differ.
Strings predicates(const std::string& key, const std::string& v) {
  if (key == "food") return {"serves " + v + " food", "offers " + v + " cuisine", "has " + v + " dishes on the menu"};
  if (key == "priceRange")
    return {"has " + v + " prices", "is in the " + v + " price range", "charges " + v + " prices"};
  if (key == "customer rating")
    return {"has " + article(v) + v + " customer rating", "is rated " + v + " by customers",
            "has a customer rating of " + v};
  if (key == "area") return {"is in the " + v, "is located in the " + v, "can be found in the " + v + " area"};
  if (key == "familyFriendly" && v == "yes")
    return {"is family friendly", "is kid friendly", "welcomes children"};
  if (key == "familyFriendly") return {"is not family friendly", "does not welcome children", "is not suitable for children"};
  return {"is near " + v, "is close to " + v, "is not far from " + v};  // near
}

// "a, b and c"
std::string join_and(const Strings& parts) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += i + 1 == parts.size() ? " and " : ", ";
    out += parts[i];
  }
  return out;
}

// The opening clause; may consume the food attribute (as an adjective) or the area.
std::string opening(const Record& r, SplitMix64& rng, std::set<std::string>& used) {
  const std::string& name = r.get("name");
  const std::string& type = r.get("eatType");
  switch (rng.below(3)) {
    case 0:
      if (!r.get("food").empty()) {
        used.insert("food");
        return name + " is " + article(r.get("food")) + r.get("food") + " " + type;
      }
      return name + " is " + article(type) + type;
    case 1: return "There is " + article(type) + type + " called " + name;
    default:
      if (!r.get("area").empty()) {
        used.insert("area");
        return "In the " + r.get("area") + " there is " + article(type) + type + " named " + name;
      }
      return "There is " + article(type) + type + " named " + name;
  }
}

}  // namespace

const Strings& venue_adjectives() {
  static const Strings v = {"Golden", "Blue", "Green", "Silver", "Red",   "Old",   "Little", "Royal",  "Wild", "Crown",
                            "Lucky",  "Olive", "Copper", "Rose",  "Black", "White", "Sunny",  "Hidden", "Twin", "Maple"};
  return v;
}
const Strings& venue_nouns() {
  static const Strings v = {"Lantern", "Spice", "Mill",   "Fox",   "Eagle", "Garden", "Bridge", "Anchor", "Oak",  "Kettle",
                            "Harbour", "Lion",  "Willow", "Swan",  "Cellar", "Plough", "Orchard", "Tower", "Bell", "Pepper"};
  return v;
}
const Strings& foods() {
  static const Strings v = {"Italian", "French", "Chinese", "Indian", "Japanese", "English", "Mexican", "fast food"};
  return v;
}
const Strings& areas() {
  static const Strings v = {"city centre", "riverside", "old town", "harbour"};
  return v;
}

const std::string& Record::get(const std::string& key) const {
  static const std::string none;
  for (const auto& [k, v] : fields)
    if (k == key) return v;
  return none;
}

std::string Record::mr() const {
  std::string out;
  for (const auto& [k, v] : fields) out += (out.empty() ? "" : ", ") + k + "[" + v + "]";
  return out;
}

Record random_record(SplitMix64& rng) {
  Record r;
  const std::string name = venue_name(rng);
  r.fields.emplace_back("name", name);
  r.fields.emplace_back("eatType", pick(kEatTypes, rng));
  if (chance(rng, 65)) r.fields.emplace_back("food", pick(foods(), rng));
  if (chance(rng, 60)) r.fields.emplace_back("priceRange", pick(kPrices, rng));
  if (chance(rng, 55)) r.fields.emplace_back("customer rating", pick(kRatings, rng));
  if (chance(rng, 60)) r.fields.emplace_back("area", pick(areas(), rng));
  if (chance(rng, 55)) r.fields.emplace_back("familyFriendly", chance(rng, 50) ? "yes" : "no");
  if (chance(rng, 45)) {
    std::string near = venue_name(rng);
    while (near == name) near = venue_name(rng);
    r.fields.emplace_back("near", near);
  }
  return r;
}

std::string realise(const Record& r, SplitMix64& rng) {
  std::set<std::string> used = {"name", "eatType"};
  std::string text = opening(r, rng, used);
  Strings facts;  // the remaining attributes as verb phrases, in a random order
  for (const auto& [k, v] : r.fields)
    if (!used.count(k)) facts.push_back(pick(predicates(k, v), rng));
  data::seeded_shuffle(facts, rng.next());
  // Up to two facts join the opening as a relative clause; the rest form sentences of 1-3.
  size_t i = std::min<size_t>(facts.size(), rng.below(3));
  if (i > 0) text += " that " + join_and(Strings(facts.begin(), facts.begin() + long(i)));
  text += ".";
  const Strings subjects = {"It", "The " + r.get("eatType"), r.get("name")};
  while (i < facts.size()) {
    const size_t n = std::min<size_t>(facts.size() - i, 1 + rng.below(3));
    text += " " + pick(subjects, rng) + " " + join_and(Strings(facts.begin() + long(i), facts.begin() + long(i + n))) + ".";
    i += n;
  }
  return text;
}

DataToTextSplits generate_data_to_text(const DataToTextOptions& o) {
  engine::check<engine::ValueError>(o.records > 0 && o.min_references > 0 && o.min_references <= o.max_references,
                                    "[corpus] data-to-text needs records > 0 and 0 < min_references <= "
                                    "max_references, got ",
                                    o.records, ", ", o.min_references, ", ", o.max_references);
  SplitMix64 rng(o.seed ^ 0xDA7A2D2Eull);
  std::vector<data::DataToTextExample> all;
  std::set<std::string> seen;
  for (size_t tries = 0; all.size() < o.records; ++tries) {
    engine::check<engine::ValueError>(tries < 100 * o.records, "[corpus] cannot draw ", o.records,
                                      " distinct records");
    const Record r = random_record(rng);
    if (!seen.insert(r.mr()).second) continue;
    data::DataToTextExample ex;
    ex.source = r.mr();
    const size_t want = o.min_references + rng.below(o.max_references - o.min_references + 1);
    std::set<std::string> refs;
    for (size_t k = 0; k < 20 * want && ex.references.size() < want; ++k)
      if (std::string s = realise(r, rng); refs.insert(s).second) ex.references.push_back(s);
    all.push_back(std::move(ex));
  }
  DataToTextSplits s;
  auto [rest, test] = data::split_train_heldout(std::move(all), o.test_fraction, o.seed + 1);
  const double val_share = o.test_fraction < 1 ? o.validation_fraction / (1 - o.test_fraction) : 0.0;
  auto [train, validation] = data::split_train_heldout(std::move(rest), std::min(1.0, val_share), o.seed + 2);
  s.train = std::move(train), s.validation = std::move(validation), s.test = std::move(test);
  return s;
}

void write_e2e_csv(const std::vector<data::DataToTextExample>& examples, const std::string& path) {
  auto quote = [](const std::string& s) {
    std::string q = "\"";
    for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
  };
  std::string text = "mr,ref\n";
  for (const auto& ex : examples)
    for (const auto& ref : ex.references) text += quote(ex.source) + "," + quote(ref) + "\n";
  engine::io::atomic_write_text(path, text);
}

}  // namespace app::corpus
