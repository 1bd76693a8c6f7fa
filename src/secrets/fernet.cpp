// See fernet.hpp.
#include "secrets/fernet.hpp"

#include "jose/crypto.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <memory>
#include <stdexcept>

namespace permiso::secrets {
namespace {

constexpr unsigned char kVersion = 0x80;
constexpr std::size_t kHeader = 1 + 8 + 16;  // version, timestamp, IV
constexpr std::size_t kMac = 32;
constexpr std::size_t kBlock = 16;

/// Fernet writes padded base64url; JOSE's decoder takes it unpadded.
std::optional<std::string> decode_padded(std::string_view text) {
  if (text.find('=') != std::string_view::npos) {
    if (text.size() % 4 != 0) return std::nullopt;
    const auto first_pad = text.find('=');
    if (text.size() - first_pad > 2 || text.find_first_not_of('=', first_pad) != std::string_view::npos) {
      return std::nullopt;
    }
    text = text.substr(0, first_pad);
  }
  return jose::base64url_decode(text);
}

std::string encode_padded(std::string_view bytes) {
  std::string out = jose::base64url_encode(bytes);
  out.append((4 - out.size() % 4) % 4, '=');
  return out;
}

using CipherContext = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

/// AES-128-CBC with PKCS#7 padding; nullopt when decryption finds bad padding.
std::optional<std::string> aes128_cbc(bool encrypt, std::string_view key, std::string_view iv, std::string_view in) {
  CipherContext ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  const auto* k = reinterpret_cast<const unsigned char*>(key.data());
  const auto* v = reinterpret_cast<const unsigned char*>(iv.data());
  if (!ctx || EVP_CipherInit_ex(ctx.get(), EVP_aes_128_cbc(), nullptr, k, v, encrypt ? 1 : 0) != 1) {
    throw std::runtime_error("AES-128-CBC is unavailable");
  }
  std::string out(in.size() + kBlock, '\0');
  int n = 0;
  int tail = 0;
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  if (EVP_CipherUpdate(ctx.get(), o, &n, reinterpret_cast<const unsigned char*>(in.data()),
                       static_cast<int>(in.size())) != 1 ||
      EVP_CipherFinal_ex(ctx.get(), o + n, &tail) != 1) {
    OPENSSL_cleanse(out.data(), out.size());
    return std::nullopt;
  }
  out.resize(static_cast<std::size_t>(n + tail));
  return out;
}

std::string big_endian(std::int64_t now) {
  std::string out(8, '\0');
  auto v = static_cast<std::uint64_t>(now);
  for (int i = 7; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = static_cast<char>(v & 0xFFU);
    v >>= 8U;
  }
  return out;
}

std::int64_t read_big_endian(std::string_view bytes) {
  std::uint64_t v = 0;
  for (const char c : bytes) v = (v << 8U) | static_cast<unsigned char>(c);
  return static_cast<std::int64_t>(v);
}

}  // namespace

std::string_view to_string(FernetError e) {
  switch (e) {
    case FernetError::BadKey:
      return "not a Fernet key (base64url of 32 bytes)";
    case FernetError::Malformed:
      return "not a Fernet token";
    case FernetError::BadSignature:
      return "signature mismatch (another key, or an altered token)";
    case FernetError::BadPadding:
      return "bad padding";
    case FernetError::Expired:
      return "expired";
    case FernetError::FromTheFuture:
      return "timestamped in the future";
  }
  return "unknown";
}

Result<FernetKey, FernetError> FernetKey::parse(std::string_view encoded) {
  auto raw = decode_padded(encoded);
  if (!raw || raw->size() != 32) return FernetError::BadKey;
  FernetKey key(raw->substr(0, 16), raw->substr(16));
  OPENSSL_cleanse(raw->data(), raw->size());
  return key;
}

FernetKey FernetKey::generate() {
  auto raw = jose::random_bytes(32);
  FernetKey key(raw.substr(0, 16), raw.substr(16));
  OPENSSL_cleanse(raw.data(), raw.size());
  return key;
}

FernetKey::~FernetKey() {
  OPENSSL_cleanse(signing_.data(), signing_.size());
  OPENSSL_cleanse(encryption_.data(), encryption_.size());
}

std::string FernetKey::encoded() const {
  return encode_padded(signing_ + encryption_);
}

std::string FernetKey::encrypt(std::string_view plaintext, std::int64_t now) const {
  return encrypt_with_iv(plaintext, now, jose::random_bytes(kBlock));
}

std::string FernetKey::encrypt_with_iv(std::string_view plaintext, std::int64_t now, std::string_view iv) const {
  if (iv.size() != kBlock) throw std::invalid_argument("a Fernet IV is 16 bytes");
  std::string token(1, static_cast<char>(kVersion));
  token += big_endian(now);
  token += iv;
  token += *aes128_cbc(true, encryption_, iv, plaintext);
  token += jose::hmac_sha256(signing_, token);
  return encode_padded(token);
}

Result<std::string, FernetError> FernetKey::decrypt(std::string_view token, std::int64_t now,
                                                    std::optional<std::int64_t> ttl_seconds) const {
  const auto raw = decode_padded(token);
  if (!raw || raw->size() < kHeader + kBlock + kMac || static_cast<unsigned char>((*raw)[0]) != kVersion) {
    return FernetError::Malformed;
  }
  const std::string_view bytes(*raw);
  const auto signed_part = bytes.substr(0, bytes.size() - kMac);
  if (!jose::constant_time_equal(jose::hmac_sha256(signing_, signed_part), bytes.substr(signed_part.size()))) {
    return FernetError::BadSignature;
  }
  const auto stamped = read_big_endian(bytes.substr(1, 8));
  if (stamped > now + kMaxClockSkewSeconds) return FernetError::FromTheFuture;
  if (ttl_seconds && stamped + *ttl_seconds < now) return FernetError::Expired;
  const auto ciphertext = signed_part.substr(kHeader);
  if (ciphertext.size() % kBlock != 0) return FernetError::Malformed;
  auto plain = aes128_cbc(false, encryption_, bytes.substr(9, kBlock), ciphertext);
  if (!plain) return FernetError::BadPadding;
  return std::move(*plain);
}

}  // namespace permiso::secrets
