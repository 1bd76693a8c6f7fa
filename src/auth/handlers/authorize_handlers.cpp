// The authorization endpoint (RFC 6749 §4.1.1, PKCE S256 only): GET shows the sign-in page for
// a valid request, POST signs the person in and sends the browser back with a single-use
// code. The form is protected by a signed double-submit token: a random value in an HttpOnly,
// SameSite=Strict cookie and its keyed hash in the form, which another site can neither read
// nor forge. Storage and Argon2 run on the worker pool.
#include "auth/handlers/oauth_handlers.hpp"

#include "auth/client_secrets.hpp"
#include "auth/handlers/browser_session.hpp"
#include "auth/handlers/sign_in_page.hpp"
#include "http/body.hpp"
#include "http/client.hpp"
#include "http/offload.hpp"
#include "jose/crypto.hpp"

namespace permiso::auth {
namespace {

using http::ParamMap;
using http::Request;
using http::Response;

constexpr std::string_view kCsrfCookie = "__Secure-permiso_csrf";
constexpr int kCsrfCookieMaxAgeS = 1800;

std::string param(const ParamMap& p, std::string_view name) {
  return http::param_or_empty(p, name);
}

AuthorizeRequest authorize_request(const ParamMap& p) {
  return {param(p, "response_type"), param(p, "client_id"),      param(p, "redirect_uri"),         param(p, "state"),
          param(p, "scope"),         param(p, "code_challenge"), param(p, "code_challenge_method")};
}

ParamMap query_params(const Request& req) {
  ParamMap p;
  for (const auto& [k, v] : req.query) p.emplace(k, v);
  return p;
}

/// The form's token for a cookie value: a keyed hash only this server can make.
std::string csrf_token_for(const AuthContext& ctx, std::string_view nonce) {
  return ctx.deps().client_secrets.hash("csrf:" + std::string(nonce));
}

bool csrf_valid(const AuthContext& ctx, const Request& req, const ParamMap& p) {
  const auto nonce = http::cookie(req, kCsrfCookie);
  const auto token = param(p, "csrf_token");
  return nonce && !nonce->empty() && !token.empty() &&
         ctx.deps().client_secrets.matches("csrf:" + std::string(*nonce), token);
}

/// The sign-in page with a fresh CSRF pair.
Response form_page(const AuthContext& ctx, int status, SignInForm form) {
  const std::string nonce = jose::random_token(16);
  form.csrf_token = csrf_token_for(ctx, nonce);
  auto res = sign_in_page(status, form);
  res.set_header("Set-Cookie", secure_cookie(kCsrfCookie, nonce, "/api/v1/auth/authorize", kCsrfCookieMaxAgeS));
  return res;
}

Response redirect(std::string location) {
  Response res;
  res.status = 303;
  res.content_type.clear();
  res.set_header("Location", std::move(location));
  res.set_header("Cache-Control", "no-store");
  return res;
}

/// The answer to the application (RFC 6749 §4.1.2, with RFC 9207's iss).
Response back_to_client(const AuthContext& ctx, const AuthorizeRequest& r,
                        std::vector<std::pair<std::string, std::string>> params) {
  if (!r.state.empty()) params.emplace_back("state", r.state);
  params.emplace_back("iss", ctx.deps().settings.issuer);
  return redirect(redirect_with(r.redirect_uri, params));
}

Response refused(const AuthContext& ctx, const AuthorizeRequest& r, const AuthorizeRefusal& why) {
  if (!why.redirectable) {
    return sign_in_error_page(why.error == "temporarily_unavailable" ? 503 : 400, why.description);
  }
  return back_to_client(ctx, r, {{"error", why.error}, {"error_description", why.description}});
}

Response show_sign_in(const AuthContext& ctx, const Request& req) {
  const auto request = authorize_request(query_params(req));
  auto target = ctx.services.authorization.check(request);
  if (!target) return refused(ctx, request, target.error());
  return form_page(ctx, 200, SignInForm{request, target->client_name, {}, {}, {}});
}

Response sign_in(const AuthContext& ctx, const Request& req, const ParamMap& p) {
  const auto request = authorize_request(p);
  auto target = ctx.services.authorization.check(request);
  if (!target) return refused(ctx, request, target.error());
  SignInForm form{request, target->client_name, {}, param(p, "username"), {}};
  if (!csrf_valid(ctx, req, p)) {
    form.error = "This sign-in form has expired. Please sign in again.";
    return form_page(ctx, 403, std::move(form));
  }
  auto user = ctx.services.grants.sign_in({param(p, "username"), param(p, "password"), {}}, origin_of(req));
  if (!user) {
    const auto& f = user.error();
    form.error = f.description;
    auto res = form_page(ctx, http_status(f.code, /*grant_error_is_401=*/true), std::move(form));
    if (f.retry_after_s > 0) res.set_header("Retry-After", std::to_string(f.retry_after_s));
    return res;
  }
  auto code = ctx.services.authorization.issue_code(request, user->id);
  if (!code) return sign_in_error_page(503, "Sign-in is unavailable right now; try again shortly.");
  return back_to_client(ctx, request, {{"code", *code}});
}

}  // namespace

std::string redirect_with(std::string_view redirect_uri,
                          const std::vector<std::pair<std::string, std::string>>& params) {
  std::string out(redirect_uri);
  char sep = out.find('?') == std::string::npos ? '?' : '&';
  for (const auto& [name, value] : params) {
    out += sep;
    out += http::form_encode(name);
    out += '=';
    out += http::form_encode(value);
    sep = '&';
  }
  return out;
}

void register_authorize_routes(http::Router& router, AuthContext& ctx) {
  router.add("GET", "/api/v1/auth/authorize",
             http::on_pool(ctx.blocking, [&ctx](Request& req) { return show_sign_in(ctx, req); }));
  router.add("POST", "/api/v1/auth/authorize", [&ctx](Request& req, http::Reply reply) {
    auto p = http::read_oauth_params(req);
    if (!p) return reply(sign_in_error_page(400, "The sign-in form could not be read."));
    http::offload(ctx.blocking, req, std::move(reply),
                  [&ctx, p = std::move(*p)](Request& r, const http::Reply& answer) { answer(sign_in(ctx, r, p)); });
  });
}

}  // namespace permiso::auth
