// Scope strings (RFC 6749 §3.3): space-delimited, case-sensitive, order-insensitive sets.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace permiso::auth {

/// Splits on spaces, drops empties and duplicates; keeps first-seen order.
std::vector<std::string> split_scopes(std::string_view scope);
std::string join_scopes(const std::vector<std::string>& scopes);
/// A scope token is 1–64 of RFC 6749's scope-token characters (%x21 / %x23-5B / %x5D-7E).
bool is_valid_scope_name(std::string_view name);
/// `required` minus `granted`, in `required` order.
std::vector<std::string> missing_scopes(const std::vector<std::string>& granted,
                                        const std::vector<std::string>& required);

/// The scopes a token gets: all of `allowed` when nothing is requested, else the requested
/// ones — nullopt when any requested scope is not allowed (invalid_scope: we refuse rather
/// than silently narrow, so a client learns about its misconfiguration at once).
std::optional<std::vector<std::string>> grant_scopes(const std::vector<std::string>& requested,
                                                     const std::vector<std::string>& allowed);

}  // namespace permiso::auth
