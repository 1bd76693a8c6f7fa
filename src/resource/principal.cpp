// See principal.hpp.
#include "resource/principal.hpp"

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

#include <algorithm>

namespace permiso::resource {
namespace {

std::string string_claim(const boost::json::object& claims, std::string_view name) {
  const auto* v = claims.if_contains(name);
  return (v != nullptr && v->is_string()) ? std::string(v->as_string()) : std::string();
}

std::int64_t int_claim(const boost::json::object& claims, std::string_view name) {
  const auto* v = claims.if_contains(name);
  if (v == nullptr) return 0;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64() && v->as_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
    return static_cast<std::int64_t>(v->as_uint64());
  }
  if (v->is_double() && v->as_double() > -9.0e15 && v->as_double() < 9.0e15) {
    return static_cast<std::int64_t>(v->as_double());
  }
  return 0;
}

}  // namespace

bool Principal::has_scope(std::string_view scope) const {
  return std::find(scopes.begin(), scopes.end(), scope) != scopes.end();
}

std::string Principal::account_key() const {
  return is_service() ? "client:" + client_id : "user:" + subject;
}

Result<Principal, AuthFailure> principal_from_claims(const boost::json::object& claims) {
  Principal p;
  p.subject = string_claim(claims, "sub");
  p.jti = string_claim(claims, "jti");
  p.token_type = string_claim(claims, "type");
  // Without jti a token could not be revoked; without sub it names no one.
  if (p.subject.empty() || p.jti.empty()) return AuthFailure::Malformed;
  if (p.token_type != "access" && p.token_type != "service") return AuthFailure::WrongType;
  p.client_id = string_claim(claims, "client_id");
  if (p.is_service() && p.client_id.empty()) p.client_id = p.subject;
  p.username = string_claim(claims, "username");
  p.session_id = string_claim(claims, "sid");
  const std::string scope = string_claim(claims, "scope");
  for (std::size_t pos = 0; pos < scope.size();) {
    const auto end = std::min(scope.find(' ', pos), scope.size());
    if (end > pos) p.scopes.emplace_back(scope.substr(pos, end - pos));
    pos = end + 1;
  }
  if (const auto* roles = claims.if_contains("roles"); roles != nullptr && roles->is_array()) {
    for (const auto& r : roles->as_array()) {
      if (r.is_string()) p.roles.emplace_back(r.as_string());
    }
  }
  if (const auto* t = claims.if_contains("is_trusted"); t != nullptr && t->is_bool()) {
    p.is_trusted = p.is_service() && t->as_bool();
  }
  p.expires_at = int_claim(claims, "exp");
  return p;
}

}  // namespace permiso::resource
