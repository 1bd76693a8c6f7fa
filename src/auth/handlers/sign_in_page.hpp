// The sign-in page of the authorization endpoint: server-rendered HTML with no script at all,
// one inline stylesheet allowed by its hash, and a strict Content-Security-Policy. Every
// value it shows is HTML-escaped.
#pragma once

#include "auth/authorization.hpp"
#include "http/http.hpp"

#include <string>
#include <string_view>

namespace permiso::auth {

/// What the sign-in form shows and carries.
struct SignInForm {
  AuthorizeRequest request;  // carried in hidden fields to the POST
  std::string client_name;
  std::string csrf_token;
  std::string username;  // kept after a failed attempt
  std::string error;     // shown above the form, announced to screen readers
};

/// The form page (`status`: 200, or the failed attempt's 4xx).
[[nodiscard]] http::Response sign_in_page(int status, const SignInForm& form);
/// A page that explains a request that cannot be sent back to its application.
[[nodiscard]] http::Response sign_in_error_page(int status, std::string_view message);
/// `text` safe inside HTML text and double-quoted attributes.
[[nodiscard]] std::string html_escape(std::string_view text);

}  // namespace permiso::auth
