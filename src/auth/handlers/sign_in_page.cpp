// See sign_in_page.hpp.
#include "auth/handlers/sign_in_page.hpp"

#include "jose/crypto.hpp"

#include <boost/url/parse.hpp>

#include <algorithm>
#include <array>
#include <utility>

namespace permiso::auth {
namespace {

// Dark, quiet, legible: the dashboard's palette. Focus is always visible; the layout holds
// from a phone's width up.
constexpr std::string_view kStyle =
    ":root{color-scheme:dark;--bg:#0b0f14;--panel:#121821;--line:#243040;--text:#e6edf3;--muted:#8b98a8;"
    "--accent:#3d8bfd;--bad:#f0616d}"
    "*{box-sizing:border-box}"
    "body{margin:0;min-height:100vh;display:grid;place-items:center;background:var(--bg);color:var(--text);"
    "font:15px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;padding:16px}"
    "main{width:100%;max-width:380px;background:var(--panel);border:1px solid var(--line);border-radius:10px;"
    "padding:28px}"
    "h1{font-size:20px;margin:0 0 4px}"
    ".brand{font-weight:700;letter-spacing:.08em;text-transform:uppercase;font-size:12px;color:var(--accent);"
    "margin-bottom:16px}"
    ".lead{color:var(--muted);margin:0 0 20px}"
    "label{display:block;font-size:13px;color:var(--muted);margin:14px 0 6px}"
    "input{width:100%;padding:10px 12px;border-radius:6px;border:1px solid var(--line);background:var(--bg);"
    "color:var(--text);font:inherit}"
    "input:focus,button:focus{outline:2px solid var(--accent);outline-offset:2px}"
    "button{margin-top:22px;width:100%;padding:11px;border:0;border-radius:6px;background:#2563eb;"
    "color:#fff;font:inherit;font-weight:600;cursor:pointer}"
    ".error{border:1px solid var(--bad);color:var(--bad);border-radius:6px;padding:10px 12px;margin-bottom:6px}"
    ".fine{color:var(--muted);font-size:12px;margin:18px 0 0}";

/// 'sha256-…' of the stylesheet, in the standard base64 a CSP hash source is written in.
std::string style_hash() {
  std::string b64 = jose::base64url_encode(jose::sha256(kStyle));
  std::replace(b64.begin(), b64.end(), '-', '+');
  std::replace(b64.begin(), b64.end(), '_', '/');
  while (b64.size() % 4 != 0) b64 += '=';
  return "'sha256-" + b64 + "'";
}

/// The scheme and authority of a URI ("https://app.example.com"); empty if it has none.
std::string origin_of_uri(std::string_view uri) {
  auto parsed = boost::urls::parse_absolute_uri(uri);
  if (!parsed || !parsed->has_authority()) return {};
  return std::string(parsed->scheme()) + "://" + std::string(parsed->encoded_authority());
}

http::Response html(int status, std::string body, std::string_view form_target) {
  static const std::string hash = style_hash();
  http::Response res;
  res.status = status;
  res.content_type = "text/html; charset=utf-8";
  res.body = std::move(body);
  // form-action also covers the redirect that follows the POST, so it names the
  // application's origin beside this one.
  std::string form_action = "'self'";
  if (const auto origin = origin_of_uri(form_target); !origin.empty()) form_action += " " + origin;
  res.set_header("Content-Security-Policy", "default-src 'none'; style-src " + hash + "; form-action " + form_action +
                                                "; frame-ancestors 'none'; base-uri 'none'");
  res.set_header("Cache-Control", "no-store");
  res.set_header("Pragma", "no-cache");
  return res;
}

std::string page(std::string_view title, const std::string& content) {
  return std::string("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">") +
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">" +
         "<meta name=\"referrer\" content=\"no-referrer\"><title>" + std::string(title) + " · Permiso</title><style>" +
         std::string(kStyle) + "</style></head><body><main>" + "<div class=\"brand\">Permiso</div>" + content +
         "</main></body></html>";
}

std::string hidden(std::string_view name, std::string_view value) {
  return "<input type=\"hidden\" name=\"" + std::string(name) + "\" value=\"" + html_escape(value) + "\">";
}

std::string hidden_fields(const SignInForm& form) {
  const auto& r = form.request;
  const std::array<std::pair<std::string_view, const std::string*>, 7> fields{{
      {"response_type", &r.response_type},
      {"client_id", &r.client_id},
      {"redirect_uri", &r.redirect_uri},
      {"state", &r.state},
      {"scope", &r.scope},
      {"code_challenge", &r.code_challenge},
      {"code_challenge_method", &r.code_challenge_method},
  }};
  std::string out = hidden("csrf_token", form.csrf_token);
  for (const auto& [name, value] : fields) out += hidden(name, *value);
  return out;
}

}  // namespace

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

http::Response sign_in_page(int status, const SignInForm& form) {
  std::string content = "<h1 id=\"title\">Sign in</h1><p class=\"lead\">to continue to <strong>" +
                        html_escape(form.client_name) + "</strong></p>";
  const bool failed = !form.error.empty();
  if (failed) content += "<div class=\"error\" role=\"alert\" id=\"error\">" + html_escape(form.error) + "</div>";
  const std::string described = failed ? " aria-describedby=\"error\" aria-invalid=\"true\"" : "";
  content +=
      "<form method=\"post\" action=\"/api/v1/auth/authorize\" aria-labelledby=\"title\">" + hidden_fields(form) +
      "<label for=\"username\">Username</label><input id=\"username\" name=\"username\" "
      "autocomplete=\"username\" autocapitalize=\"none\" spellcheck=\"false\" required maxlength=\"50\"" +
      (form.username.empty() ? std::string(" autofocus") : "") + described + " value=\"" + html_escape(form.username) +
      "\"><label for=\"password\">Password</label><input id=\"password\" name=\"password\" "
      "type=\"password\" autocomplete=\"current-password\" required maxlength=\"128\"" +
      (form.username.empty() ? std::string() : " autofocus") + described +
      "><button type=\"submit\">Sign in</button></form>" +
      "<p class=\"fine\">Permiso signs you in and returns you to the application. It never shares "
      "your password with it.</p>";
  return html(status, page("Sign in", content), form.request.redirect_uri);
}

http::Response sign_in_error_page(int status, std::string_view message) {
  const std::string content =
      "<h1>Cannot sign in</h1><p class=\"lead\" role=\"alert\">" + html_escape(message) +
      "</p><p class=\"fine\">Go back to the application and start again. If this keeps happening, tell its "
      "administrator.</p>";
  return html(status, page("Cannot sign in", content), "");
}

}  // namespace permiso::auth
