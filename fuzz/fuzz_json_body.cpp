// JSON request bodies: the strict object parser every JSON endpoint uses, and the OAuth
// parameter reader that flattens a JSON (or form) body into strings, refusing repeated keys.
#include "http/body.hpp"
#include "http/http.hpp"

#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace permiso::http;
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  (void)parse_json_object(text);
  Request req;
  req.method = "POST";
  req.headers.emplace_back("content-type", data[0] % 2 == 0 ? "application/json" : "application/x-www-form-urlencoded");
  req.body = std::string(text);
  (void)read_oauth_params(req);
  return 0;
}
