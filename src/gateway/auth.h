// Authentication of requests against the deployment's principals
// (config/deployment.h).
//
// Credentials, in order of precedence:
//   1. `Authorization: Bearer <token>`: a JWT if the token has the compact form
//      (three dot-separated parts), else an API key;
//   2. `X-Api-Key: <key>`;
//   3. the verified mTLS client certificate subject
//   (HttpRequest::client_cert_subject, RFC 2253
//      form as produced by server/http_server.h), matched exactly against
//      Credentials::cert_subject.
// A presented credential that fails is an error; the authenticator does not
// fall back to a weaker one.
//
// API keys: SHA-256 of the presented key looked up in a hash map of the
// configured hashes, then compared with CRYPTO_memcmp, so lookup is O(1) and
// the final comparison constant-time. JWTs: the `sub` claim names the
// principal; the signature must verify with that principal's configured key
// (EdDSA, ES256 or RS256), and exp/nbf (with leeway), iss and aud must match
// its configuration. A JWT whose "iss" is an identity provider's
// (AuthOptions::identity_providers) is verified with that provider's JWKS
// instead (gateway/jwks_cache.h), and its configured claim names the
// principal (credentials.jwt.provider + subject).
//
// Error messages never contain a presented secret. Thread-safe after
// construction.
#ifndef CLOVER_GATEWAY_AUTH_H_
#define CLOVER_GATEWAY_AUTH_H_

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "config/deployment.h"
#include "core/clock.h"
#include "gateway/jwks_cache.h"
#include "gateway/jwt.h"
#include "server/http.h"

namespace clover::gateway {

struct AuthOptions {
  const Clock* clock =
      nullptr;  // nullptr = SystemClock(); must outlive the authenticator
  absl::Duration jwt_leeway = absl::Seconds(60);
  // JWKS-backed token issuers; principals with credentials.jwt.provider must
  // name one of them.
  std::vector<std::shared_ptr<JwksIdentityProvider>> identity_providers{};
};

class Authenticator {
 public:
  // Indexes `principals` (copied). InvalidArgument, naming the principal and
  // field, for an api_key_sha256 that is not 64 hex digits, an API key hash,
  // certificate subject or id used twice, or a JWT credential with an empty
  // issuer/audience or a key file that is not an Ed25519/P-256 public key;
  // NotFound if a key file cannot be read.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Authenticator>> Create(
      const std::vector<Principal>& principals, AuthOptions options = {});

  // The principal behind `request`, or Unauthenticated saying what was wrong
  // (no credentials, unknown API key, unmapped certificate, invalid/expired
  // JWT, ...). The pointer stays valid for the authenticator's lifetime.
  [[nodiscard]] absl::StatusOr<const Principal*> Authenticate(
      const server::HttpRequest& request) const;

  // The single mechanisms, for callers that already know which credential they
  // hold.
  [[nodiscard]] absl::StatusOr<const Principal*> AuthenticateApiKey(
      absl::string_view key) const;
  [[nodiscard]] absl::StatusOr<const Principal*> AuthenticateCertSubject(
      absl::string_view subject) const;
  [[nodiscard]] absl::StatusOr<const Principal*> AuthenticateJwt(
      absl::string_view token) const;

  // identity_unavailable when an identity provider's keys are stale
  // (for /readyz).
  std::optional<HealthProblem> IdentityHealth() const;

 private:
  struct JwtEntry {
    const Principal* principal;
    std::unique_ptr<JwtPublicKey> key;
  };
  Authenticator() = default;

  AuthOptions options_;
  std::vector<std::unique_ptr<Principal>> principals_;
  // Raw 32-byte SHA-256 -> principal.
  absl::flat_hash_map<std::string, const Principal*> by_key_hash_;
  absl::flat_hash_map<std::string, const Principal*> by_subject_;
  absl::flat_hash_map<std::string, JwtEntry>
      by_jwt_subject_;  // principal id -> key
  // provider id + '\n' + claim value -> principal.
  absl::flat_hash_map<std::string, const Principal*> by_provider_subject_;
};

}  // namespace clover::gateway

#endif  // CLOVER_GATEWAY_AUTH_H_
