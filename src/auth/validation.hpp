// Input rules of the user model (contract: username, password and email policies).
// Pure functions: each returns the reason a value is refused, or nothing when it is fine.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace permiso::auth {

/// 3–50 characters of [A-Za-z0-9_-]. Stored lower-case (see normalize_username).
std::optional<std::string> check_username(std::string_view username);
/// 8–128 characters with at least one upper-case letter, lower-case letter, digit and symbol.
std::optional<std::string> check_password(std::string_view password);
/// A pragmatic address check: one '@', a non-empty local part, a dotted domain, ≤ 254 chars.
std::optional<std::string> check_email(std::string_view email);
/// Optional free-text profile fields: bounded length, no control characters.
std::optional<std::string> check_text_field(std::string_view value, std::size_t max_len);

std::string normalize_username(std::string_view username);
std::string normalize_email(std::string_view email);

}  // namespace permiso::auth
