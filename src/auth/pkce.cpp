// See pkce.hpp.
#include "auth/pkce.hpp"

#include "jose/crypto.hpp"

#include <algorithm>

namespace permiso::auth::pkce {
namespace {

bool alnum(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

}  // namespace

bool valid_verifier(std::string_view verifier) {
  return verifier.size() >= 43 && verifier.size() <= 128 && std::all_of(verifier.begin(), verifier.end(), [](char c) {
           return alnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
         });
}

bool valid_challenge(std::string_view challenge) {
  return challenge.size() == 43 &&
         std::all_of(challenge.begin(), challenge.end(), [](char c) { return alnum(c) || c == '-' || c == '_'; });
}

std::string s256(std::string_view verifier) {
  return jose::base64url_encode(jose::sha256(verifier));
}

bool verifies(std::string_view verifier, std::string_view challenge) {
  return valid_verifier(verifier) && jose::constant_time_equal(s256(verifier), challenge);
}

}  // namespace permiso::auth::pkce
