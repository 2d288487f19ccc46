// JSON Web Tokens (RFC 7519) in compact JWS form (RFC 7515) signed with EdDSA
// over Ed25519 (RFC 8037), ES256 (ECDSA P-256 + SHA-256, RFC 7518 §3.4) or
// RS256 (RSASSA-PKCS1-v1_5 + SHA-256, RFC 7518 §3.3, keys of 2048 to 8192
// bits: what most identity providers sign with).
// Nothing else is accepted: no "none", no HMAC, no "crit" extensions, no
// embedded keys.
//
// Use: ParseJwt (structure only, untrusted), pick the key for the claimed
// subject, then VerifyJwt (algorithm, signature, then exp/nbf/iss/aud). Keys
// are immutable and thread-safe.
#ifndef CLOVER_GATEWAY_JWT_H_
#define CLOVER_GATEWAY_JWT_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace clover::gateway {

enum class JwtAlgorithm { kEdDSA, kES256, kRS256 };
absl::string_view ToString(JwtAlgorithm alg);  // "EdDSA", "ES256", "RS256"

// Strict base64url without padding (RFC 7515 §2): InvalidArgument for any other
// character,
// '=' padding, an impossible length or non-zero trailing bits.
[[nodiscard]] absl::StatusOr<std::string> Base64UrlDecode(absl::string_view in);
std::string Base64UrlEncode(absl::string_view in);

struct JwtClaims {
  std::string sub;
  std::string iss;
  std::vector<std::string> aud;  // "aud" as a string becomes one element
  std::optional<absl::Time> exp;
  std::optional<absl::Time> nbf;
  std::optional<absl::Time> iat;
};

struct ParsedJwt {
  std::string alg;  // as written in the header
  std::string kid;  // "" if absent
  JwtClaims claims;
  std::string
      signing_input;      // "header.payload", the bytes the signature covers
  std::string signature;  // decoded
};

// Parses the compact form without verifying anything cryptographic.
// InvalidArgument (message free of token content) for: more than 8 KiB, not
// three base64url parts, header or payload not a JSON object, a "crit" header,
// duplicate or mistyped registered claims (sub/iss strings, aud string or array
// of strings, exp/nbf/iat numbers).
[[nodiscard]] absl::StatusOr<ParsedJwt> ParseJwt(absl::string_view token);

// A public key accepted for JWT signatures: Ed25519 (EdDSA), P-256 (ES256) or
// RSA of 2048 to 8192 bits (RS256).
class JwtPublicKey {
 public:
  // InvalidArgument if the PEM is not a public key of one of those types.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<JwtPublicKey>> FromPem(
      absl::string_view pem);
  // As FromPem; NotFound if the file cannot be read. Errors name the file.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<JwtPublicKey>>
  FromPemFile(const std::string& path);
  ~JwtPublicKey();

  JwtAlgorithm algorithm() const { return alg_; }
  // Unauthenticated if `signature` (raw Ed25519, or JOSE r||s: exactly 64
  // bytes, r in [1, n-1], s in [1, n/2]) does not verify.
  [[nodiscard]] absl::Status Verify(absl::string_view signing_input,
                                    absl::string_view signature) const;

  struct Key;

 private:
  JwtPublicKey(std::unique_ptr<Key> key, JwtAlgorithm alg);
  std::unique_ptr<Key> key_;
  JwtAlgorithm alg_;
};

struct JwtExpectations {
  std::string issuer;    // must equal "iss"
  std::string audience;  // must be one of "aud"
  absl::Time now;
  absl::Duration leeway =
      absl::Seconds(60);  // clock skew tolerated on exp, nbf and iat
  // The longest a token may be valid: "exp" at most this far after now (plus
  // leeway) and, with "iat", "exp" - "iat" at most this.
  absl::Duration max_lifetime = absl::Hours(24);
};

// Verifies `jwt` against `key` and `expect`. Unauthenticated, with a message
// that never echoes the token, when: the header's alg is not the key's
// algorithm, the signature does not verify or (ES256) is not in its canonical
// form (r in [1, n-1], s in [1, n/2]: a high-S twin of a valid signature is
// refused), exp is missing or passed (beyond leeway), exp is more than
// max_lifetime (plus leeway) ahead, iat is in the future (beyond leeway),
// exp - iat exceeds max_lifetime, nbf is in the future (beyond leeway), or
// iss/aud do not match.
[[nodiscard]] absl::Status VerifyJwt(const ParsedJwt& jwt,
                                     const JwtPublicKey& key,
                                     const JwtExpectations& expect);

// Signs tokens; used by tools, the demo's traffic generator and tests.
// Thread-safe.
class JwtSigner {
 public:
  // From a PEM private key (PKCS#8 or traditional), Ed25519, P-256 or RSA
  // (2048 to 8192 bits); InvalidArgument else.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<JwtSigner>> FromPem(
      absl::string_view pem);
  ~JwtSigner();

  JwtAlgorithm algorithm() const { return alg_; }
  // A compact JWS of `payload_json` (taken as is) with header
  // {"alg":..,"typ":"JWT"}.
  [[nodiscard]] absl::StatusOr<std::string> Sign(
      absl::string_view payload_json) const;
  // The signature over arbitrary bytes in JOSE form, ES256 with low S (for
  // building unusual tokens in tests).
  [[nodiscard]] absl::StatusOr<std::string> SignBytes(
      absl::string_view data) const;

 private:
  JwtSigner(std::unique_ptr<JwtPublicKey::Key> key, JwtAlgorithm alg);
  std::unique_ptr<JwtPublicKey::Key> key_;
  JwtAlgorithm alg_;
};

}  // namespace clover::gateway

#endif  // CLOVER_GATEWAY_JWT_H_
