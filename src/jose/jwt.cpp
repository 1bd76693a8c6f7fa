// See jwt.hpp.
#include "jose/jwt.hpp"

#include "jose/crypto.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace permiso::jose {
namespace {

std::optional<boost::json::object> decode_object(std::string_view part) {
  auto bytes = base64url_decode(part);
  if (!bytes) return std::nullopt;
  boost::system::error_code ec;
  boost::json::parse_options opts;
  opts.max_depth = 16;
  auto v = boost::json::parse(*bytes, ec, {}, opts);
  if (ec || !v.is_object()) return std::nullopt;
  return std::move(v.as_object());
}

std::optional<std::int64_t> int_claim(const boost::json::object& claims, std::string_view name) {
  const auto* v = claims.if_contains(name);
  if (v == nullptr) return std::nullopt;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64() && v->as_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
    return static_cast<std::int64_t>(v->as_uint64());
  }
  // NumericDate may be fractional; out-of-range doubles (1e300, NaN) are refused rather
  // than converted (undefined behaviour).
  if (v->is_double()) {
    const double d = v->as_double();
    if (!(d > -9.0e15 && d < 9.0e15)) return std::nullopt;
    return static_cast<std::int64_t>(d);
  }
  return std::nullopt;
}

/// RFC 8725 §3.11 / RFC 9068: "typ" compared case-insensitively, "application/" prefix optional.
bool type_matches(const boost::json::object& header, std::string_view want) {
  const auto* typ = header.if_contains("typ");
  if (typ == nullptr || !typ->is_string()) return false;
  auto lower = [](std::string_view in) {
    std::string out(in);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (out.starts_with("application/")) out.erase(0, 12);
    return out;
  };
  return lower(typ->as_string()) == lower(want);
}

/// exp (required), iat (required by policy or when present) and nbf (when present), with leeway.
std::optional<JwtStatus> check_times(const boost::json::object& claims, std::int64_t now, const VerifyPolicy& policy) {
  const auto exp = int_claim(claims, "exp");
  const auto iat = int_claim(claims, "iat");
  if (!exp) return JwtStatus::MissingClaim;
  if (!iat && (policy.require_iat || claims.contains("iat"))) return JwtStatus::MissingClaim;
  // The leeway moves `now`, never the claim: a claim near the int64 limits (exp = 2^63 - 1
  // was found by fuzzing) must not overflow, and now ± leeway cannot.
  if (*exp < now - policy.leeway_s) return JwtStatus::Expired;
  if (iat && *iat > now + policy.leeway_s) return JwtStatus::NotYetValid;
  if (claims.contains("nbf")) {
    const auto nbf = int_claim(claims, "nbf");
    if (!nbf) return JwtStatus::MissingClaim;
    if (*nbf > now + policy.leeway_s) return JwtStatus::NotYetValid;
  }
  return std::nullopt;
}

/// "aud" is the audience, or an array that holds it.
bool audience_matches(const boost::json::object& claims, std::string_view audience) {
  const auto* aud = claims.if_contains("aud");
  if (aud != nullptr && aud->is_string()) return aud->as_string() == audience;
  if (aud == nullptr || !aud->is_array()) return false;
  const auto& list = aud->as_array();
  return std::any_of(list.begin(), list.end(),
                     [&](const boost::json::value& a) { return a.is_string() && a.as_string() == audience; });
}

}  // namespace

std::string_view to_string(JwtStatus s) {
  switch (s) {
    case JwtStatus::Malformed:
      return "malformed token";
    case JwtStatus::UnsupportedAlgorithm:
      return "algorithm not allowed";
    case JwtStatus::ForbiddenHeader:
      return "forbidden header parameter";
    case JwtStatus::UnknownKid:
      return "unknown key id";
    case JwtStatus::AlgorithmKeyMismatch:
      return "algorithm does not match the key";
    case JwtStatus::BadSignature:
      return "signature verification failed";
    case JwtStatus::MissingClaim:
      return "required claim missing";
    case JwtStatus::Expired:
      return "token expired";
    case JwtStatus::NotYetValid:
      return "token not yet valid";
    case JwtStatus::IssuerMismatch:
      return "issuer mismatch";
    case JwtStatus::AudienceMismatch:
      return "audience mismatch";
    case JwtStatus::TypeMismatch:
      return "token type mismatch";
  }
  return "unknown";
}

std::string sign_jwt(const SigningKey& key, const boost::json::object& claims, std::string_view typ) {
  const std::string payload = boost::json::serialize(claims);
  std::string token = key.encoded_header(typ);
  // Header, payload and signature in one buffer: base64url grows 4/3, the signature is
  // at most 512 bytes (RSA 4096) before encoding.
  token.reserve(token.size() + 2 + (payload.size() * 4 + 2) / 3 + 700);
  token.push_back('.');
  token += base64url_encode(payload);
  const std::string signature = key.sign(token);
  if (signature.empty()) throw std::runtime_error("JWS signing failed");  // a key that cannot sign: a bug
  token.push_back('.');
  token += base64url_encode(signature);
  return token;
}

Verifier::Verifier(VerifyPolicy policy, const Clock& clock)
    : policy_(std::move(policy)), clock_(clock), keys_(std::make_shared<const std::vector<VerificationKey>>()) {}

void Verifier::set_keys(std::vector<VerificationKey> keys) {
  keys_.store(std::make_shared<const std::vector<VerificationKey>>(std::move(keys)));
}

Result<VerifiedJwt, JwtStatus> Verifier::verify(std::string_view token) const {
  // Guard clauses in the order Envoy's authenticator uses: parse → header → key → signature
  // → time → issuer → audience. Nothing from the token is trusted before its signature.
  if (token.size() > 16 * 1024) return JwtStatus::Malformed;
  const auto dot1 = token.find('.');
  if (dot1 == std::string_view::npos) return JwtStatus::Malformed;
  const auto dot2 = token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return JwtStatus::Malformed;
  }
  auto header = decode_object(token.substr(0, dot1));
  auto claims = decode_object(token.substr(dot1 + 1, dot2 - dot1 - 1));
  auto signature = base64url_decode(token.substr(dot2 + 1));
  if (!header || !claims || !signature) return JwtStatus::Malformed;

  const auto* alg_v = header->if_contains("alg");
  if (alg_v == nullptr || !alg_v->is_string()) return JwtStatus::Malformed;
  const auto alg = algorithm_from_string(alg_v->as_string());
  if (!alg || std::find(policy_.algorithms.begin(), policy_.algorithms.end(), *alg) == policy_.algorithms.end()) {
    return JwtStatus::UnsupportedAlgorithm;
  }
  for (const char* forbidden : {"crit", "jku", "x5u", "jwk", "x5c"}) {
    if (header->contains(forbidden)) return JwtStatus::ForbiddenHeader;
  }
  if (!policy_.typ.empty() && !type_matches(*header, policy_.typ)) return JwtStatus::TypeMismatch;
  // The key is found by exact kid; a token without one is only tried against a set of
  // exactly one key (never "try every key").
  const auto keys = keys_.load();
  auto key = keys->end();
  const auto* kid_v = header->if_contains("kid");
  if (kid_v == nullptr) {
    if (keys->size() == 1) key = keys->begin();
  } else if (kid_v->is_string()) {
    key = std::find_if(keys->begin(), keys->end(),
                       [&](const VerificationKey& k) { return k.kid() == kid_v->as_string(); });
  }
  if (key == keys->end()) return JwtStatus::UnknownKid;
  if (key->algorithm() != *alg) return JwtStatus::AlgorithmKeyMismatch;
  if (!key->verify(token.substr(0, dot2), *signature)) return JwtStatus::BadSignature;

  if (auto bad = check_times(*claims, clock_.now_seconds(), policy_)) return *bad;
  if (!policy_.issuer.empty()) {
    const auto* iss = claims->if_contains("iss");
    if (iss == nullptr || !iss->is_string() || iss->as_string() != policy_.issuer) {
      return JwtStatus::IssuerMismatch;
    }
  }
  if (!policy_.audience.empty() && !audience_matches(*claims, policy_.audience)) return JwtStatus::AudienceMismatch;
  return VerifiedJwt{std::move(*header), std::move(*claims)};
}

std::vector<VerificationKey> parse_jwks(const boost::json::object& jwks) {
  std::vector<VerificationKey> out;
  const auto* keys = jwks.if_contains("keys");
  if (keys == nullptr || !keys->is_array()) return out;
  for (const auto& k : keys->as_array()) {
    if (!k.is_object()) continue;
    if (const auto* use = k.as_object().if_contains("use");
        use != nullptr && (!use->is_string() || use->as_string() != "sig")) {
      continue;
    }
    auto key = SigningKey::from_public_jwk(k.as_object());
    if (key) out.push_back(std::move(*key));
  }
  return out;
}

std::vector<VerificationKey> parse_jwks(std::string_view jwks_json) {
  boost::system::error_code ec;
  boost::json::parse_options opts;
  opts.max_depth = 16;
  auto v = boost::json::parse(jwks_json, ec, {}, opts);
  if (ec || !v.is_object()) return {};
  return parse_jwks(v.as_object());
}

}  // namespace permiso::jose
