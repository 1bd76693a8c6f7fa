// See openapi.hpp.
#include "http/openapi.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <set>
#include <utility>

namespace permiso::http {
namespace {

using Operation = std::pair<std::string, std::string>;  // method (upper case), path

constexpr std::array<std::string_view, 8> kMethods = {"get",     "put",  "post",  "delete",
                                                      "options", "head", "patch", "trace"};

std::string upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::vector<std::string> api_document_differences(const Router& router, std::string_view document) {
  boost::system::error_code ec;
  const auto parsed = boost::json::parse(document, ec);
  const auto* paths = ec || !parsed.is_object() ? nullptr : parsed.as_object().if_contains("paths");
  if (paths == nullptr || !paths->is_object()) return {"the API document does not parse, or has no paths"};
  std::set<Operation> documented;
  for (const auto& [path, item] : paths->as_object()) {
    if (!item.is_object()) continue;
    for (const auto& [key, operation] : item.as_object()) {
      if (std::find(kMethods.begin(), kMethods.end(), std::string_view(key)) != kMethods.end()) {
        documented.emplace(upper(key), std::string(path));
      }
    }
  }
  std::set<Operation> routed;
  for (auto& r : router.routes()) routed.emplace(std::move(r.method), std::move(r.pattern));
  std::vector<std::string> out;
  for (const auto& [method, path] : routed) {
    if (!documented.contains({method, path}))
      out.push_back(method + " " + path + ": a route the document does not describe");
  }
  for (const auto& [method, path] : documented) {
    if (!routed.contains({method, path})) out.push_back(method + " " + path + ": documented, but no route serves it");
  }
  return out;
}

void add_openapi_route(Router& router, std::string_view document, std::string path) {
  router.add_sync("GET", path, [document](Request&) {
    Response res;  // application/json
    res.set_header("Cache-Control", "public, max-age=60");
    res.body = std::string(document);
    return res;
  });
}

}  // namespace permiso::http
