#include "gateway/jwt.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace clover::gateway {
namespace {

using ::testing::HasSubstr;

// A fresh key pair as (private PEM, public PEM).
std::pair<std::string, std::string> NewKeyPair(bool ed25519) {
  EVP_PKEY* pkey = ed25519 ? EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519")
                           : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  EXPECT_NE(pkey, nullptr);
  auto to_pem = [&](bool priv) {
    BIO* bio = BIO_new(BIO_s_mem());
    if (priv) {
      PEM_write_bio_PrivateKey(bio, pkey, nullptr, nullptr, 0, nullptr,
                               nullptr);
    } else {
      PEM_write_bio_PUBKEY(bio, pkey);
    }
    char* data = nullptr;
    long len = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<size_t>(len));
    BIO_free(bio);
    return out;
  };
  auto pair = std::make_pair(to_pem(true), to_pem(false));
  EVP_PKEY_free(pkey);
  return pair;
}

const absl::Time kNow = absl::FromUnixSeconds(1800000000);

std::string Payload(int64_t exp_offset = 300, std::string aud = "\"clover\"") {
  return absl::StrCat("{\"sub\":\"svc\",\"iss\":\"idp\",\"aud\":", aud,
                      ",\"exp\":", absl::ToUnixSeconds(kNow) + exp_offset,
                      ",\"iat\":", absl::ToUnixSeconds(kNow), "}");
}

TEST(Base64UrlTest, RoundTripsAndIsStrict) {
  for (std::string s :
       {"", "f", "fo", "foo", "foob", "fooba", "foobar", "\xff\xfe\x00\x01"}) {
    std::string enc = Base64UrlEncode(s);
    EXPECT_EQ(enc.find('='), std::string::npos);
    auto dec = Base64UrlDecode(enc);
    ASSERT_TRUE(dec.ok());
    EXPECT_EQ(*dec, s);
  }
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
  EXPECT_FALSE(Base64UrlDecode("Zm9v=").ok());
  EXPECT_FALSE(Base64UrlDecode("Zm+v").ok());
  EXPECT_FALSE(Base64UrlDecode("Z").ok());
  EXPECT_FALSE(Base64UrlDecode("Zh").ok());  // non-zero trailing bits
}

class JwtKeysTest : public ::testing::TestWithParam<bool> {};

TEST_P(JwtKeysTest, SignParseVerify) {
  auto [priv, pub] = NewKeyPair(GetParam());
  auto signer = JwtSigner::FromPem(priv);
  ASSERT_TRUE(signer.ok()) << signer.status();
  auto key = JwtPublicKey::FromPem(pub);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ((*key)->algorithm(),
            GetParam() ? JwtAlgorithm::kEdDSA : JwtAlgorithm::kES256);
  auto token = (*signer)->Sign(Payload());
  ASSERT_TRUE(token.ok());
  auto jwt = ParseJwt(*token);
  ASSERT_TRUE(jwt.ok()) << jwt.status();
  EXPECT_EQ(jwt->alg, GetParam() ? "EdDSA" : "ES256");
  EXPECT_EQ(jwt->claims.sub, "svc");
  EXPECT_EQ(jwt->claims.iss, "idp");
  EXPECT_THAT(jwt->claims.aud, ::testing::ElementsAre("clover"));
  EXPECT_EQ(*jwt->claims.exp, kNow + absl::Seconds(300));
  JwtExpectations expect{"idp", "clover", kNow};
  EXPECT_TRUE(VerifyJwt(*jwt, **key, expect).ok());

  // Tampered payload: signature fails.
  std::string tampered = *token;
  size_t dot = tampered.find('.');
  auto other = (*signer)->Sign(Payload(999999));
  ASSERT_TRUE(other.ok());
  tampered = tampered.substr(0, dot) +
             other->substr(dot, other->rfind('.') - dot) +
             token->substr(token->rfind('.'));
  auto bad = ParseJwt(tampered);
  ASSERT_TRUE(bad.ok());
  absl::Status s = VerifyJwt(*bad, **key, expect);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(s.message()), HasSubstr("signature"));

  // Another key of the same kind does not verify it.
  auto [priv2, pub2] = NewKeyPair(GetParam());
  auto key2 = JwtPublicKey::FromPem(pub2);
  ASSERT_TRUE(key2.ok());
  EXPECT_FALSE(VerifyJwt(*jwt, **key2, expect).ok());
}

TEST_P(JwtKeysTest, ClaimChecks) {
  auto [priv, pub] = NewKeyPair(GetParam());
  auto signer = *JwtSigner::FromPem(priv);
  auto key = *JwtPublicKey::FromPem(pub);
  auto check = [&](const std::string& payload, JwtExpectations expect) {
    auto token = signer->Sign(payload);
    EXPECT_TRUE(token.ok());
    auto jwt = ParseJwt(*token);
    EXPECT_TRUE(jwt.ok()) << jwt.status();
    return VerifyJwt(*jwt, *key, expect);
  };
  JwtExpectations ok{"idp", "clover", kNow};
  EXPECT_TRUE(check(Payload(), ok).ok());
  EXPECT_THAT(std::string(check(Payload(-3600), ok).message()),
              HasSubstr("expired"));
  EXPECT_TRUE(check(Payload(-30), ok).ok()) << "within leeway";
  EXPECT_THAT(std::string(check(Payload(300, "[\"a\",\"b\"]"), ok).message()),
              HasSubstr("audience"));
  EXPECT_TRUE(check(Payload(300, "[\"a\",\"clover\"]"), ok).ok());
  JwtExpectations other_iss{"someone-else", "clover", kNow};
  EXPECT_THAT(std::string(check(Payload(), other_iss).message()),
              HasSubstr("issuer"));
  std::string future_nbf =
      absl::StrCat("{\"sub\":\"svc\",\"iss\":\"idp\",\"aud\":\"clover\",",
                   "\"exp\":", absl::ToUnixSeconds(kNow) + 7200,
                   ",\"nbf\":", absl::ToUnixSeconds(kNow) + 3600, "}");
  EXPECT_THAT(std::string(check(future_nbf, ok).message()),
              HasSubstr("not yet valid"));
  std::string no_exp = "{\"sub\":\"svc\",\"iss\":\"idp\",\"aud\":\"clover\"}";
  EXPECT_THAT(std::string(check(no_exp, ok).message()), HasSubstr("exp"));
}

TEST_P(JwtKeysTest, MaximumLifetime) {
  auto [priv, pub] = NewKeyPair(GetParam());
  auto signer = *JwtSigner::FromPem(priv);
  auto key = *JwtPublicKey::FromPem(pub);
  auto check = [&](const std::string& payload, JwtExpectations expect) {
    auto token = signer->Sign(payload);
    EXPECT_TRUE(token.ok());
    auto jwt = ParseJwt(*token);
    EXPECT_TRUE(jwt.ok()) << jwt.status();
    return VerifyJwt(*jwt, *key, expect);
  };
  // exp (and optionally iat) as seconds from kNow.
  auto claims = [](int64_t exp, std::optional<int64_t> iat = std::nullopt) {
    std::string out = absl::StrCat(
        "{\"sub\":\"svc\",\"iss\":\"idp\",\"aud\":\"clover\",\"exp\":",
        absl::ToUnixSeconds(kNow) + exp);
    if (iat.has_value())
      absl::StrAppend(&out, ",\"iat\":", absl::ToUnixSeconds(kNow) + *iat);
    return out + "}";
  };
  const JwtExpectations ok{"idp", "clover", kNow};
  ASSERT_EQ(ok.max_lifetime, absl::Hours(24));
  EXPECT_TRUE(check(claims(23 * 3600), ok).ok());
  EXPECT_TRUE(check(claims(24 * 3600, 0), ok).ok());
  // An exp in the year 30000, with or without iat.
  const int64_t year_30000 = 884'541'340'800 - absl::ToUnixSeconds(kNow);
  for (const std::string& payload :
       {claims(year_30000), claims(year_30000, 0), claims(25 * 3600),
        claims(24 * 3600 + 120)}) {
    absl::Status s = check(payload, ok);
    EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated) << payload;
    EXPECT_THAT(std::string(s.message()), HasSubstr("maximum"));
  }
  // Issued 48 h ago, still 1 h to go: a 49 h token.
  absl::Status s = check(claims(3600, -48 * 3600), ok);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(s.message()), HasSubstr("lifetime"));
  // Issued in the future (beyond leeway).
  EXPECT_THAT(std::string(check(claims(7200, 3600), ok).message()),
              HasSubstr("issued in the future"));
  EXPECT_TRUE(check(claims(7200, 30), ok).ok()) << "within leeway";
  // A principal configured for short-lived tokens.
  JwtExpectations short_lived = ok;
  short_lived.max_lifetime = absl::Minutes(15);
  EXPECT_TRUE(check(claims(600, 0), short_lived).ok());
  EXPECT_FALSE(check(claims(1200), short_lived).ok());
  EXPECT_FALSE(check(claims(600, -900), short_lived).ok());
}

INSTANTIATE_TEST_SUITE_P(EdDSAAndES256, JwtKeysTest, ::testing::Bool());

// P-256's order n, from OpenSSL.
BIGNUM* P256Order() {
  EC_GROUP* group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
  BIGNUM* n = BN_dup(EC_GROUP_get0_order(group));
  EC_GROUP_free(group);
  return n;
}

// `token` with its signature replaced by r||s.
std::string WithSignature(const std::string& token, const BIGNUM* r,
                          const BIGNUM* s) {
  std::string sig(64, '\0');
  auto* o = reinterpret_cast<unsigned char*>(sig.data());
  EXPECT_EQ(BN_bn2binpad(r, o, 32), 32);
  EXPECT_EQ(BN_bn2binpad(s, o + 32, 32), 32);
  return token.substr(0, token.rfind('.') + 1) + Base64UrlEncode(sig);
}

TEST(JwtTest, Es256HighSTwinOfAValidSignatureIsRefused) {
  auto [priv, pub] = NewKeyPair(false);
  auto signer = *JwtSigner::FromPem(priv);
  auto key = *JwtPublicKey::FromPem(pub);
  const JwtExpectations expect{"idp", "clover", kNow};
  BIGNUM* n = P256Order();
  BIGNUM* half = BN_dup(n);
  ASSERT_EQ(BN_rshift1(half, n), 1);
  for (int i = 0; i < 16;
       ++i) {  // about half of raw ECDSA signatures are high-S
    auto token = signer->Sign(Payload(300 + i));
    ASSERT_TRUE(token.ok());
    auto jwt = ParseJwt(*token);
    ASSERT_TRUE(jwt.ok());
    ASSERT_TRUE(VerifyJwt(*jwt, *key, expect).ok());
    ASSERT_EQ(jwt->signature.size(), 64u);
    const auto* sig =
        reinterpret_cast<const unsigned char*>(jwt->signature.data());
    BIGNUM* r = BN_bin2bn(sig, 32, nullptr);
    BIGNUM* s = BN_bin2bn(sig + 32, 32, nullptr);
    EXPECT_LE(BN_cmp(s, half), 0) << "the signer emits low S";
    BIGNUM* high = BN_new();
    ASSERT_EQ(BN_sub(high, n, s), 1);

    // (r, n-s) is a valid ECDSA signature of the same input...
    ECDSA_SIG* twin = ECDSA_SIG_new();
    ASSERT_EQ(ECDSA_SIG_set0(twin, BN_dup(r), BN_dup(high)), 1);
    unsigned char* der = nullptr;
    int der_len = i2d_ECDSA_SIG(twin, &der);
    ECDSA_SIG_free(twin);
    BIO* bio = BIO_new_mem_buf(pub.data(), static_cast<int>(pub.size()));
    EVP_PKEY* pkey = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ASSERT_EQ(EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, pkey),
              1);
    EXPECT_EQ(EVP_DigestVerify(ctx, der, static_cast<size_t>(der_len),
                               reinterpret_cast<const unsigned char*>(
                                   jwt->signing_input.data()),
                               jwt->signing_input.size()),
              1);
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(pkey);
    OPENSSL_free(der);

    // ...and the token carrying it is refused.
    auto flipped = ParseJwt(WithSignature(*token, r, high));
    ASSERT_TRUE(flipped.ok());
    absl::Status st = VerifyJwt(*flipped, *key, expect);
    EXPECT_EQ(st.code(), absl::StatusCode::kUnauthenticated);
    EXPECT_THAT(std::string(st.message()), HasSubstr("canonical"));
    BN_free(r);
    BN_free(s);
    BN_free(high);
  }
  BN_free(n);
  BN_free(half);
}

TEST(JwtTest, Es256SignatureMustBeRawRAndSInRange) {
  auto [priv, pub] = NewKeyPair(false);
  auto signer = *JwtSigner::FromPem(priv);
  auto key = *JwtPublicKey::FromPem(pub);
  const JwtExpectations expect{"idp", "clover", kNow};
  auto token = *signer->Sign(Payload());
  auto jwt = *ParseJwt(token);
  const auto* sig =
      reinterpret_cast<const unsigned char*>(jwt.signature.data());
  BIGNUM* r = BN_bin2bn(sig, 32, nullptr);
  BIGNUM* s = BN_bin2bn(sig + 32, 32, nullptr);
  BIGNUM* n = P256Order();
  BIGNUM* zero = BN_new();
  BN_zero(zero);
  BIGNUM* r_plus_n = BN_new();
  ASSERT_EQ(BN_add(r_plus_n, r, n), 1);
  BIGNUM* half_plus_one = BN_dup(n);
  ASSERT_EQ(BN_rshift1(half_plus_one, n), 1);
  ASSERT_EQ(BN_add_word(half_plus_one, 1), 1);
  std::vector<std::string> bad = {
      WithSignature(token, zero, s), WithSignature(token, r, zero),
      WithSignature(token, n, s), WithSignature(token, r, n),
      WithSignature(token, r, half_plus_one)};
  if (BN_num_bytes(r_plus_n) <= 32)
    bad.push_back(WithSignature(token, r_plus_n, s));
  // Not 64 bytes: the DER form, one byte short, one byte long.
  ECDSA_SIG* ecdsa = ECDSA_SIG_new();
  ASSERT_EQ(ECDSA_SIG_set0(ecdsa, BN_dup(r), BN_dup(s)), 1);
  unsigned char* der = nullptr;
  int der_len = i2d_ECDSA_SIG(ecdsa, &der);
  ECDSA_SIG_free(ecdsa);
  const std::string head = token.substr(0, token.rfind('.') + 1);
  bad.push_back(head + Base64UrlEncode(
                           std::string(reinterpret_cast<char*>(der), der_len)));
  OPENSSL_free(der);
  bad.push_back(head + Base64UrlEncode(jwt.signature.substr(0, 63)));
  bad.push_back(head + Base64UrlEncode(jwt.signature + "x"));
  for (const std::string& t : bad) {
    auto parsed = ParseJwt(t);
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(VerifyJwt(*parsed, *key, expect).code(),
              absl::StatusCode::kUnauthenticated);
  }
  EXPECT_TRUE(
      VerifyJwt(*ParseJwt(WithSignature(token, r, s)), *key, expect).ok());
  for (BIGNUM* b : {r, s, n, zero, r_plus_n, half_plus_one}) BN_free(b);
}

TEST(JwtTest, AlgorithmMustMatchKey) {
  auto [priv, pub] = NewKeyPair(true);
  auto key = *JwtPublicKey::FromPem(pub);
  auto signer = *JwtSigner::FromPem(priv);
  std::string input =
      Base64UrlEncode("{\"alg\":\"ES256\"}") + "." + Base64UrlEncode(Payload());
  std::string token = input + "." + Base64UrlEncode(*signer->SignBytes(input));
  auto jwt = ParseJwt(token);
  ASSERT_TRUE(jwt.ok());
  absl::Status s = VerifyJwt(*jwt, *key, {"idp", "clover", kNow});
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(s.message()), HasSubstr("algorithm"));

  std::string none = Base64UrlEncode("{\"alg\":\"none\"}") + "." +
                     Base64UrlEncode(Payload()) + "." + Base64UrlEncode("x");
  auto unsigned_jwt = ParseJwt(none);
  ASSERT_TRUE(unsigned_jwt.ok());
  EXPECT_FALSE(VerifyJwt(*unsigned_jwt, *key, {"idp", "clover", kNow}).ok());
}

TEST(JwtTest, ParseRejectsMalformed) {
  std::string h = Base64UrlEncode("{\"alg\":\"EdDSA\"}");
  std::string p = Base64UrlEncode(Payload());
  std::string sig = Base64UrlEncode(std::string(64, 'x'));
  EXPECT_TRUE(ParseJwt(h + "." + p + "." + sig).ok());
  for (const std::string& bad :
       {std::string(""), std::string("abc"), h + "." + p,
        h + "." + p + "." + sig + ".x", h + "." + p + ".", h + ".!!." + sig,
        Base64UrlEncode("[1]") + "." + p + "." + sig,
        Base64UrlEncode("{}") + "." + p + "." + sig,
        Base64UrlEncode("{\"alg\":\"EdDSA\",\"crit\":[\"x\"]}") + "." + p +
            "." + sig,
        Base64UrlEncode("{\"alg\":\"EdDSA\",\"jwk\":{}}") + "." + p + "." + sig,
        h + "." + Base64UrlEncode("{\"sub\":1}") + "." + sig,
        h + "." + Base64UrlEncode("{\"exp\":\"soon\"}") + "." + sig,
        h + "." + Base64UrlEncode("{\"aud\":[1]}") + "." + sig,
        h + "." + Base64UrlEncode("{\"sub\":\"a\",\"sub\":\"b\"}") + "." + sig,
        h + "." + Base64UrlEncode("{} trailing") + "." + sig,
        h + "." + Base64UrlEncode("{\"exp\":1e300}") + "." + sig,
        std::string(9000, 'a')}) {
    auto parsed = ParseJwt(bad);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

TEST(JwtTest, KeyLoadingErrors) {
  EXPECT_EQ(JwtPublicKey::FromPem("junk").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(JwtPublicKey::FromPemFile("/nonexistent/key.pem").status().code(),
            absl::StatusCode::kNotFound);
  EVP_PKEY* rsa = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
  ASSERT_NE(rsa, nullptr);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, rsa);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(len));
  BIO_free(bio);
  EVP_PKEY_free(rsa);
  EXPECT_EQ(JwtPublicKey::FromPem(pem).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace clover::gateway
