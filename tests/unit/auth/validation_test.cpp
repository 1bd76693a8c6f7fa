// The user-model input rules of the contract.
#include "auth/validation.hpp"

#include <gtest/gtest.h>

namespace permiso::auth {
namespace {

TEST(Username, AcceptsThreeToFiftyOfTheAllowedCharacters) {
  EXPECT_FALSE(check_username("bob"));
  EXPECT_FALSE(check_username("Trader_01-x"));
  EXPECT_FALSE(check_username(std::string(50, 'a')));
}

TEST(Username, RefusesTooShortTooLongAndOtherCharacters) {
  EXPECT_TRUE(check_username("ab"));
  EXPECT_TRUE(check_username(std::string(51, 'a')));
  EXPECT_TRUE(check_username("bob smith"));
  EXPECT_TRUE(check_username("bob@x"));
  EXPECT_TRUE(
      check_username("b\xc3\xb6"
                     "b"));
  EXPECT_TRUE(check_username(""));
}

TEST(Username, IsStoredLowerCase) {
  EXPECT_EQ(normalize_username("Alice_X"), "alice_x");
}

TEST(Password, NeedsUpperLowerDigitAndSymbol) {
  EXPECT_FALSE(check_password("Str0ng!pass"));
  EXPECT_EQ(*check_password("str0ng!pass"), "must contain an upper-case letter");
  EXPECT_EQ(*check_password("STR0NG!PASS"), "must contain a lower-case letter");
  EXPECT_EQ(*check_password("Strong!pass"), "must contain a digit");
  EXPECT_EQ(*check_password("Str0ngpass1"), "must contain a symbol");
}

TEST(Password, IsEightToOneHundredTwentyEightLong) {
  EXPECT_TRUE(check_password("S0!a"));
  EXPECT_FALSE(check_password("Aa1!aaaa"));
  EXPECT_TRUE(check_password("Aa1!" + std::string(125, 'a')));
  EXPECT_FALSE(check_password("Aa1!" + std::string(124, 'a')));
}

TEST(Password, RefusesControlCharacters) {
  EXPECT_TRUE(check_password(std::string("Aa1!aaaa\0", 9)));
}

TEST(Email, AcceptsOrdinaryAddresses) {
  EXPECT_FALSE(check_email("a@example.com"));
  EXPECT_FALSE(check_email("first.last+tag@sub.example.co.uk"));
}

TEST(Email, RefusesMalformedAddresses) {
  for (const char* bad :
       {"", "plain", "@example.com", "a@", "a@b", "a@@b.com", "a@b.com.", "a b@c.com", "a@.com", "<a@b.com>"}) {
    EXPECT_TRUE(check_email(bad)) << bad;
  }
  EXPECT_TRUE(check_email(std::string(250, 'a') + "@b.com"));
}

TEST(TextField, BoundsLengthAndControlCharacters) {
  EXPECT_FALSE(check_text_field("Jane", 100));
  EXPECT_TRUE(check_text_field(std::string(101, 'x'), 100));
  EXPECT_TRUE(check_text_field("a\x01", 100));
  EXPECT_FALSE(check_text_field("line one\nline two", 100));
}

}  // namespace
}  // namespace permiso::auth
