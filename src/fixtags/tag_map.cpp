// See tag_map.hpp.
#include "fixtags/tag_map.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <optional>

namespace permiso::fixtags {

namespace {

constexpr std::array<CustomField, 46> kFields{{
    {"PositionID", &TagMap::position_id},
    {"Magic", &TagMap::magic},
    {"Deviation", &TagMap::deviation},
    {"StopLoss", &TagMap::stop_loss},
    {"TakeProfit", &TagMap::take_profit},
    {"Mt5Retcode", &TagMap::mt5_retcode},
    {"Profit", &TagMap::profit},
    {"Swap", &TagMap::swap},
    {"Bid", &TagMap::bid},
    {"Ask", &TagMap::ask},
    {"Reason", &TagMap::reason},
    {"OpenTimeMsc", &TagMap::open_time_msc},
    {"UpdateTimeMsc", &TagMap::update_time_msc},
    {"PriceOpen", &TagMap::price_open},
    {"PriceCurrent", &TagMap::price_current},
    {"DealType", &TagMap::deal_type},
    {"DealEntry", &TagMap::deal_entry},
    {"FromMsc", &TagMap::from_msc},
    {"ToMsc", &TagMap::to_msc},
    {"OrderState", &TagMap::order_state},
    {"Filling", &TagMap::filling},
    {"VolumeInitial", &TagMap::volume_initial},
    {"Comment", &TagMap::comment},
    {"Balance", &TagMap::balance},
    {"Credit", &TagMap::credit},
    {"Equity", &TagMap::equity},
    {"Margin", &TagMap::margin},
    {"MarginFree", &TagMap::margin_free},
    {"MarginLevel", &TagMap::margin_level},
    {"Leverage", &TagMap::leverage},
    {"MarginCall", &TagMap::margin_call},
    {"StopOut", &TagMap::stop_out},
    {"AccountName", &TagMap::account_name},
    {"Server", &TagMap::server},
    {"Demo", &TagMap::demo},
    {"Deposit", &TagMap::deposit},
    {"AccountReqID", &TagMap::account_req_id},
    {"Digits", &TagMap::digits},
    {"Point", &TagMap::point},
    {"BaseCurrency", &TagMap::base_currency},
    {"MarginCurrency", &TagMap::margin_currency},
    {"VolumeMax", &TagMap::volume_max},
    {"VolumeStep", &TagMap::volume_step},
    {"StopsLevel", &TagMap::stops_level},
    {"CalcMode", &TagMap::calc_mode},
    {"TradeAllowed", &TagMap::trade_allowed},
}};

std::string_view trimmed(std::string_view text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t");
  return text.substr(first, last - first + 1);
}

/// A dictionary name: letters, digits and '_' (also what a TOML bare key may be).
bool name_like(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char ch) {
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_';
  });
}

/// One "Name=Number" item; nullopt unless the name is name-like and the number all digits.
std::optional<TagNumber> parse_item(std::string_view item) {
  const auto equals = item.find('=');
  if (equals == std::string_view::npos) return std::nullopt;
  const auto name = trimmed(item.substr(0, equals));
  const auto digits = trimmed(item.substr(equals + 1));
  TagNumber n{std::string(name), 0};
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n.number);
  if (!name_like(name) || digits.empty() || digits.front() < '0' || digits.front() > '9' || ec != std::errc() ||
      end != digits.data() + digits.size()) {
    return std::nullopt;
  }
  return n;
}

/// The field already numbered `number` in `tags`, other than `self`; nullptr if none.
const CustomField* holder_of(const TagMap& tags, int number, const CustomField& self) {
  for (const auto& f : kFields) {
    if (f.number != self.number && tags.*f.number == number) return &f;
  }
  return nullptr;
}

}  // namespace

std::span<const CustomField> custom_fields() {
  return kFields;
}

const CustomField* find_field(std::string_view name) {
  const auto it = std::find_if(kFields.begin(), kFields.end(), [&](const CustomField& f) { return f.name == name; });
  return it == kFields.end() ? nullptr : &*it;
}

bool user_defined_tag(std::int64_t number) {
  return (number >= 5000 && number <= 9999) || (number >= 20000 && number <= 49999);
}

Result<std::vector<TagNumber>, std::string> parse_tag_numbers(std::string_view text) {
  std::vector<TagNumber> numbers;
  if (trimmed(text).empty()) return numbers;
  for (std::size_t start = 0; start <= text.size();) {
    const auto comma = std::min(text.find(',', start), text.size());
    const auto item = trimmed(text.substr(start, comma - start));
    auto number = parse_item(item);
    if (!number) return "'" + std::string(item) + "' is not Name=Number (e.g. PositionID=7001)";
    const auto same = [&](const TagNumber& n) { return n.name == number->name; };
    if (std::any_of(numbers.begin(), numbers.end(), same)) return number->name + " is given twice";
    numbers.push_back(std::move(*number));
    start = comma + 1;
  }
  return numbers;
}

Result<TagMap, std::vector<TagProblem>> make_tag_map(const std::vector<TagNumber>& numbers) {
  TagMap tags;
  std::vector<TagProblem> problems;
  std::vector<const CustomField*> renumbered;
  for (const auto& n : numbers) {
    const CustomField* field = find_field(n.name);
    if (field == nullptr) {
      problems.push_back(
          {n.name, "is not a custom field of the FIX dictionary (docs/fix.md lists them; names are case-sensitive)"});
    } else if (std::find(renumbered.begin(), renumbered.end(), field) != renumbered.end()) {
      problems.push_back({n.name, "is given twice"});
    } else if (!user_defined_tag(n.number)) {
      problems.push_back(
          {n.name, "must be in FIX's user-defined ranges 5000..9999 or 20000..49999, got " + std::to_string(n.number)});
    } else {
      tags.*field->number = static_cast<int>(n.number);
      renumbered.push_back(field);
    }
  }
  // Collisions once every number is in place: a swap (Magic=20003, Deviation=20002) is fine.
  for (auto it = renumbered.begin(); it != renumbered.end(); ++it) {
    const CustomField* field = *it;
    const int number = tags.*field->number;
    const CustomField* other = holder_of(tags, number, *field);
    // Two renumbered fields on one number: said once, on the first of them.
    if (other != nullptr && std::find(renumbered.begin(), it, other) == it) {
      problems.push_back({std::string(field->name), std::to_string(number) + " is " + std::string(other->name) +
                                                        "'s number too: two fields cannot share one tag"});
    }
  }
  if (!problems.empty()) return problems;
  return tags;
}

std::vector<TagNumber> renumbering(const TagMap& tags) {
  std::vector<TagNumber> numbers;
  for (const auto& f : kFields) {
    if (tags.*f.number != f.default_number()) numbers.push_back({std::string(f.name), tags.*f.number});
  }
  return numbers;
}

std::string describe(const TagMap& tags) {
  std::string text;
  for (const auto& n : renumbering(tags)) {
    if (!text.empty()) text += ',';
    text += n.name + "=" + std::to_string(n.number);
  }
  return text;
}

}  // namespace permiso::fixtags
