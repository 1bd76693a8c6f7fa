// ASCII case folding: letters fold, nothing else does (bytes above 0x7F included).
#include "common/ascii.hpp"

#include <gtest/gtest.h>

#include <string>

namespace permiso {
namespace {

TEST(Ascii, FoldsOnlyAsciiUpperCaseLetters) {
  std::string s = "Content-Type: X_Y@[`{Z}]\x80\xC3\x89";
  lower_ascii_in_place(s);
  EXPECT_EQ(s, "content-type: x_y@[`{z}]\x80\xC3\x89");
  EXPECT_EQ(ascii_lower('@'), '@');  // just below 'A'
  EXPECT_EQ(ascii_lower('['), '[');  // just above 'Z'
}

TEST(Ascii, ComparesIgnoringCaseAndLength) {
  EXPECT_TRUE(iequals_ascii("Transfer-Encoding", "transfer-encoding"));
  EXPECT_TRUE(iequals_ascii("", ""));
  EXPECT_FALSE(iequals_ascii("chunked", "chunked "));
  EXPECT_FALSE(iequals_ascii("[", "{"));  // 0x5B and 0x7B differ by the case bit but are not letters
  static_assert(iequals_ascii("ABC", "abc"));
}

}  // namespace
}  // namespace permiso
