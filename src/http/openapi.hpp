// A service's OpenAPI document, served and held to the router. The document is compiled in
// from the same tree as the routes (src/api), so a difference between them is a defect of the
// build: each service refuses to start with one (so every test that starts it fails), and
// names it.
#pragma once

#include "http/http.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace permiso::http {

/// Where `router` and `document` (OpenAPI 3.x as JSON text) disagree, one line each:
/// "GET /x: a route the document does not describe", "POST /y: documented, but no route
/// serves it". Empty when they agree; a document that does not parse is one line.
std::vector<std::string> api_document_differences(const Router& router, std::string_view document);

/// GET /openapi.json: the document (application/json), cacheable for a minute.
void add_openapi_route(Router& router, std::string_view document, std::string path = "/openapi.json");

}  // namespace permiso::http
