// A broker's numbering of the custom fields of our FIX dictionary (config/fix/FIX44-permiso.xml,
// docs/fix.md "Custom fields"): each field by its name there, with the number it has by default
// and the number a broker gives it. Standard FIX 4.4 tags are fixed and not here. Pure values:
// the gateway's configuration validates with it, the mapping and the dictionary writer read it.
#pragma once

#include "common/result.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace permiso::fixtags {

/// Every custom field's number, defaulting to the dictionary's (one member per field, named as
/// the field in snake_case).
struct TagMap {
  int position_id = 20001;
  int magic = 20002;
  int deviation = 20003;
  int stop_loss = 20004;
  int take_profit = 20005;
  int mt5_retcode = 20010;
  int profit = 20011;
  int swap = 20012;
  int bid = 20013;
  int ask = 20014;
  int reason = 20015;
  int open_time_msc = 20016;
  int update_time_msc = 20017;
  int price_open = 20018;
  int price_current = 20019;
  int deal_type = 20020;
  int deal_entry = 20021;
  int from_msc = 20022;
  int to_msc = 20023;
  int order_state = 20024;
  int filling = 20025;
  int volume_initial = 20026;
  int comment = 20027;
  int balance = 20030;
  int credit = 20031;
  int equity = 20032;
  int margin = 20033;
  int margin_free = 20034;
  int margin_level = 20035;
  int leverage = 20036;
  int margin_call = 20037;
  int stop_out = 20038;
  int account_name = 20039;
  int server = 20040;
  int demo = 20041;
  int deposit = 20042;
  int account_req_id = 20043;
  int digits = 20050;
  int point = 20051;
  int base_currency = 20052;
  int margin_currency = 20053;
  int volume_max = 20054;
  int volume_step = 20055;
  int stops_level = 20056;
  int calc_mode = 20057;
  int trade_allowed = 20058;

  friend bool operator==(const TagMap&, const TagMap&) = default;
};

/// One custom field: its name in the dictionary and the TagMap member holding its number.
struct CustomField {
  std::string_view name;
  int TagMap::*number;
  [[nodiscard]] int default_number() const { return TagMap{}.*number; }
};

/// Every custom field, in the dictionary's order.
std::span<const CustomField> custom_fields();
/// The field the dictionary names `name` (case-sensitive, as QuickFIX reads it); nullptr if none.
const CustomField* find_field(std::string_view name);
/// FIX's user-defined ranges, where a vendor field may live: 5000-9999 and 20000-49999.
bool user_defined_tag(std::int64_t number);

/// A broker's number for one field, as configured ("Magic=7002").
struct TagNumber {
  std::string name;
  std::int64_t number = 0;
  friend bool operator==(const TagNumber&, const TagNumber&) = default;
};

/// "Name=Number,Name=Number" (spaces around items ignored; empty text: none). Fails with a
/// sentence naming the item that is not Name=Number or the name given twice. Names are not
/// checked here: make_tag_map does.
Result<std::vector<TagNumber>, std::string> parse_tag_numbers(std::string_view text);

/// A problem with a renumbering: the field it is about (as configured) and the rule it breaks.
struct TagProblem {
  std::string field;
  std::string rule;
};

/// The defaults with `numbers` applied, or every problem: a name that is no custom field, a
/// number outside the user-defined ranges, a field given twice, two fields on one number
/// (reported on the renumbered field, naming the other).
Result<TagMap, std::vector<TagProblem>> make_tag_map(const std::vector<TagNumber>& numbers);

/// The fields `tags` numbers differently from the defaults, in the dictionary's order:
/// make_tag_map(renumbering(t)) gives `t` back when `t` is valid, and its problems when not.
std::vector<TagNumber> renumbering(const TagMap& tags);
/// renumbering(tags) as "Name=Number,..." (empty: the defaults): for logs and command lines.
std::string describe(const TagMap& tags);

}  // namespace permiso::fixtags
