// ASCII case folding for protocol text (HTTP field names, tokens, schemes): not std::tolower,
// which asks the C locale per character and could fold bytes that are not ASCII letters.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>

namespace permiso {

constexpr char ascii_lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

/// Equal ignoring ASCII case ("Content-Length" and "content-length").
constexpr bool iequals_ascii(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return ascii_lower(x) == ascii_lower(y); });
}

inline void lower_ascii_in_place(std::string& s) {
  for (auto& c : s) c = ascii_lower(c);
}

}  // namespace permiso
