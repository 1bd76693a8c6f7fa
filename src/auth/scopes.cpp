// See scopes.hpp.
#include "auth/scopes.hpp"

#include <algorithm>

namespace permiso::auth {

std::vector<std::string> split_scopes(std::string_view scope) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < scope.size()) {
    const auto end = std::min(scope.find(' ', pos), scope.size());
    if (end > pos) {
      std::string token(scope.substr(pos, end - pos));
      if (std::find(out.begin(), out.end(), token) == out.end()) {
        out.push_back(std::move(token));
      }
    }
    pos = end + 1;
  }
  return out;
}

std::string join_scopes(const std::vector<std::string>& scopes) {
  std::string out;
  for (const auto& s : scopes) {
    if (!out.empty()) out.push_back(' ');
    out += s;
  }
  return out;
}

bool is_valid_scope_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u == 0x21 || (u >= 0x23 && u <= 0x5B) || (u >= 0x5D && u <= 0x7E);
  });
}

std::vector<std::string> missing_scopes(const std::vector<std::string>& granted,
                                        const std::vector<std::string>& required) {
  std::vector<std::string> out;
  for (const auto& r : required) {
    if (std::find(granted.begin(), granted.end(), r) == granted.end()) out.push_back(r);
  }
  return out;
}

std::optional<std::vector<std::string>> grant_scopes(const std::vector<std::string>& requested,
                                                     const std::vector<std::string>& allowed) {
  if (requested.empty()) {
    return allowed;
  }
  if (!missing_scopes(allowed, requested).empty()) {
    return std::nullopt;
  }
  return requested;
}

}  // namespace permiso::auth
