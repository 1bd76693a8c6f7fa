// See crypto.hpp.
#include "jose/crypto.hpp"

#include "jose/context_pool.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <pthread.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <stdexcept>

namespace permiso::jose {
namespace {
constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

constexpr std::array<int, 256> make_decode_table() {
  std::array<int, 256> t{};
  for (auto& v : t) v = -1;
  for (std::size_t i = 0; i < kAlphabet.size(); ++i) {
    t[static_cast<unsigned char>(kAlphabet[i])] = static_cast<int>(i);
  }
  return t;
}
constexpr auto kDecode = make_decode_table();
}  // namespace

std::string random_bytes(std::size_t n) {
  std::string out(n, '\0');
  if (n > 0 && RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    throw std::runtime_error("RAND_bytes failed");
  }
  return out;
}

std::string random_token(std::size_t nbytes) {
  return base64url_encode(random_bytes(nbytes));
}

namespace {
// Bumped in a forked child, so no thread there hands out bytes its parent also holds.
std::atomic<std::uint64_t> fork_generation{0};

struct IdBlock {
  static constexpr std::size_t kIdBytes = 16;
  std::array<unsigned char, 64 * kIdBytes> bytes{};
  std::size_t next = bytes.size();  // empty until first use
  std::uint64_t generation = 0;

  std::string_view take() {
    const auto now = fork_generation.load(std::memory_order_relaxed);
    if (next == bytes.size() || generation != now) {
      if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) throw std::runtime_error("RAND_bytes failed");
      next = 0;
      generation = now;
    }
    const std::string_view out(reinterpret_cast<const char*>(bytes.data() + next), kIdBytes);
    next += kIdBytes;
    return out;
  }
  ~IdBlock() { OPENSSL_cleanse(bytes.data(), bytes.size()); }
};
}  // namespace

std::string unique_id() {
  static const bool registered = [] {
    return pthread_atfork(nullptr, nullptr, [] { fork_generation.fetch_add(1, std::memory_order_relaxed); }) == 0;
  }();
  (void)registered;
  thread_local IdBlock block;
  return base64url_encode(block.take());
}

namespace {
/// SHA-256, fetched once: EVP_sha256() makes every call look the algorithm up in the
/// provider store (under its lock), a third of the cost of hashing a token. Both hashing a
/// token (the verified-token cache's key) and HS256 are on hot paths.
const EVP_MD* sha256_md() {
  static EVP_MD* const md = [] {
    EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    if (fetched == nullptr) throw std::runtime_error("SHA256 is not available");
    return fetched;
  }();
  return md;
}
}  // namespace

namespace {
struct MdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
}  // namespace

// One context per thread, restarted per call. EVP_Digest makes and frees a context on every
// call and takes and drops references on the one shared EVP_MD: with two threads hashing at
// once that doubled its cost (420 bytes: 600-740 ns a call, against 330-370 ns here). Final
// wipes the buffered input, so the context keeps nothing of the last token but its digest.
Sha256Digest sha256_digest(std::string_view data) {
  thread_local const std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  Sha256Digest out{};
  unsigned int len = 0;
  if (!ctx || EVP_DigestInit_ex2(ctx.get(), sha256_md(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), out.data(), &len) != 1 || len != out.size()) {
    throw std::runtime_error("SHA256 failed");
  }
  return out;
}

std::string sha256(std::string_view data) {
  const Sha256Digest digest = sha256_digest(data);
  return {reinterpret_cast<const char*>(digest.data()), digest.size()};
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  std::string out(32, '\0');
  unsigned int len = 0;
  HMAC(sha256_md(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), reinterpret_cast<unsigned char*>(out.data()), &len);
  return out;
}

namespace {
struct MacCtxFree {
  void operator()(EVP_MAC_CTX* ctx) const { EVP_MAC_CTX_free(ctx); }
};
}  // namespace

struct HmacSha256::Keyed {
  std::unique_ptr<EVP_MAC_CTX, MacCtxFree> key;  // keyed once, only copied from
  ContextPool<EVP_MAC_CTX, MacCtxFree> working;  // copies of it, each used by one call at a time
};

HmacSha256::HmacSha256(std::string_view key) : keyed_(std::make_shared<Keyed>()) {
  EVP_MAC* hmac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (hmac == nullptr) throw std::runtime_error("OpenSSL has no HMAC");
  keyed_->key.reset(EVP_MAC_CTX_new(hmac));
  EVP_MAC_free(hmac);  // the context holds its own reference
  std::string digest = "SHA256";
  const std::array<OSSL_PARAM, 2> params{OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest.data(), 0),
                                         OSSL_PARAM_construct_end()};
  if (!keyed_->key || EVP_MAC_init(keyed_->key.get(), reinterpret_cast<const unsigned char*>(key.data()), key.size(),
                                   params.data()) != 1) {
    throw std::runtime_error("HMAC-SHA256 could not be keyed");
  }
}

std::string HmacSha256::mac(std::string_view data) const {
  auto ctx = keyed_->working.borrow([this] { return EVP_MAC_CTX_dup(keyed_->key.get()); });
  std::string out(32, '\0');
  std::size_t len = 0;
  // EVP_MAC_init without a key restarts HMAC under the key the context already holds.
  if (!ctx || EVP_MAC_init(ctx.get(), nullptr, 0, nullptr) != 1 ||
      EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1 ||
      EVP_MAC_final(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len, out.size()) != 1 || len != 32) {
    if (ctx) ctx.discard();
    throw std::runtime_error("HMAC-SHA256 failed");
  }
  return out;
}

std::string hex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0xf]);
  }
  return out;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string base64url_encode(std::string_view bytes) {
  // Sized once and written by index: a token encodes about 400 bytes, and push_back's
  // capacity check per character was a visible share of issuing one.
  std::string out((bytes.size() * 4 + 2) / 3, '\0');
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  char* o = out.data();
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3, o += 4) {
    const unsigned v = (p[i] << 16U) | (p[i + 1] << 8U) | p[i + 2];
    o[0] = kAlphabet[(v >> 18U) & 63U];
    o[1] = kAlphabet[(v >> 12U) & 63U];
    o[2] = kAlphabet[(v >> 6U) & 63U];
    o[3] = kAlphabet[v & 63U];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    const unsigned v = (p[i] << 16U) | (rest == 2 ? p[i + 1] << 8U : 0U);
    o[0] = kAlphabet[(v >> 18U) & 63U];
    o[1] = kAlphabet[(v >> 12U) & 63U];
    if (rest == 2) o[2] = kAlphabet[(v >> 6U) & 63U];
  }
  return out;
}

std::optional<std::string> base64url_decode(std::string_view text) {
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() * 3 / 4);
  unsigned buffer = 0;
  int bits = 0;
  for (const char c : text) {
    const int v = kDecode[static_cast<unsigned char>(c)];
    if (v < 0) return std::nullopt;
    buffer = (buffer << 6U) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> static_cast<unsigned>(bits)) & 0xFFU));
    }
  }
  // Leftover bits must be zero (canonical encoding), so one token has one spelling.
  if (bits > 0 && (buffer & ((1U << static_cast<unsigned>(bits)) - 1U)) != 0) return std::nullopt;
  return out;
}

}  // namespace permiso::jose
