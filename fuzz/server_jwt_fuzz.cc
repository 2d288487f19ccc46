// Fuzzes the JWT parser and verifier: no input may crash, and whatever parses
// must survive verification against fixed Ed25519 and P-256 keys (which it must
// never pass). The ES256 signer's output over the input must always be in the
// one canonical form the verifier accepts (low S), and verify.
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gateway/jwt.h"

namespace {

// RFC 8037 A.2's Ed25519 public key and a throwaway P-256 key, as PEM.
constexpr char kEd25519Pem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n"
    "-----END PUBLIC KEY-----\n";
constexpr char kP256Pem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE+pqlacLILH6TJUVyF41ngjjBJmaG\n"
    "7TH5Xif67cJh5dIXTZ8+aS6S1AiSSKPCIaNBB30aOcojidEetnYlYujcdA==\n"
    "-----END PUBLIC KEY-----\n";

// A P-256 key pair made once per run: (signer, its public key).
std::pair<clover::gateway::JwtSigner*, clover::gateway::JwtPublicKey*>
P256Pair() {
  EVP_PKEY* pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  if (pkey == nullptr) __builtin_trap();
  auto pem = [&](bool priv) {
    BIO* bio = BIO_new(BIO_s_mem());
    if (priv) {
      PEM_write_bio_PrivateKey(bio, pkey, nullptr, nullptr, 0, nullptr,
                               nullptr);
    } else {
      PEM_write_bio_PUBKEY(bio, pkey);
    }
    char* out = nullptr;
    long len = BIO_get_mem_data(bio, &out);
    std::string text(out, static_cast<size_t>(len));
    BIO_free(bio);
    return text;
  };
  auto signer = clover::gateway::JwtSigner::FromPem(pem(true));
  auto key = clover::gateway::JwtPublicKey::FromPem(pem(false));
  EVP_PKEY_free(pkey);
  if (!signer.ok() || !key.ok()) __builtin_trap();
  return {signer->release(), key->release()};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using clover::gateway::JwtPublicKey;
  static const auto* ed = JwtPublicKey::FromPem(kEd25519Pem)->release();
  static const auto* ec = JwtPublicKey::FromPem(kP256Pem)->release();
  absl::string_view input(reinterpret_cast<const char*>(data), size);

  static const auto p256 = P256Pair();
  if (size <= 256) {  // signing is slow; short inputs cover its branches
    auto sig = p256.first->SignBytes(input);
    if (!sig.ok() || !p256.second->Verify(input, *sig).ok()) __builtin_trap();
  }

  auto decoded = clover::gateway::Base64UrlDecode(input);
  if (decoded.ok() && clover::gateway::Base64UrlEncode(*decoded) != input)
    __builtin_trap();

  auto jwt = clover::gateway::ParseJwt(input);
  if (!jwt.ok()) return 0;
  clover::gateway::JwtExpectations expect{"iss", "aud",
                                          absl::FromUnixSeconds(1700000000)};
  if (clover::gateway::VerifyJwt(*jwt, *ed, expect).ok()) __builtin_trap();
  if (clover::gateway::VerifyJwt(*jwt, *ec, expect).ok()) __builtin_trap();
  return 0;
}
