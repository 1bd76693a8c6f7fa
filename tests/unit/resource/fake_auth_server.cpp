// See fake_auth_server.hpp.
#include "fake_auth_server.hpp"

#include "http/body.hpp"
#include "jose/crypto.hpp"

#include <boost/json.hpp>

#include <chrono>

namespace permiso::resource::testing {

FakeAuthServer::FakeAuthServer() {
  router_.add_sync("GET", "/.well-known/oauth-authorization-server", [this](http::Request&) { return metadata(); });
  router_.add_sync("GET", "/.well-known/jwks.json", [this](http::Request&) { return jwks(); });
  router_.add_sync("POST", "/api/v1/auth/service-token", [this](http::Request& r) { return service_token(r); });
  router_.add_sync("GET", "/api/v1/auth/revocations", [this](http::Request& r) { return feed(r); });
  jwks_doc_["keys"] = boost::json::array{};
  http::ServerConfig cfg;
  cfg.host = "127.0.0.1";
  cfg.port = 0;
  cfg.threads = 6;  // long-polls hold a thread each
  cfg.shutdown_grace = std::chrono::milliseconds(500);
  server_ = std::make_unique<http::Server>(
      cfg, router_,
      http::ServerHooks{.access_log = {}, .error_log = [](std::string_view) {}, .metrics = nullptr, .admit = {}});
  thread_ = std::thread([this] { server_->run(); });
}

FakeAuthServer::~FakeAuthServer() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  server_->stop();
  thread_.join();
}

std::string FakeAuthServer::base_url() const {
  return "http://127.0.0.1:" + std::to_string(server_->port());
}

void FakeAuthServer::publish(std::vector<jose::SigningKey> keys) {
  boost::json::array arr;
  for (const auto& k : keys) {
    if (!k.is_symmetric()) arr.emplace_back(k.public_jwk());
  }
  std::lock_guard lock(mutex_);
  jwks_doc_["keys"] = std::move(arr);
}

void FakeAuthServer::set_feed_page(std::size_t entries) {
  std::lock_guard lock(mutex_);
  feed_page_ = entries;
}

void FakeAuthServer::answer_feed_then_fail(int requests) {
  std::lock_guard lock(mutex_);
  feed_answers_left_ = requests;
}

void FakeAuthServer::set_jwks_status(int status) {
  std::lock_guard lock(mutex_);
  jwks_status_ = status;
}

void FakeAuthServer::set_metadata_jwks_uri(std::string uri) {
  std::lock_guard lock(mutex_);
  jwks_uri_override_ = std::move(uri);
}

void FakeAuthServer::set_service_token_lifetime(std::int64_t seconds) {
  std::lock_guard lock(mutex_);
  token_lifetime_ = seconds;
}

void FakeAuthServer::set_hold_long_polls(bool hold) {
  std::lock_guard lock(mutex_);
  hold_ = hold;
}

void FakeAuthServer::release_polls() {
  {
    std::lock_guard lock(mutex_);
    ++release_generation_;
  }
  changed_.notify_all();
}

void FakeAuthServer::forget_service_tokens() {
  std::lock_guard lock(mutex_);
  issued_.clear();
}

std::int64_t FakeAuthServer::revoke_token(const std::string& jti, std::int64_t expires_at,
                                          std::optional<std::int64_t> revoked_at) {
  return append("token", jti, expires_at, revoked_at);
}

std::int64_t FakeAuthServer::end_session(const std::string& sid, std::int64_t expires_at,
                                         std::optional<std::int64_t> revoked_at) {
  return append("session", sid, expires_at, revoked_at);
}

std::int64_t FakeAuthServer::append(std::string kind, const std::string& id, std::int64_t expires_at,
                                    std::optional<std::int64_t> revoked_at) {
  std::int64_t seq = 0;
  {
    std::lock_guard lock(mutex_);
    seq = static_cast<std::int64_t>(entries_.size()) + 1;
    entries_.push_back(Entry{std::move(kind), id, expires_at, seq, revoked_at});
  }
  changed_.notify_all();
  return seq;
}

http::Response FakeAuthServer::metadata() const {
  metadata_fetches_.fetch_add(1);
  const std::string base = base_url();
  std::string jwks_uri = base + "/.well-known/jwks.json";
  {
    std::lock_guard lock(mutex_);
    if (!jwks_uri_override_.empty()) jwks_uri = jwks_uri_override_;
  }
  return http::json_response(
      200, boost::json::object{
               {"issuer", kIssuer}, {"token_endpoint", base + "/api/v1/auth/token"}, {"jwks_uri", jwks_uri}});
}

http::Response FakeAuthServer::jwks() {
  jwks_fetches_.fetch_add(1);
  std::lock_guard lock(mutex_);
  if (jwks_status_ != 200) return http::json_response(jwks_status_, boost::json::object{{"error", "unavailable"}});
  return http::json_response(200, jwks_doc_);
}

http::Response FakeAuthServer::service_token(const http::Request& req) {
  auto params = http::read_oauth_params(req);
  if (!params || (*params)["client_id"] != kClientId || (*params)["client_secret"] != kClientSecret) {
    return http::error_response(req, 401, "invalid_client", "Client authentication failed.");
  }
  service_tokens_.fetch_add(1);
  const std::string token = "svc-" + jose::random_token(16);
  std::int64_t lifetime = 0;
  {
    std::lock_guard lock(mutex_);
    issued_.insert(token);
    lifetime = token_lifetime_;
  }
  return http::json_response(
      200, boost::json::object{
               {"access_token", token}, {"token_type", "Bearer"}, {"expires_in", lifetime}, {"scope", "trade:read"}});
}

http::Response FakeAuthServer::feed(const http::Request& req) {
  feed_requests_.fetch_add(1);
  const auto token = http::bearer_token(req);
  std::unique_lock lock(mutex_);
  if (!token || !issued_.contains(std::string(*token))) {
    feed_refusals_.fetch_add(1);
    return http::error_response(req, 401, "invalid_token", "The access token is invalid.");
  }
  if (feed_answers_left_ == 0) return http::json_response(503, boost::json::object{{"error", "unavailable"}});
  if (feed_answers_left_ > 0) --feed_answers_left_;
  const std::int64_t since = std::stoll(std::string(req.query_param("since").value_or("0")));
  const int wait = std::min(25, std::stoi(std::string(req.query_param("wait").value_or("0"))));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(wait);
  const auto generation = release_generation_;
  const auto has_news = [&] { return static_cast<std::int64_t>(entries_.size()) > since; };
  // As permiso-auth does: answer as soon as there is something past `since`, or at the end
  // of the wait (held polls only at the end).
  changed_.wait_until(lock, deadline,
                      [&] { return stopping_ || release_generation_ != generation || (!hold_ && has_news()); });
  boost::json::array items;
  std::int64_t cursor = since;
  for (const auto& e : entries_) {
    if (e.seq <= since) continue;
    if (items.size() >= feed_page_) break;
    boost::json::object item{{"key", (e.kind == "token" ? "jti:" : "sid:") + e.id},
                             {"kind", e.kind},
                             {"id", e.id},
                             {"expires_at", e.expires_at},
                             {"seq", e.seq}};
    if (e.revoked_at) item["revoked_at"] = *e.revoked_at;
    items.push_back(std::move(item));
    cursor = std::max(cursor, e.seq);
  }
  const bool more = items.size() >= feed_page_;
  return http::json_response(
      200, boost::json::object{{"revocations", std::move(items)}, {"cursor", cursor}, {"more", more}});
}

boost::json::object user_claims(std::int64_t now, const std::string& jti, const std::string& sid,
                                const std::string& scope) {
  return boost::json::object{{"iss", FakeAuthServer::kIssuer},
                             {"sub", "42"},
                             {"aud", "permiso"},
                             {"exp", now + 3600},
                             {"iat", now},
                             {"nbf", now},
                             {"jti", jti},
                             {"client_id", "permiso"},
                             {"scope", scope},
                             {"type", "access"},
                             {"username", "alice"},
                             {"roles", boost::json::array{"trader", "user"}},
                             {"sid", sid}};
}

boost::json::object service_claims(std::int64_t now, const std::string& jti, const std::string& client_id,
                                   const std::string& scope, bool trusted) {
  return boost::json::object{{"iss", FakeAuthServer::kIssuer},
                             {"sub", client_id},
                             {"aud", "permiso"},
                             {"exp", now + 7200},
                             {"iat", now},
                             {"nbf", now},
                             {"jti", jti},
                             {"client_id", client_id},
                             {"scope", scope},
                             {"type", "service"},
                             {"is_trusted", trusted}};
}

std::string craft(const jose::SigningKey& key, const boost::json::object& header, const boost::json::object& claims) {
  std::string token = jose::base64url_encode(boost::json::serialize(header)) + "." +
                      jose::base64url_encode(boost::json::serialize(claims));
  const std::string signature = key.sign(token);
  return token + "." + jose::base64url_encode(signature);
}

}  // namespace permiso::resource::testing
