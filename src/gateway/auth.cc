#include "gateway/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/clock.h"
#include "crypto/sha256.h"

namespace clover::gateway {
namespace {

constexpr size_t kSha256Bytes = 32;
constexpr size_t kMaxApiKeyBytes = 1024;

int HexNibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The digest as the string the key index is keyed by (crypto::Sha256 uses a
// digest fetched once, not an implicit fetch per call).
std::string Sha256(absl::string_view data) {
  const crypto::Sha256Digest d = crypto::Sha256(data);
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

absl::Status BadPrincipal(const Principal& p, absl::string_view field,
                          absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("principal '", p.id, "': field '", field, "': ", why));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Authenticator>> Authenticator::Create(
    const std::vector<Principal>& principals, AuthOptions options) {
  std::unique_ptr<Authenticator> auth(new Authenticator());
  if (options.clock == nullptr) options.clock = &SystemClock();
  auth->options_ = options;
  absl::flat_hash_map<std::string, bool> ids;
  for (const Principal& source : principals) {
    if (!ids.emplace(source.id, true).second) {
      return BadPrincipal(source, "id", "used by two principals");
    }
    auto owned = std::make_unique<Principal>(source);
    const Principal* p = owned.get();
    auth->principals_.push_back(std::move(owned));
    const Credentials& cred = p->credentials;
    if (!cred.api_key_sha256.empty()) {
      if (cred.api_key_sha256.size() != 2 * kSha256Bytes) {
        return BadPrincipal(*p, "credentials.api_key_sha256",
                            "must be 64 hex digits");
      }
      std::string raw(kSha256Bytes, '\0');
      for (size_t i = 0; i < kSha256Bytes; ++i) {
        int hi = HexNibble(cred.api_key_sha256[2 * i]);
        int lo = HexNibble(cred.api_key_sha256[2 * i + 1]);
        if (hi < 0 || lo < 0) {
          return BadPrincipal(*p, "credentials.api_key_sha256",
                              "must be 64 hex digits");
        }
        raw[i] = static_cast<char>(hi * 16 + lo);
      }
      if (!auth->by_key_hash_.emplace(std::move(raw), p).second) {
        return BadPrincipal(
            *p, "credentials.api_key_sha256",
            "the same API key is configured for another principal");
      }
    }
    if (!cred.cert_subject.empty() &&
        !auth->by_subject_.emplace(cred.cert_subject, p).second) {
      return BadPrincipal(
          *p, "credentials.cert_subject",
          "the same subject is configured for another principal");
    }
    if (cred.jwt.has_value() && !cred.jwt->provider.empty()) {
      bool known = false;
      for (const auto& idp : options.identity_providers)
        known = known || idp->config().id == cred.jwt->provider;
      if (!known) {
        return BadPrincipal(*p, "credentials.jwt.provider",
                            "not a configured identity provider");
      }
      if (!auth->by_provider_subject_
               .emplace(
                   absl::StrCat(cred.jwt->provider, "\n", cred.jwt->subject), p)
               .second) {
        return BadPrincipal(*p, "credentials.jwt.subject",
                            "mapped to another principal too");
      }
    } else if (cred.jwt.has_value()) {
      if (cred.jwt->issuer.empty())
        return BadPrincipal(*p, "credentials.jwt.issuer", "empty");
      if (cred.jwt->audience.empty()) {
        return BadPrincipal(*p, "credentials.jwt.audience", "empty");
      }
      auto key = JwtPublicKey::FromPemFile(cred.jwt->public_key_file);
      if (!key.ok()) {
        std::string why(key.status().message());
        absl::Status s =
            BadPrincipal(*p, "credentials.jwt.public_key_file", why);
        if (absl::IsNotFound(key.status()))
          return absl::NotFoundError(s.message());
        return s;
      }
      auth->by_jwt_subject_.emplace(p->id, JwtEntry{p, *std::move(key)});
    }
  }
  return auth;
}

absl::StatusOr<const Principal*> Authenticator::Authenticate(
    const server::HttpRequest& request) const {
  absl::string_view authorization = request.Header("authorization");
  if (!authorization.empty()) {
    constexpr absl::string_view kBearer = "bearer ";
    if (authorization.size() <= kBearer.size() ||
        !absl::EqualsIgnoreCase(authorization.substr(0, kBearer.size()),
                                kBearer)) {
      return absl::UnauthenticatedError(
          "unsupported Authorization scheme (use Bearer)");
    }
    absl::string_view token =
        absl::StripAsciiWhitespace(authorization.substr(kBearer.size()));
    if (std::count(token.begin(), token.end(), '.') == 2)
      return AuthenticateJwt(token);
    return AuthenticateApiKey(token);
  }
  absl::string_view api_key = request.Header("x-api-key");
  if (!api_key.empty())
    return AuthenticateApiKey(absl::StripAsciiWhitespace(api_key));
  if (!request.client_cert_subject.empty()) {
    return AuthenticateCertSubject(request.client_cert_subject);
  }
  return absl::UnauthenticatedError(
      "no credentials: send 'Authorization: Bearer', 'X-Api-Key' or a client "
      "certificate");
}

absl::StatusOr<const Principal*> Authenticator::AuthenticateApiKey(
    absl::string_view key) const {
  if (key.empty() || key.size() > kMaxApiKeyBytes) {
    return absl::UnauthenticatedError("unknown API key");
  }
  std::string digest = Sha256(key);
  auto it = by_key_hash_.find(digest);
  if (it == by_key_hash_.end() ||
      CRYPTO_memcmp(it->first.data(), digest.data(), kSha256Bytes) != 0) {
    return absl::UnauthenticatedError("unknown API key");
  }
  return it->second;
}

absl::StatusOr<const Principal*> Authenticator::AuthenticateCertSubject(
    absl::string_view subject) const {
  auto it = by_subject_.find(subject);
  if (it == by_subject_.end()) {
    return absl::UnauthenticatedError(absl::StrCat(
        "client certificate subject '", subject, "' is not a known principal"));
  }
  return it->second;
}

absl::StatusOr<const Principal*> Authenticator::AuthenticateJwt(
    absl::string_view token) const {
  auto jwt = ParseJwt(token);
  if (!jwt.ok()) return absl::UnauthenticatedError(jwt.status().message());
  for (const auto& idp : options_.identity_providers) {
    if (jwt->claims.iss != idp->config().issuer) continue;
    absl::StatusOr<std::string> subject =
        idp->Verify(*jwt, options_.clock->Now());
    if (!subject.ok()) return subject.status();
    auto found = by_provider_subject_.find(
        absl::StrCat(idp->config().id, "\n", *subject));
    if (found == by_provider_subject_.end()) {
      return absl::UnauthenticatedError(
          absl::StrCat("invalid JWT: claim '", idp->config().claim,
                       "' is not mapped to a principal of identity provider '",
                       idp->config().id, "'"));
    }
    return found->second;
  }
  auto it = by_jwt_subject_.find(jwt->claims.sub);
  if (jwt->claims.sub.empty() || it == by_jwt_subject_.end()) {
    return absl::UnauthenticatedError(
        "invalid JWT: 'sub' is not a principal with a JWT key");
  }
  const JwtCredential& cred = *it->second.principal->credentials.jwt;
  JwtExpectations expect{cred.issuer, cred.audience, options_.clock->Now(),
                         options_.jwt_leeway};
  expect.max_lifetime = cred.max_lifetime;
  if (absl::Status s = VerifyJwt(*jwt, *it->second.key, expect); !s.ok())
    return s;
  return it->second.principal;
}

}  // namespace clover::gateway

namespace clover::gateway {

std::optional<HealthProblem> Authenticator::IdentityHealth() const {
  for (const auto& idp : options_.identity_providers) {
    if (auto problem = idp->cache().Health(); problem.has_value())
      return problem;
  }
  return std::nullopt;
}

}  // namespace clover::gateway
