// Comparing a secret a peer sent with the one expected, without telling the peer through timing
// how much of its guess was right.
#pragma once

#include <cstddef>
#include <string_view>

namespace permiso {

/// Constant time in the expected secret's length, whatever the guess: a wrong guess learns
/// nothing from how long its refusal took.
inline bool secret_matches(std::string_view expected, std::string_view given) {
  unsigned difference = expected.size() == given.size() ? 0U : 1U;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const char g = i < given.size() ? given[i] : '\0';
    difference |= static_cast<unsigned char>(expected[i]) ^ static_cast<unsigned char>(g);
  }
  return difference == 0;
}

}  // namespace permiso
