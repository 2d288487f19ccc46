#include "gateway/jwt.h"

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <memory>
#include <string>

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

INSTANTIATE_TEST_SUITE_P(EdDSAAndES256, JwtKeysTest, ::testing::Bool());

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
