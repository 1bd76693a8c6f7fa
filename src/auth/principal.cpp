// See principal.hpp.
#include "auth/principal.hpp"

#include "auth/scopes.hpp"

#include <algorithm>
#include <boost/json/array.hpp>

namespace permiso::auth {

bool Principal::has_scope(std::string_view scope) const {
  return std::find(scopes.begin(), scopes.end(), scope) != scopes.end();
}

std::optional<Failure> require_scopes(const Principal& principal, const std::vector<std::string>& required) {
  const auto missing = missing_scopes(principal.scopes, required);
  if (missing.empty()) return std::nullopt;
  Failure f(AuthError::InsufficientScope,
            "The access token lacks the scope this request needs: " + join_scopes(missing) + ".");
  boost::json::array req_arr;
  boost::json::array miss_arr;
  for (const auto& s : required) req_arr.emplace_back(s);
  for (const auto& s : missing) miss_arr.emplace_back(s);
  f.with("required_scopes", std::move(req_arr)).with("missing_scopes", std::move(miss_arr));
  return f;
}

}  // namespace permiso::auth
