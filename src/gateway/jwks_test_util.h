// Test-only: an identity provider's side of JWKS — fresh signing keys
// (Ed25519, P-256, RSA-2048), their public JWKs, and tokens with a chosen
// header. Used by jwks_test.cc and tests/jwks_e2e_test.cc.
#ifndef CLOVER_GATEWAY_JWKS_TEST_UTIL_H_
#define CLOVER_GATEWAY_JWKS_TEST_UTIL_H_

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gateway/jwt.h"

namespace clover::gateway::testing {

// One provider key: its private half signs, its JWK is published.
struct IdpKey {
  std::string kid;
  std::string alg;  // "EdDSA", "ES256", "RS256"
  std::string jwk;  // the public JWK, JSON
  std::string public_pem;
  std::unique_ptr<JwtSigner> signer;

  // A compact JWS of `payload` with header {"alg":alg_override or alg,
  // "kid":kid,"typ":"JWT"}.
  std::string Token(const std::string& payload,
                    const std::string& alg_override = "") const {
    std::string header =
        absl::StrCat("{\"alg\":\"", alg_override.empty() ? alg : alg_override,
                     "\",\"kid\":\"", kid, "\",\"typ\":\"JWT\"}");
    std::string input =
        absl::StrCat(Base64UrlEncode(header), ".", Base64UrlEncode(payload));
    auto sig = signer->SignBytes(input);
    return absl::StrCat(input, ".", Base64UrlEncode(sig.ok() ? *sig : ""));
  }
};

inline std::string Bn(const EVP_PKEY* pkey, const char* name) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1) return "";
  std::string out(static_cast<size_t>(BN_num_bytes(bn)), '\0');
  BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
  BN_free(bn);
  return Base64UrlEncode(out);
}

// A new key of `alg` named `kid`; nullptr on failure.
inline std::unique_ptr<IdpKey> MakeIdpKey(const std::string& alg,
                                          const std::string& kid) {
  EVP_PKEY* pkey = nullptr;
  std::string members;
  if (alg == "EdDSA") {
    pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
    unsigned char raw[32];
    size_t len = sizeof(raw);
    if (pkey == nullptr || EVP_PKEY_get_raw_public_key(pkey, raw, &len) != 1)
      return nullptr;
    members = absl::StrCat(
        "\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"",
        Base64UrlEncode(std::string(reinterpret_cast<char*>(raw), len)), "\"");
  } else if (alg == "ES256") {
    pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
    unsigned char pub[65];
    size_t len = 0;
    if (pkey == nullptr ||
        EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY, pub,
                                        sizeof(pub), &len) != 1 ||
        len != 65)
      return nullptr;
    std::string p(reinterpret_cast<char*>(pub), len);
    members = absl::StrCat("\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"",
                           Base64UrlEncode(p.substr(1, 32)), "\",\"y\":\"",
                           Base64UrlEncode(p.substr(33, 32)), "\"");
  } else if (alg == "RS256") {
    pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048});
    if (pkey == nullptr) return nullptr;
    members = absl::StrCat("\"kty\":\"RSA\",\"n\":\"",
                           Bn(pkey, OSSL_PKEY_PARAM_RSA_N), "\",\"e\":\"",
                           Bn(pkey, OSSL_PKEY_PARAM_RSA_E), "\"");
  } else {
    return nullptr;
  }
  auto key = std::make_unique<IdpKey>();
  key->kid = kid;
  key->alg = alg;
  key->jwk = absl::StrCat("{", members, ",\"kid\":\"", kid,
                          "\",\"use\":\"sig\",\"alg\":\"", alg, "\"}");
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, pkey, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string priv(data, static_cast<size_t>(n));
  BIO_free(bio);
  bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, pkey);
  n = BIO_get_mem_data(bio, &data);
  key->public_pem.assign(data, static_cast<size_t>(n));
  BIO_free(bio);
  EVP_PKEY_free(pkey);
  auto signer = JwtSigner::FromPem(priv);
  if (!signer.ok()) return nullptr;
  key->signer = *std::move(signer);
  return key;
}

// {"keys":[jwk, ...]}
inline std::string Jwks(const std::vector<const IdpKey*>& keys) {
  std::vector<std::string> jwks;
  for (const IdpKey* k : keys) jwks.push_back(k->jwk);
  return absl::StrCat("{\"keys\":[", absl::StrJoin(jwks, ","), "]}");
}

}  // namespace clover::gateway::testing

#endif  // CLOVER_GATEWAY_JWKS_TEST_UTIL_H_
