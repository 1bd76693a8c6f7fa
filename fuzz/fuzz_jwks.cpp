// The JWKS parser (what a resource server reads from permiso-auth, or an attacker who sits
// between them): any bytes as a key set document. Keys it accepts must be usable: each can
// check a signature (returning false) without crashing.
#include "jose/jwt.hpp"

#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (const auto& key : permiso::jose::parse_jwks(text)) {
    (void)key.verify("header.payload", std::string(64, '\0'));
    (void)key.kid();
  }
  return 0;
}
