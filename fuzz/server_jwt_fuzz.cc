// Fuzzes the JWT parser and verifier: no input may crash, and whatever parses
// must survive verification against fixed Ed25519 and P-256 keys (which it must
// never pass).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using clover::gateway::JwtPublicKey;
  static const auto* ed = JwtPublicKey::FromPem(kEd25519Pem)->release();
  static const auto* ec = JwtPublicKey::FromPem(kP256Pem)->release();
  absl::string_view input(reinterpret_cast<const char*>(data), size);

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
