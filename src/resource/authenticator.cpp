// See authenticator.hpp. Three background activities keep the hot path free of I/O:
// the key thread (JWKS via metadata, periodic and on demand), the feed thread (long-polls of
// /api/v1/auth/revocations with a client-credentials token) and, with Redis, the channel's
// subscriber thread (an immediate feed read per "revocation" event).
#include "resource/authenticator.hpp"

#include "events/redis_channel.hpp"
#include "http/body.hpp"
#include "http/client.hpp"
#include "jose/jwt.hpp"
#include "resource/token_cache.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <limits>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <unordered_set>

namespace permiso::resource {
namespace {

using SteadyClock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr std::size_t kMaxTokenBytes = 16 * 1024;
constexpr auto kFeedBackoffMin = 500ms;
constexpr auto kFeedBackoffMax = 5000ms;
constexpr auto kKeysBackoffMin = 1000ms;
constexpr auto kKeysBackoffMax = 30000ms;
/// A feed answer faster than this, with nothing in it, means the server did not hold the
/// poll (its waiters are capped): pause before asking again rather than spin.
constexpr auto kImmediateAnswer = 500ms;
constexpr auto kPauseAfterImmediate = 1000ms;

std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now().time_since_epoch()).count();
}

std::string strip_slash(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

std::optional<boost::json::object> parse_object(std::string_view text) {
  boost::system::error_code ec;
  boost::json::parse_options opts;
  opts.max_depth = 16;
  auto v = boost::json::parse(text, ec, {}, opts);
  if (ec || !v.is_object()) return std::nullopt;
  return std::move(v.as_object());
}

std::optional<std::int64_t> int_member(const boost::json::object& o, std::string_view name) {
  const auto* v = o.if_contains(name);
  if (v == nullptr) return std::nullopt;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64() && v->as_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
    return static_cast<std::int64_t>(v->as_uint64());
  }
  return std::nullopt;
}

std::string string_member(const boost::json::object& o, std::string_view name) {
  const auto* v = o.if_contains(name);
  return (v != nullptr && v->is_string()) ? std::string(v->as_string()) : std::string();
}

bool is_loopback_url(std::string_view url) {
  const auto rest = url.substr(url.find("://") + 3);
  for (std::string_view host : {"127.0.0.1", "localhost", "[::1]"}) {
    if (rest.starts_with(host) &&
        (rest.size() == host.size() || rest[host.size()] == ':' || rest[host.size()] == '/')) {
      return true;
    }
  }
  return false;
}

bool has_asymmetric(const std::vector<jose::Algorithm>& algs) {
  return std::any_of(algs.begin(), algs.end(), [](jose::Algorithm a) { return a != jose::Algorithm::HS256; });
}

bool has_hs256(const std::vector<jose::Algorithm>& algs) {
  return std::find(algs.begin(), algs.end(), jose::Algorithm::HS256) != algs.end();
}

jose::VerifyPolicy policy_of(const ResourceConfig& c) {
  jose::VerifyPolicy p;
  p.algorithms = c.algorithms;
  p.issuer = c.issuer;
  p.audience = c.audience;
  p.typ = "at+jwt";  // RFC 9068: an ID token or any other JWT is not an access token
  p.leeway_s = c.leeway_s;
  p.require_iat = true;
  return p;
}

ResourceConfig checked(ResourceConfig c) {
  const auto problems = validate(c);
  if (!problems.empty()) {
    std::string text = "invalid resource configuration:";
    for (const auto& p : problems) text += " " + p + ";";
    throw std::invalid_argument(text);
  }
  c.auth_url = strip_slash(std::move(c.auth_url));
  return c;
}

}  // namespace

std::vector<std::string> validate(const ResourceConfig& c) {
  std::vector<std::string> problems;
  const bool url_ok = c.auth_url.starts_with("http://") || c.auth_url.starts_with("https://");
  if (c.algorithms.empty()) problems.emplace_back("algorithms: at least one algorithm must be allowed");
  if (c.issuer.empty()) problems.emplace_back("issuer: required");
  if (c.audience.empty()) problems.emplace_back("audience: required");
  if (has_hs256(c.algorithms) && c.hs256_secret.size() < 32) {
    problems.emplace_back("hs256_secret: HS256 needs a shared secret of at least 32 bytes");
  }
  if (!c.hs256_secret.empty() && !has_hs256(c.algorithms)) {
    problems.emplace_back("hs256_secret: set, but HS256 is not in algorithms");
  }
  if ((has_asymmetric(c.algorithms) || c.follow_revocations) && !url_ok) {
    problems.emplace_back("auth_url: an absolute http:// or https:// URL is required (JWKS and revocation feed)");
  }
  if (c.follow_revocations && (c.client_id.empty() || c.client_secret.empty())) {
    problems.emplace_back("client_id, client_secret: required to read the revocation feed");
  }
  if (!c.redis_url.empty() && !redis::parse_url(c.redis_url)) {
    problems.emplace_back("redis_url: not a redis://[[user]:password@]host[:port][/db] URL");
  }
  if (c.leeway_s < 0 || c.leeway_s > 300) problems.emplace_back("leeway_s: between 0 and 300");
  if (c.jwks_refresh_interval < 1s) problems.emplace_back("jwks_refresh_interval: at least 1 s");
  if (c.unknown_kid_min_interval < 1s) problems.emplace_back("unknown_kid_min_interval: at least 1 s");
  if (c.unknown_kid_wait < 0ms || c.unknown_kid_wait > 5000ms) {
    problems.emplace_back("unknown_kid_wait: between 0 and 5000 ms");
  }
  if (c.feed_wait < 0s || c.feed_wait > 25s) problems.emplace_back("feed_wait: between 0 and 25 s");
  if (c.http_timeout < 100ms) problems.emplace_back("http_timeout: at least 100 ms");
  if (c.purge_interval < 1s) problems.emplace_back("purge_interval: at least 1 s");
  return problems;
}

struct Authenticator::Impl {
  Impl(ResourceConfig c, const Clock& clk, http::Client& http_client)
      : cfg(checked(std::move(c))),
        clock(clk),
        client(http_client),
        verifier(policy_of(cfg), clk),
        cache(cfg.cache_capacity),
        needs_jwks(has_asymmetric(cfg.algorithms)) {
    if (!cfg.hs256_secret.empty()) {
      auto key = jose::SigningKey::from_hmac_secret(cfg.hs256_secret);
      if (!key) throw std::invalid_argument("invalid resource configuration: hs256_secret refused");
      hmac_key = std::move(*key);
      verifier.set_keys({*hmac_key});
      keys_loaded.store(!needs_jwks);
      if (!needs_jwks) key_count.store(1);  // with a JWKS to load, counted when it arrives
    }
  }

  // ---- keys ----

  Result<http::ClientResponse, http::ClientError> get(const std::string& url, std::chrono::milliseconds timeout,
                                                      const std::string& bearer = {}) const {
    http::ClientRequest req;
    req.method = "GET";
    req.url = url;
    req.timeout = timeout;
    req.headers.emplace_back("Accept", "application/json");
    if (!bearer.empty()) req.headers.emplace_back("Authorization", "Bearer " + bearer);
    return client.fetch(req);
  }

  /// The jwks_uri of the RFC 8414 metadata; empty when the metadata cannot be read.
  std::string discover_jwks_uri() {
    auto meta = get(cfg.auth_url + "/.well-known/oauth-authorization-server", cfg.http_timeout);
    if (!meta || meta->status != 200) return {};
    const auto doc = parse_object(meta->body);
    if (!doc) return {};
    if (auto iss = string_member(*doc, "issuer"); !iss.empty() && iss != cfg.issuer && !issuer_warned) {
      issuer_warned = true;
      spdlog::warn("resource: the authorization server's issuer is \"{}\" but tokens must carry \"{}\"",
                   iss.substr(0, 200), cfg.issuer);
    }
    auto uri = string_member(*doc, "jwks_uri");
    return uri.starts_with("http://") || uri.starts_with("https://") ? uri : std::string();
  }

  std::vector<jose::VerificationKey> fetch_jwks(const std::string& uri, std::string& problem) {
    auto res = get(uri, cfg.http_timeout);
    if (!res) {
      problem = std::string(to_string(res.error()));
      return {};
    }
    if (res->status != 200) {
      problem = "HTTP " + std::to_string(res->status);
      return {};
    }
    auto keys = jose::parse_jwks(std::string_view(res->body));
    if (keys.empty()) problem = "no usable key";
    return keys;
  }

  /// One JWKS refresh: the jwks_uri that worked last, else the metadata's, else permiso-auth's
  /// own path under auth_url (the metadata may name a public URL this server cannot reach).
  /// Keeps the previous keys on any failure, including an empty or unusable key set.
  bool refresh_keys() {
    jwks_fetches.fetch_add(1);
    std::vector<jose::VerificationKey> keys;
    std::string problem;
    std::vector<std::string> tried;
    const auto attempt = [&](const std::string& uri) {
      if (uri.empty() || !keys.empty() || std::find(tried.begin(), tried.end(), uri) != tried.end()) return;
      tried.push_back(uri);
      keys = fetch_jwks(uri, problem);
      if (!keys.empty()) jwks_uri = uri;
    };
    attempt(jwks_uri);
    if (keys.empty()) attempt(discover_jwks_uri());  // metadata read only when needed
    attempt(cfg.auth_url + "/.well-known/jwks.json");
    if (keys.empty()) {
      jwks_failures.fetch_add(1);
      jwks_reachable.store(false, std::memory_order_relaxed);
      if (keys_state != KeysState::Failing) {
        keys_state = KeysState::Failing;
        spdlog::warn("resource: JWKS refresh from {} failed ({}); keeping {} known keys", cfg.auth_url, problem,
                     key_count.load());
      }
      return false;
    }
    if (hmac_key) keys.push_back(*hmac_key);
    const std::size_t count = keys.size();
    verifier.set_keys(std::move(keys));
    keys_loaded.store(true, std::memory_order_release);
    key_count.store(count);  // after keys_loaded: stats().keys > 0 means tokens verify
    jwks_reachable.store(true, std::memory_order_relaxed);
    if (keys_state != KeysState::Healthy)
      spdlog::info("resource: JWKS loaded from {} ({} keys)", jwks_uri, key_count.load());
    keys_state = KeysState::Healthy;
    return true;
  }

  void key_loop() {
    auto backoff = std::chrono::milliseconds(kKeysBackoffMin);
    std::unique_lock lock(key_mutex);
    while (!stopping.load()) {
      refresh_requested = false;
      const std::uint64_t seq = ++fetch_started;
      lock.unlock();
      const bool ok = refresh_keys();
      lock.lock();
      fetch_completed = seq;
      key_done_cv.notify_all();
      auto next = std::chrono::duration_cast<std::chrono::milliseconds>(cfg.jwks_refresh_interval);
      if (ok) {
        backoff = kKeysBackoffMin;
      } else {
        next = std::min(next, backoff);
        backoff = std::min<std::chrono::milliseconds>(backoff * 2, kKeysBackoffMax);
      }
      key_cv.wait_for(lock, next, [this] { return stopping.load() || refresh_requested; });
    }
  }

  /// An unknown kid: asks the key thread for a refresh unless one was asked within
  /// unknown_kid_min_interval, then waits (holding no lock) up to unknown_kid_wait for the
  /// refresh in flight. True when a refresh completed and the token is worth verifying again.
  bool await_unknown_kid() const {
    if (!needs_jwks) return false;
    std::unique_lock lock(key_mutex);
    if (kid_target == 0 || fetch_completed >= kid_target) {
      const auto now = steady_ms();
      const auto interval = std::chrono::duration_cast<std::chrono::milliseconds>(cfg.unknown_kid_min_interval).count();
      if (last_kid_refresh_ms != 0 && now - last_kid_refresh_ms < interval) return false;
      last_kid_refresh_ms = now;
      kid_target = fetch_started + 1;  // the next fetch to start includes the new key, if any
      refresh_requested = true;
      unknown_kid_refreshes.fetch_add(1);
      key_cv.notify_one();
    }
    if (cfg.unknown_kid_wait <= 0ms) return false;
    const auto target = kid_target;
    return key_done_cv.wait_for(lock, cfg.unknown_kid_wait, [&] {
      return stopping.load() || fetch_completed >= target;
    }) && fetch_completed >= target;
  }

  // ---- revocation feed ----

  /// A service token from client credentials, renewed at 80% of its lifetime. Empty on failure.
  std::string service_token() {
    std::lock_guard lock(token_mutex);
    if (!token.empty() && SteadyClock::now() < token_renew_at) return token;
    http::ClientRequest req;
    req.method = "POST";
    req.url = cfg.auth_url + "/api/v1/auth/service-token";
    req.timeout = cfg.http_timeout;
    req.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
    req.headers.emplace_back("Accept", "application/json");
    req.body =
        "client_id=" + http::form_encode(cfg.client_id) + "&client_secret=" + http::form_encode(cfg.client_secret);
    auto res = client.fetch(req);
    if (!res || res->status != 200) {
      note_feed_problem(res ? "service token refused: HTTP " + std::to_string(res->status)
                            : "service token: " + std::string(to_string(res.error())));
      return {};
    }
    const auto doc = parse_object(res->body);
    std::string fresh = doc ? string_member(*doc, "access_token") : std::string();
    const auto expires_in = doc ? int_member(*doc, "expires_in").value_or(0) : 0;
    if (fresh.empty() || expires_in <= 0) {
      note_feed_problem("service token: unexpected answer");
      return {};
    }
    token = std::move(fresh);
    token_renew_at = SteadyClock::now() + std::chrono::seconds(std::max<std::int64_t>(1, expires_in * 8 / 10));
    service_tokens_fetched.fetch_add(1);
    return token;
  }

  void drop_service_token(const std::string& stale) {
    std::lock_guard lock(token_mutex);
    if (token == stale) token.clear();
  }

  enum class Poll { Entries, Empty, Error };

  /// One read of the feed from the current cursor; applies what it returns.
  Poll poll_feed(std::chrono::seconds wait) {
    feed_polls.fetch_add(1);
    const std::string bearer = service_token();
    if (bearer.empty()) return Poll::Error;
    const std::string url = cfg.auth_url + "/api/v1/auth/revocations?since=" + std::to_string(revocations.cursor()) +
                            "&wait=" + std::to_string(wait.count());
    auto res = get(url, cfg.http_timeout + wait, bearer);
    if (!res) {
      note_feed_problem("revocation feed: " + std::string(to_string(res.error())));
      return Poll::Error;
    }
    if (res->status == 401) drop_service_token(bearer);  // expired early, or keys rotated: a new one
    if (res->status != 200) {
      note_feed_problem("revocation feed: HTTP " + std::to_string(res->status));
      return Poll::Error;
    }
    const auto doc = parse_object(res->body);
    const auto* items = doc ? doc->if_contains("revocations") : nullptr;
    if (items == nullptr || !items->is_array()) {
      note_feed_problem("revocation feed: unexpected answer");
      return Poll::Error;
    }
    const std::size_t added = apply(items->as_array(), int_member(*doc, "cursor").value_or(0));
    // Caught up (ready) only once a page says nothing follows it: a replica starting beside a
    // long revocation list must not take traffic after its first page. A permiso-auth older
    // than `more` sends none, and its first page counts as the whole list, as before.
    const auto* more = doc->if_contains("more");
    if (more == nullptr || !more->is_bool() || !more->as_bool()) feed_read.store(true, std::memory_order_release);
    if (!feed_healthy.exchange(true)) spdlog::info("resource: revocation feed reachable");
    return added > 0 || !items->as_array().empty() ? Poll::Entries : Poll::Empty;
  }

  /// Adds the feed's entries, evicts the cached tokens they revoke and advances the cursor.
  /// Returns how many entries were new.
  std::size_t apply(const boost::json::array& items, std::int64_t cursor) {
    std::unordered_set<std::string> jtis;
    std::unordered_set<std::string> sids;
    std::vector<double> lags;  // seconds, of the new entries that say when they were revoked
    std::int64_t max_seq = std::max<std::int64_t>(cursor, 0);
    {
      std::lock_guard lock(apply_mutex);
      const auto now = clock.now_seconds();
      for (const auto& item : items) {
        if (!item.is_object()) continue;
        const auto& o = item.as_object();
        max_seq = std::max(max_seq, int_member(o, "seq").value_or(0));
        const std::string kind_name = string_member(o, "kind");
        RevocationList::Kind kind{};
        std::string id = string_member(o, "id");
        if (kind_name == "token") {
          kind = RevocationList::Kind::Token;
        } else if (kind_name == "session") {
          kind = RevocationList::Kind::Session;
        } else if (!RevocationList::parse_storage_key(string_member(o, "key"), kind, id)) {
          continue;
        }
        if (id.empty() || id.size() > 512) continue;
        constexpr std::int64_t kForever = std::numeric_limits<std::int64_t>::max() / 2;  // no overflow below
        const auto expires_at = std::min(int_member(o, "expires_at").value_or(kForever), kForever);
        if (expires_at + cfg.leeway_s < now) continue;  // such a token is refused as expired anyway
        if (revocations.add(kind, id, expires_at + cfg.leeway_s)) {
          (kind == RevocationList::Kind::Token ? jtis : sids).insert(std::move(id));
          // Measured: entries that say when they were revoked (a permiso-auth that predates
          // revoked_at does not) and were revoked while this verifier ran (the backlog read at
          // start is history, not lag).
          const auto revoked_at = int_member(o, "revoked_at");
          if (revoked_at && *revoked_at >= started_at.load()) lags.push_back(lag_since(*revoked_at));
        }
      }
      if (!jtis.empty() || !sids.empty()) {
        cache.evict_if([&](const Principal& p) { return jtis.contains(p.jti) || sids.contains(p.session_id); });
      }
      revocations.advance_cursor(static_cast<std::uint64_t>(max_seq));
    }
    const std::size_t added = jtis.size() + sids.size();
    if (added > 0) {
      std::vector<std::function<void()>> to_call;
      std::function<void(double)> observe_lag;
      {
        std::lock_guard lock(callbacks_mutex);
        to_call = callbacks;
        observe_lag = lag_observer;
      }
      if (observe_lag) {
        for (const double lag : lags) observe_lag(lag);
      }
      revocations_applied.fetch_add(added);  // after the lags: a reader of the count sees them
      for (const auto& cb : to_call) cb();
    }
    return added;
  }

  /// Seconds from a revocation at permiso-auth (`revoked_at`, whole seconds) to now. The
  /// second is truncated there, so this overstates the lag by less than a second; a clock
  /// behind permiso-auth's reads as no lag rather than a negative one.
  /// Called for revoked_at >= started_at only, so the product below cannot overflow.
  [[nodiscard]] double lag_since(std::int64_t revoked_at) const {
    const auto now_ms = clock.now_ms();
    if (revoked_at > now_ms / 1000) return 0.0;
    return static_cast<double>(now_ms - revoked_at * 1000) / 1000.0;
  }

  void note_feed_problem(const std::string& what) {
    feed_errors.fetch_add(1);
    if (feed_healthy.exchange(false)) spdlog::warn("resource: {}; retrying with back-off", what);
  }

  /// Sleeps up to `d`, woken early by stop() or a Redis nudge.
  void feed_sleep(std::chrono::milliseconds d) {
    std::unique_lock lock(feed_mutex);
    feed_cv.wait_for(lock, d, [this] { return stopping.load() || nudged; });
    nudged = false;
  }

  void feed_loop() {
    auto backoff = std::chrono::milliseconds(kFeedBackoffMin);
    auto next_purge = SteadyClock::now() + cfg.purge_interval;
    while (!stopping.load()) {
      const auto poll_started = SteadyClock::now();
      // The first read does not wait: ready() should not take a whole long-poll.
      const auto wait = feed_read.load() ? cfg.feed_wait : 0s;
      const Poll outcome = poll_feed(wait);
      if (stopping.load()) break;
      if (outcome == Poll::Error) {
        feed_sleep(backoff);
        backoff = std::min<std::chrono::milliseconds>(backoff * 2, kFeedBackoffMax);
        continue;
      }
      backoff = kFeedBackoffMin;
      const bool answered_at_once = SteadyClock::now() - poll_started < kImmediateAnswer;
      if (outcome == Poll::Empty && cfg.feed_wait == 0s) {
        feed_sleep(kPauseAfterImmediate);  // plain polling
      } else if (outcome == Poll::Empty && wait > 0s && answered_at_once) {
        feed_sleep(kPauseAfterImmediate);  // the server did not hold the poll
      }
      if (SteadyClock::now() >= next_purge) {
        next_purge = SteadyClock::now() + cfg.purge_interval;
        const auto now = clock.now_seconds();
        revocations.purge(now);
        cache.purge(now);
      }
    }
  }

  /// A Redis event: "revocation" means the feed has something new; read it at once (on the
  /// subscriber thread; the feed thread may be inside a long-poll).
  void on_event(std::string_view message) {
    redis_notifications.fetch_add(1);
    if (message != "revocation" || stopping.load()) return;
    {
      std::lock_guard lock(feed_mutex);
      nudged = true;
    }
    feed_cv.notify_all();
    (void)poll_feed(0s);
  }

  void stop_all() {
    {
      std::lock_guard lock(key_mutex);
      stopping.store(true);
    }
    {
      std::lock_guard lock(feed_mutex);
      nudged = true;
    }
    key_cv.notify_all();
    key_done_cv.notify_all();
    feed_cv.notify_all();
    if (channel) channel->stop();
    if (key_thread.joinable()) key_thread.join();
    if (feed_thread.joinable()) feed_thread.join();
    channel.reset();
  }

  const ResourceConfig cfg;
  const Clock& clock;
  http::Client& client;
  jose::Verifier verifier;
  mutable TokenCache cache;  // filled by const authenticate()
  RevocationList revocations;
  const bool needs_jwks;
  std::optional<jose::VerificationKey> hmac_key;

  std::atomic<std::int64_t> started_at{0};  // clock seconds at start()
  std::atomic<bool> keys_loaded{false};
  std::atomic<bool> feed_read{false};
  std::atomic<bool> stopping{false};
  std::atomic<std::size_t> key_count{0};

  // Key thread state; jwks_uri, keys_state and issuer_warned belong to the key thread alone.
  mutable std::mutex key_mutex;
  mutable std::condition_variable key_cv;       // wakes the key thread
  mutable std::condition_variable key_done_cv;  // wakes requests waiting on an unknown kid
  mutable bool refresh_requested = false;
  std::uint64_t fetch_started = 0;
  std::uint64_t fetch_completed = 0;
  mutable std::uint64_t kid_target = 0;
  mutable std::int64_t last_kid_refresh_ms = 0;
  std::string jwks_uri;  // the last that served keys
  enum class KeysState { Unknown, Healthy, Failing } keys_state = KeysState::Unknown;
  bool issuer_warned = false;

  std::mutex feed_mutex;
  std::condition_variable feed_cv;
  bool nudged = false;
  std::atomic<bool> feed_healthy{true};
  std::atomic<bool> jwks_reachable{true};  // the last refresh_keys() succeeded
  std::mutex token_mutex;                  // background threads only: held across the token request
  std::string token;
  SteadyClock::time_point token_renew_at{};
  std::mutex apply_mutex;
  std::mutex callbacks_mutex;
  std::vector<std::function<void()>> callbacks;
  std::function<void(double)> lag_observer;  // under callbacks_mutex

  std::unique_ptr<events::RedisChannel> channel;
  std::thread key_thread;
  std::thread feed_thread;
  bool started = false;
  std::mutex lifecycle_mutex;

  std::atomic<std::uint64_t> jwks_fetches{0};
  std::atomic<std::uint64_t> jwks_failures{0};
  mutable std::atomic<std::uint64_t> unknown_kid_refreshes{0};
  std::atomic<std::uint64_t> feed_polls{0};
  std::atomic<std::uint64_t> feed_errors{0};
  std::atomic<std::uint64_t> revocations_applied{0};
  std::atomic<std::uint64_t> service_tokens_fetched{0};
  std::atomic<std::uint64_t> redis_notifications{0};
};

Authenticator::Authenticator(ResourceConfig config, const Clock& clock, http::Client& client)
    : impl_(std::make_unique<Impl>(std::move(config), clock, client)) {}

Authenticator::~Authenticator() {
  stop();
}

void Authenticator::start() {
  Impl& s = *impl_;
  std::lock_guard lock(s.lifecycle_mutex);
  if (s.started) return;
  s.started = true;
  s.started_at.store(s.clock.now_seconds());
  if (s.cfg.follow_revocations && s.cfg.auth_url.starts_with("http://") && !is_loopback_url(s.cfg.auth_url)) {
    spdlog::warn(
        "resource: auth_url {} is plain HTTP beyond this host: the client secret and tokens travel "
        "unencrypted; use https://",
        s.cfg.auth_url);
  }
  if (s.needs_jwks) s.key_thread = std::thread([&s] { s.key_loop(); });
  if (s.cfg.follow_revocations) {
    s.feed_thread = std::thread([&s] { s.feed_loop(); });
    if (!s.cfg.redis_url.empty()) {
      s.channel = std::make_unique<events::RedisChannel>(*redis::parse_url(s.cfg.redis_url), "permiso:events");
      s.channel->subscribe([&s](std::string_view message) { s.on_event(message); });
    }
  }
}

void Authenticator::stop() {
  Impl& s = *impl_;
  std::lock_guard lock(s.lifecycle_mutex);
  if (!s.started) return;
  s.stop_all();
}

Result<std::shared_ptr<const Principal>, AuthFailure> Authenticator::authenticate(std::string_view token) const {
  // Hot path: no network, no storage, no lock held across anything slow.
  const Impl& s = *impl_;
  if (token.empty()) return AuthFailure::MissingToken;
  if (token.size() > kMaxTokenBytes) return AuthFailure::Malformed;
  const auto now = s.clock.now_seconds();
  const TokenCache::Key key = TokenCache::key_of(token);
  if (auto cached = s.cache.find(key, now)) {
    // Checked on hits too: a revocation applied while this entry was being inserted.
    if (s.revocations.is_revoked(cached->jti, cached->session_id)) return AuthFailure::Revoked;
    return cached;
  }
  if (!s.keys_loaded.load(std::memory_order_acquire)) return AuthFailure::KeysUnavailable;
  auto verified = s.verifier.verify(token);
  if (!verified && verified.error() == jose::JwtStatus::UnknownKid && s.await_unknown_kid()) {
    verified = s.verifier.verify(token);
  }
  if (!verified) return from_jwt_status(verified.error());
  auto principal = principal_from_claims(verified->claims);
  if (!principal) return principal.error();
  if (s.revocations.is_revoked(principal->jti, principal->session_id)) return AuthFailure::Revoked;
  auto shared = std::make_shared<const Principal>(std::move(*principal));
  s.cache.insert(key, shared, shared->expires_at + s.cfg.leeway_s, now);
  return shared;
}

Result<std::shared_ptr<const Principal>, AuthFailure> Authenticator::authenticate(const http::Request& req) const {
  if (auto token = http::bearer_token(req)) return authenticate(*token);
  // "Bearer" with nothing usable after it is a broken token, not an absent one.
  const auto header = req.header("authorization");
  if (header && header->size() >= 6) {
    std::string scheme(header->substr(0, 6));
    std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (scheme == "bearer") return AuthFailure::Malformed;
  }
  return AuthFailure::MissingToken;
}

bool Authenticator::ready() const {
  return keys_loaded() && (!follows_revocations() || revocations_loaded());
}

bool Authenticator::keys_loaded() const {
  return impl_->keys_loaded.load(std::memory_order_acquire);
}

bool Authenticator::revocations_loaded() const {
  return impl_->cfg.follow_revocations && impl_->feed_read.load(std::memory_order_acquire);
}

bool Authenticator::follows_revocations() const {
  return impl_->cfg.follow_revocations;
}

bool Authenticator::auth_server_reachable() const {
  const Impl& s = *impl_;
  return s.jwks_reachable.load(std::memory_order_relaxed) &&
         (!s.cfg.follow_revocations || s.feed_healthy.load(std::memory_order_relaxed));
}

std::optional<bool> Authenticator::redis_subscribed() const {
  if (!impl_->channel) return std::nullopt;
  return impl_->channel->subscribed();
}

Authenticator::Stats Authenticator::stats() const {
  const Impl& s = *impl_;
  Stats st;
  st.cache_hits = s.cache.hits();
  st.cache_misses = s.cache.misses();
  st.cache_entries = s.cache.size();
  st.jwks_fetches = s.jwks_fetches.load();
  st.jwks_failures = s.jwks_failures.load();
  st.unknown_kid_refreshes = s.unknown_kid_refreshes.load();
  st.keys = s.key_count.load();
  st.feed_polls = s.feed_polls.load();
  st.feed_errors = s.feed_errors.load();
  st.revocations_applied = s.revocations_applied.load();
  st.revocations_held = s.revocations.size();
  st.feed_cursor = s.revocations.cursor();
  st.service_tokens_fetched = s.service_tokens_fetched.load();
  st.redis_notifications = s.redis_notifications.load();
  st.ready = ready();
  st.auth_server_reachable = auth_server_reachable();
  return st;
}

void Authenticator::on_revocation(std::function<void()> callback) {
  std::lock_guard lock(impl_->callbacks_mutex);
  impl_->callbacks.push_back(std::move(callback));
}

void Authenticator::on_feed_lag(std::function<void(double)> observer) {
  std::lock_guard lock(impl_->callbacks_mutex);
  impl_->lag_observer = std::move(observer);
}

bool Authenticator::is_revoked(const Principal& principal) const {
  return impl_->revocations.is_revoked(principal.jti, principal.session_id);
}

const RevocationList& Authenticator::revocations() const {
  return impl_->revocations;
}

const ResourceConfig& Authenticator::config() const {
  return impl_->cfg;
}

}  // namespace permiso::resource
