// Scope strings and the granting rule.
#include "auth/scopes.hpp"

#include <gtest/gtest.h>

namespace permiso::auth {
namespace {
using V = std::vector<std::string>;

TEST(Scopes, SplitDropsEmptiesAndDuplicates) {
  EXPECT_EQ(split_scopes("  trade:read  account:read trade:read "), (V{"trade:read", "account:read"}));
  EXPECT_TRUE(split_scopes("").empty());
  EXPECT_EQ(join_scopes({"a", "b"}), "a b");
}

TEST(Scopes, NamesFollowRfc6749Characters) {
  EXPECT_TRUE(is_valid_scope_name("trade:read"));
  EXPECT_FALSE(is_valid_scope_name(""));
  EXPECT_FALSE(is_valid_scope_name("a b"));
  EXPECT_FALSE(is_valid_scope_name("a\"b"));
  EXPECT_FALSE(is_valid_scope_name("a\\b"));
  EXPECT_FALSE(is_valid_scope_name(std::string(65, 'a')));
}

TEST(Scopes, NothingRequestedGrantsEverythingAllowed) {
  EXPECT_EQ(*grant_scopes({}, {"a", "b"}), (V{"a", "b"}));
}

TEST(Scopes, RequestedSubsetIsGrantedAsRequested) {
  EXPECT_EQ(*grant_scopes({"b"}, {"a", "b"}), (V{"b"}));
}

TEST(Scopes, AnyScopeBeyondTheAllowedIsRefused) {
  EXPECT_FALSE(grant_scopes({"a", "c"}, {"a", "b"}));
}

TEST(Scopes, MissingScopesKeepRequiredOrder) {
  EXPECT_EQ(missing_scopes({"a"}, {"c", "a", "b"}), (V{"c", "b"}));
}

}  // namespace
}  // namespace permiso::auth
