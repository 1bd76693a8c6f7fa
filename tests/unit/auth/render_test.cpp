// Resource renderers: contract shapes, ISO 8601 UTC dates, full_name, and never a password,
// hash or secret in the output.
#include "auth/render.hpp"

#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <string>

namespace permiso::auth {
namespace {

storage::User sample_user() {
  storage::User u;
  u.id = 7;
  u.username = "alice";
  u.email = "alice@example.com";
  u.password_hash = "$argon2id$v=19$m=65536,t=3,p=1$c2FsdHNhbHQ$SECRETHASHVALUE";
  u.first_name = "Alice";
  u.last_name = "Liddell";
  u.is_active = true;
  u.is_verified = true;
  u.created_at = 1700000000;  // 2023-11-14T22:13:20Z
  u.updated_at = 1700000060;
  return u;
}

TEST(Render, UserHasContractShapeAndNoHash) {
  const auto user = sample_user();
  const std::vector<storage::Role> roles{{3, "user", "Regular user"}};
  const auto obj = render_user(user, roles, {"profile:read", "profile:write"});
  for (const char* key :
       {"id", "username", "email", "first_name", "last_name", "display_name", "bio", "is_active", "is_verified",
        "is_superuser", "full_name", "last_login", "created_at", "updated_at", "roles", "scopes"}) {
    EXPECT_TRUE(obj.contains(key)) << key;
  }
  EXPECT_FALSE(obj.contains("password"));
  EXPECT_FALSE(obj.contains("password_hash"));
  EXPECT_FALSE(obj.contains("hashed_password"));
  const auto text = boost::json::serialize(obj);
  EXPECT_EQ(text.find("argon2"), std::string::npos);
  EXPECT_EQ(text.find("SECRETHASHVALUE"), std::string::npos);
  EXPECT_EQ(obj.at("id").as_int64(), 7);
  EXPECT_EQ(obj.at("full_name").as_string(), "Alice Liddell");
  EXPECT_EQ(obj.at("created_at").as_string(), "2023-11-14T22:13:20Z");
  EXPECT_EQ(obj.at("updated_at").as_string(), "2023-11-14T22:14:20Z");
  EXPECT_TRUE(obj.at("last_login").is_null());
  EXPECT_TRUE(obj.at("bio").is_null());
  const auto& r = obj.at("roles").as_array();
  ASSERT_EQ(r.size(), 1U);
  EXPECT_EQ(r[0].as_object().at("name").as_string(), "user");
  EXPECT_EQ(r[0].as_object().at("id").as_int64(), 3);
  EXPECT_EQ(r[0].as_object().at("description").as_string(), "Regular user");
  EXPECT_EQ(obj.at("scopes").as_array().size(), 2U);
  EXPECT_EQ(obj.at("scopes").as_array()[1].as_string(), "profile:write");
}

TEST(Render, FullNameFallsBackToDisplayNameThenUsername) {
  auto u = sample_user();
  u.last_name.reset();
  EXPECT_EQ(full_name(u), "Alice");
  u.first_name.reset();
  u.display_name = "Ally";
  EXPECT_EQ(full_name(u), "Ally");
  u.display_name = "";
  EXPECT_EQ(full_name(u), "alice");
  u.first_name.reset();
  u.last_name = "Liddell";
  EXPECT_EQ(full_name(u), "Liddell");
}

TEST(Render, LastLoginIsIso8601Utc) {
  auto u = sample_user();
  u.last_login = 0;
  const auto obj = render_user(u, {}, {});
  EXPECT_EQ(obj.at("last_login").as_string(), "1970-01-01T00:00:00Z");
  EXPECT_TRUE(obj.at("roles").as_array().empty());
}

TEST(Render, ClientHasContractShapeAndNoSecretHash) {
  storage::ServiceClient c;
  c.client_id = "svc-trading";
  c.name = "Trading";
  c.secret_hash = "SECRET-HASH-CURRENT";
  c.previous_secret_hash = "SECRET-HASH-PREVIOUS";
  c.previous_secret_expires_at = 1700000100;
  c.rate_limit_per_minute = 60;
  c.allowed_ips = R"(["10.0.0.1","192.168.0.0/16"])";
  c.created_at = 1700000000;
  c.updated_at = 1700000000;
  const auto obj = render_client(c, {"trade:read"});
  for (const char* key : {"client_id", "name", "description", "client_type", "is_active", "is_trusted",
                          "access_token_lifetime", "rate_limit_per_minute", "rate_limit_per_hour", "allowed_ips",
                          "scopes", "created_at", "updated_at", "last_used_at"}) {
    EXPECT_TRUE(obj.contains(key)) << key;
  }
  const auto text = boost::json::serialize(obj);
  EXPECT_EQ(text.find("SECRET-HASH"), std::string::npos);
  EXPECT_FALSE(obj.contains("secret_hash"));
  EXPECT_FALSE(obj.contains("client_secret"));
  EXPECT_EQ(obj.at("client_type").as_string(), "confidential");
  EXPECT_EQ(obj.at("access_token_lifetime").as_int64(), 3600);
  EXPECT_EQ(obj.at("rate_limit_per_minute").as_int64(), 60);
  EXPECT_TRUE(obj.at("rate_limit_per_hour").is_null());
  EXPECT_TRUE(obj.at("last_used_at").is_null());
  ASSERT_EQ(obj.at("allowed_ips").as_array().size(), 2U);
  EXPECT_EQ(obj.at("allowed_ips").as_array()[0].as_string(), "10.0.0.1");
  EXPECT_EQ(obj.at("created_at").as_string(), "2023-11-14T22:13:20Z");
}

TEST(Render, RoleCarriesItsScopes) {
  const storage::Scope s{5, "trade:read", "Read trades", "trade", "read"};
  const auto obj = render_role(storage::Role{2, "trader", "Trades"}, {s});
  EXPECT_EQ(obj.at("name").as_string(), "trader");
  ASSERT_EQ(obj.at("scopes").as_array().size(), 1U);
  const auto& so = obj.at("scopes").as_array()[0].as_object();
  EXPECT_EQ(so.at("resource").as_string(), "trade");
  EXPECT_EQ(so.at("action").as_string(), "read");
  EXPECT_EQ(so.at("id").as_int64(), 5);
}

TEST(Render, AuditEventParsesDetailsAndToleratesGarbage) {
  storage::AuditEvent e;
  e.id = 11;
  e.ts = 1700000000;
  e.actor = "admin";
  e.actor_type = "user";
  e.action = "client.create";
  e.target = "svc-x";
  e.ip = "127.0.0.1";
  e.outcome = "success";
  e.details = R"({"scopes":["a"]})";
  e.request_id = "req-1";
  e.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
  auto obj = render_audit_event(e);
  EXPECT_EQ(obj.at("trace_id").as_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(obj.at("timestamp").as_string(), "2023-11-14T22:13:20Z");
  EXPECT_EQ(obj.at("details").as_object().at("scopes").as_array().size(), 1U);
  EXPECT_EQ(obj.at("request_id").as_string(), "req-1");
  e.details = "not json";
  obj = render_audit_event(e);
  EXPECT_TRUE(obj.at("details").as_object().empty());
}

TEST(Render, SessionMarksTheCurrentOneAndHasIsoTimes) {
  storage::Session s;
  s.id = "sess-1";
  s.user_id = 4;
  s.created_at = 1700000000;
  s.last_seen_at = 1700000060;
  s.expires_at = 1700086400;
  s.ip = "127.0.0.1";
  s.user_agent = "curl/8";
  auto obj = render_session(s, "sess-1");
  EXPECT_EQ(obj.at("id").as_string(), "sess-1");
  EXPECT_TRUE(obj.at("current").as_bool());
  EXPECT_EQ(obj.at("created_at").as_string(), "2023-11-14T22:13:20Z");
  EXPECT_EQ(obj.at("expires_at").as_string(), "2023-11-15T22:13:20Z");
  EXPECT_EQ(obj.at("ip").as_string(), "127.0.0.1");
  EXPECT_FALSE(render_session(s, "other").at("current").as_bool());
  EXPECT_FALSE(render_session(s, "").at("current").as_bool());
  s.id.clear();
  EXPECT_FALSE(render_session(s, "").at("current").as_bool());
}

}  // namespace
}  // namespace permiso::auth
