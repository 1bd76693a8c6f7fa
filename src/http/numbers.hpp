// Whole-string decimal integers, as query parameters and path captures carry them: "5abc",
// " 5", "+5" and "" are not numbers, and a value out of the type's range is none either.
#pragma once

#include <charconv>
#include <optional>
#include <string_view>
#include <system_error>

namespace permiso::http {

template <class Int>
[[nodiscard]] std::optional<Int> whole_number(std::string_view text) {
  Int n{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return n;
}

}  // namespace permiso::http
