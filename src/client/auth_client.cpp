// See permiso/auth_client.hpp. The transport is the project's one HTTP client
// (http::Client); this file adds tokens, caching, single flight, retries and the mapping of
// HTTP answers onto AuthClientErrc.
#include "permiso/auth_client.hpp"

#include "http/client.hpp"
#include "redis_token_cache.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>

namespace permiso {

std::string_view to_string(AuthClientErrc e) {
  switch (e) {
    case AuthClientErrc::InvalidArgument:
      return "invalid_argument";
    case AuthClientErrc::NotLoggedIn:
      return "not_logged_in";
    case AuthClientErrc::Authentication:
      return "authentication";
    case AuthClientErrc::TokenRevoked:
      return "token_revoked";
    case AuthClientErrc::Forbidden:
      return "forbidden";
    case AuthClientErrc::InsufficientScope:
      return "insufficient_scope";
    case AuthClientErrc::InvalidScope:
      return "invalid_scope";
    case AuthClientErrc::RateLimited:
      return "rate_limited";
    case AuthClientErrc::Unavailable:
      return "unavailable";
    case AuthClientErrc::Protocol:
      return "protocol";
  }
  return "unknown";
}

std::optional<std::string_view> HttpResponse::header(std::string_view name) const {
  for (const auto& h : headers) {
    if (h.name.size() == name.size() && std::equal(h.name.begin(), h.name.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
        })) {
      return h.value;
    }
  }
  return std::nullopt;
}

namespace {

using Clock = std::chrono::system_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

AuthClientError make_error(AuthClientErrc code, std::string message, int status = 0) {
  AuthClientError e;
  e.code = code;
  e.message = std::move(message);
  e.http_status = status;
  return e;
}

bool is_idempotent(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "PUT" || method == "DELETE" || method == "OPTIONS";
}

/// Retry-After in delta-seconds (what permiso-auth sends); an HTTP-date counts as 1 s.
std::optional<seconds> retry_after(const HttpResponse& r) {
  auto v = r.header("retry-after");
  if (!v) return std::nullopt;
  std::int64_t s = 0;
  auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), s);
  if (ec != std::errc() || p != v->data() + v->size() || s < 0) return seconds(1);
  return seconds(std::min<std::int64_t>(s, 86400));
}

std::vector<std::string> string_list(const boost::json::value* v) {
  std::vector<std::string> out;
  if (v == nullptr) return out;
  if (const auto* a = v->if_array()) {
    for (const auto& x : *a) {
      if (const auto* s = x.if_string()) out.emplace_back(*s);
    }
  } else if (const auto* s = v->if_string()) {
    std::string_view rest = *s;
    while (!rest.empty()) {
      const auto sp = rest.find(' ');
      if (sp != 0) out.emplace_back(rest.substr(0, sp));
      if (sp == std::string_view::npos) break;
      rest.remove_prefix(sp + 1);
    }
  }
  return out;
}

/// The error fields of a JSON error body (`{"error", "error_description", …}`).
/// The servers name the cause of a 401 in `reason`; "revoked" is the one a client must not
/// paper over with a fresh token.
bool says_revoked(const HttpResponse& r) {
  boost::system::error_code ec;
  auto v = boost::json::parse(r.body, ec);
  const auto* o = ec ? nullptr : v.if_object();
  const auto* reason = o ? o->if_contains("reason") : nullptr;
  return reason != nullptr && reason->is_string() && reason->get_string() == "revoked";
}

void read_error_body(const HttpResponse& r, AuthClientError& e) {
  e.http_status = r.status;
  e.body = r.body.substr(0, 4096);
  boost::system::error_code ec;
  auto v = boost::json::parse(r.body, ec);
  if (ec || !v.is_object()) return;
  const auto& o = v.get_object();
  if (const auto* s = o.if_contains("error"); s && s->is_string()) e.error = std::string(s->get_string());
  if (const auto* s = o.if_contains("error_description"); s && s->is_string()) {
    if (!e.message.empty()) e.message += ": ";
    e.message += std::string(s->get_string());
  }
  e.missing_scopes = string_list(o.if_contains("missing_scopes"));
  e.required_scopes = string_list(o.if_contains("required_scopes"));
}

/// A non-2xx answer of the token endpoint as a typed error.
AuthClientError token_endpoint_error(const HttpResponse& r, std::string_view what) {
  AuthClientError e;
  e.message = std::string(what) + " refused (HTTP " + std::to_string(r.status) + ")";
  read_error_body(r, e);
  if (r.status == 401 || r.status == 423 || e.error == "invalid_grant" || e.error == "invalid_client") {
    e.code = AuthClientErrc::Authentication;
  } else if (r.status == 403) {
    e.code = AuthClientErrc::Forbidden;
  } else if (e.error == "invalid_scope") {
    e.code = AuthClientErrc::InvalidScope;
  } else if (r.status == 400 || r.status == 422) {
    e.code = AuthClientErrc::InvalidArgument;
  } else {
    e.code = AuthClientErrc::Protocol;
  }
  return e;
}

std::string form(std::initializer_list<std::pair<std::string_view, std::string_view>> fields) {
  std::string out;
  for (const auto& [k, v] : fields) {
    if (!out.empty()) out += '&';
    out += http::form_encode(k);
    out += '=';
    out += http::form_encode(v);
  }
  return out;
}

std::string trim_slash(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

bool is_traceparent(std::string_view name) {
  return name.size() == 11 && std::equal(name.begin(), name.end(), "traceparent", [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == b;
         });
}

/// The caller's traceparent while request() runs on this thread, so the token request it may
/// make on the way (this thread leads the single flight) joins the caller's trace too. Scoped
/// to one call: set and cleared by TraceScope.
thread_local const std::string* t_caller_traceparent = nullptr;

class TraceScope {
 public:
  // A copy: the caller's header vector grows (Authorization) while the scope lasts.
  explicit TraceScope(const std::vector<HttpHeader>& headers) : previous_(t_caller_traceparent) {
    for (const auto& h : headers) {
      if (is_traceparent(h.name)) {
        value_ = h.value;
        t_caller_traceparent = &value_;
        break;
      }
    }
  }
  ~TraceScope() { t_caller_traceparent = previous_; }
  TraceScope(const TraceScope&) = delete;
  TraceScope& operator=(const TraceScope&) = delete;

 private:
  const std::string* previous_;
  std::string value_;
};

}  // namespace

struct AuthClient::Impl {
  /// One scope set's cached token and its single-flight state.
  struct Entry {
    std::optional<Token> token;
    Clock::time_point renew_at{};
    bool in_flight = false;
    std::uint64_t generation = 0;  // completed flights
    std::optional<AuthClientError> last_error;
  };
  enum class Mode { Cached, Force, Rejected };

  static http::ClientOptions http_options(const AuthClientOptions& o) {
    http::ClientOptions h;
    h.max_idle_per_origin = 8;
    h.verify_tls = o.verify_tls;
    h.ca_file = o.ca_file;
    return h;
  }

  explicit Impl(AuthClientOptions o) : options(std::move(o)), http(http_options(options)) {
    options.auth_url = trim_slash(options.auth_url);
    if (!options.now) options.now = [] { return Clock::now(); };
    if (!options.sleep) options.sleep = [](milliseconds d) { std::this_thread::sleep_for(d); };
    if (options.retry.max_attempts < 1) options.retry.max_attempts = 1;
    if (!options.redis_url.empty()) {
      if (auto t = permiso::redis::parse_url(options.redis_url)) {  // the member `redis` hides the namespace
        redis = std::make_unique<client_detail::RedisTokenCache>(*t, options.redis_timeout);
      } else {
        redis_url_invalid = true;
      }
    }
  }

  // ---- transport ----

  milliseconds backoff(int attempt) {
    // Exponential, capped, with "equal jitter": half fixed, half random, so a fleet that
    // failed together does not retry together.
    auto d = options.retry.initial_backoff * (1LL << std::min(attempt, 20));
    d = std::min<milliseconds>(d, options.retry.max_backoff);
    thread_local std::mt19937_64 rng{std::random_device{}()};
    std::uniform_int_distribution<std::int64_t> half(0, std::max<std::int64_t>(0, d.count() / 2));
    return milliseconds(d.count() - d.count() / 2 + half(rng));
  }

  /// One exchange with retries: network errors and 5xx (when `retry_unsafe` or the method is
  /// idempotent) back off exponentially; 429 waits Retry-After up to max_retry_after. What
  /// is left after the attempts becomes Unavailable or RateLimited; other answers return.
  ClientResult<HttpResponse> send(std::string_view method, const std::string& url, const std::string& body,
                                  const std::vector<HttpHeader>& headers, bool retry_unsafe) {
    http::ClientRequest req;
    req.method = std::string(method);
    req.url = url;
    req.body = body;
    req.timeout = options.timeout;
    bool has_type = false;
    bool has_accept = false;
    bool has_trace = false;
    for (const auto& h : headers) {
      req.headers.emplace_back(h.name, h.value);
      std::string lower = h.name;
      std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
      has_type = has_type || lower == "content-type";
      has_accept = has_accept || lower == "accept";
      has_trace = has_trace || lower == "traceparent";
    }
    if (!body.empty() && !has_type) req.headers.emplace_back("Content-Type", "application/json");
    if (!has_accept) req.headers.emplace_back("Accept", "application/json");
    // Without one, http::Client starts a new trace for the exchange.
    if (!has_trace && t_caller_traceparent != nullptr) req.headers.emplace_back("traceparent", *t_caller_traceparent);
    const bool may_retry = retry_unsafe || is_idempotent(method);
    AuthClientError last;
    for (int attempt = 0; attempt < options.retry.max_attempts; ++attempt) {
      const bool last_attempt = attempt + 1 == options.retry.max_attempts;
      auto r = http.fetch(req);
      if (!r) {
        const auto e = r.error();
        if (e == http::ClientError::InvalidUrl) {
          return make_error(AuthClientErrc::InvalidArgument, "not an absolute http(s) URL: " + url);
        }
        last = make_error(AuthClientErrc::Unavailable, "cannot reach " + url + ": " + std::string(http::to_string(e)) +
                                                           " (is the server running and the URL right?)");
        // Tls and oversized answers will not get better by retrying; an unsent request is
        // safe to retry, a sent one only when it is idempotent (Connect/Resolve mean unsent).
        const bool unsent = e == http::ClientError::Connect || e == http::ClientError::Resolve;
        if (e == http::ClientError::Tls || e == http::ClientError::ResponseTooLarge || last_attempt ||
            !(may_retry || unsent)) {
          return last;
        }
        options.sleep(backoff(attempt));
        continue;
      }
      HttpResponse out;
      out.status = r->status;
      out.body = std::move(r->body);
      for (auto& [k, v] : r->headers) out.headers.push_back({std::move(k), std::move(v)});
      if (out.status == 429) {
        const auto wait = retry_after(out).value_or(seconds(1));
        last = make_error(AuthClientErrc::RateLimited, "rate limited by " + url);
        read_error_body(out, last);
        last.retry_after = wait;
        last.message += "; retry in " + std::to_string(wait.count()) + " s";
        if (last_attempt || wait > options.retry.max_retry_after) return last;
        options.sleep(std::max<milliseconds>(wait, backoff(attempt)));
        continue;
      }
      if (out.status >= 500) {
        last = make_error(AuthClientErrc::Unavailable, "server error from " + url);
        read_error_body(out, last);
        if (auto ra = retry_after(out)) last.retry_after = *ra;
        if (last_attempt || !may_retry) return last;
        auto wait = backoff(attempt);
        if (auto ra = retry_after(out); ra && *ra <= options.retry.max_retry_after)
          wait = std::max<milliseconds>(wait, *ra);
        options.sleep(wait);
        continue;
      }
      return out;
    }
    return last;
  }

  // ---- service tokens ----

  ClientResult<Token> fetch_service_token(const std::string& key) {
    token_requests.fetch_add(1);
    std::string body;
    if (key.empty()) {
      body = form({{"grant_type", "client_credentials"},
                   {"client_id", options.client_id},
                   {"client_secret", options.client_secret}});
    } else {
      body = form({{"grant_type", "client_credentials"},
                   {"client_id", options.client_id},
                   {"client_secret", options.client_secret},
                   {"scope", key}});
    }
    auto r = send("POST", options.auth_url + "/api/v1/auth/token", body,
                  {{"Content-Type", "application/x-www-form-urlencoded"}}, /*retry_unsafe=*/true);
    if (!r) return r.error();
    if (r->status != 200) {
      return token_endpoint_error(*r, "token request for client '" + options.client_id + "' (scope '" + key + "')");
    }
    return parse_token(*r);
  }

  ClientResult<Token> parse_token(const HttpResponse& r) {
    boost::system::error_code ec;
    auto v = boost::json::parse(r.body, ec);
    const auto* o = ec ? nullptr : v.if_object();
    const auto* at = o ? o->if_contains("access_token") : nullptr;
    const auto* exp = o ? o->if_contains("expires_in") : nullptr;
    if (at == nullptr || !at->is_string() || exp == nullptr || !exp->is_number()) {
      auto e = make_error(AuthClientErrc::Protocol, "token answer without access_token/expires_in", r.status);
      e.body = r.body.substr(0, 4096);
      return e;
    }
    Token t;
    t.access_token = std::string(at->get_string());
    if (const auto* s = o->if_contains("scope"); s && s->is_string()) t.scope = std::string(s->get_string());
    t.expires_at = options.now() + seconds(static_cast<std::int64_t>(exp->to_number<double>()));
    return t;
  }

  /// When to renew: renew_margin before expiry, but never earlier than half the lifetime
  /// (a margin longer than the token's life would otherwise ask the server on every call).
  Clock::time_point renew_at(const Token& t) const {
    const auto life = t.expires_at - options.now();
    const auto margin = std::min<Clock::duration>(options.renew_margin, life / 2);
    return t.expires_at - margin;
  }

  std::string redis_key(const std::string& key) const { return "service_token:" + options.client_id + ":" + key; }

  ClientResult<Token> service_token(const std::vector<std::string>& scopes, Mode mode,
                                    const std::string& rejected = {}) {
    if (options.client_id.empty()) {
      return make_error(AuthClientErrc::InvalidArgument, "service tokens need client_id and client_secret");
    }
    const std::string key = AuthClient::scope_key(scopes);
    std::unique_lock lock(mutex);
    Entry& e = entries[key];
    const auto fresh = [&] { return e.token && options.now() < e.renew_at; };
    if (mode == Mode::Cached && fresh()) return *e.token;
    if (mode == Mode::Rejected && fresh() && e.token->access_token != rejected) return *e.token;  // already renewed
    if (e.in_flight) {
      // Single flight: whoever asks while a request is out waits for that request's answer.
      const auto gen = e.generation;
      cv.wait(lock, [&] { return e.generation != gen; });
      if (e.last_error) return *e.last_error;
      return *e.token;
    }
    e.in_flight = true;
    lock.unlock();
    auto result = fill(key, mode);
    lock.lock();
    e.in_flight = false;
    ++e.generation;
    if (result) {
      e.token = *result;
      e.renew_at = renew_at(*result);
      e.last_error.reset();
    } else {
      e.last_error = result.error();
    }
    cv.notify_all();
    return result;
  }

  /// Redis first (unless forced), then the server; a new token is shared through Redis.
  ClientResult<Token> fill(const std::string& key, Mode mode) {
    if (redis && mode == Mode::Cached) {
      if (auto hit = redis->get(redis_key(key))) {
        Token t;
        t.access_token = std::move(hit->value);
        t.scope = key;
        // The Redis TTL ends `renew_margin` before the token expires.
        t.expires_at = options.now() + hit->ttl + options.renew_margin;
        return t;
      }
    }
    auto t = fetch_service_token(key);
    if (t && redis) {
      const auto ttl = std::chrono::duration_cast<milliseconds>(t->expires_at - options.now() - options.renew_margin);
      (void)redis->put(redis_key(key), t->access_token, ttl);
    }
    return t;
  }

  // ---- user sessions ----

  ClientResult<UserSession> parse_session(const HttpResponse& r) {
    auto t = parse_token(r);
    if (!t) return t.error();
    UserSession s;
    s.access_token = std::move(t->access_token);
    s.scope = std::move(t->scope);
    s.expires_at = t->expires_at;
    boost::system::error_code ec;
    auto v = boost::json::parse(r.body, ec);
    if (const auto* o = v.if_object()) {
      if (const auto* x = o->if_contains("refresh_token"); x && x->is_string())
        s.refresh_token = std::string(x->get_string());
      if (const auto* x = o->if_contains("session_id"); x && x->is_string())
        s.session_id = std::string(x->get_string());
    }
    return s;
  }

  ClientResult<UserSession> login(const std::string& username, const std::string& password,
                                  const std::vector<std::string>& scopes) {
    const std::string scope = AuthClient::scope_key(scopes);
    std::string body = form({{"grant_type", "password"}, {"username", username}, {"password", password}});
    if (!scope.empty()) body += "&scope=" + http::form_encode(scope);
    token_requests.fetch_add(1);
    auto r = send("POST", options.auth_url + "/api/v1/auth/token", body,
                  {{"Content-Type", "application/x-www-form-urlencoded"}}, /*retry_unsafe=*/false);
    if (!r) return r.error();
    if (r->status != 200) return token_endpoint_error(*r, "login of '" + username + "'");
    auto s = parse_session(*r);
    if (!s) return s;
    std::lock_guard lock(mutex);
    user = *s;
    user_renew_at = renew_at(Token{s->access_token, s->scope, s->expires_at});
    return s;
  }

  ClientResult<UserSession> user_session(Mode mode, const std::string& rejected = {}) {
    std::unique_lock lock(mutex);
    if (!user) return make_error(AuthClientErrc::NotLoggedIn, "not logged in: call login() first");
    const auto fresh = [&] { return options.now() < user_renew_at; };
    if (mode == Mode::Cached && fresh()) return *user;
    if (mode == Mode::Rejected && fresh() && user->access_token != rejected) return *user;
    if (user_in_flight) {
      const auto gen = user_generation;
      cv.wait(lock, [&] { return user_generation != gen; });
      if (user_error) return *user_error;
      if (!user) return make_error(AuthClientErrc::NotLoggedIn, "the session ended");
      return *user;
    }
    if (user->refresh_token.empty()) {
      return make_error(AuthClientErrc::Authentication,
                        "the access token expired and there is no refresh token: log in again");
    }
    user_in_flight = true;
    const std::string refresh = user->refresh_token;
    lock.unlock();
    token_requests.fetch_add(1);
    // Not retried after a send: a refresh token is single-use (rotation), so a lost answer
    // must not be replayed into reuse detection.
    auto r = send("POST", options.auth_url + "/api/v1/auth/token",
                  form({{"grant_type", "refresh_token"}, {"refresh_token", refresh}}),
                  {{"Content-Type", "application/x-www-form-urlencoded"}}, /*retry_unsafe=*/false);
    ClientResult<UserSession> result = make_error(AuthClientErrc::Protocol, "");
    if (!r) {
      result = r.error();
    } else if (r->status != 200) {
      auto e = token_endpoint_error(*r, "session refresh");
      e.message += "; log in again";
      result = e;
    } else {
      result = parse_session(*r);
    }
    lock.lock();
    user_in_flight = false;
    ++user_generation;
    if (result) {
      user = *result;
      user_renew_at = renew_at(Token{result->access_token, result->scope, result->expires_at});
      user_error.reset();
    } else {
      user_error = result.error();
    }
    cv.notify_all();
    return result;
  }

  // ---- authenticated requests ----

  ClientResult<std::string> bearer(const std::vector<std::string>& scopes, Mode mode, const std::string& rejected) {
    if (!options.client_id.empty()) {
      auto t = service_token(scopes, mode, rejected);
      if (!t) return t.error();
      return t->access_token;
    }
    auto s = user_session(mode, rejected);
    if (!s) return s.error();
    return s->access_token;
  }

  /// Forgets a token the server says was revoked, unless it was already replaced: in memory,
  /// and in Redis so the fleet's other workers do not pick it up again.
  void forget(const std::vector<std::string>& scopes, const std::string& revoked) {
    std::lock_guard lock(mutex);
    if (options.client_id.empty()) {
      if (user && user->access_token == revoked) user_renew_at = {};  // renew by refresh token
      return;
    }
    const std::string key = AuthClient::scope_key(scopes);
    if (auto it = entries.find(key);
        it != entries.end() && it->second.token && it->second.token->access_token == revoked) {
      it->second.token.reset();
    }
    if (redis) (void)redis->erase_if_equal(redis_key(key), revoked);
  }

  /// A 401 for a revoked token: dropped and reported, never retried with a fresh one.
  std::optional<AuthClientError> revocation(const HttpResponse& r, std::string_view method, const std::string& url,
                                            const std::vector<std::string>& scopes, const std::string& token) {
    if (r.status != 401 || !says_revoked(r)) return std::nullopt;
    forget(scopes, token);
    AuthClientError e;
    e.code = AuthClientErrc::TokenRevoked;
    e.message = std::string(method) + " " + url + " refused a revoked token (dropped; the next call gets a new one)";
    read_error_body(r, e);
    return e;
  }

  ClientResult<HttpResponse> request(std::string_view method, const std::string& url,
                                     const std::vector<std::string>& scopes, const std::string& body,
                                     std::vector<HttpHeader> headers) {
    const TraceScope trace(headers);
    auto token = bearer(scopes, Mode::Cached, {});
    if (!token) return token.error();
    headers.push_back({"Authorization", "Bearer " + *token});
    auto r = send(method, url, body, headers, false);
    if (!r) return r;
    if (auto revoked = revocation(*r, method, url, scopes, *token)) return *revoked;
    if (r->status == 401) {
      // The token may have expired early or the key rotated: one forced refresh, one retry.
      auto again = bearer(scopes, Mode::Rejected, *token);
      if (!again) return again.error();
      headers.back().value = "Bearer " + *again;
      r = send(method, url, body, headers, false);
      if (!r) return r;
      if (auto revoked = revocation(*r, method, url, scopes, *again)) return *revoked;
      if (r->status == 401) {
        AuthClientError e;
        e.code = AuthClientErrc::Authentication;
        e.message = std::string(method) + " " + url + " refused the token after a refresh";
        read_error_body(*r, e);
        return e;
      }
    }
    if (r->status == 403) {
      AuthClientError e;
      e.message = std::string(method) + " " + url + " is forbidden";
      read_error_body(*r, e);
      e.code = e.error == "insufficient_scope" || !e.missing_scopes.empty() ? AuthClientErrc::InsufficientScope
                                                                            : AuthClientErrc::Forbidden;
      if (e.code == AuthClientErrc::InsufficientScope && !e.missing_scopes.empty()) {
        e.message += "; missing scopes:";
        for (const auto& s : e.missing_scopes) e.message += " " + s;
      }
      return e;
    }
    return r;
  }

  AuthClientOptions options;
  http::Client http;
  std::unique_ptr<client_detail::RedisTokenCache> redis;
  bool redis_url_invalid = false;
  std::atomic<std::uint64_t> token_requests{0};

  std::mutex mutex;  // guards entries and the user session; never held across I/O
  std::condition_variable cv;
  std::unordered_map<std::string, Entry> entries;  // node-based: references stay valid
  std::optional<UserSession> user;
  Clock::time_point user_renew_at{};
  bool user_in_flight = false;
  std::uint64_t user_generation = 0;
  std::optional<AuthClientError> user_error;
};

AuthClient::AuthClient(AuthClientOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {
  if (impl_->redis_url_invalid) {
    throw std::invalid_argument("AuthClientOptions::redis_url is not redis://[[user]:password@]host[:port][/db]");
  }
}

AuthClient::~AuthClient() = default;

ClientResult<Token> AuthClient::service_token(const std::vector<std::string>& scopes, bool force_refresh) {
  return impl_->service_token(scopes, force_refresh ? Impl::Mode::Force : Impl::Mode::Cached);
}

ClientResult<UserSession> AuthClient::login(const std::string& username, const std::string& password,
                                            const std::vector<std::string>& scopes) {
  return impl_->login(username, password, scopes);
}

void AuthClient::set_session(UserSession session) {
  std::lock_guard lock(impl_->mutex);
  impl_->user_renew_at = impl_->renew_at(Token{session.access_token, session.scope, session.expires_at});
  impl_->user = std::move(session);
}

std::optional<UserSession> AuthClient::session() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->user;
}

ClientResult<UserSession> AuthClient::user_session(bool force_refresh) {
  return impl_->user_session(force_refresh ? Impl::Mode::Force : Impl::Mode::Cached);
}

ClientResult<HttpResponse> AuthClient::request(std::string_view method, const std::string& url,
                                               const std::vector<std::string>& scopes, const std::string& body,
                                               std::vector<HttpHeader> headers) {
  return impl_->request(method, url, scopes, body, std::move(headers));
}

ClientResult<HttpResponse> AuthClient::raw(std::string_view method, const std::string& url, const std::string& body,
                                           std::vector<HttpHeader> headers) {
  return impl_->send(method, url, body, headers, false);
}

void AuthClient::clear_cache() {
  std::lock_guard lock(impl_->mutex);
  for (auto& [key, e] : impl_->entries) {
    if (!e.in_flight) e.token.reset();
  }
}

std::uint64_t AuthClient::token_requests() const {
  return impl_->token_requests.load();
}

std::string AuthClient::scope_key(const std::vector<std::string>& scopes) {
  std::vector<std::string> sorted;
  for (const auto& s : scopes) {
    // A caller may pass "a b" as one element: split on spaces so keys stay canonical.
    std::string_view rest = s;
    while (!rest.empty()) {
      const auto sp = rest.find(' ');
      if (sp != 0) sorted.emplace_back(rest.substr(0, sp));
      if (sp == std::string_view::npos) break;
      rest.remove_prefix(sp + 1);
    }
  }
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  std::string out;
  for (const auto& s : sorted) {
    if (!out.empty()) out += ' ';
    out += s;
  }
  return out;
}

}  // namespace permiso
