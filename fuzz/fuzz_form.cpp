// application/x-www-form-urlencoded bodies and percent-encoding: the OAuth token endpoint's
// input. Decoding must never read past its input, and what parse_form accepts stays within
// its limits.
#include "http/body.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace permiso::http;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  FormLimits limits;
  limits.max_fields = 16;
  limits.max_field_bytes = 256;
  if (auto fields = parse_form(text, limits)) {
    if (fields->size() > limits.max_fields) std::abort();
    for (const auto& [name, value] : *fields) {
      if (name.size() > limits.max_field_bytes || value.size() > limits.max_field_bytes) std::abort();
    }
  }
  (void)form_decode(text);
  (void)percent_decode(text);
  return 0;
}
