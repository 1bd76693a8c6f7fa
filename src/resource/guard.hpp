// What handlers call: one line that authenticates the bearer token and checks scopes, and
// the RFC 6750 answers in the contract's error shape (401 invalid_token, 403
// insufficient_scope with required_scopes and missing_scopes).
//
//   auto who = resource::require_scopes(auth, req, {"trade:read"});
//   if (!who) return who.error();   // the ready 401/403 response
#pragma once

#include "common/result.hpp"
#include "http/http.hpp"
#include "resource/authenticator.hpp"

#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace permiso::http {
/// Lets Result<T, http::Response> report a misused value() (a bug).
[[noreturn]] void throw_exception_from_error(const Response& r, const boost::source_location&);
}  // namespace permiso::http

namespace permiso::resource {

/// 401 with `WWW-Authenticate: Bearer realm="permiso", error="invalid_token",
/// error_description="…"` and {error: "invalid_token", error_description, request_id}. A
/// missing token gets the challenge without an error code (RFC 6750 §3.1). KeysUnavailable
/// is the server's fault, not the token's: 503 temporarily_unavailable with Retry-After.
[[nodiscard]] http::Response unauthorized(const http::Request& req, AuthFailure failure);

/// 403 {error: "insufficient_scope", error_description, required_scopes, missing_scopes,
/// request_id} with `WWW-Authenticate: Bearer realm="permiso", error="insufficient_scope",
/// scope="<required, space-separated>"`.
[[nodiscard]] http::Response insufficient_scope(const http::Request& req, const std::vector<std::string>& required,
                                                const std::vector<std::string>& missing);
/// The same when any one of `required` would do (the description says "one of").
[[nodiscard]] http::Response insufficient_any_scope(const http::Request& req, const std::vector<std::string>& required);

using Guarded = Result<std::shared_ptr<const Principal>, http::Response>;

/// The caller, when its token is valid and carries every scope of `all_of`; otherwise the
/// response to send (401 or 403).
[[nodiscard]] Guarded require_scopes(const Authenticator& auth, const http::Request& req,
                                     std::initializer_list<std::string_view> all_of);
/// The same when any one scope of `any_of` suffices (e.g. /stream: trade:read or market:data).
[[nodiscard]] Guarded require_any_scope(const Authenticator& auth, const http::Request& req,
                                        std::initializer_list<std::string_view> any_of);

/// The scopes of `required` the principal lacks, in order (empty: allowed).
[[nodiscard]] std::vector<std::string> missing_scopes(const Principal& principal,
                                                      std::initializer_list<std::string_view> required);

}  // namespace permiso::resource
