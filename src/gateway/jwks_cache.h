// An identity provider's JWKS (gateway/jwks.h), fetched, cached and rotated,
// and the verification of the tokens it issues (docs/security.md "Identity
// providers").
//
// JwksCache holds the last good key set:
//   - refreshed every refresh_interval by a background thread (Start), and on
//     a token whose kid is not in the set, at most once per
//     min_refresh_interval whatever the number of such tokens (a flood of
//     random kids costs the provider one fetch per interval, never one per
//     token), single-flight (concurrent requests wait for one fetch);
//   - a failed fetch or a document ParseJwks refuses keeps the last good set
//     and is logged (provider id and cause; never key material or tokens);
//   - fail closed: once the last successful fetch is older than
//     max_staleness (or there never was one) no key is returned and Health()
//     reports identity_unavailable (the node's /readyz).
// Removal works as the provider intends: the set is replaced whole, so a kid
// the provider dropped is refused after the next refresh.
//
// Thread-safety: all methods may be called from any thread.
#ifndef CLOVER_GATEWAY_JWKS_CACHE_H_
#define CLOVER_GATEWAY_JWKS_CACHE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "config/deployment.h"
#include "core/clock.h"
#include "gateway/health.h"
#include "gateway/jwks.h"
#include "gateway/jwt.h"

namespace clover::gateway {

// Returns the JWKS document's bytes, or why not.
using JwksFetcher = std::function<absl::StatusOr<std::string>()>;

// The fetcher for `c`: jwks_file read from disk, or jwks_url fetched with
// net::HttpClient (TLS verified against ca_file or the system CAs; 200
// expected; at most kMaxJwksBytes + 1 bytes read, so a huge answer is refused
// by ParseJwks, not buffered).
JwksFetcher MakeJwksFetcher(const IdentityProviderConfig& c);

struct JwksCacheOptions {
  std::string name;  // the provider id, for logs
  absl::Duration refresh_interval = absl::Minutes(5);
  absl::Duration min_refresh_interval = absl::Seconds(30);
  absl::Duration max_staleness = absl::Hours(24);
  const Clock* clock = nullptr;  // nullptr: SystemClock()
};

class JwksCache {
 public:
  JwksCache(JwksFetcher fetch, JwksCacheOptions options);
  ~JwksCache();  // stops the refresh thread
  JwksCache(const JwksCache&) = delete;
  JwksCache& operator=(const JwksCache&) = delete;

  // Fetches and parses now. On success the set is replaced; on failure the
  // last good set stays and the error is returned (and logged).
  absl::Status Refresh();
  // Starts the background refresh (every refresh_interval, real time).
  void Start();

  // The key for `kid`. An unknown kid triggers a refresh when the last
  // attempt is at least min_refresh_interval old. Errors: Unauthenticated
  // "unknown kid" (message free of the kid); Unavailable when there is no set
  // or it is older than max_staleness.
  [[nodiscard]] absl::StatusOr<std::shared_ptr<const JwtPublicKey>> Find(
      absl::string_view kid);

  // identity_unavailable when Find would answer Unavailable.
  std::optional<HealthProblem> Health() const;
  int64_t fetch_count() const { return fetches_.load(); }

 private:
  absl::Status RefreshLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(fetch_mu_);
  absl::Status Stale(absl::Time now) const ABSL_SHARED_LOCKS_REQUIRED(mu_);

  const JwksFetcher fetch_;
  const JwksCacheOptions options_;
  std::atomic<int64_t> fetches_{0};
  // Held for a whole fetch: one fetch at a time.
  absl::Mutex fetch_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  mutable absl::Mutex mu_;
  std::shared_ptr<const JwkSet> set_ ABSL_GUARDED_BY(mu_);
  absl::Time last_success_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Time last_attempt_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

// One configured provider: its cache and the checks on its tokens.
class JwksIdentityProvider {
 public:
  // `fetch` nullptr: MakeJwksFetcher(config). Does not fetch: call
  // cache().Refresh() and cache().Start().
  JwksIdentityProvider(IdentityProviderConfig config, const Clock* clock,
                       JwksFetcher fetch = nullptr);

  const IdentityProviderConfig& config() const { return config_; }
  JwksCache& cache() { return cache_; }
  const JwksCache& cache() const { return cache_; }

  // Verifies `jwt` (whose "iss" is this provider's): a kid is required, its
  // key's algorithm must be the header's, then signature, exp/nbf/iat (with
  // leeway and max_lifetime), iss and aud (gateway/jwt.h VerifyJwt). Returns
  // the value of the configured claim (a non-empty string). Errors:
  // Unauthenticated for a token that fails; Unavailable when the keys are
  // stale (fail closed).
  [[nodiscard]] absl::StatusOr<std::string> Verify(const ParsedJwt& jwt,
                                                   absl::Time now);

 private:
  const IdentityProviderConfig config_;
  JwksCache cache_;
};

}  // namespace clover::gateway

#endif  // CLOVER_GATEWAY_JWKS_CACHE_H_
