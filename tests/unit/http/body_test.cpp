// Body readers: form decoding, JSON objects, OAuth parameter maps, Basic and Bearer credentials,
// including hostile input.
#include "http/body.hpp"
#include "http/numbers.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace permiso::http {
namespace {

Request with_body(std::string content_type, std::string body) {
  Request r;
  r.method = "POST";
  if (!content_type.empty()) r.headers.emplace_back("content-type", std::move(content_type));
  r.body = std::move(body);
  return r;
}

TEST(WholeNumber, TheWholeTextOrNothing) {
  EXPECT_EQ(whole_number<std::int64_t>("42"), 42);
  EXPECT_EQ(whole_number<std::int64_t>("-7"), -7);
  EXPECT_FALSE(whole_number<std::int64_t>("5abc"));
  EXPECT_FALSE(whole_number<std::int64_t>(" 5"));
  EXPECT_FALSE(whole_number<std::int64_t>(""));
  EXPECT_FALSE(whole_number<std::uint64_t>("-1"));
  EXPECT_FALSE(whole_number<std::uint64_t>("18446744073709551616"));  // one past the range
}

TEST(FormDecode, PlusIsSpaceAndPercentIsAByte) {
  EXPECT_EQ(form_decode("a+b%20c%2Bd%26").value(), "a b c+d&");
  EXPECT_EQ(form_decode("%e2%82%AC").value(), "\xE2\x82\xAC");
  EXPECT_EQ(percent_decode("a+b%20").value(), "a+b ");
}

TEST(FormDecode, RejectsMalformedEscapes) {
  for (std::string_view bad : {"%", "%2", "abc%", "%zz", "%2g", "%%41", "a%-1"}) {
    auto r = form_decode(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error(), BodyError::MalformedEncoding);
  }
}

TEST(ParseForm, ParsesFieldsInOrder) {
  auto r = parse_form("grant_type=password&username=alice%40example.com&password=p%26ss+word&&scope=");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->size(), 4U);
  EXPECT_EQ((*r)[0], (std::pair<std::string, std::string>{"grant_type", "password"}));
  EXPECT_EQ((*r)[1].second, "alice@example.com");
  EXPECT_EQ((*r)[2].second, "p&ss word");
  EXPECT_EQ((*r)[3], (std::pair<std::string, std::string>{"scope", ""}));
}

TEST(ParseForm, FieldWithoutEqualsHasEmptyValue) {
  auto r = parse_form("flag&x=1");
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)[0].first, "flag");
  EXPECT_EQ((*r)[0].second, "");
}

TEST(ParseForm, EnforcesLimits) {
  FormLimits limits;
  limits.max_fields = 3;
  limits.max_field_bytes = 10;
  EXPECT_EQ(parse_form("a=1&b=2&c=3&d=4", limits).error(), BodyError::TooManyFields);
  EXPECT_EQ(parse_form("a=12345678901", limits).error(), BodyError::FieldTooLarge);
  EXPECT_EQ(parse_form(std::string(100, 'k') + "=1", limits).error(), BodyError::FieldTooLarge);
  EXPECT_TRUE(parse_form("a=1234567890", limits));
  EXPECT_EQ(parse_form("a=%zz", limits).error(), BodyError::MalformedEncoding);
}

TEST(ParseForm, TextThatIsNotUtf8IsMalformed) {
  // RFC 6749 appendix B: form values are UTF-8; any other bytes are refused before a handler
  // (or a database) sees them. Control characters are text, and stay allowed.
  for (const char* bad : {"username=%FF%FE", "password=%C3%28", "%ED%A0%80=x", "a=%C0%AF", "a=%F4%90%80%80"}) {
    EXPECT_EQ(parse_form(bad).error(), BodyError::MalformedEncoding) << bad;
  }
  auto ok = parse_form("username=J%C3%BCrgen&password=%E2%82%AC%0A%F0%9F%94%91");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->at(0).second, "J\xC3\xBCrgen");
  EXPECT_EQ(ok->at(1).second, "\xE2\x82\xAC\n\xF0\x9F\x94\x91");
}

TEST(ParseJsonObject, AcceptsObjectsOnly) {
  auto ok = parse_json_object(R"({"a":1,"b":"x"})");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->at("b").as_string(), "x");
  EXPECT_EQ(parse_json_object("[1,2]").error(), BodyError::NotAnObject);
  EXPECT_EQ(parse_json_object("\"s\"").error(), BodyError::NotAnObject);
  EXPECT_EQ(parse_json_object("{\"a\":").error(), BodyError::InvalidJson);
  EXPECT_EQ(parse_json_object("").error(), BodyError::InvalidJson);
  EXPECT_EQ(parse_json_object("{} trailing").error(), BodyError::InvalidJson);
}

TEST(ParseJsonObject, RejectsHostileNesting) {
  std::string deep = "{\"a\":" + std::string(10000, '[') + std::string(10000, ']') + "}";
  EXPECT_EQ(parse_json_object(deep).error(), BodyError::InvalidJson);
}

TEST(OAuthParams, ReadsFormByDefaultAndWithCharset) {
  auto r = read_oauth_params(
      with_body("application/x-www-form-urlencoded; charset=UTF-8", "grant_type=password&username=bob"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->at("grant_type"), "password");
  EXPECT_EQ(r->at("username"), "bob");
  auto no_type = read_oauth_params(with_body("", "a=1"));
  ASSERT_TRUE(no_type);
  EXPECT_EQ(no_type->at("a"), "1");
}

TEST(OAuthParams, ReadsJsonAndFlattensScalars) {
  auto r = read_oauth_params(
      with_body("Application/JSON", R"({"refresh_token":"rt","expires":60,"flag":true,"skip":null})"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->at("refresh_token"), "rt");
  EXPECT_EQ(r->at("expires"), "60");
  EXPECT_EQ(r->at("flag"), "true");
  EXPECT_EQ(r->count("skip"), 0U);
  EXPECT_EQ(read_oauth_params(with_body("application/json", R"({"a":[1]})")).error(), BodyError::InvalidValue);
  EXPECT_EQ(read_oauth_params(with_body("application/json", "[]")).error(), BodyError::NotAnObject);
}

TEST(OAuthParams, DuplicateParameterIsAnError) {
  auto r = read_oauth_params(with_body("application/x-www-form-urlencoded", "scope=a&scope=b"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), BodyError::DuplicateParameter);
  // Encoded names are compared after decoding.
  EXPECT_EQ(read_oauth_params(with_body("", "client_id=a&client%5Fid=b")).error(), BodyError::DuplicateParameter);
  EXPECT_EQ(read_oauth_params(with_body("application/json", R"({"scope":"a","scope":"b"})")).error(),
            BodyError::DuplicateParameter);
  // An escaped spelling is the same key.
  EXPECT_EQ(read_oauth_params(with_body("application/json", R"({"a":"1","\u0061":"2"})")).error(),
            BodyError::DuplicateParameter);
  EXPECT_TRUE(read_oauth_params(with_body("application/json", R"({"x":"1","y":"2"})")));
}

TEST(OAuthParams, OtherMediaTypesAreRefused) {
  EXPECT_EQ(read_oauth_params(with_body("text/plain", "a=1")).error(), BodyError::UnsupportedMediaType);
  auto empty = read_oauth_params(with_body("", ""));
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
}

TEST(Base64, StrictDecoding) {
  EXPECT_EQ(base64_decode("").value(), "");
  EXPECT_EQ(base64_decode("Zg==").value(), "f");
  EXPECT_EQ(base64_decode("Zm8=").value(), "fo");
  EXPECT_EQ(base64_decode("Zm9v").value(), "foo");
  for (std::string_view bad : {"Zg", "Zg=", "Z===", "Zh==", "Zm9=", "Zg==Zg==", "Zm9v!", "Zm 9v", "=Zm9"}) {
    EXPECT_FALSE(base64_decode(bad)) << bad;
  }
}

TEST(BasicAuth, Rfc6749Example) {
  // RFC 6749 §2.3.1: "Authorization: Basic czZCaGRSa3F0Mzo3RmpmcDBaQnIxS3REUmJuZlZkbUl3"
  auto r = parse_basic_auth("Basic czZCaGRSa3F0Mzo3RmpmcDBaQnIxS3REUmJuZlZkbUl3");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->client_id, "s6BhdRkqt3");
  EXPECT_EQ(r->client_secret, "7Fjfp0ZBr1KtDRbnfVdmIw");
}

TEST(BasicAuth, PercentDecodesIdAndSecret) {
  // base64("my%3Aclient:p%40ss%3Aword+x") : the colon inside the id is encoded.
  auto r = parse_basic_auth("basic bXklM0FjbGllbnQ6cCU0MHNzJTNBd29yZCt4");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->client_id, "my:client");
  EXPECT_EQ(r->client_secret, "p@ss:word x");
}

TEST(BasicAuth, RejectsMalformedInput) {
  EXPECT_EQ(parse_basic_auth("Bearer abc").error(), BodyError::MissingCredentials);
  EXPECT_EQ(parse_basic_auth("Basic !!!!").error(), BodyError::MalformedCredentials);
  EXPECT_EQ(parse_basic_auth("Basic bm9jb2xvbg==").error(), BodyError::MalformedCredentials);  // "nocolon"
  EXPECT_EQ(parse_basic_auth("Basic OnNlY3JldA==").error(), BodyError::MalformedCredentials);  // ":secret"
  EXPECT_EQ(parse_basic_auth("Basic YSUyOmI=").error(), BodyError::MalformedEncoding);         // "a%2:b"
  Request none;
  EXPECT_EQ(parse_basic_auth(none).error(), BodyError::MissingCredentials);
}

TEST(BearerToken, ExtractsTokenCaseInsensitively) {
  Request r;
  r.headers.emplace_back("authorization", "bearer abc.def.ghi");
  EXPECT_EQ(bearer_token(r).value(), "abc.def.ghi");
  r.headers[0].second = "Bearer ";
  EXPECT_FALSE(bearer_token(r));
  r.headers[0].second = "Basic abc";
  EXPECT_FALSE(bearer_token(r));
  r.headers[0].second = "Bearer a b";
  EXPECT_FALSE(bearer_token(r));
  Request none;
  EXPECT_FALSE(bearer_token(none));
}

TEST(Cookie, FindsItsValueAmongOthersAndHeaders) {
  Request r;
  r.headers = {{"cookie", "theme=dark; __Secure-permiso_refresh=abc.def; x=1"}, {"cookie", "late=2"}};
  EXPECT_EQ(cookie(r, "__Secure-permiso_refresh"), "abc.def");
  EXPECT_EQ(cookie(r, "x"), "1");
  EXPECT_EQ(cookie(r, "late"), "2");
  EXPECT_EQ(cookie(r, "theme"), "dark");
  EXPECT_FALSE(cookie(r, "permiso_refresh")) << "a name is matched whole";
  EXPECT_FALSE(cookie(r, "missing"));
  r.headers = {{"cookie", "empty=; novalue"}};
  EXPECT_EQ(cookie(r, "empty"), "");
  EXPECT_FALSE(cookie(r, "novalue"));
}

TEST(BodyError, EveryReasonHasNameAndDescription) {
  for (auto e : {BodyError::MalformedEncoding, BodyError::TooManyFields, BodyError::FieldTooLarge,
                 BodyError::InvalidJson, BodyError::NotAnObject, BodyError::InvalidValue, BodyError::DuplicateParameter,
                 BodyError::UnsupportedMediaType, BodyError::MissingCredentials, BodyError::MalformedCredentials}) {
    EXPECT_NE(to_string(e), "unknown");
    EXPECT_FALSE(describe(e).empty());
  }
}

}  // namespace
}  // namespace permiso::http
