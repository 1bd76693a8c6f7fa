// libpermiso-client against the real permiso-auth (and a real redis-server): caching per scope
// set, forced refresh, renewal ahead of expiry on an injected clock, single flight under 64
// threads counted by the server's own metrics, 401 → refresh → retry, typed errors, 429
// back-off honouring Retry-After, retries on network errors, the Redis-shared cache, and the
// user-login mode.
#include "permiso/auth_client.hpp"
#include "auth_server.hpp"
#include "redis_server.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <barrier>
#include <chrono>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace permiso {
namespace {

using client_testing::AuthServer;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kTokenRoute = "/api/v1/auth/token";

/// A loopback TCP relay in front of the auth server that holds every answer for `delay`, so
/// a request stays in flight long enough for the test's other threads to arrive while it is
/// out (without it, on a loaded machine each thread could finish before the next starts).
class SlowRelay {
 public:
  SlowRelay(std::uint16_t upstream_port, milliseconds delay) : upstream_(upstream_port), delay_(delay) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr = loopback(0);
    if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listener_, 64) != 0) {
      throw std::runtime_error("relay: cannot listen");
    }
    socklen_t len = sizeof addr;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~SlowRelay() {
    stopping_ = true;
    ::shutdown(listener_, SHUT_RDWR);
    acceptor_.join();
    ::close(listener_);
    for (auto& t : pumps_) t.join();
  }
  SlowRelay(const SlowRelay&) = delete;
  SlowRelay& operator=(const SlowRelay&) = delete;

  [[nodiscard]] std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  static sockaddr_in loopback(std::uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
  }
  void accept_loop() {
    for (;;) {
      const int client = ::accept(listener_, nullptr, nullptr);
      if (client < 0) return;  // shut down
      const int server = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in up = loopback(upstream_);
      if (server < 0 || ::connect(server, reinterpret_cast<sockaddr*>(&up), sizeof up) != 0) {
        ::close(client);
        if (server >= 0) ::close(server);
        continue;
      }
      pumps_.emplace_back([this, client, server] { pump(client, server); });
    }
  }
  /// Client bytes go up at once; each chunk of the answer waits `delay_` first.
  void pump(int client, int server) {
    std::array<char, 16384> buf{};
    while (!stopping_) {
      pollfd fds[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
      if (::poll(fds, 2, 100) <= 0) continue;
      bool closed = false;
      for (int i = 0; i < 2 && !closed; ++i) {
        if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
        const auto n = ::recv(fds[i].fd, buf.data(), buf.size(), 0);
        if (n <= 0) {
          closed = true;
          break;
        }
        if (i == 1) std::this_thread::sleep_for(delay_);
        if (::send(i == 0 ? server : client, buf.data(), static_cast<std::size_t>(n), MSG_NOSIGNAL) != n) closed = true;
      }
      if (closed) break;
    }
    ::close(client);
    ::close(server);
  }

  std::uint16_t upstream_;
  milliseconds delay_;
  int listener_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  std::vector<std::thread> pumps_;  // only the acceptor thread adds to it
};

/// A clock the test moves: the system clock plus an offset.
struct TestClock {
  std::atomic<std::int64_t> offset_s{0};
  std::function<std::chrono::system_clock::time_point()> fn() {
    return [this] { return std::chrono::system_clock::now() + seconds(offset_s.load()); };
  }
};

/// Records every wait the client asks for (and really waits, so servers see real time pass).
struct SleepLog {
  std::mutex mu;
  std::vector<milliseconds> waits;
  std::function<void(milliseconds)> fn() {
    return [this](milliseconds d) {
      {
        std::lock_guard lock(mu);
        waits.push_back(d);
      }
      std::this_thread::sleep_for(d);
    };
  }
};

class AuthClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = std::make_unique<AuthServer>(); }
  static void TearDownTestSuite() { server_.reset(); }

  static AuthClientOptions options_for(const AuthServer::Credentials& c) {
    AuthClientOptions o;
    o.auth_url = server_->url();
    o.client_id = c.client_id;
    o.client_secret = c.client_secret;
    return o;
  }
  static double tokens_issued() { return server_->requests_counted(kTokenRoute, "200"); }

  static std::unique_ptr<AuthServer> server_;
};
std::unique_ptr<AuthServer> AuthClientTest::server_;

TEST_F(AuthClientTest, CachesOneTokenPerScopeSetInAnyOrder) {
  auto creds = server_->create_client({"trade:read", "account:read", "market:data"});
  AuthClient client(options_for(creds));
  const double before = tokens_issued();
  auto a = client.service_token({"trade:read", "account:read"});
  ASSERT_TRUE(a) << a.error().message;
  auto b = client.service_token({"account:read", "trade:read", "trade:read"});
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_EQ(a->access_token, b->access_token);
  EXPECT_EQ(tokens_issued(), before + 1);
  auto c = client.service_token({"market:data"});
  ASSERT_TRUE(c);
  EXPECT_NE(c->access_token, a->access_token);
  EXPECT_EQ(c->scope, "market:data");
  EXPECT_EQ(tokens_issued(), before + 2);
  EXPECT_EQ(client.token_requests(), 2u);
}

TEST_F(AuthClientTest, ScopeKeyIsSortedDeduplicatedAndSpaceJoined) {
  EXPECT_EQ(AuthClient::scope_key({"trade:read", "account:read", "trade:read"}), "account:read trade:read");
  EXPECT_EQ(AuthClient::scope_key({"b a", "c"}), "a b c");
  EXPECT_EQ(AuthClient::scope_key({}), "");
}

TEST_F(AuthClientTest, ForceRefreshAsksTheServerAgain) {
  auto creds = server_->create_client({"trade:read"});
  AuthClient client(options_for(creds));
  auto a = client.service_token({"trade:read"});
  ASSERT_TRUE(a);
  const double before = tokens_issued();
  auto b = client.service_token({"trade:read"}, /*force_refresh=*/true);
  ASSERT_TRUE(b);
  EXPECT_NE(a->access_token, b->access_token);
  EXPECT_EQ(tokens_issued(), before + 1);
  auto c = client.service_token({"trade:read"});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->access_token, b->access_token);  // the forced token is the cached one now
}

TEST_F(AuthClientTest, RenewsAheadOfExpiryByTheMargin) {
  auto creds = server_->create_client({"trade:read"}, "\"access_token_lifetime\": 300");
  TestClock clock;
  auto o = options_for(creds);
  o.now = clock.fn();
  o.renew_margin = seconds(60);
  AuthClient client(o);
  auto first = client.service_token({"trade:read"});
  ASSERT_TRUE(first);
  const double before = tokens_issued();
  clock.offset_s = 230;  // 70 s left: more than the margin
  auto second = client.service_token({"trade:read"});
  ASSERT_TRUE(second);
  EXPECT_EQ(second->access_token, first->access_token);
  EXPECT_EQ(tokens_issued(), before);
  clock.offset_s = 245;  // 55 s left: inside the margin, renewed although still valid
  auto third = client.service_token({"trade:read"});
  ASSERT_TRUE(third);
  EXPECT_NE(third->access_token, first->access_token);
  EXPECT_EQ(tokens_issued(), before + 1);
}

TEST_F(AuthClientTest, AMarginLongerThanTheLifetimeRenewsAtHalfLife) {
  auto creds = server_->create_client({"trade:read"}, "\"access_token_lifetime\": 300");
  TestClock clock;
  auto o = options_for(creds);
  o.now = clock.fn();
  o.renew_margin = seconds(3600);
  AuthClient client(o);
  auto first = client.service_token({"trade:read"});
  ASSERT_TRUE(first);
  clock.offset_s = 100;
  auto cached = client.service_token({"trade:read"});
  ASSERT_TRUE(cached);
  EXPECT_EQ(cached->access_token, first->access_token);  // not one request per call
  clock.offset_s = 160;
  auto renewed = client.service_token({"trade:read"});
  ASSERT_TRUE(renewed);
  EXPECT_NE(renewed->access_token, first->access_token);
}

TEST_F(AuthClientTest, SixtyFourConcurrentCallersCauseOneTokenRequest) {
  auto creds = server_->create_client({"trade:read", "account:read"});
  AuthClient client(options_for(creds));
  const double before = tokens_issued();
  constexpr int kThreads = 64;
  std::barrier start(kThreads);
  std::vector<std::string> tokens(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      auto t = client.service_token({"account:read", "trade:read"});
      tokens[i] = t ? t->access_token : "error: " + t.error().message;
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& t : tokens) EXPECT_EQ(t, tokens[0]);
  EXPECT_FALSE(tokens[0].starts_with("error"));
  EXPECT_EQ(tokens_issued(), before + 1) << "the server saw more than one token request";
  EXPECT_EQ(client.token_requests(), 1u);
}

TEST_F(AuthClientTest, ForcedRefreshesFromManyThreadsJoinOneFlight) {
  auto creds = server_->create_client({"trade:read"});
  // Each answer held 300 ms: the threads released together all ask while one request is out.
  SlowRelay relay(server_->port(), milliseconds(300));
  auto options = options_for(creds);
  options.auth_url = relay.url();
  AuthClient client(options);
  ASSERT_TRUE(client.service_token({"trade:read"}));
  constexpr int kThreads = 16;
  std::barrier start(kThreads);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      start.arrive_and_wait();
      if (client.service_token({"trade:read"}, true)) ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kThreads);
  // Threads that arrive while a forced request is out share it; late arrivals start another.
  EXPECT_LT(client.token_requests(), 1u + kThreads);
  EXPECT_LE(client.token_requests(), 3u);
}

TEST_F(AuthClientTest, A401ForcesOneRefreshAndOneRetry) {
  // A session whose access token the server refuses (here: not a JWT) but whose refresh token
  // is good: the refusal is not a revocation, so the client renews once and retries.
  AuthClientOptions o;
  o.auth_url = server_->url();
  AuthClient login(o);
  auto s = login.login("admin", server_->admin_password());
  ASSERT_TRUE(s) << s.error().message;
  AuthClient client(o);
  UserSession stale = *s;
  stale.access_token = "not-a-token";
  client.set_session(stale);
  const double refused = server_->requests_counted("/api/v1/users/me", "401");
  auto me = client.request("GET", server_->url() + "/api/v1/users/me");
  ASSERT_TRUE(me) << me.error().message;
  EXPECT_EQ(me->status, 200);
  EXPECT_EQ(server_->requests_counted("/api/v1/users/me", "401"), refused + 1);
  EXPECT_EQ(client.token_requests(), 1u);  // the refresh
  ASSERT_TRUE(client.session());
  EXPECT_NE(client.session()->access_token, "not-a-token");
}

TEST_F(AuthClientTest, ARevokedTokenIsDroppedAndReportedNotReplaced) {
  auto creds = server_->create_client({"admin:clients"});
  AuthClient client(options_for(creds));
  auto token = client.service_token({"admin:clients"});
  ASSERT_TRUE(token);
  auto revoked =
      client.raw("POST", server_->url() + "/api/v1/auth/revoke", "{\"token\":\"" + token->access_token + "\"}",
                 {{"Authorization", "Bearer " + token->access_token}});
  ASSERT_TRUE(revoked);
  ASSERT_EQ(revoked->status, 200);
  const double refused = server_->requests_counted("/api/v1/service-clients", "401");

  // A revocation is deliberate: the call fails, and no new token is fetched behind it.
  auto r = client.request("GET", server_->url() + "/api/v1/service-clients", {"admin:clients"});
  ASSERT_FALSE(r) << "a revoked token must not be silently replaced";
  EXPECT_EQ(r.error().code, AuthClientErrc::TokenRevoked);
  EXPECT_EQ(r.error().http_status, 401);
  EXPECT_EQ(r.error().error, "invalid_token");
  EXPECT_EQ(server_->requests_counted("/api/v1/service-clients", "401"), refused + 1);
  EXPECT_EQ(client.token_requests(), 1u);

  // The token was dropped: the next call gets a fresh one and succeeds.
  auto again = client.request("GET", server_->url() + "/api/v1/service-clients", {"admin:clients"});
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->status, 200);
  EXPECT_EQ(client.token_requests(), 2u);
  auto now = client.service_token({"admin:clients"});
  ASSERT_TRUE(now);
  EXPECT_NE(now->access_token, token->access_token);
}

TEST_F(AuthClientTest, A401ThatSurvivesTheRefreshIsAnAuthenticationError) {
  auto creds = server_->create_client({"admin:clients"});
  AuthClient client(options_for(creds));
  ASSERT_TRUE(client.service_token({"admin:clients"}));
  // Deleting the client makes its tokens stop verifying and its credentials fail.
  ASSERT_EQ(server_->admin("DELETE", "/api/v1/service-clients/" + creds.client_id).status, 200);
  auto r = client.request("GET", server_->url() + "/api/v1/service-clients", {"admin:clients"});
  ASSERT_FALSE(r) << "a 401 must never come back as a response";
  EXPECT_EQ(r.error().code, AuthClientErrc::Authentication);
  EXPECT_EQ(r.error().http_status, 401);
  EXPECT_EQ(r.error().error, "invalid_client");
}

TEST_F(AuthClientTest, InsufficientScopeNamesTheMissingScopes) {
  auto creds = server_->create_client({"trade:read"});
  AuthClient client(options_for(creds));
  auto r = client.request("GET", server_->url() + "/api/v1/service-clients", {"trade:read"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, AuthClientErrc::InsufficientScope);
  EXPECT_EQ(r.error().http_status, 403);
  EXPECT_EQ(r.error().missing_scopes, std::vector<std::string>{"admin:clients"});
  EXPECT_NE(r.error().message.find("admin:clients"), std::string::npos);
}

TEST_F(AuthClientTest, BadCredentialsAndForeignScopesAreTypedErrors) {
  auto creds = server_->create_client({"trade:read"});
  auto wrong = creds;
  wrong.client_secret = "not-the-secret";
  AuthClient bad(options_for(wrong));
  auto a = bad.service_token({"trade:read"});
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().code, AuthClientErrc::Authentication);
  EXPECT_EQ(a.error().error, "invalid_client");
  EXPECT_THROW((void)a.value(), AuthClientException);

  AuthClient good(options_for(creds));
  auto b = good.service_token({"admin:system"});
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().code, AuthClientErrc::InvalidScope);
  // A failed flight is not cached as a success, and the next call asks again.
  EXPECT_FALSE(good.service_token({"admin:system"}));
  EXPECT_EQ(good.token_requests(), 2u);
}

TEST_F(AuthClientTest, DisabledClientIsForbidden) {
  auto creds = server_->create_client({"trade:read"});
  ASSERT_EQ(server_->admin("PUT", "/api/v1/service-clients/" + creds.client_id, "{\"is_active\": false}").status, 200);
  AuthClient client(options_for(creds));
  auto t = client.service_token({"trade:read"});
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code, AuthClientErrc::Forbidden);
  EXPECT_EQ(t.error().error, "client_disabled");
}

TEST_F(AuthClientTest, UnreachableServerIsUnavailableAfterExponentialBackoff) {
  AuthClientOptions o;
  o.auth_url = "http://127.0.0.1:1";  // nothing listens on port 1
  o.client_id = "x";
  o.client_secret = "y";
  o.retry.max_attempts = 4;
  o.retry.initial_backoff = milliseconds(20);
  SleepLog sleeps;
  o.sleep = sleeps.fn();
  AuthClient client(o);
  auto t = client.service_token({"trade:read"});
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code, AuthClientErrc::Unavailable);
  ASSERT_EQ(sleeps.waits.size(), 3u);  // between the four attempts
  for (std::size_t i = 0; i < sleeps.waits.size(); ++i) {
    const auto base = milliseconds(20 << i);
    EXPECT_GE(sleeps.waits[i], base / 2) << i;  // half fixed …
    EXPECT_LE(sleeps.waits[i], base) << i;      // … half jitter
  }
}

TEST_F(AuthClientTest, NotAnHttpUrlIsAnInvalidArgument) {
  AuthClientOptions o;
  o.auth_url = "ftp://example.com";
  o.client_id = "x";
  o.client_secret = "y";
  AuthClient client(o);
  auto t = client.service_token();
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code, AuthClientErrc::InvalidArgument);
}

TEST_F(AuthClientTest, UserLoginRenewsThroughTheRefreshToken) {
  TestClock clock;
  AuthClientOptions o;
  o.auth_url = server_->url();
  o.now = clock.fn();
  AuthClient client(o);
  auto none = client.request("GET", server_->url() + "/api/v1/users/me");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, AuthClientErrc::NotLoggedIn);

  auto wrong = client.login("admin", "Wrong-passw0rd");
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code, AuthClientErrc::Authentication);

  auto s = client.login("admin", server_->admin_password());
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_FALSE(s->refresh_token.empty());
  auto me = client.request("GET", server_->url() + "/api/v1/users/me");
  ASSERT_TRUE(me) << me.error().message;
  EXPECT_EQ(me->status, 200);
  EXPECT_NE(me->body.find("\"username\":\"admin\""), std::string::npos);

  const auto lifetime = std::chrono::duration_cast<seconds>(s->expires_at - std::chrono::system_clock::now());
  clock.offset_s = lifetime.count();  // expired on the client's clock: renewed by refresh token
  auto renewed = client.user_session();
  ASSERT_TRUE(renewed) << renewed.error().message;
  EXPECT_NE(renewed->access_token, s->access_token);
  EXPECT_NE(renewed->refresh_token, s->refresh_token);  // rotated
  EXPECT_EQ(renewed->session_id, s->session_id);
}

TEST_F(AuthClientTest, ARestoredSessionWithADeadRefreshTokenAsksToLogInAgain) {
  AuthClientOptions o;
  o.auth_url = server_->url();
  AuthClient client(o);
  UserSession dead;
  dead.access_token = "not-a-token";
  dead.refresh_token = "not-a-refresh-token";
  dead.expires_at = std::chrono::system_clock::now() + seconds(600);
  client.set_session(dead);
  auto r = client.request("GET", server_->url() + "/api/v1/users/me");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, AuthClientErrc::Authentication);
  EXPECT_NE(r.error().message.find("log in again"), std::string::npos);
}

// ---- rate limiting: a server whose service-token limit is one a second ----

TEST(AuthClientRateLimit, A429IsRetriedAfterRetryAfterAndReportedPastThePolicy) {
  if (client_testing::auth_binary().empty()) GTEST_SKIP() << "PERMISO_AUTH_BIN not set";
  AuthServer server(std::vector<std::pair<std::string, std::string>>{{"RATE_LIMIT_SERVICE_TOKEN", "1/second"}});
  auto creds = server.create_client({"trade:read"});
  SleepLog sleeps;
  AuthClientOptions o;
  o.auth_url = server.url();
  o.client_id = creds.client_id;
  o.client_secret = creds.client_secret;
  o.sleep = sleeps.fn();
  AuthClient client(o);
  const double issued = server.requests_counted(kTokenRoute, "200");  // the admin's login
  ASSERT_TRUE(client.service_token({"trade:read"}));
  auto again = client.service_token({"trade:read"}, true);  // the bucket is empty now
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_GE(server.requests_counted(kTokenRoute, "429"), 1);
  EXPECT_EQ(server.requests_counted(kTokenRoute, "200"), issued + 2);
  ASSERT_FALSE(sleeps.waits.empty());
  EXPECT_GE(sleeps.waits.front(), milliseconds(1000)) << "Retry-After (1 s) must be honoured";

  // A policy that will not wait reports the wait instead.
  o.retry.max_retry_after = seconds(0);
  AuthClient impatient(o);
  auto first = impatient.service_token({"trade:read"}, true);
  auto second = impatient.service_token({"trade:read"}, true);
  const auto& limited = !first ? first : second;
  ASSERT_FALSE(limited);
  EXPECT_EQ(limited.error().code, AuthClientErrc::RateLimited);
  EXPECT_EQ(limited.error().http_status, 429);
  EXPECT_GE(limited.error().retry_after, seconds(1));
}

// ---- the Redis-shared cache ----

/// Options of a client of `server` whose workers share tokens through `redis`.
AuthClientOptions shared_through(const test::RedisServer& redis, const AuthServer& server,
                                 const AuthServer::Credentials& creds) {
  AuthClientOptions o;
  o.auth_url = server.url();
  o.client_id = creds.client_id;
  o.client_secret = creds.client_secret;
  o.redis_url = "redis://127.0.0.1:" + std::to_string(redis.port()) + "/0";
  return o;
}

TEST(AuthClientRedis, WorkersShareOneTokenThroughRedis) {
  if (client_testing::auth_binary().empty()) GTEST_SKIP() << "PERMISO_AUTH_BIN not set";
  auto bin = test::RedisServer::find_binary();
  if (!bin) GTEST_SKIP() << "redis-server not installed";
  test::RedisServer redis(*bin);
  AuthServer server;
  auto creds = server.create_client({"trade:read", "account:read"}, "\"access_token_lifetime\": 300");
  const AuthClientOptions o = shared_through(redis, server, creds);
  AuthClient worker1(o);
  AuthClient worker2(o);
  const double issued = server.requests_counted(kTokenRoute, "200");  // the admin's login
  auto a = worker1.service_token({"trade:read", "account:read"});
  ASSERT_TRUE(a) << a.error().message;
  auto b = worker2.service_token({"account:read", "trade:read"});
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_EQ(a->access_token, b->access_token);
  EXPECT_EQ(worker1.token_requests(), 1u);
  EXPECT_EQ(worker2.token_requests(), 0u);
  EXPECT_EQ(server.requests_counted(kTokenRoute, "200"), issued + 1);

  const std::string key = "service_token:" + creds.client_id + ":account:read trade:read";
  EXPECT_EQ(redis.command("GET", key), a->access_token);
  const long ttl_ms = std::stol(redis.command("PTTL", key));
  EXPECT_GT(ttl_ms, 0);
  EXPECT_LE(ttl_ms, (300 - 60) * 1000);  // expiry minus the margin

  // A forced refresh replaces the shared entry; a third worker sees the new token.
  auto c = worker2.service_token({"trade:read", "account:read"}, true);
  ASSERT_TRUE(c);
  EXPECT_NE(c->access_token, a->access_token);
  AuthClient worker3(o);
  auto d = worker3.service_token({"trade:read", "account:read"});
  ASSERT_TRUE(d);
  EXPECT_EQ(d->access_token, c->access_token);
  EXPECT_EQ(worker3.token_requests(), 0u);

  // Redis down: workers fall back to the server.
  redis.stop();
  AuthClient worker4(o);
  auto e = worker4.service_token({"trade:read", "account:read"});
  ASSERT_TRUE(e) << e.error().message;
  EXPECT_EQ(worker4.token_requests(), 1u);
}

TEST(AuthClientRedis, ARevokedTokenIsDroppedFromTheSharedCacheToo) {
  if (client_testing::auth_binary().empty()) GTEST_SKIP() << "PERMISO_AUTH_BIN not set";
  auto bin = test::RedisServer::find_binary();
  if (!bin) GTEST_SKIP() << "redis-server not installed";
  test::RedisServer redis(*bin);
  AuthServer server;
  auto creds = server.create_client({"admin:clients"});
  const AuthClientOptions o = shared_through(redis, server, creds);
  AuthClient worker1(o);
  auto token = worker1.service_token({"admin:clients"});
  ASSERT_TRUE(token) << token.error().message;
  const std::string key = "service_token:" + creds.client_id + ":admin:clients";
  ASSERT_EQ(redis.command("GET", key), token->access_token);
  auto revoked =
      worker1.raw("POST", server.url() + "/api/v1/auth/revoke", "{\"token\":\"" + token->access_token + "\"}",
                  {{"Authorization", "Bearer " + token->access_token}});
  ASSERT_TRUE(revoked);
  ASSERT_EQ(revoked->status, 200);

  auto r = worker1.request("GET", server.url() + "/api/v1/service-clients", {"admin:clients"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, AuthClientErrc::TokenRevoked);
  EXPECT_EQ(redis.command("EXISTS", key), "0") << "the fleet must not pick the revoked token up again";

  AuthClient worker2(o);
  auto fresh = worker2.request("GET", server.url() + "/api/v1/service-clients", {"admin:clients"});
  ASSERT_TRUE(fresh) << fresh.error().message;
  EXPECT_EQ(fresh->status, 200);
  EXPECT_EQ(worker2.token_requests(), 1u);
}

/// The access-log lines (JSON) of `server` that contain `needle`, waiting up to 5 s for one.
std::vector<std::string> access_lines_with(const AuthServer& server, const std::string& needle) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (;;) {
    std::vector<std::string> found;
    std::istringstream lines(server.output());
    for (std::string line; std::getline(lines, line);) {
      if (line.find("\"type\":\"access\"") != std::string::npos && line.find(needle) != std::string::npos) {
        found.push_back(line);
      }
    }
    if (!found.empty() || std::chrono::steady_clock::now() > deadline) return found;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

TEST(AuthClientTracing, TheCallersTraceparentIsSentWithItsTokenRequestAndOtherCallsStartTheirOwn) {
  AuthServer server({{"LOG_LEVEL", "INFO"}, {"LOG_FORMAT", "json"}});
  const auto creds = server.create_client({"trade:read"});
  AuthClientOptions o;
  o.auth_url = server.url();
  o.client_id = creds.client_id;
  o.client_secret = creds.client_secret;
  AuthClient client(o);
  const std::string trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
  const std::string parent = "00f067aa0ba902b7";
  auto r = client.request("GET", server.url() + "/health", {"trade:read"}, {},
                          {{"traceparent", "00-" + trace_id + "-" + parent + "-01"}});
  ASSERT_TRUE(r) << r.error().message;
  // The token request made on the way and the call itself, both under the caller's trace.
  auto mine = access_lines_with(server, trace_id);
  ASSERT_EQ(mine.size(), 2U) << server.output();
  EXPECT_NE(mine[0].find(std::string("\"route\":\"") + kTokenRoute + "\""), std::string::npos) << mine[0];
  EXPECT_NE(mine[1].find("\"route\":\"/health\""), std::string::npos) << mine[1];
  for (const auto& line : mine) {
    EXPECT_NE(line.find("\"parent_span_id\":\"" + parent + "\""), std::string::npos) << line;
  }
  // A call without one starts its own trace: a parent span (the client's), another trace id.
  auto ready = client.raw("GET", server.url() + "/ready");
  ASSERT_TRUE(ready) << ready.error().message;
  const auto other = access_lines_with(server, "\"route\":\"/ready\"");
  ASSERT_EQ(other.size(), 1U) << server.output();
  EXPECT_NE(other[0].find("\"parent_span_id\":"), std::string::npos) << other[0];
  EXPECT_EQ(other[0].find(trace_id), std::string::npos) << other[0];
}

TEST(AuthClientRedis, AMalformedRedisUrlIsRefusedAtConstruction) {
  AuthClientOptions o;
  o.auth_url = "http://127.0.0.1:1";
  o.redis_url = "http://not-redis";
  EXPECT_THROW(AuthClient{o}, std::invalid_argument);
}

}  // namespace
}  // namespace permiso
