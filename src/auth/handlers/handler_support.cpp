// See handler_support.hpp.
#include "auth/handlers/handler_support.hpp"

#include "auth/context.hpp"
#include "auth/revocation_list.hpp"
#include "http/body.hpp"
#include "http/offload.hpp"

#include <boost/json/value.hpp>

#include <ctime>

namespace permiso::auth {

Failure storage_failure(const storage::StorageFailure& f) {
  switch (f.code) {
    case storage::StorageError::Unavailable: {
      Failure out(AuthError::Unavailable, "Storage is unavailable; try again shortly.");
      out.retry_after_s = 2;
      return out;
    }
    case storage::StorageError::NotFound:
      return Failure(AuthError::NotFound, "No such resource.");
    case storage::StorageError::Conflict: {
      Failure out(AuthError::Conflict, f.field.empty() ? std::string("A unique value is already taken.")
                                                       : "The " + f.field + " is already taken.");
      if (!f.field.empty()) out.with("field", boost::json::value(f.field));
      return out;
    }
    case storage::StorageError::Invalid: {
      Failure out(AuthError::ValidationError, f.field.empty()
                                                  ? std::string("A value refers to something that does not exist.")
                                                  : "The " + f.field + " refers to something that does not exist.");
      if (!f.field.empty()) out.with("field", boost::json::value(f.field));
      return out;
    }
    case storage::StorageError::Internal:
      break;
  }
  return Failure(AuthError::Internal, "An internal error occurred.");
}

storage::AuditEvent audit_event(const http::Request& req, std::string_view action, std::string_view outcome,
                                std::string_view actor, std::string_view actor_type, std::string_view target) {
  storage::AuditEvent e;
  e.action = std::string(action);
  e.outcome = std::string(outcome);
  e.actor = actor.empty() ? std::string("anonymous") : std::string(actor);
  e.actor_type = actor.empty() ? std::string("anonymous") : std::string(actor_type);
  e.target = std::string(target);
  e.ip = req.remote_ip;
  e.request_id = req.request_id;
  return e;
}

std::string iso8601(std::int64_t unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

http::Response no_store_json(int status, const boost::json::object& body) {
  auto res = http::json_response(status, body);
  res.set_header("Cache-Control", "no-store");
  res.set_header("Pragma", "no-cache");
  return res;
}

std::optional<Failure> end_sessions(AuthContext& ctx, const std::vector<std::string>& ids, std::string_view reason) {
  const auto now = ctx.clock.now_seconds();
  // As long as the longest access token of a session could still live.
  const auto until = now + ctx.settings.access_token_ttl_s + ctx.settings.leeway_s;
  for (const auto& id : ids) {
    auto r = ctx.storage.revoke_session(id, now);
    if (!r && r.error().code != storage::StorageError::NotFound) return storage_failure(r.error());
    auto t = ctx.storage.revoke_session_refresh_tokens(id, now);
    if (!t) return storage_failure(t.error());
    auto added =
        ctx.storage.add_revocation(RevocationList::storage_key(RevocationList::Kind::Session, id), until, now, reason);
    if (!added) return storage_failure(added.error());
    ctx.revocations.add(RevocationList::Kind::Session, id, until);
  }
  if (!ids.empty()) notify(ctx, "revocation");
  return std::nullopt;
}

http::Handler on_blocking_pool(AuthContext& ctx, http::Response (*fn)(AuthContext&, http::Request&)) {
  return http::on_pool(ctx.blocking, [&ctx, fn](http::Request& req) { return fn(ctx, req); });
}

void notify(AuthContext& ctx, std::string_view event) {
  if (ctx.notify) ctx.notify(event);
}

Failure validation_failure(std::string_view field, std::string_view why) {
  Failure f(AuthError::ValidationError, std::string(field) + ": " + std::string(why));
  f.with("field", boost::json::value(field));
  return f;
}

AuthResult<JsonBody> JsonBody::parse(const http::Request& req) {
  auto o = http::parse_json_object(req.body);
  if (!o) return Failure(AuthError::InvalidRequest, std::string(http::describe(o.error())));
  return JsonBody(std::move(*o));
}

bool JsonBody::is_null(std::string_view key) const {
  const auto* v = o_.if_contains(key);
  return v != nullptr && v->is_null();
}

void JsonBody::type_error(std::string_view key, std::string_view expected) {
  if (!error_) error_ = validation_failure(key, "must be " + std::string(expected));
}

std::optional<std::string> JsonBody::str(std::string_view key) {
  const auto* v = o_.if_contains(key);
  if (v == nullptr || v->is_null()) return std::nullopt;
  if (!v->is_string()) {
    type_error(key, "a string");
    return std::nullopt;
  }
  return std::string(v->as_string());
}

std::optional<bool> JsonBody::boolean(std::string_view key) {
  const auto* v = o_.if_contains(key);
  if (v == nullptr || v->is_null()) return std::nullopt;
  if (!v->is_bool()) {
    type_error(key, "true or false");
    return std::nullopt;
  }
  return v->as_bool();
}

std::optional<std::int64_t> JsonBody::integer(std::string_view key) {
  const auto* v = o_.if_contains(key);
  if (v == nullptr || v->is_null()) return std::nullopt;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64() && v->as_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
    return static_cast<std::int64_t>(v->as_uint64());
  }
  type_error(key, "an integer");
  return std::nullopt;
}

std::optional<std::vector<std::string>> JsonBody::list(std::string_view key) {
  const auto* v = o_.if_contains(key);
  if (v == nullptr || v->is_null()) return std::nullopt;
  if (!v->is_array() || v->as_array().size() > 1000) {
    type_error(key, "an array");
    return std::nullopt;
  }
  std::vector<std::string> out;
  for (const auto& item : v->as_array()) {
    if (item.is_string()) {
      out.emplace_back(item.as_string());
    } else if (item.is_int64()) {
      out.push_back(std::to_string(item.as_int64()));
    } else {
      type_error(key, "an array of names or ids");
      return std::nullopt;
    }
  }
  return out;
}

}  // namespace permiso::auth
