// Scope-bound stop steps: a composition root relies on them running newest first, once, also
// when start-up leaves the scope early.
#include "app/lifecycle.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace permiso::app {
namespace {

TEST(AtScopeExit, StepsRunNewestFirstWhenTheScopeEnds) {
  std::vector<std::string> ran;
  {
    const AtScopeExit first([&] { ran.emplace_back("first"); });
    const AtScopeExit second([&] { ran.emplace_back("second"); });
    EXPECT_TRUE(ran.empty());
  }
  EXPECT_EQ(ran, (std::vector<std::string>{"second", "first"}));
}

int start_until_failure(std::vector<std::string>& ran, bool fail_after_first) {
  const AtScopeExit first([&] { ran.emplace_back("first"); });
  if (fail_after_first) return 1;  // a start-up step failed: only what started stops
  const AtScopeExit second([&] { ran.emplace_back("second"); });
  return 0;
}

TEST(AtScopeExit, AnEarlyReturnStopsOnlyWhatStarted) {
  std::vector<std::string> ran;
  EXPECT_EQ(start_until_failure(ran, true), 1);
  EXPECT_EQ(ran, (std::vector<std::string>{"first"}));
  ran.clear();
  EXPECT_EQ(start_until_failure(ran, false), 0);
  EXPECT_EQ(ran, (std::vector<std::string>{"second", "first"}));
}

}  // namespace
}  // namespace permiso::app
