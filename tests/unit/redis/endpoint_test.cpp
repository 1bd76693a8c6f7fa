// The redis:// URL grammar every Redis user here shares.
#include "redis/endpoint.hpp"

#include <gtest/gtest.h>

namespace permiso::redis {
namespace {

TEST(RedisUrl, ParsesTheUsualForms) {
  auto a = parse_url("redis://localhost:6380/2");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "localhost");
  EXPECT_EQ(a->port, 6380);
  EXPECT_EQ(a->db, 2);
  auto b = parse_url("redis://:s3cret@redis:6379/0");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->password, "s3cret");
  EXPECT_EQ(b->host, "redis");
  EXPECT_EQ(parse_url("redis://127.0.0.1")->port, 6379);
  EXPECT_FALSE(parse_url("http://x"));
  EXPECT_FALSE(parse_url("redis://:p@h:99999"));
  EXPECT_FALSE(parse_url("redis://"));
}

TEST(RedisUrl, ThePasswordIsPercentDecoded) {
  // REDIS_URL_TEMPLATE writes the password percent-encoded (RFC 3986 userinfo).
  auto a = parse_url("redis://:a%20b%2Fc%40d%3Ae%25f@redis:6379/0");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->password, "a b/c@d:e%f");
  EXPECT_EQ(a->host, "redis");
  EXPECT_FALSE(parse_url("redis://:bad%2@redis:6379/0"));
  EXPECT_FALSE(parse_url("redis://:bad%zz@redis:6379/0"));
  EXPECT_FALSE(parse_url("redis://:bad%@redis:6379/0"));
}

}  // namespace
}  // namespace permiso::redis
