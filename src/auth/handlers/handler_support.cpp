// See handler_support.hpp.
#include "auth/handlers/handler_support.hpp"

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
      Failure out(AuthError::Conflict,
                  f.field.empty() ? std::string("A unique value is already taken.")
                                  : "The " + f.field + " is already taken.");
      if (!f.field.empty()) out.with("field", boost::json::value(f.field));
      return out;
    }
    case storage::StorageError::Invalid: {
      Failure out(AuthError::ValidationError,
                  f.field.empty() ? std::string("A value refers to something that does not exist.")
                                  : "The " + f.field + " refers to something that does not exist.");
      if (!f.field.empty()) out.with("field", boost::json::value(f.field));
      return out;
    }
    case storage::StorageError::Internal:
      break;
  }
  return Failure(AuthError::Internal, "An internal error occurred.");
}

storage::AuditEvent audit_event(const http::Request& req, std::string_view action,
                                std::string_view outcome, std::string_view actor,
                                std::string_view actor_type, std::string_view target) {
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

}  // namespace permiso::auth
