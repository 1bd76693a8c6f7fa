// Test fixture: permiso-auth's side of the resource-server protocol, served by the project's
// own http::Server on a loopback port — RFC 8414 metadata, the JWKS, the seed's
// service-token form and the revocation feed (long-polled) — with keys made by jose and
// counters of every fetch. It models the protocol for unit tests; the real binary is
// exercised by the integration suites.
#pragma once

#include "http/server.hpp"
#include "jose/jwt.hpp"
#include "jose/key.hpp"

#include <boost/json/object.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace permiso::resource::testing {

class FakeAuthServer {
 public:
  static constexpr const char* kIssuer = "permiso-test";
  static constexpr const char* kClientId = "mt5-gateway";
  static constexpr const char* kClientSecret = "gateway-secret-0123456789";

  FakeAuthServer();
  ~FakeAuthServer();
  FakeAuthServer(const FakeAuthServer&) = delete;
  FakeAuthServer& operator=(const FakeAuthServer&) = delete;

  [[nodiscard]] std::string base_url() const;

  /// The JWKS publishes these keys' public halves (replacing the previous set).
  void publish(std::vector<jose::SigningKey> keys);
  /// Makes the JWKS answer `status` (e.g. 500) instead of the keys; 200 restores them.
  void set_jwks_status(int status);
  /// The feed answers at most `entries` per page (and says `more` when it is full), or
  /// `status` instead of a page (e.g. 503); 200 restores it.
  void set_feed_page(std::size_t entries);
  /// The next `requests` feed reads are answered, then every read is a 503; -1 answers all.
  void answer_feed_then_fail(int requests);
  /// The metadata names this jwks_uri instead of its own (e.g. a public URL not reachable).
  void set_metadata_jwks_uri(std::string uri);
  /// Service tokens are issued with this lifetime.
  void set_service_token_lifetime(std::int64_t seconds);
  /// Long-polls then ignore new revocations until their wait ends (a feed that only the
  /// Redis nudge, which asks with wait=0, can read early).
  void set_hold_long_polls(bool hold);
  /// Ends every long-poll in flight at once (before stopping an authenticator).
  void release_polls();
  /// Forgets every service token issued so far: the feed then answers 401 to them.
  void forget_service_tokens();

  /// Appends to the feed (and wakes its long-polls); returns the entry's seq. Without
  /// `revoked_at` the entry is as an older permiso-auth wrote it (no revocation time).
  std::int64_t revoke_token(const std::string& jti, std::int64_t expires_at,
                            std::optional<std::int64_t> revoked_at = std::nullopt);
  std::int64_t end_session(const std::string& sid, std::int64_t expires_at,
                           std::optional<std::int64_t> revoked_at = std::nullopt);

  [[nodiscard]] int metadata_fetches() const { return metadata_fetches_.load(); }
  [[nodiscard]] int jwks_fetches() const { return jwks_fetches_.load(); }
  [[nodiscard]] int service_tokens_issued() const { return service_tokens_.load(); }
  [[nodiscard]] int feed_requests() const { return feed_requests_.load(); }
  [[nodiscard]] int feed_refusals() const { return feed_refusals_.load(); }

 private:
  struct Entry {
    std::string kind;
    std::string id;
    std::int64_t expires_at;
    std::int64_t seq;
    std::optional<std::int64_t> revoked_at;
  };
  http::Response metadata() const;
  http::Response jwks();
  http::Response service_token(const http::Request& req);
  http::Response feed(const http::Request& req);
  std::int64_t append(std::string kind, const std::string& id, std::int64_t expires_at,
                      std::optional<std::int64_t> revoked_at);

  http::Router router_;
  std::unique_ptr<http::Server> server_;
  std::thread thread_;

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  boost::json::object jwks_doc_;
  int jwks_status_ = 200;
  int feed_answers_left_ = -1;  // -1: unlimited
  std::size_t feed_page_ = 1000;
  std::string jwks_uri_override_;
  std::int64_t token_lifetime_ = 3600;
  bool hold_ = false;
  std::uint64_t release_generation_ = 0;
  bool stopping_ = false;
  std::vector<Entry> entries_;
  std::set<std::string> issued_;

  mutable std::atomic<int> metadata_fetches_{0};
  std::atomic<int> jwks_fetches_{0};
  std::atomic<int> service_tokens_{0};
  std::atomic<int> feed_requests_{0};
  std::atomic<int> feed_refusals_{0};
};

/// Claims as permiso-auth's TokenService writes them for a user (type "access").
boost::json::object user_claims(std::int64_t now, const std::string& jti, const std::string& sid,
                                const std::string& scope = "trade:read account:read");
/// ... and for a service client (type "service").
boost::json::object service_claims(std::int64_t now, const std::string& jti, const std::string& client_id,
                                   const std::string& scope = "trade:read", bool trusted = false);
/// A JWS with exactly this header (anything a forger might write), signed by `key`.
std::string craft(const jose::SigningKey& key, const boost::json::object& header, const boost::json::object& claims);

}  // namespace permiso::resource::testing
