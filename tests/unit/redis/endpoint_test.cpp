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

}  // namespace
}  // namespace permiso::redis
