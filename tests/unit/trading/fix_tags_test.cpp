// A broker's numbering of our custom FIX fields (src/fixtags): the table matches the dictionary
// it numbers, Name=Number lists parse, and every renumbering a session could not survive is
// refused with the field and the rule.
#include "fixtags/tag_map.hpp"
#include "trading/fix/session_engine.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace permiso::fixtags {
namespace {

/// The rules make_tag_map reports, as "Field rule" lines.
std::vector<std::string> problems_of(const std::vector<TagNumber>& numbers) {
  auto map = make_tag_map(numbers);
  std::vector<std::string> lines;
  if (!map) {
    for (const auto& p : map.error()) lines.push_back(p.field + " " + p.rule);
  }
  return lines;
}

TEST(FixTags, TheTableIsEveryUserDefinedFieldOfTheDictionaryWithItsNumber) {
  std::map<std::string, int> dictionary;
  const std::string& text = trading::fix::dictionary_text();
  const std::string open = "<field number=\"";
  for (auto at = text.find(open); at != std::string::npos; at = text.find(open, at + 1)) {
    const auto number_end = text.find('"', at + open.size());
    const int number = std::stoi(text.substr(at + open.size(), number_end - at - open.size()));
    const auto name_at = number_end + std::string("\" name=\"").size();
    if (user_defined_tag(number)) dictionary[text.substr(name_at, text.find('"', name_at) - name_at)] = number;
  }
  ASSERT_FALSE(dictionary.empty());
  EXPECT_EQ(dictionary.size(), custom_fields().size());
  for (const auto& field : custom_fields()) {
    EXPECT_EQ(dictionary[std::string(field.name)], field.default_number()) << field.name;
  }
  EXPECT_EQ(find_field("Magic")->default_number(), 20002);
  EXPECT_EQ(find_field("magic"), nullptr);  // QuickFIX's names are case-sensitive
}

TEST(FixTags, ListsParseWithSpacesAndRefuseWhatIsNotNameEqualsNumber) {
  auto numbers = parse_tag_numbers(" PositionID=7001, Magic = 7002 ,");
  EXPECT_FALSE(numbers);  // a trailing comma leaves an empty item
  numbers = parse_tag_numbers(" PositionID=7001, Magic = 7002 ");
  ASSERT_TRUE(numbers);
  EXPECT_EQ(*numbers, (std::vector<TagNumber>{{"PositionID", 7001}, {"Magic", 7002}}));
  EXPECT_TRUE(parse_tag_numbers("")->empty());
  EXPECT_TRUE(parse_tag_numbers("  ")->empty());
  EXPECT_EQ(parse_tag_numbers("Magic").error(), "'Magic' is not Name=Number (e.g. PositionID=7001)");
  EXPECT_FALSE(parse_tag_numbers("Magic=70x2"));
  EXPECT_FALSE(parse_tag_numbers("Magic=-7002"));
  EXPECT_FALSE(parse_tag_numbers("=7002"));
  EXPECT_FALSE(parse_tag_numbers("Ma gic=7002"));
  EXPECT_FALSE(parse_tag_numbers("Magic=99999999999999999999"));
  EXPECT_EQ(parse_tag_numbers("Magic=7002,Magic=7003").error(), "Magic is given twice");
}

TEST(FixTags, ARenumberingMovesOnlyTheFieldsItNames) {
  auto map = make_tag_map({{"PositionID", 7001}, {"TradeAllowed", 49999}});
  ASSERT_TRUE(map);
  EXPECT_EQ(map->position_id, 7001);
  EXPECT_EQ(map->trade_allowed, 49999);
  EXPECT_EQ(map->magic, 20002);
  EXPECT_EQ(describe(*map), "PositionID=7001,TradeAllowed=49999");
  EXPECT_EQ(*make_tag_map(renumbering(*map)), *map);
  EXPECT_EQ(describe(TagMap{}), "");
  // A swap is no collision: the numbers are compared once all are in place.
  auto swapped = make_tag_map({{"Magic", 20003}, {"Deviation", 20002}});
  ASSERT_TRUE(swapped);
  EXPECT_EQ(swapped->magic, 20003);
  EXPECT_EQ(swapped->deviation, 20002);
}

TEST(FixTags, EveryBadRenumberingIsReportedWithItsFieldAndRule) {
  EXPECT_EQ(problems_of({{"Colour", 7001}}),
            (std::vector<std::string>{"Colour is not a custom field of the FIX dictionary (docs/fix.md lists them; "
                                      "names are case-sensitive)"}));
  for (const std::int64_t outside : {38LL, 4999LL, 10'000LL, 19'999LL, 50'000LL, 1LL << 40}) {
    EXPECT_EQ(problems_of({{"Magic", outside}}),
              (std::vector<std::string>{"Magic must be in FIX's user-defined ranges 5000..9999 or 20000..49999, got " +
                                        std::to_string(outside)}));
  }
  EXPECT_TRUE(problems_of({{"Magic", 5000}, {"Deviation", 9999}, {"Bid", 20000}}).empty());
  EXPECT_EQ(problems_of({{"Magic", 7002}, {"Magic", 7003}}), (std::vector<std::string>{"Magic is given twice"}));
  // On a field that keeps its default number...
  EXPECT_EQ(problems_of({{"PositionID", 20011}}),
            (std::vector<std::string>{"PositionID 20011 is Profit's number too: two fields cannot share one tag"}));
  // ...and between two renumbered fields, said once.
  EXPECT_EQ(problems_of({{"Bid", 7013}, {"Ask", 7013}}),
            (std::vector<std::string>{"Bid 7013 is Ask's number too: two fields cannot share one tag"}));
  // Every problem at once.
  EXPECT_EQ(problems_of({{"Colour", 1}, {"Magic", 1}, {"Swap", 20013}}).size(), 3U);
}

}  // namespace
}  // namespace permiso::fixtags
