// Input rules of the user model; see validation.hpp.
#include "auth/validation.hpp"

#include <algorithm>
#include <cctype>

namespace permiso::auth {
namespace {

bool is_ascii_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

std::string to_lower_ascii(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

std::optional<std::string> check_username(std::string_view username) {
  if (username.size() < 3 || username.size() > 50) {
    return "must be 3 to 50 characters long";
  }
  const bool allowed =
      std::all_of(username.begin(), username.end(), [](char c) { return is_ascii_alnum(c) || c == '_' || c == '-'; });
  if (!allowed) {
    return "may contain only letters, digits, '_' and '-'";
  }
  return std::nullopt;
}

std::optional<std::string> check_password(std::string_view password) {
  // Length is counted in bytes: an upper bound keeps Argon2 input bounded too.
  if (password.size() < 8 || password.size() > 128) {
    return "must be 8 to 128 characters long";
  }
  bool upper = false;
  bool lower = false;
  bool digit = false;
  bool symbol = false;
  for (const char c : password) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      return "must not contain control characters";
    }
    if (std::isupper(u) != 0) {
      upper = true;
    } else if (std::islower(u) != 0) {
      lower = true;
    } else if (std::isdigit(u) != 0) {
      digit = true;
    } else {
      symbol = true;  // punctuation, space or any non-ASCII character
    }
  }
  if (!upper) return "must contain an upper-case letter";
  if (!lower) return "must contain a lower-case letter";
  if (!digit) return "must contain a digit";
  if (!symbol) return "must contain a symbol";
  return std::nullopt;
}

std::optional<std::string> check_email(std::string_view email) {
  if (email.empty() || email.size() > 254) {
    return "must be a valid email address of at most 254 characters";
  }
  const auto at = email.find('@');
  if (at == std::string_view::npos || at == 0 || email.find('@', at + 1) != std::string_view::npos) {
    return "must be a valid email address";
  }
  const auto domain = email.substr(at + 1);
  const auto dot = domain.find('.');
  if (domain.empty() || dot == std::string_view::npos || dot == 0 || domain.back() == '.') {
    return "must be a valid email address";
  }
  const bool clean = std::all_of(email.begin(), email.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u != 0x7f && c != '<' && c != '>' && c != '"' && c != '\\';
  });
  if (!clean) {
    return "must be a valid email address";
  }
  return std::nullopt;
}

std::optional<std::string> check_text_field(std::string_view value, std::size_t max_len) {
  if (value.size() > max_len) {
    return "must be at most " + std::to_string(max_len) + " characters long";
  }
  for (const char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\n' && c != '\t') || u == 0x7f) {
      return "must not contain control characters";
    }
  }
  return std::nullopt;
}

std::string normalize_username(std::string_view username) {
  return to_lower_ascii(username);
}

std::string normalize_email(std::string_view email) {
  // Domains are case-insensitive; local parts technically are not, but every mainstream
  // provider treats them so and users expect "Bob@x.com" and "bob@x.com" to collide.
  return to_lower_ascii(email);
}

}  // namespace permiso::auth
