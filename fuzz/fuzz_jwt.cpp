// JWS/JWT parsing and verification. The first byte picks a mode:
//  - even: the rest is a compact token, verified against keys of every algorithm we allow.
//    The fuzzer holds no private key, so a token that verifies is a forged signature: abort.
//  - odd: the rest is a claims document; when it is a JSON object it is signed with one of
//    the keys and verified, exercising claim validation (exp, nbf, iat, iss, aud) on
//    hostile claim values. Nothing may crash either way.
#include "common/clock.hpp"
#include "jose/jwt.hpp"
#include "jose/key.hpp"

#include <boost/json/parse.hpp>

#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace {

using namespace permiso;

struct Setup {
  ManualClock clock{1'800'000'000};
  std::vector<jose::SigningKey> signers;
  jose::Verifier verifier{jose::VerifyPolicy{.algorithms = {jose::Algorithm::HS256, jose::Algorithm::RS256,
                                                            jose::Algorithm::ES256, jose::Algorithm::EdDSA},
                                             .issuer = "https://auth.fuzz",
                                             .audience = "permiso",
                                             .typ = "",
                                             .leeway_s = 30,
                                             .require_iat = true},
                          clock};
  Setup() {
    std::vector<jose::VerificationKey> keys;
    for (auto alg : {jose::Algorithm::HS256, jose::Algorithm::RS256, jose::Algorithm::ES256, jose::Algorithm::EdDSA}) {
      signers.push_back(jose::SigningKey::generate(alg).value());
      keys.push_back(signers.back().verification_key());
    }
    verifier.set_keys(std::move(keys));
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const Setup setup;
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    if (setup.verifier.verify(rest)) std::abort();
    return 0;
  }
  boost::system::error_code ec;
  auto claims = boost::json::parse(rest, ec);
  if (ec || !claims.is_object()) return 0;
  const auto& key = setup.signers[(data[0] / 2) % setup.signers.size()];
  (void)setup.verifier.verify(jose::sign_jwt(key, claims.as_object()));
  return 0;
}
