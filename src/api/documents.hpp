// The services' OpenAPI 3.1 documents (api/*.yaml in the repository), compiled in as JSON
// text by scripts/openapi-embed, so a binary serves the document of the routes it was built
// with.
#pragma once

#include <string_view>

namespace permiso::api {

/// api/permiso-auth.yaml as JSON.
std::string_view permiso_auth_document();
/// api/mt5-api.yaml as JSON.
std::string_view mt5_api_document();

}  // namespace permiso::api
