// JOSE keys over OpenSSL 3 EVP; see key.hpp.
#include "jose/key.hpp"

#include "jose/crypto.hpp"

#include <boost/json/serialize.hpp>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include <array>
#include <optional>
#include <stdexcept>
#include <vector>

namespace permiso::jose {

struct SigningKey::Impl {
  Algorithm alg = Algorithm::HS256;
  std::string kid;
  std::string secret;              // HS256
  std::optional<HmacSha256> hmac;  // HS256: keyed once under the secret
  EVP_PKEY* pkey = nullptr;        // others; shared read-only: EVP_PKEY signing is thread-safe
  EVP_MD* md = nullptr;            // SHA-256 fetched once (RS256/ES256), not per signature
  // Contexts initialised once and copied per call: EVP_DigestSignInit costs ~2 µs (provider
  // fetches under locks), a copy ~0.1 µs. The templates are only read after finish().
  EVP_MD_CTX* sign_template = nullptr;
  EVP_MD_CTX* verify_template = nullptr;
  bool has_private = false;
  std::string header_at_jwt;  // encoded headers for the usual types, built once
  std::string header_jwt;

  Impl() = default;
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl() {
    EVP_MD_CTX_free(sign_template);
    EVP_MD_CTX_free(verify_template);
    EVP_MD_free(md);
    EVP_PKEY_free(pkey);
  }

  // Called once the kid is final: everything the signing hot path would otherwise redo.
  void finish();
};

namespace {
std::string make_header(Algorithm alg, std::string_view typ, const std::string& kid) {
  boost::json::object header;
  header["alg"] = to_string(alg);
  header["typ"] = typ;
  header["kid"] = kid;
  return base64url_encode(boost::json::serialize(header));
}
}  // namespace

void SigningKey::Impl::finish() {
  if (alg == Algorithm::RS256 || alg == Algorithm::ES256) {
    md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    if (md == nullptr) throw std::runtime_error("OpenSSL has no SHA-256");
  }
  if (pkey != nullptr) {
    // Failures leave the template null, and sign()/verify() initialise per call instead.
    if (has_private) {
      sign_template = EVP_MD_CTX_new();
      if (sign_template != nullptr && EVP_DigestSignInit(sign_template, nullptr, md, nullptr, pkey) != 1) {
        EVP_MD_CTX_free(sign_template);
        sign_template = nullptr;
      }
    }
    verify_template = EVP_MD_CTX_new();
    if (verify_template != nullptr && EVP_DigestVerifyInit(verify_template, nullptr, md, nullptr, pkey) != 1) {
      EVP_MD_CTX_free(verify_template);
      verify_template = nullptr;
    }
  }
  header_at_jwt = make_header(alg, "at+jwt", kid);
  header_jwt = make_header(alg, "JWT", kid);
}

namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct BnFree {
  void operator()(BIGNUM* b) const { BN_free(b); }
};
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;

std::string bn_bytes(const BIGNUM* bn, int pad_to = 0) {
  const int n = pad_to > 0 ? pad_to : BN_num_bytes(bn);
  std::string out(static_cast<std::size_t>(n), '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), n);
  return out;
}

BnPtr get_bn(const EVP_PKEY* pkey, const char* name) {
  BIGNUM* bn = nullptr;
  EVP_PKEY_get_bn_param(pkey, name, &bn);
  return BnPtr(bn);
}

bool type_fits(Algorithm alg, const EVP_PKEY* pkey) {
  switch (alg) {
    case Algorithm::RS256:
      return EVP_PKEY_is_a(pkey, "RSA") == 1 && EVP_PKEY_get_bits(pkey) >= 2048;
    case Algorithm::ES256: {
      if (EVP_PKEY_is_a(pkey, "EC") != 1) return false;
      char group[64] = {};
      size_t len = 0;
      EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len);
      return std::string_view(group) == "prime256v1" || std::string_view(group) == "P-256";
    }
    case Algorithm::EdDSA:
      return EVP_PKEY_is_a(pkey, "ED25519") == 1;
    case Algorithm::HS256:
      return false;
  }
  return false;
}

boost::json::object public_members(const SigningKey::Impl& k) {
  boost::json::object jwk;
  switch (k.alg) {
    case Algorithm::RS256: {
      jwk["kty"] = "RSA";
      jwk["n"] = base64url_encode(bn_bytes(get_bn(k.pkey, OSSL_PKEY_PARAM_RSA_N).get()));
      jwk["e"] = base64url_encode(bn_bytes(get_bn(k.pkey, OSSL_PKEY_PARAM_RSA_E).get()));
      break;
    }
    case Algorithm::ES256: {
      jwk["kty"] = "EC";
      jwk["crv"] = "P-256";
      jwk["x"] = base64url_encode(bn_bytes(get_bn(k.pkey, OSSL_PKEY_PARAM_EC_PUB_X).get(), 32));
      jwk["y"] = base64url_encode(bn_bytes(get_bn(k.pkey, OSSL_PKEY_PARAM_EC_PUB_Y).get(), 32));
      break;
    }
    case Algorithm::EdDSA: {
      std::string raw(32, '\0');
      size_t len = raw.size();
      EVP_PKEY_get_raw_public_key(k.pkey, reinterpret_cast<unsigned char*>(raw.data()), &len);
      raw.resize(len);
      jwk["kty"] = "OKP";
      jwk["crv"] = "Ed25519";
      jwk["x"] = base64url_encode(raw);
      break;
    }
    case Algorithm::HS256:
      break;
  }
  return jwk;
}

// Builds a public EVP_PKEY of `type` ("RSA", "EC") from parameters; nullptr on failure.
EVP_PKEY* public_key_from_params(const char* type, OSSL_PARAM_BLD* bld) {
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr);
  EVP_PKEY* pkey = nullptr;
  if (ctx != nullptr && params != nullptr && EVP_PKEY_fromdata_init(ctx) == 1) {
    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params);
  }
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  return pkey;
}

std::string der_to_raw_ecdsa(const unsigned char* der, std::size_t len) {
  const unsigned char* p = der;
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(len));
  if (sig == nullptr) return {};
  std::string out(64, '\0');
  auto* raw = reinterpret_cast<unsigned char*>(out.data());
  const bool fits =
      BN_bn2binpad(ECDSA_SIG_get0_r(sig), raw, 32) == 32 && BN_bn2binpad(ECDSA_SIG_get0_s(sig), raw + 32, 32) == 32;
  ECDSA_SIG_free(sig);
  return fits ? out : std::string{};
}

std::string raw_to_der_ecdsa(std::string_view raw) {
  if (raw.size() != 64) return {};
  ECDSA_SIG* sig = ECDSA_SIG_new();
  BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()), 32, nullptr);
  BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()) + 32, 32, nullptr);
  ECDSA_SIG_set0(sig, r, s);
  unsigned char* der = nullptr;
  const int n = i2d_ECDSA_SIG(sig, &der);
  std::string out;
  if (n > 0) out.assign(reinterpret_cast<char*>(der), static_cast<std::size_t>(n));
  OPENSSL_free(der);
  ECDSA_SIG_free(sig);
  return out;
}

}  // namespace

std::string_view to_string(Algorithm a) {
  switch (a) {
    case Algorithm::HS256:
      return "HS256";
    case Algorithm::RS256:
      return "RS256";
    case Algorithm::ES256:
      return "ES256";
    case Algorithm::EdDSA:
      return "EdDSA";
  }
  return "unknown";
}

std::optional<Algorithm> algorithm_from_string(std::string_view s) {
  if (s == "HS256") return Algorithm::HS256;
  if (s == "RS256") return Algorithm::RS256;
  if (s == "ES256") return Algorithm::ES256;
  if (s == "EdDSA") return Algorithm::EdDSA;
  return std::nullopt;
}

// RFC 7638: the required members in lexicographic order, no whitespace.
std::string jwk_thumbprint(const boost::json::object& jwk) {
  const auto* kty = jwk.if_contains("kty");
  if (kty == nullptr || !kty->is_string()) return {};
  static constexpr std::array<const char*, 4> kRsa{"e", "kty", "n", nullptr};
  static constexpr std::array<const char*, 4> kEc{"crv", "kty", "x", "y"};
  static constexpr std::array<const char*, 4> kOkp{"crv", "kty", "x", nullptr};
  const std::array<const char*, 4>* members = nullptr;
  if (kty->as_string() == "RSA") {
    members = &kRsa;
  } else if (kty->as_string() == "EC") {
    members = &kEc;
  } else if (kty->as_string() == "OKP") {
    members = &kOkp;
  } else {
    return {};
  }
  std::string canonical;
  for (const char* name : *members) {
    if (name == nullptr) break;
    const auto* v = jwk.if_contains(name);
    if (v == nullptr || !v->is_string()) return {};
    canonical += canonical.empty() ? "{\"" : ",\"";
    canonical += name;
    canonical += "\":";
    canonical += boost::json::serialize(*v);
  }
  canonical += "}";
  return base64url_encode(sha256(canonical));
}

std::string_view to_string(KeyError e) {
  switch (e) {
    case KeyError::InvalidPem:
      return "invalid PEM private key";
    case KeyError::WrongKeyType:
      return "key type does not fit the algorithm";
    case KeyError::SecretTooShort:
      return "HS256 secret shorter than 256 bits";
    case KeyError::InvalidJwk:
      return "invalid JWK";
    case KeyError::GenerationFailed:
      return "key generation failed";
    case KeyError::Io:
      return "key file I/O failed";
  }
  return "unknown";
}

Result<SigningKey, KeyError> SigningKey::generate(Algorithm alg) {
  if (alg == Algorithm::HS256) {
    return from_hmac_secret(random_bytes(32));
  }
  EVP_PKEY* pkey = nullptr;
  switch (alg) {
    case Algorithm::RS256:
      pkey = EVP_RSA_gen(2048);
      break;
    case Algorithm::ES256:
      pkey = EVP_EC_gen("P-256");
      break;
    case Algorithm::EdDSA:
      pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
      break;
    case Algorithm::HS256:
      break;
  }
  if (pkey == nullptr) return KeyError::GenerationFailed;
  auto impl = std::make_shared<Impl>();
  impl->alg = alg;
  impl->pkey = pkey;
  impl->has_private = true;
  impl->kid = jwk_thumbprint(public_members(*impl));
  impl->finish();
  return SigningKey(std::move(impl));
}

Result<SigningKey, KeyError> SigningKey::from_pem(Algorithm alg, std::string_view pem) {
  if (alg == Algorithm::HS256) return KeyError::WrongKeyType;
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  EVP_PKEY* pkey = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  if (pkey == nullptr) return KeyError::InvalidPem;
  auto impl = std::make_shared<Impl>();
  impl->alg = alg;
  impl->pkey = pkey;
  impl->has_private = true;
  if (!type_fits(alg, pkey)) return KeyError::WrongKeyType;
  impl->kid = jwk_thumbprint(public_members(*impl));
  impl->finish();
  return SigningKey(std::move(impl));
}

Result<SigningKey, KeyError> SigningKey::from_hmac_secret(std::string_view secret) {
  if (secret.size() < 32) return KeyError::SecretTooShort;
  auto impl = std::make_shared<Impl>();
  impl->alg = Algorithm::HS256;
  impl->secret = std::string(secret);
  impl->has_private = true;
  // A MAC of a constant under the secret: stable across restarts and replicas, and it
  // reveals nothing about the secret (unlike a plain hash, which invites offline guessing).
  impl->hmac.emplace(secret);
  impl->kid = "hs-" + base64url_encode(impl->hmac->mac("permiso-kid")).substr(0, 16);
  impl->finish();
  return SigningKey(std::move(impl));
}

Result<SigningKey, KeyError> SigningKey::from_public_jwk(const boost::json::object& jwk) {
  auto str = [&](const char* name) -> std::optional<std::string> {
    const auto* v = jwk.if_contains(name);
    if (v == nullptr || !v->is_string()) return std::nullopt;
    return base64url_decode(v->as_string());
  };
  const auto* kty = jwk.if_contains("kty");
  if (kty == nullptr || !kty->is_string()) return KeyError::InvalidJwk;
  auto impl = std::make_shared<Impl>();
  if (kty->as_string() == "RSA") {
    auto n = str("n");
    auto e = str("e");
    // 2048 to 8192 bits: smaller is weak, larger only makes verification a CPU sink.
    if (!n || !e || n->size() < 256 || n->size() > 1024 || e->empty() || e->size() > 8) {
      return KeyError::InvalidJwk;
    }
    BnPtr bn_n(BN_bin2bn(reinterpret_cast<const unsigned char*>(n->data()), static_cast<int>(n->size()), nullptr));
    BnPtr bn_e(BN_bin2bn(reinterpret_cast<const unsigned char*>(e->data()), static_cast<int>(e->size()), nullptr));
    OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n.get());
    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e.get());
    EVP_PKEY* pkey = public_key_from_params("RSA", bld);
    if (pkey == nullptr) return KeyError::InvalidJwk;
    impl->alg = Algorithm::RS256;
    impl->pkey = pkey;
  } else if (kty->as_string() == "EC") {
    const auto* crv = jwk.if_contains("crv");
    auto x = str("x");
    auto y = str("y");
    if (crv == nullptr || !crv->is_string() || crv->as_string() != "P-256" || !x || !y || x->size() != 32 ||
        y->size() != 32) {
      return KeyError::InvalidJwk;
    }
    std::string point = "\x04" + *x + *y;
    OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
    EVP_PKEY* pkey = public_key_from_params("EC", bld);
    if (pkey == nullptr) return KeyError::InvalidJwk;
    impl->alg = Algorithm::ES256;
    impl->pkey = pkey;
  } else if (kty->as_string() == "OKP") {
    const auto* crv = jwk.if_contains("crv");
    auto x = str("x");
    if (crv == nullptr || !crv->is_string() || crv->as_string() != "Ed25519" || !x || x->size() != 32) {
      return KeyError::InvalidJwk;
    }
    EVP_PKEY* pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                                 reinterpret_cast<const unsigned char*>(x->data()), x->size());
    if (pkey == nullptr) return KeyError::InvalidJwk;
    impl->alg = Algorithm::EdDSA;
    impl->pkey = pkey;
  } else {
    return KeyError::InvalidJwk;  // "oct" and others: never accepted from a key set
  }
  if (const auto* alg = jwk.if_contains("alg"); alg != nullptr) {
    if (!alg->is_string() || algorithm_from_string(alg->as_string()) != impl->alg) {
      return KeyError::InvalidJwk;
    }
  }
  const auto* kid = jwk.if_contains("kid");
  impl->kid =
      (kid != nullptr && kid->is_string()) ? std::string(kid->as_string()) : jwk_thumbprint(public_members(*impl));
  impl->finish();
  return SigningKey(std::move(impl));
}

Algorithm SigningKey::algorithm() const {
  return impl_->alg;
}
const std::string& SigningKey::kid() const {
  return impl_->kid;
}
bool SigningKey::can_sign() const {
  return impl_->has_private;
}

boost::json::object SigningKey::public_jwk() const {
  if (impl_->alg == Algorithm::HS256) return {};
  boost::json::object jwk = public_members(*impl_);
  jwk["kid"] = impl_->kid;
  jwk["alg"] = to_string(impl_->alg);
  jwk["use"] = "sig";
  return jwk;
}

std::string SigningKey::private_pem() const {
  if (impl_->pkey == nullptr || !impl_->has_private) return {};
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PrivateKey(bio.get(), impl_->pkey, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return {};
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

std::string SigningKey::secret() const {
  return impl_->secret;
}

std::string SigningKey::sign(std::string_view input) const {
  const Impl& k = *impl_;
  if (!k.has_private) return {};
  if (k.alg == Algorithm::HS256) return k.hmac->mac(input);
  // A context per call, copied from the read-only template: concurrent signing is safe.
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx) return {};
  const bool ready = k.sign_template != nullptr ? EVP_MD_CTX_copy_ex(ctx.get(), k.sign_template) == 1
                                                : EVP_DigestSignInit(ctx.get(), nullptr, k.md, nullptr, k.pkey) == 1;
  if (!ready) return {};
  // The context is used once: without this flag EVP_DigestSignFinal duplicates it (the key's
  // provider context and a digest context, a dozen allocations) to keep it reusable.
  EVP_MD_CTX_set_flags(ctx.get(), EVP_MD_CTX_FLAG_FINALISE);
  const auto* in = reinterpret_cast<const unsigned char*>(input.data());
  if (k.alg == Algorithm::ES256) {
    // DER ECDSA-Sig-Value is at most 72 bytes for P-256; JWS wants raw R||S (RFC 7518 §3.4).
    std::array<unsigned char, 80> der{};
    size_t len = der.size();
    if (EVP_DigestSign(ctx.get(), der.data(), &len, in, input.size()) != 1) return {};
    return der_to_raw_ecdsa(der.data(), len);
  }
  size_t len = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &len, in, input.size()) != 1) return {};
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, in, input.size()) != 1) {
    return {};
  }
  sig.resize(len);
  return sig;
}

bool SigningKey::verify(std::string_view input, std::string_view signature) const {
  const Impl& k = *impl_;
  if (k.alg == Algorithm::HS256) {
    return k.hmac && constant_time_equal(k.hmac->mac(input), signature);
  }
  std::string der;
  if (k.alg == Algorithm::ES256) {
    der = raw_to_der_ecdsa(signature);
    if (der.empty()) return false;
    signature = der;
  }
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx) return false;
  const bool ready = k.verify_template != nullptr
                         ? EVP_MD_CTX_copy_ex(ctx.get(), k.verify_template) == 1
                         : EVP_DigestVerifyInit(ctx.get(), nullptr, k.md, nullptr, k.pkey) == 1;
  if (!ready) return false;
  EVP_MD_CTX_set_flags(ctx.get(), EVP_MD_CTX_FLAG_FINALISE);  // used once: no duplicate kept
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                          reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
}

std::string SigningKey::encoded_header(std::string_view typ) const {
  if (typ == "at+jwt") return impl_->header_at_jwt;
  if (typ == "JWT") return impl_->header_jwt;
  return make_header(impl_->alg, typ, impl_->kid);
}

SigningKey SigningKey::verification_key() const {
  if (impl_->alg == Algorithm::HS256 || !impl_->has_private) return *this;
  auto pub = from_public_jwk(public_jwk());
  if (!pub) throw std::logic_error("public JWK of a valid key does not load");
  return *pub;
}

std::string SigningKey::public_pem() const {
  if (impl_->pkey == nullptr) return {};
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), impl_->pkey) != 1) return {};
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

SigningKey SigningKey::with_kid(std::string kid) const {
  auto impl = std::make_shared<Impl>();
  impl->alg = impl_->alg;
  impl->kid = std::move(kid);
  impl->secret = impl_->secret;
  impl->hmac = impl_->hmac;  // shares the keyed state, read-only
  impl->has_private = impl_->has_private;
  if (impl_->pkey != nullptr) {
    EVP_PKEY_up_ref(impl_->pkey);
    impl->pkey = impl_->pkey;
  }
  impl->finish();
  return SigningKey(std::move(impl));
}

}  // namespace permiso::jose
