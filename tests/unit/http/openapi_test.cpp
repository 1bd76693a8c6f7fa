// The OpenAPI document is held to the router both ways, and served as given; the services'
// own documents (compiled in from api/*.yaml) parse and describe operations.
#include "http/openapi.hpp"
#include "api/documents.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <algorithm>

namespace permiso::http {
namespace {

Router router_of(std::initializer_list<std::pair<const char*, const char*>> routes) {
  Router r;
  for (const auto& [method, path] : routes) r.add_sync(method, path, [](Request&) { return Response{}; });
  return r;
}

constexpr std::string_view kDocument = R"({
  "openapi": "3.1.0",
  "paths": {
    "/api/v1/trades": {"summary": "not a method", "parameters": [], "get": {}, "post": {}},
    "/api/v1/trades/{id}": {"get": {}, "delete": {}},
    "/health": {"get": {}}
  }
})";

TEST(ApiDocument, AgreesWithTheRoutesItDescribes) {
  auto r = router_of({{"GET", "/api/v1/trades"},
                      {"post", "/api/v1/trades"},
                      {"GET", "/api/v1/trades/{id}"},
                      {"DELETE", "/api/v1/trades/{id}"},
                      {"GET", "/health"}});
  EXPECT_TRUE(api_document_differences(r, kDocument).empty());
}

TEST(ApiDocument, NamesEveryDifferenceBothWays) {
  auto r = router_of({{"GET", "/api/v1/trades"},
                      {"POST", "/api/v1/trades"},
                      {"PATCH", "/api/v1/trades/{id}"},  // undocumented
                      {"GET", "/api/v1/trades/{id}"},
                      {"GET", "/health"}});
  auto diffs = api_document_differences(r, kDocument);
  std::sort(diffs.begin(), diffs.end());
  ASSERT_EQ(diffs.size(), 2u);
  EXPECT_EQ(diffs[0], "DELETE /api/v1/trades/{id}: documented, but no route serves it");
  EXPECT_EQ(diffs[1], "PATCH /api/v1/trades/{id}: a route the document does not describe");
}

TEST(ApiDocument, ADocumentThatDoesNotParseIsADifference) {
  auto r = router_of({{"GET", "/health"}});
  for (std::string_view bad : {"", "{", "[]", R"({"openapi": "3.1.0"})", R"({"paths": []})"}) {
    EXPECT_EQ(api_document_differences(r, bad).size(), 1u) << bad;
  }
}

TEST(ApiDocument, IsServedAtOpenapiJsonAsGiven) {
  Router r;
  add_openapi_route(r, kDocument);
  Request req;
  req.method = "GET";
  req.path = "/openapi.json";
  const auto m = r.match(req);
  ASSERT_NE(m.handler, nullptr);
  Response got;
  (*m.handler)(req, [&](Response res) { got = std::move(res); });
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.content_type, "application/json");
  EXPECT_EQ(got.body, kDocument);
  EXPECT_TRUE(api_document_differences(r, R"({"paths": {"/openapi.json": {"get": {}}}})").empty());
}

TEST(ApiDocument, TheServicesDocumentsAreOpenApi31WithOperations) {
  for (auto doc : {api::permiso_auth_document(), api::mt5_api_document()}) {
    const auto v = boost::json::parse(doc);
    EXPECT_EQ(v.at("openapi").as_string(), "3.1.0");
    EXPECT_GT(v.at("paths").as_object().size(), 5u);
    EXPECT_TRUE(v.at("paths").as_object().contains("/openapi.json"));
    EXPECT_TRUE(v.at("components").as_object().contains("securitySchemes"));
  }
}

}  // namespace
}  // namespace permiso::http
