// Bearer-token verification for resource servers (mt5-api, or any C++ service protected by
// Permiso). Keys come from the authorization server's JWKS (found through its RFC 8414
// metadata, refreshed periodically and on an unknown kid, rate-limited) or from a shared
// HS256 secret (development profile). Verified tokens are cached by hash until they expire;
// revocations arrive from permiso-auth's revocation feed (long-polled with a service token)
// and, when Redis is configured, are re-read at once on its permiso:events channel.
//
// Typical wiring:
//   http::Client client;
//   resource::Authenticator auth(config, clock, client);
//   auth.start();                                  // background threads: keys, feed, Redis
//   ... in a handler:
//   auto who = resource::require_scopes(auth, req, {"trade:read"});   // guard.hpp
//   if (!who) return who.error();                                       // 401/403 response
//   (*who)->account_key() ...
#pragma once

#include "common/clock.hpp"
#include "common/result.hpp"
#include "http/http.hpp"
#include "jose/key.hpp"
#include "resource/failure.hpp"
#include "resource/principal.hpp"
#include "resource/revocation_list.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace permiso::http {
class Client;
}

namespace permiso::resource {

struct ResourceConfig {
  /// Base URL of permiso-auth, e.g. http://127.0.0.1:8000. Its metadata
  /// (/.well-known/oauth-authorization-server) names the jwks_uri.
  std::string auth_url;
  std::string issuer;                       // required "iss"
  std::string audience = "permiso";         // required "aud"
  std::vector<jose::Algorithm> algorithms;  // the allow-list; nothing else is ever accepted
  /// HS256 shared secret (development profile): verified without any JWKS.
  std::string hs256_secret;
  std::int64_t leeway_s = 30;  // clock skew tolerated on exp/nbf/iat
  std::chrono::seconds jwks_refresh_interval{300};
  /// An unknown kid triggers at most one JWKS fetch per this interval (forged kids cannot
  /// make us hammer the auth server).
  std::chrono::seconds unknown_kid_min_interval{10};
  /// How long a request with an unknown kid waits for the refresh it triggered (a key
  /// rotation is then invisible to clients). 0: never wait, refuse at once.
  std::chrono::milliseconds unknown_kid_wait{250};
  std::size_t cache_capacity = 100000;  // verified tokens kept (0: no cache)
  /// The service client that reads the revocation feed (client credentials).
  std::string client_id;
  std::string client_secret;
  /// redis://…: also subscribe to permiso:events and re-read the feed on "revocation".
  std::string redis_url;
  bool follow_revocations = true;
  std::chrono::seconds feed_wait{10};            // long-poll wait asked of the feed (server caps at 25)
  std::chrono::milliseconds http_timeout{5000};  // metadata, JWKS, service token; feed: + feed_wait
  std::chrono::seconds purge_interval{60};       // expired revocations and cache entries dropped
};

/// Every rule the configuration breaks, as "field: rule" (empty when valid).
[[nodiscard]] std::vector<std::string> validate(const ResourceConfig& config);

class Authenticator {
 public:
  /// Throws std::invalid_argument when validate(config) reports a problem (a start-up
  /// failure). `clock` and `client` must outlive the authenticator.
  Authenticator(ResourceConfig config, const Clock& clock, http::Client& client);
  ~Authenticator();  // stop()
  Authenticator(const Authenticator&) = delete;
  Authenticator& operator=(const Authenticator&) = delete;

  /// Starts the background threads (JWKS refresh, revocation feed, Redis subscriber).
  /// Idempotent; an authenticator is not started again after stop().
  void start();
  /// Stops and joins them; a feed long-poll in flight may take up to feed_wait + http_timeout.
  void stop();

  /// Hot path: SHA-256 of the token, one cache shard lookup and the revocation check on a
  /// hit; a full JWS verification on a miss. No network, no lock held across I/O (an unknown
  /// kid may wait up to unknown_kid_wait for the background refresh, holding nothing).
  [[nodiscard]] Result<std::shared_ptr<const Principal>, AuthFailure> authenticate(std::string_view token) const;
  /// The token of `Authorization: Bearer …` (no header or another scheme: MissingToken).
  [[nodiscard]] Result<std::shared_ptr<const Principal>, AuthFailure> authenticate(const http::Request& req) const;

  /// Keys are loaded and, when following revocations, the feed has been read once.
  [[nodiscard]] bool ready() const;
  /// The verification keys have been fetched once.
  [[nodiscard]] bool keys_loaded() const;
  /// The revocation feed has been read once (false when revocations are not followed).
  [[nodiscard]] bool revocations_loaded() const;
  [[nodiscard]] bool follows_revocations() const;
  /// The last JWKS refresh and (when following revocations) the last feed read both reached
  /// permiso-auth. When not, tokens of known keys still verify, but a new key or a
  /// revocation made meanwhile cannot arrive.
  [[nodiscard]] bool auth_server_reachable() const;
  /// With Redis configured: whether the permiso:events subscription is live (revocations then
  /// arrive in milliseconds; without it, by the feed's long-poll). nullopt without Redis.
  [[nodiscard]] std::optional<bool> redis_subscribed() const;

  struct Stats {
    std::uint64_t cache_hits = 0;
    std::uint64_t cache_misses = 0;
    std::size_t cache_entries = 0;
    std::uint64_t jwks_fetches = 0;  // attempts (metadata + JWKS count as one)
    std::uint64_t jwks_failures = 0;
    std::uint64_t unknown_kid_refreshes = 0;  // fetches an unknown kid triggered
    std::size_t keys = 0;                     // verification keys held
    std::uint64_t feed_polls = 0;
    std::uint64_t feed_errors = 0;
    std::uint64_t revocations_applied = 0;  // new entries taken from the feed
    std::size_t revocations_held = 0;
    std::uint64_t feed_cursor = 0;
    std::uint64_t service_tokens_fetched = 0;
    std::uint64_t redis_notifications = 0;
    bool ready = false;
    bool auth_server_reachable = false;
  };
  [[nodiscard]] Stats stats() const;

  /// `callback` runs on a background thread after new revocations were applied, so
  /// long-lived connections (WebSockets) can re-check their principal with is_revoked().
  void on_revocation(std::function<void()> callback);
  /// `observer` runs on a background thread with the lag, in seconds, of each revocation
  /// newly applied from the feed: from its revocation at permiso-auth (the entry's
  /// `revoked_at`) to now by this authenticator's clock. Entries without `revoked_at` (an
  /// older permiso-auth), and those revoked before start() (the backlog a new replica reads),
  /// count in revocations_applied but are not observed. Replaces any earlier observer.
  void on_feed_lag(std::function<void(double seconds)> observer);
  [[nodiscard]] bool is_revoked(const Principal& principal) const;
  /// The revocations applied so far (read-only view).
  [[nodiscard]] const RevocationList& revocations() const;
  [[nodiscard]] const ResourceConfig& config() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace permiso::resource
