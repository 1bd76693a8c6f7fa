// JWS/JWT against the RFC example vectors, and every refusal of the verification policy.
#include "jose/crypto.hpp"
#include "jose/jwt.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <limits>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <set>
#include <thread>
#include <vector>

namespace permiso::jose {
namespace {

std::string b64d(std::string_view s) {
  return *base64url_decode(s);
}

// RFC 7515 Appendix A.1: HS256.
constexpr std::string_view kA1Key =
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
constexpr std::string_view kA1Input =
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
constexpr std::string_view kA1Signature = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

TEST(Rfc7515, A1Hs256SignatureMatchesTheExample) {
  auto key = SigningKey::from_hmac_secret(b64d(kA1Key));
  ASSERT_TRUE(key);
  EXPECT_EQ(base64url_encode(key->sign(kA1Input)), kA1Signature);
  EXPECT_TRUE(key->verify(kA1Input, b64d(kA1Signature)));
}

// RFC 7515 Appendix A.3: ES256 (ECDSA signatures are randomised: verify the example).
TEST(Rfc7515, A3Es256ExampleVerifies) {
  auto key = SigningKey::from_public_jwk(boost::json::parse(R"({"kty":"EC","crv":"P-256",
      "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
      "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"})")
                                             .as_object());
  ASSERT_TRUE(key);
  const std::string input =
      "eyJhbGciOiJFUzI1NiJ9."
      "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
  const std::string sig =
      b64d("DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q");
  EXPECT_TRUE(key->verify(input, sig));
  EXPECT_FALSE(key->verify(input + "x", sig));
  EXPECT_FALSE(key->verify(input, sig.substr(0, 63)));

  // The whole example token through the policy: kidless, one key, no iat.
  ManualClock clock(1'300'819'000);
  VerifyPolicy policy;
  policy.algorithms = {Algorithm::ES256};
  policy.require_iat = false;
  Verifier verifier(policy, clock);
  verifier.set_keys({*key});
  auto v = verifier.verify(input + "." + base64url_encode(sig));
  ASSERT_TRUE(v) << to_string(v.error());
  EXPECT_EQ(v->claims.at("iss").as_string(), "joe");
  clock.set(1'300'819'380 + 31);
  EXPECT_EQ(verifier.verify(input + "." + base64url_encode(sig)).error(), JwtStatus::Expired);
}

// RFC 7515 Appendix A.2: RS256 (PKCS#1 v1.5 is deterministic: the exact signature).
constexpr std::string_view kA2Payload =
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
constexpr std::string_view kA2N =
    "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-"
    "SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-"
    "KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_"
    "h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ";
constexpr std::string_view kA2D =
    "Eq5xpGnNCivDflJsRQBXHx1hdR1k6Ulwe2JZD50LpXyWPEAeP88vLNO97IjlA7_GQ5sLKMgvfTeXZx9SE-7YwVol2NXOoAJe46sui395"
    "IW_GO-pWJ1O0BkTGoVEn2bKVRUCgu-GjBVaYLU6f3l9kJfFNS3E0QbVdxzubSu3Mkqzjkn439X0M_V51gfpRLI9JYanrC4D4qAdGcopV_"
    "0ZHHzQlBjudU2QvXt4ehNYTCBr6XCLQUShb1juUO1ZdiYoFaFQT5Tw8bGUl_x_jTj3ccPDVZFD9pIuhLhBOneufuBiB4cS98l2SR_"
    "RQyGWSeWjnczT0QU91p1DhOVRuOopznQ";
constexpr std::string_view kA2P =
    "4BzEEOtIpmVdVEZNCqS7baC4crd0pqnRH_5IB3jw3bcxGn6QLvnEtfdUdiYrqBdss1l58BQ3KhooKeQTa9AB0Hw_Py5PJdTJNPY8cQn7"
    "ouZ2KKDcmnPGBY5t7yLc1QlQ5xHdwW1VhvKn-nXqhJTBgIPgtldC-KDV5z-y2XDwGUc";
constexpr std::string_view kA2Q =
    "uQPEfgmVtjL0Uyyx88GZFF1fOunH3-7cepKmtH4pxhtCoHqpWmT8YAmZxaewHgHAjLYsp1ZSe7zFYHj7C6ul7TjeLQeZD_"
    "YwD66t62wDmpe_HlB-TnBA-njbglfIsRLtXlnDzQkv5dTltRJ11BKBBypeeF6689rjcJIDEz9RWdc";
constexpr std::string_view kA2Dp =
    "BwKfV3Akq5_MFZDFZCnW-wzl-CCo83WoZvnLQwCTeDv8uzluRSnm71I3QCLdhrqE2e9YkxvuxdBfpT_PI7Yz-FOKnu1R6HsJeDCjn12Sk3"
    "vmAktV2zb34MCdy7cpdTh_YVr7tss2u6vneTwrA86rZtu5Mbr1C1XsmvkxHQAdYo0";
constexpr std::string_view kA2Dq =
    "h_96-mK1R_7glhsum81dZxjTnYynPbZpHziZjeeHcXYsXaaMwkOlODsWa7I9xXDoRwbKgB719rrmI2oKr6N3Do9U0ajaHF-"
    "NKJnwgjMd2w9cjz3_-kyNlxAr2v4IKhGNpmM5iIgOS1VZnOZ68m6_pbLBSp3nssTdlqvd0tIiTHU";
constexpr std::string_view kA2Qi =
    "IYd7DHOhrWvxkwPQsRM2tOgrjbcrfvtQJipd-DlcxyVuuM9sQLdgjVk2oy26F0EmpScGLq2MowX7fhd_QJQ3ydy5cY7YIBi87w93IKLEd"
    "fnbJtoOPLUW0ITrJReOgo1cq9SbsxYawBgfp_gh6A5603k2-ZQwVK0JKSHuLFkuQ3U";
constexpr std::string_view kA2Signature =
    "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9C"
    "UAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_"
    "dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0i"
    "gcN_IoypGlUPQGe77Rw";

// The appendix prints the key as a JWK; turn it into the PEM our loader takes.
std::string rsa_pem_from_jwk_members() {
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  std::vector<BIGNUM*> bns;
  auto push = [&](const char* name, std::string_view b64) {
    const std::string raw = b64d(b64);
    BIGNUM* bn = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()), static_cast<int>(raw.size()), nullptr);
    bns.push_back(bn);
    OSSL_PARAM_BLD_push_BN(bld, name, bn);
  };
  push(OSSL_PKEY_PARAM_RSA_N, kA2N);
  push(OSSL_PKEY_PARAM_RSA_E, "AQAB");
  push(OSSL_PKEY_PARAM_RSA_D, kA2D);
  push(OSSL_PKEY_PARAM_RSA_FACTOR1, kA2P);
  push(OSSL_PKEY_PARAM_RSA_FACTOR2, kA2Q);
  push(OSSL_PKEY_PARAM_RSA_EXPONENT1, kA2Dp);
  push(OSSL_PKEY_PARAM_RSA_EXPONENT2, kA2Dq);
  push(OSSL_PKEY_PARAM_RSA_COEFFICIENT1, kA2Qi);
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr);
  EVP_PKEY* pkey = nullptr;
  EVP_PKEY_fromdata_init(ctx);
  EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_KEYPAIR, params);
  std::string pem;
  if (pkey != nullptr) {
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(bio, pkey, nullptr, nullptr, 0, nullptr, nullptr);
    char* data = nullptr;
    const long len = BIO_get_mem_data(bio, &data);
    pem.assign(data, static_cast<std::size_t>(len));
    BIO_free(bio);
  }
  EVP_PKEY_free(pkey);
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  for (BIGNUM* bn : bns) BN_free(bn);
  return pem;
}

TEST(Rfc7515, A2Rs256SignatureMatchesTheExample) {
  auto key = SigningKey::from_pem(Algorithm::RS256, rsa_pem_from_jwk_members());
  ASSERT_TRUE(key) << to_string(key.error());
  const std::string input = std::string("eyJhbGciOiJSUzI1NiJ9.") + std::string(kA2Payload);
  EXPECT_EQ(base64url_encode(key->sign(input)), kA2Signature);
  EXPECT_EQ(key->public_jwk().at("n").as_string(), kA2N);
  // A resource server holding only the public JWK verifies it too.
  auto pub = SigningKey::from_public_jwk(boost::json::object{{"kty", "RSA"}, {"n", kA2N}, {"e", "AQAB"}});
  ASSERT_TRUE(pub);
  EXPECT_TRUE(pub->verify(input, b64d(kA2Signature)));
  EXPECT_FALSE(pub->verify(input, b64d(kA2Signature).substr(1)));
}

// RFC 7638 §3.1: the thumbprint of the example RSA key.
TEST(Rfc7638, ThumbprintOfTheExampleKey) {
  const boost::json::object jwk{
      {"kty", "RSA"},
      {"n",
       "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZ"
       "CiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZ"
       "gnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqb"
       "w0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"},
      {"e", "AQAB"},
      {"alg", "RS256"},
      {"kid", "2011-04-29"}};
  EXPECT_EQ(jwk_thumbprint(jwk), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
  auto without_kid = jwk;
  without_kid.erase("kid");
  auto key = SigningKey::from_public_jwk(without_kid);
  ASSERT_TRUE(key);
  EXPECT_EQ(key->kid(), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
  EXPECT_EQ(SigningKey::from_public_jwk(jwk)->kid(), "2011-04-29");  // a published kid is kept
  EXPECT_EQ(jwk_thumbprint(boost::json::object{{"kty", "oct"}, {"k", "AAAA"}}), "");
  EXPECT_EQ(jwk_thumbprint(boost::json::object{{"kty", "RSA"}, {"e", "AQAB"}}), "");
}

SigningKey ed25519_from_seed(std::string_view seed) {
  EVP_PKEY* pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr,
                                                reinterpret_cast<const unsigned char*>(seed.data()), seed.size());
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, pkey, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(len));
  BIO_free(bio);
  EVP_PKEY_free(pkey);
  return *SigningKey::from_pem(Algorithm::EdDSA, pem);
}

// RFC 8037 Appendix A.1–A.5: Ed25519 key, thumbprint, deterministic signature.
TEST(Rfc8037, Ed25519ThumbprintAndSignatureMatchTheExample) {
  const auto key = ed25519_from_seed(b64d("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"));
  EXPECT_EQ(key.public_jwk().at("x").as_string(), "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo");
  EXPECT_EQ(key.kid(), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
  const std::string input = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
  EXPECT_EQ(base64url_encode(key.sign(input)),
            "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg");
  // A.5: verification with the public JWK only.
  auto pub = SigningKey::from_public_jwk(
      boost::json::object{{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}});
  ASSERT_TRUE(pub);
  EXPECT_EQ(pub->kid(), key.kid());
  const std::string sig =
      b64d("hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg");
  EXPECT_TRUE(pub->verify(input, sig));
  EXPECT_FALSE(pub->verify(input + "x", sig));
}

TEST(Base64Url, RoundTripsAndRefusesNonCanonicalText) {
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
    EXPECT_EQ(*base64url_decode(base64url_encode(s)), s);
  }
  EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
  EXPECT_FALSE(base64url_decode("Zg=="));  // padding
  EXPECT_FALSE(base64url_decode("Zm+v"));  // standard alphabet
  EXPECT_FALSE(base64url_decode("Z"));     // impossible length
  EXPECT_FALSE(base64url_decode("Zh"));    // non-zero trailing bits
}

TEST(Crypto, ConstantTimeEqualAndHexAndRandomness) {
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "ab"));
  EXPECT_EQ(hex(sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_NE(random_token(16), random_token(16));
  EXPECT_EQ(random_token(32).size(), 43U);
}

// FIPS 180-2's examples (one block, two blocks, a million bytes) through the one context each
// thread restarts per call: the same digest whatever was hashed before and on any thread.
TEST(Crypto, Sha256MatchesFips180AndRestartsItsContextPerCall) {
  struct Case {
    std::string data, digest;
  };
  const std::vector<Case> cases{
      {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
      {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
      {std::string(1'000'000, 'a'), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
      {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}};
  for (int round = 0; round < 2; ++round) {
    for (const auto& c : cases) {
      EXPECT_EQ(hex(sha256(c.data)), c.digest) << "round " << round << ", " << c.data.size() << " bytes";
      const Sha256Digest raw = sha256_digest(c.data);
      EXPECT_EQ(std::string(reinterpret_cast<const char*>(raw.data()), raw.size()), sha256(c.data));
    }
  }
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        const auto& c = cases[static_cast<std::size_t>((i + t) % 2)];
        if (hex(sha256(c.data)) != c.digest) ++wrong;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
}

// RFC 4231's test cases: a short key, a key shorter than the data, and keys longer than
// SHA-256's block (hashed first); one keyed instance reused across calls, messages and threads.
TEST(Crypto, HmacSha256MatchesRfc4231AndIsReusable) {
  struct Case {
    std::string key, data, mac;
  };
  const std::vector<Case> cases{
      {std::string(20, '\x0b'), "Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
      {"Jefe", "what do ya want for nothing?", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
      {std::string(131, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First",
       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"}};
  for (const auto& c : cases) {
    const HmacSha256 keyed(c.key);
    EXPECT_EQ(hex(keyed.mac(c.data)), c.mac);
    EXPECT_EQ(hex(keyed.mac(c.data)), c.mac) << "a second use of the keyed state";
    (void)keyed.mac(std::string(300, 'z'));  // the pooled context restarts after other data
    EXPECT_EQ(hex(keyed.mac(c.data)), c.mac) << "after another message";
    const HmacSha256 copy = keyed;  // shares the keyed state and its pool
    EXPECT_EQ(hex(copy.mac(c.data)), c.mac);
    EXPECT_EQ(keyed.mac(c.data), hmac_sha256(c.key, c.data));
  }
  const HmacSha256 shared(cases[1].key);
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 500; ++i) {
        if (hex(shared.mac(cases[1].data)) != cases[1].mac) ++wrong;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
}

// Ids come from a per-thread block of random bytes: unique across threads and calls, and a
// forked child does not hand out the ids its parent is about to.
TEST(Crypto, UniqueIdsAreUniqueAcrossThreadsAndAFork) {
  std::vector<std::vector<std::string>> per_thread(4);
  std::vector<std::thread> threads;
  for (auto& ids : per_thread) {
    threads.emplace_back([&ids] {
      for (int i = 0; i < 2000; ++i) ids.push_back(unique_id());
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> all;
  for (const auto& ids : per_thread) {
    for (const auto& id : ids) {
      EXPECT_EQ(id.size(), 22U);
      EXPECT_EQ(base64url_decode(id).value_or("").size(), 16U) << id;
      all.insert(id);
    }
  }
  EXPECT_EQ(all.size(), 8000U);

  (void)unique_id();  // this thread's block is now part-used: a child would inherit the rest
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const std::string id = unique_id();
    const auto written = ::write(fds[1], id.data(), id.size());
    ::_exit(written == static_cast<ssize_t>(id.size()) ? 0 : 1);
  }
  ::close(fds[1]);
  std::string from_child(22, '\0');
  ASSERT_EQ(::read(fds[0], from_child.data(), from_child.size()), 22);
  ::close(fds[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_NE(from_child, unique_id());
}

class VerifierTest : public ::testing::TestWithParam<Algorithm> {
 protected:
  static constexpr std::int64_t kNow = 1'700'000'000;

  void SetUp() override {
    key_ = *SigningKey::generate(GetParam());
    VerifyPolicy policy;
    policy.algorithms = {GetParam()};
    policy.issuer = "https://auth.example";
    policy.audience = "permiso";
    policy.typ = "at+jwt";
    policy.leeway_s = 30;
    verifier_ = std::make_unique<Verifier>(policy, clock_);
    verifier_->set_keys({key_});
  }

  boost::json::object claims() const {
    return {{"iss", "https://auth.example"},
            {"aud", "permiso"},
            {"sub", "42"},
            {"iat", kNow},
            {"nbf", kNow},
            {"exp", kNow + 600},
            {"jti", "j1"}};
  }

  // Re-signs a token with an arbitrary header (for forged-header cases).
  std::string with_header(const boost::json::object& header, const boost::json::object& c,
                          const SigningKey& signer) const {
    std::string t =
        base64url_encode(boost::json::serialize(header)) + "." + base64url_encode(boost::json::serialize(c));
    return t + "." + base64url_encode(signer.sign(t));
  }

  ManualClock clock_{kNow};
  SigningKey key_ = *SigningKey::generate(Algorithm::HS256);
  std::unique_ptr<Verifier> verifier_;
};

TEST_P(VerifierTest, SignedTokenVerifiesWithItsClaims) {
  const auto token = sign_jwt(key_, claims());
  auto v = verifier_->verify(token);
  ASSERT_TRUE(v) << to_string(v.error());
  EXPECT_EQ(v->claims.at("sub").as_string(), "42");
  EXPECT_EQ(v->header.at("typ").as_string(), "at+jwt");
  EXPECT_EQ(v->header.at("kid").as_string(), key_.kid());
  EXPECT_EQ(v->header.at("alg").as_string(), to_string(GetParam()));
}

TEST_P(VerifierTest, ExpiryAndNotBeforeHonourTheLeeway) {
  const auto token = sign_jwt(key_, claims());
  clock_.set(kNow + 600 + 30);
  EXPECT_TRUE(verifier_->verify(token));
  clock_.set(kNow + 600 + 31);
  EXPECT_EQ(verifier_->verify(token).error(), JwtStatus::Expired);
  clock_.set(kNow - 31);
  EXPECT_EQ(verifier_->verify(token).error(), JwtStatus::NotYetValid);
}

// Found by fuzz_jwt: exp = 2^63 - 1 overflowed "exp + leeway" (undefined behaviour, which
// UBSan aborts on). Claims at the int64 limits are judged without arithmetic on them.
TEST_P(VerifierTest, TimesAtTheLimitsOfInt64AreJudgedWithoutOverflow) {
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  constexpr auto kMin = std::numeric_limits<std::int64_t>::min();
  auto c = claims();
  c["exp"] = kMax;
  c["iat"] = kMin;
  c["nbf"] = kMin;
  EXPECT_TRUE(verifier_->verify(sign_jwt(key_, c)));
  c["exp"] = kMin;
  EXPECT_EQ(verifier_->verify(sign_jwt(key_, c)).error(), JwtStatus::Expired);
  c = claims();
  c["nbf"] = kMax;
  EXPECT_EQ(verifier_->verify(sign_jwt(key_, c)).error(), JwtStatus::NotYetValid);
  c = claims();
  c["iat"] = kMax;
  EXPECT_EQ(verifier_->verify(sign_jwt(key_, c)).error(), JwtStatus::NotYetValid);
}

TEST_P(VerifierTest, WrongIssuerAudienceOrTypeIsRefused) {
  auto c = claims();
  c["iss"] = "https://evil.example";
  EXPECT_EQ(verifier_->verify(sign_jwt(key_, c)).error(), JwtStatus::IssuerMismatch);
  c = claims();
  c["aud"] = boost::json::array{"other", "permiso"};
  EXPECT_TRUE(verifier_->verify(sign_jwt(key_, c)));
  c["aud"] = "other";
  EXPECT_EQ(verifier_->verify(sign_jwt(key_, c)).error(), JwtStatus::AudienceMismatch);
  EXPECT_EQ(verifier_->verify(sign_jwt(key_, claims(), "JWT")).error(), JwtStatus::TypeMismatch);
  // RFC 8725 §3.11: media types compare case-insensitively, "application/" optional.
  EXPECT_TRUE(verifier_->verify(sign_jwt(key_, claims(), "application/AT+JWT")));
  VerifyPolicy upper = verifier_->policy();
  upper.typ = "JWT";
  Verifier jwt_verifier(upper, clock_);
  jwt_verifier.set_keys({key_});
  EXPECT_TRUE(jwt_verifier.verify(sign_jwt(key_, claims(), "JWT")));
  EXPECT_EQ(jwt_verifier.verify(sign_jwt(key_, claims())).error(), JwtStatus::TypeMismatch);
}

TEST_P(VerifierTest, MissingExpOrIatIsRefused) {
  auto c = claims();
  c.erase("exp");
  EXPECT_EQ(verifier_->verify(sign_jwt(key_, c)).error(), JwtStatus::MissingClaim);
  c = claims();
  c["iat"] = "yesterday";
  EXPECT_EQ(verifier_->verify(sign_jwt(key_, c)).error(), JwtStatus::MissingClaim);
}

TEST_P(VerifierTest, TamperedPayloadOrSignatureIsRefused) {
  const auto token = sign_jwt(key_, claims());
  auto c = claims();
  c["sub"] = "1";
  const auto dot1 = token.find('.');
  const auto dot2 = token.rfind('.');
  const std::string forged =
      token.substr(0, dot1 + 1) + base64url_encode(boost::json::serialize(c)) + token.substr(dot2);
  EXPECT_EQ(verifier_->verify(forged).error(), JwtStatus::BadSignature);
  std::string bad_sig = token;
  bad_sig.back() = bad_sig.back() == 'A' ? 'Q' : 'A';
  EXPECT_FALSE(verifier_->verify(bad_sig));
}

TEST_P(VerifierTest, ForeignKeyWithTheSameKidIsRefused) {
  const auto foreign = SigningKey::generate(GetParam())->with_kid(key_.kid());
  EXPECT_EQ(verifier_->verify(sign_jwt(foreign, claims())).error(), JwtStatus::BadSignature);
}

TEST_P(VerifierTest, UnknownKidIsRefusedAndMissingKidOnlyFitsASingleKeySet) {
  const auto other = *SigningKey::generate(GetParam());
  EXPECT_EQ(verifier_->verify(sign_jwt(other, claims())).error(), JwtStatus::UnknownKid);
  boost::json::object h{{"alg", to_string(GetParam())}, {"typ", "at+jwt"}};
  const auto kidless = with_header(h, claims(), key_);
  EXPECT_TRUE(verifier_->verify(kidless));  // one key: no ambiguity
  verifier_->set_keys({key_, other});
  EXPECT_EQ(verifier_->verify(kidless).error(), JwtStatus::UnknownKid);
  EXPECT_TRUE(verifier_->verify(sign_jwt(key_, claims())));
  h["kid"] = 42;
  EXPECT_EQ(verifier_->verify(with_header(h, claims(), key_)).error(), JwtStatus::UnknownKid);
}

TEST_P(VerifierTest, OutOfRangeOrFractionalTimesAreHandled) {
  auto c = claims();
  c["exp"] = 1e300;  // must not be converted (undefined behaviour), just refused
  EXPECT_EQ(verifier_->verify(sign_jwt(key_, c)).error(), JwtStatus::MissingClaim);
  c["exp"] = static_cast<double>(kNow) + 600.5;
  EXPECT_TRUE(verifier_->verify(sign_jwt(key_, c)));
  c = claims();
  c["nbf"] = kNow + 3600;
  EXPECT_EQ(verifier_->verify(sign_jwt(key_, c)).error(), JwtStatus::NotYetValid);
  c["nbf"] = "soon";
  EXPECT_EQ(verifier_->verify(sign_jwt(key_, c)).error(), JwtStatus::MissingClaim);
}

TEST_P(VerifierTest, EachMalformedPartIsMalformed) {
  const auto token = sign_jwt(key_, claims());
  const auto dot1 = token.find('.');
  const auto dot2 = token.rfind('.');
  const std::string header = token.substr(0, dot1);
  const std::string payload = token.substr(dot1 + 1, dot2 - dot1 - 1);
  const std::string sig = token.substr(dot2 + 1);
  for (const std::string& bad :
       {header + "=." + payload + "." + sig,                     // padding
        header + "." + payload + "+." + sig,                     // std alphabet
        header + "." + base64url_encode("[1,2]") + "." + sig,    // not an object
        header + "." + base64url_encode("{\"a\":") + "." + sig,  // truncated JSON
        header + "." + payload + "." + sig + "!", base64url_encode("\"str\"") + "." + payload + "." + sig,
        token.substr(0, dot1 + 5), token.substr(0, dot2)}) {
    auto r = verifier_->verify(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error(), JwtStatus::Malformed) << bad;
  }
  // A signature cut anywhere is refused (Malformed when the cut leaves impossible base64).
  for (std::size_t cut = dot2 + 1; cut < token.size(); cut += 3) {
    auto r = verifier_->verify(token.substr(0, cut));
    ASSERT_FALSE(r) << cut;
    EXPECT_TRUE(r.error() == JwtStatus::BadSignature || r.error() == JwtStatus::Malformed) << cut;
  }
}

TEST_P(VerifierTest, VerificationKeyHoldsNoSecretYetVerifies) {
  const auto pub = key_.verification_key();
  EXPECT_EQ(pub.kid(), key_.kid());
  if (GetParam() != Algorithm::HS256) {
    EXPECT_FALSE(pub.can_sign());
    EXPECT_EQ(pub.public_jwk(), key_.public_jwk());
    EXPECT_TRUE(pub.private_pem().empty());
    EXPECT_THROW((void)sign_jwt(pub, claims()), std::runtime_error);
  }
  verifier_->set_keys({pub});
  EXPECT_TRUE(verifier_->verify(sign_jwt(key_, claims())));
}

TEST_P(VerifierTest, CachedHeaderMatchesAFreshOneForAnyType) {
  for (std::string_view typ : {"at+jwt", "JWT", "logout+jwt"}) {
    const auto header = *base64url_decode(key_.encoded_header(typ));
    const auto parsed = boost::json::parse(header).as_object();
    EXPECT_EQ(parsed.at("alg").as_string(), to_string(GetParam()));
    EXPECT_EQ(parsed.at("typ").as_string(), typ);
    EXPECT_EQ(parsed.at("kid").as_string(), key_.kid());
    EXPECT_EQ(parsed.size(), 3U);
  }
}

TEST_P(VerifierTest, ConcurrentSigningWithOneKeyIsSafe) {
  // One EVP_PKEY shared by every thread, a context per call: every token must verify.
  std::vector<std::thread> threads;
  std::atomic<int> good{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        if (verifier_->verify(sign_jwt(key_, claims()))) ++good;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(good.load(), 200);
}

TEST_P(VerifierTest, AlgNoneAndUntrustedHeadersAreRefused) {
  boost::json::object none{{"alg", "none"}, {"typ", "at+jwt"}, {"kid", key_.kid()}};
  const auto unsigned_token =
      base64url_encode(boost::json::serialize(none)) + "." + base64url_encode(boost::json::serialize(claims())) + ".";
  EXPECT_EQ(verifier_->verify(unsigned_token).error(), JwtStatus::UnsupportedAlgorithm);
  for (const char* h : {"crit", "jku", "x5u", "jwk", "x5c"}) {
    boost::json::object header{{"alg", to_string(GetParam())}, {"typ", "at+jwt"}, {"kid", key_.kid()}};
    header[h] = "https://evil.example/keys";
    EXPECT_EQ(verifier_->verify(with_header(header, claims(), key_)).error(), JwtStatus::ForbiddenHeader) << h;
  }
}

TEST_P(VerifierTest, GarbageIsMalformedNeverACrash) {
  for (const std::string& bad :
       std::vector<std::string>{"", ".", "..", "a.b.c", "a.b", "a.b.c.d", "!!!.###.$$$", "eyJhbGciOiJIUzI1NiJ9.W10.",
                                "W10.e30.", "bnVsbA.e30.", "eyJhbGciOjF9.e30.AA", std::string(20000, 'a')}) {
    auto r = verifier_->verify(bad);
    EXPECT_FALSE(r) << bad.substr(0, 40);
  }
}

INSTANTIATE_TEST_SUITE_P(AllAlgorithms, VerifierTest,
                         ::testing::Values(Algorithm::HS256, Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA),
                         [](const ::testing::TestParamInfo<Algorithm>& p) { return std::string(to_string(p.param)); });

TEST(Verifier, HmacTokenKeyedWithTheRsaPublicKeyPemIsRefused) {
  // The classic HS/RS confusion with the published PEM as the HMAC secret, with and
  // without a kid: the key decides the algorithm, never the token.
  ManualClock clock(1'700'000'000);
  const auto rsa = *SigningKey::generate(Algorithm::RS256);
  const auto pem = rsa.public_pem();
  ASSERT_NE(pem.find("BEGIN PUBLIC KEY"), std::string::npos);
  const auto hmac = SigningKey::from_hmac_secret(pem)->with_kid(rsa.kid());
  boost::json::object c{{"iat", 1'700'000'000}, {"exp", 1'700'000'600}};
  const auto forged = sign_jwt(hmac, c);
  VerifyPolicy lax;
  lax.algorithms = {Algorithm::RS256, Algorithm::HS256};
  Verifier both(lax, clock);
  both.set_keys({rsa.verification_key()});
  EXPECT_EQ(both.verify(forged).error(), JwtStatus::AlgorithmKeyMismatch);
  boost::json::object h{{"alg", "HS256"}, {"typ", "at+jwt"}};
  std::string kidless = base64url_encode(boost::json::serialize(h)) + "." + base64url_encode(boost::json::serialize(c));
  kidless += "." + base64url_encode(hmac.sign(kidless));
  EXPECT_EQ(both.verify(kidless).error(), JwtStatus::AlgorithmKeyMismatch);
  VerifyPolicy strict;
  strict.algorithms = {Algorithm::RS256};
  Verifier rs_only(strict, clock);
  rs_only.set_keys({rsa});
  EXPECT_EQ(rs_only.verify(forged).error(), JwtStatus::UnsupportedAlgorithm);
  EXPECT_TRUE(rs_only.verify(sign_jwt(rsa, c)));
}

TEST(Verifier, EmptyKeySetRefusesEverything) {
  ManualClock clock(1'700'000'000);
  VerifyPolicy policy;
  policy.algorithms = {Algorithm::ES256};
  Verifier verifier(policy, clock);
  const auto key = *SigningKey::generate(Algorithm::ES256);
  boost::json::object c{{"iat", 1'700'000'000}, {"exp", 1'700'000'600}};
  EXPECT_EQ(verifier.verify(sign_jwt(key, c)).error(), JwtStatus::UnknownKid);
}

TEST(Verifier, HmacTokenKeyedWithTheRsaPublicKeyIsRefused) {
  // The classic HS/RS confusion: an attacker signs HS256 with the server's public key.
  ManualClock clock(1'700'000'000);
  const auto rsa = *SigningKey::generate(Algorithm::RS256);
  VerifyPolicy policy;
  policy.algorithms = {Algorithm::RS256, Algorithm::HS256};
  Verifier verifier(policy, clock);
  verifier.set_keys({rsa});
  const auto public_pem = boost::json::serialize(rsa.public_jwk());
  const auto hmac = SigningKey::from_hmac_secret(public_pem)->with_kid(rsa.kid());
  boost::json::object c{{"iat", 1'700'000'000}, {"exp", 1'700'000'600}};
  EXPECT_EQ(verifier.verify(sign_jwt(hmac, c)).error(), JwtStatus::AlgorithmKeyMismatch);
}

TEST(Verifier, AlgorithmOutsideTheAllowListIsRefused) {
  ManualClock clock(1'700'000'000);
  const auto es = *SigningKey::generate(Algorithm::ES256);
  VerifyPolicy policy;
  policy.algorithms = {Algorithm::RS256};
  Verifier verifier(policy, clock);
  verifier.set_keys({es});
  boost::json::object c{{"iat", 1'700'000'000}, {"exp", 1'700'000'600}};
  EXPECT_EQ(verifier.verify(sign_jwt(es, c)).error(), JwtStatus::UnsupportedAlgorithm);
}

TEST(Keys, HmacSecretsShorterThan256BitsAreRefusedAndNeverPublished) {
  EXPECT_EQ(SigningKey::from_hmac_secret(std::string(31, 'x')).error(), KeyError::SecretTooShort);
  const auto k = *SigningKey::from_hmac_secret(std::string(32, 'x'));
  EXPECT_TRUE(k.public_jwk().empty());
  EXPECT_EQ(k.kid().find(std::string(8, 'x')), std::string::npos);
}

TEST(Keys, PemRoundTripKeepsTheKidAndTypeMustFitTheAlgorithm) {
  const auto rsa = *SigningKey::generate(Algorithm::RS256);
  const auto again = SigningKey::from_pem(Algorithm::RS256, rsa.private_pem());
  ASSERT_TRUE(again);
  EXPECT_EQ(again->kid(), rsa.kid());
  EXPECT_EQ(SigningKey::from_pem(Algorithm::ES256, rsa.private_pem()).error(), KeyError::WrongKeyType);
  EXPECT_EQ(SigningKey::from_pem(Algorithm::RS256, "not a pem").error(), KeyError::InvalidPem);
}

TEST(Keys, JwksPublishesOnlyPublicPartsAndParsesBack) {
  for (auto alg : {Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA}) {
    const auto key = *SigningKey::generate(alg);
    const auto jwk = key.public_jwk();
    for (const char* priv : {"d", "p", "q", "dp", "dq", "qi", "k"}) EXPECT_FALSE(jwk.contains(priv));
    boost::json::object jwks{{"keys", boost::json::array{jwk, boost::json::object{{"kty", "oct"}, {"k", "AAAA"}}}}};
    const auto parsed = parse_jwks(jwks);
    ASSERT_EQ(parsed.size(), 1U);
    EXPECT_EQ(parsed[0].kid(), key.kid());
    EXPECT_FALSE(parsed[0].can_sign());
    EXPECT_TRUE(parsed[0].verify("input", key.sign("input")));
  }
}

TEST(Keys, JwksTextSkipsUnusableMembersAndInvalidPoints) {
  const auto es = *SigningKey::generate(Algorithm::ES256);
  const auto ed = *SigningKey::generate(Algorithm::EdDSA);
  auto enc = es.public_jwk();
  enc["use"] = "enc";
  auto bad_point = es.public_jwk();
  bad_point["y"] = base64url_encode(std::string(32, '\x01'));  // not on P-256
  auto wrong_alg = ed.public_jwk();
  wrong_alg["alg"] = "RS256";
  auto short_x = ed.public_jwk();
  short_x["x"] = "AAAA";
  boost::json::object doc{
      {"keys", boost::json::array{es.public_jwk(), enc, bad_point, wrong_alg, short_x, ed.public_jwk(), 7, "x"}}};
  const auto keys = parse_jwks(boost::json::serialize(doc));
  ASSERT_EQ(keys.size(), 2U);
  EXPECT_EQ(keys[0].kid(), es.kid());
  EXPECT_EQ(keys[1].kid(), ed.kid());
  EXPECT_TRUE(parse_jwks("not json").empty());
  EXPECT_TRUE(parse_jwks("[]").empty());
  EXPECT_TRUE(parse_jwks(R"({"keys":{}})").empty());
}

// Every ES256 signature, of any input length, verifies, and none repeats: a fresh nonce each
// time, though every signing context is a copy of the same one set up once.
TEST(Keys, Es256SignaturesVerifyAtAnyLengthAndNeverRepeat) {
  const auto key = *SigningKey::generate(Algorithm::ES256);
  std::set<std::string> seen;
  for (std::size_t length : {0UL, 1UL, 64UL, 1000UL, 100'000UL}) {
    const std::string input(length, 'p');
    for (int i = 0; i < 20; ++i) {
      const std::string sig = key.sign(input);
      ASSERT_EQ(sig.size(), 64U);
      EXPECT_TRUE(key.verify(input, sig));
      EXPECT_FALSE(key.verify(input + "x", sig));
      EXPECT_TRUE(seen.insert(sig).second) << "a signature repeated at length " << length;
    }
  }
}

TEST(Keys, GeneratedKeysHaveThumbprintKidsAndFitTheirAlgorithm) {
  for (auto alg : {Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA}) {
    const auto key = *SigningKey::generate(alg);
    EXPECT_EQ(key.kid(), jwk_thumbprint(key.public_jwk()));
    EXPECT_EQ(key.public_jwk().at("use").as_string(), "sig");
    EXPECT_EQ(key.public_jwk().at("alg").as_string(), to_string(alg));
    EXPECT_EQ(algorithm_from_string(to_string(alg)), alg);
  }
  EXPECT_EQ(SigningKey::generate(Algorithm::RS256)->public_jwk().at("n").as_string().size(), 342U);  // 2048 bits
  EXPECT_FALSE(algorithm_from_string("none"));
  EXPECT_FALSE(algorithm_from_string("hs256"));
  const auto hs = *SigningKey::generate(Algorithm::HS256);
  EXPECT_EQ(hs.secret().size(), 32U);
  EXPECT_TRUE(hs.private_pem().empty());
  EXPECT_TRUE(hs.public_pem().empty());
}

}  // namespace
}  // namespace permiso::jose
