// Authorization headers: Basic client credentials (base64 of two form-encoded halves), the
// strict base64 decoder under it, bearer tokens and cookies.
#include "http/body.hpp"
#include "http/http.hpp"

#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace permiso::http;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)parse_basic_auth(text);
  (void)base64_decode(text);
  Request req;
  req.headers.emplace_back("authorization", std::string(text));
  req.headers.emplace_back("cookie", std::string(text));
  (void)bearer_token(req);
  (void)cookie(req, "__Secure-permiso_refresh");
  return 0;
}
