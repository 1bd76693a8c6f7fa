// The HTTP server as the services configure it: settings mapped from either service's
// configuration, and the per-address API limit hook.
#include "app/server_setup.hpp"

#include "config/config.hpp"
#include "config/gateway_config.hpp"

#include <gtest/gtest.h>

#include <sys/resource.h>

#include <algorithm>
#include <string>

namespace permiso::app {
namespace {

TEST(ServerConfig, MapsTheServerSectionOfTheAuthConfiguration) {
  config::AuthConfig cfg;
  cfg.host = "0.0.0.0";
  cfg.port = 8443;
  cfg.threads = 3;
  cfg.body_limit_bytes = 1234;
  cfg.header_limit_bytes = 567;
  cfg.header_timeout_s = 4;
  cfg.read_timeout_s = 5;
  cfg.idle_timeout_s = 6;
  cfg.shutdown_grace_s = 7;
  cfg.trusted_proxies = {"127.0.0.1"};
  cfg.allowed_origins = {"https://app.example"};
  const auto s = server_config(cfg);
  EXPECT_EQ(s.host, "0.0.0.0");
  EXPECT_EQ(s.port, 8443);
  EXPECT_EQ(s.threads, 3U);
  EXPECT_EQ(s.body_limit, 1234U);
  EXPECT_EQ(s.header_limit, 567U);
  EXPECT_EQ(s.header_timeout, std::chrono::seconds(4));
  EXPECT_EQ(s.read_timeout, std::chrono::seconds(5));
  EXPECT_EQ(s.idle_timeout, std::chrono::seconds(6));
  EXPECT_EQ(s.shutdown_grace, std::chrono::seconds(7));
  EXPECT_EQ(s.handler_timeout, http::ServerConfig{}.handler_timeout);  // permiso-auth keeps the default
  EXPECT_EQ(s.trusted_proxies, cfg.trusted_proxies);
  EXPECT_EQ(s.cors.allowed_origins, cfg.allowed_origins);
}

TEST(ServerConfig, MapsTheConnectionBoundOfBothServices) {
  config::AuthConfig auth;
  auth.max_connections = 321;
  EXPECT_EQ(server_config(auth).max_connections, 321U);
  config::GatewayConfig gateway;
  gateway.max_connections = 654;
  EXPECT_EQ(server_config(gateway).max_connections, 654U);
}

TEST(OpenFilesLimit, ConnectionsFitUnderTheLimitBesideTheReserve) {
  EXPECT_EQ(connections_within(1'048'576, 16'384), 16'384U);
  EXPECT_EQ(connections_within(1024, 16'384), 1024U - kReservedFileDescriptors);
  EXPECT_EQ(connections_within(kReservedFileDescriptors, 100), 1U);  // never zero: still serve one
}

TEST(OpenFilesLimit, TheSoftLimitIsRaisedTowardsWhatTheConnectionsNeed) {
  rlimit before{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &before), 0);
  rlimit lowered = before;
  lowered.rlim_cur = 600;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &lowered), 0);
  const auto fits = fit_open_files_limit(2000);
  rlimit after{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &after), 0);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &before), 0);
  if (before.rlim_max == RLIM_INFINITY || before.rlim_max >= 2000 + kReservedFileDescriptors) {
    EXPECT_EQ(after.rlim_cur, 2000 + kReservedFileDescriptors);
    EXPECT_EQ(fits, 2000U);
  } else {  // a hard limit below the need: raised to it, and the connections fitted under it
    EXPECT_EQ(after.rlim_cur, before.rlim_max);
    EXPECT_EQ(fits, connections_within(before.rlim_max, 2000));
  }
}

TEST(ServerConfig, TakesTheGatewaysHandlerTimeout) {
  config::GatewayConfig cfg;
  cfg.handler_timeout_s = 9;
  cfg.port = 8001;
  const auto s = server_config(cfg);
  EXPECT_EQ(s.handler_timeout, std::chrono::seconds(9));
  EXPECT_EQ(s.port, 8001);
}

http::Request request_from(const std::string& ip) {
  http::Request req;
  req.method = "GET";
  req.remote_ip = ip;
  return req;
}

TEST(ApiLimit, RefusesAnAddressOverItsRateWith429AndRetryAfter) {
  http::Registry metrics;
  auto hooks = standard_hooks(metrics);
  ratelimit::MemoryRateLimiter limiter;
  limit_api_per_address(hooks, limiter, ratelimit::Rate{2, 60});
  ASSERT_TRUE(hooks.admit);
  const auto a = request_from("10.0.0.1");
  EXPECT_FALSE(hooks.admit(a, "/api/v1/trades"));
  EXPECT_FALSE(hooks.admit(a, "/api/v1/trades"));
  const auto refused = hooks.admit(a, "/api/v1/trades");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 429);
  EXPECT_NE(refused->body.find("rate_limited"), std::string::npos);
  const auto& h = refused->headers;
  EXPECT_TRUE(std::any_of(h.begin(), h.end(), [](const auto& kv) { return kv.first == "Retry-After"; }));
  EXPECT_FALSE(hooks.admit(request_from("10.0.0.2"), "/api/v1/trades"));  // per address
  EXPECT_FALSE(hooks.admit(a, "/health"));                                // only /api/ routes
}

TEST(ApiLimit, AZeroRateAdmitsEverything) {
  http::ServerHooks hooks;
  ratelimit::MemoryRateLimiter limiter;
  limit_api_per_address(hooks, limiter, ratelimit::Rate{0, 60});
  EXPECT_FALSE(hooks.admit);
}

}  // namespace
}  // namespace permiso::app
