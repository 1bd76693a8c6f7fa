// See handler_support.hpp.
#include "auth/handlers/handler_support.hpp"

#include "http/body.hpp"
#include "http/offload.hpp"

#include <boost/json/value.hpp>

namespace permiso::auth {

AuthResult<Principal> authenticate(const AuthContext& ctx, const http::Request& req) {
  const auto token = http::bearer_token(req);
  if (!token || token->empty()) {
    return Failure(AuthError::InvalidToken, "A bearer access token is required.");
  }
  return ctx.services.tokens.verify(*token);
}

Origin origin_of(const http::Request& req) {
  return Origin{req.remote_ip, req.request_id, req.header("user-agent").value_or(""), req.trace.trace_id_hex()};
}

http::Response no_store_json(int status, const boost::json::object& body) {
  auto res = http::json_response(status, body);
  res.set_header("Cache-Control", "no-store");
  res.set_header("Pragma", "no-cache");
  return res;
}

http::Handler on_blocking_pool(AuthContext& ctx, http::Response (*fn)(AuthContext&, http::Request&)) {
  return http::on_pool(ctx.blocking, [&ctx, fn](http::Request& req) { return fn(ctx, req); });
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
