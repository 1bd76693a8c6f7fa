// Signature Version 4 against AWS's published test suite (aws-sig-v4-test-suite: each case's
// request, and the Authorization header AWS says it signs to), transcribed as facts. The
// suite's credentials, region, service and time are the same for every case.
#include "secrets/sigv4.hpp"

#include <gtest/gtest.h>

namespace permiso::secrets::sigv4 {
namespace {

const Credentials kSuite{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
constexpr const char* kDate = "20150830T123600Z";

struct SuiteCase {
  const char* name;
  const char* method;
  const char* path;
  const char* query;
  std::vector<std::pair<std::string, std::string>> extra_headers;
  const char* body;
  const char* signed_headers;
  const char* signature;
};

Request request_of(const SuiteCase& c) {
  Request r{c.method, c.path, c.query, {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", kDate}}, c.body};
  for (const auto& h : c.extra_headers) r.headers.push_back(h);
  return r;
}

class SigV4SuiteTest : public ::testing::TestWithParam<SuiteCase> {};

TEST_P(SigV4SuiteTest, SignsAsAwsDoes) {
  const auto& c = GetParam();
  EXPECT_EQ(authorization(request_of(c), kSuite, "us-east-1", "service"),
            std::string("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
                        "SignedHeaders=") +
                c.signed_headers + ", Signature=" + c.signature)
      << c.name;
}

INSTANTIATE_TEST_SUITE_P(
    AwsSigV4TestSuite, SigV4SuiteTest,
    ::testing::Values(SuiteCase{"get-vanilla",
                                "GET",
                                "/",
                                "",
                                {},
                                "",
                                "host;x-amz-date",
                                "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
                      SuiteCase{"get-vanilla-query-order-key-case",
                                "GET",
                                "/",
                                "Param2=value2&Param1=value1",
                                {},
                                "",
                                "host;x-amz-date",
                                "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
                      SuiteCase{"get-vanilla-query-order-value",
                                "GET",
                                "/",
                                "Param1=value2&Param1=value1",
                                {},
                                "",
                                "host;x-amz-date",
                                "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694"},
                      SuiteCase{"get-vanilla-empty-query-key",
                                "GET",
                                "/",
                                "Param1=value1",
                                {},
                                "",
                                "host;x-amz-date",
                                "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb"},
                      SuiteCase{"get-vanilla-query-unreserved",
                                "GET",
                                "/",
                                "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz="
                                "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
                                {},
                                "",
                                "host;x-amz-date",
                                "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"},
                      SuiteCase{"get-vanilla-utf8-query",
                                "GET",
                                "/",
                                "\xE1\x88\xB4=bar",
                                {},
                                "",
                                "host;x-amz-date",
                                "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"},
                      SuiteCase{"get-utf8",
                                "GET",
                                "/\xE1\x88\xB4",
                                "",
                                {},
                                "",
                                "host;x-amz-date",
                                "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"},
                      SuiteCase{"get-header-value-trim",
                                "GET",
                                "/",
                                "",
                                {{"My-Header1", " value1"}, {"My-Header2", " \"a   b   c\""}},
                                "",
                                "host;my-header1;my-header2;x-amz-date",
                                "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"},
                      SuiteCase{"get-space",
                                "GET",
                                "/example space/",
                                "",
                                {},
                                "",
                                "host;x-amz-date",
                                "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741"},
                      SuiteCase{"get-slashes",
                                "GET",
                                "//example//",
                                "",
                                {},
                                "",
                                "host;x-amz-date",
                                "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84"},
                      SuiteCase{"get-relative-relative",
                                "GET",
                                "/example1/example2/../..",
                                "",
                                {},
                                "",
                                "host;x-amz-date",
                                "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
                      SuiteCase{"get-slash-dot-slash",
                                "GET",
                                "/./",
                                "",
                                {},
                                "",
                                "host;x-amz-date",
                                "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
                      SuiteCase{"get-slash-pointless-dot",
                                "GET",
                                "/./example",
                                "",
                                {},
                                "",
                                "host;x-amz-date",
                                "ef75d96142cf21edca26f06005da7988e4f8dc83a165a80865db7089db637ec5"},
                      SuiteCase{"post-vanilla",
                                "POST",
                                "/",
                                "",
                                {},
                                "",
                                "host;x-amz-date",
                                "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
                      SuiteCase{"post-vanilla-empty-query-value",
                                "POST",
                                "/",
                                "Param1=value1",
                                {},
                                "",
                                "host;x-amz-date",
                                "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"},
                      SuiteCase{"post-header-key-sort",
                                "POST",
                                "/",
                                "",
                                {{"My-Header1", "value1"}},
                                "",
                                "host;my-header1;x-amz-date",
                                "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c"}));

TEST(SigV4Test, CanonicalRequestOfTheSuitesHeaderTrimCase) {
  const Request r{"GET",
                  "/",
                  "",
                  {{"Host", "example.amazonaws.com"},
                   {"My-Header1", " value1"},
                   {"My-Header2", " \"a   b   c\""},
                   {"X-Amz-Date", kDate}},
                  ""};
  EXPECT_EQ(canonical_request(r),
            "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\nmy-header2:\"a b c\"\n"
            "x-amz-date:20150830T123600Z\n\nhost;my-header1;my-header2;x-amz-date\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(SigV4Test, AmzDateIsUtc) {
  EXPECT_EQ(amz_date(1440938160), "20150830T123600Z");
}

}  // namespace
}  // namespace permiso::secrets::sigv4
