// Internal to the gateway: what the node's /readyz answers, and the recent
// failures it rests on besides the probes it runs itself.
//
// Not ready (503, {"status":"not_ready","node":…,"reason":…,"message":…},
// Retry-After) in this order of checks:
//   topology_violation   a replica of the region's database outside the
//                        region (region/topology.h)
//   storage_unavailable  the vault's storage does not answer a ping
//   key_unavailable      the KEK cannot wrap a probe key (a PKCS#11 token
//                        gone or logged out; never a key release: Wrap is
//                        local), or a key release failed within the hold
//                        time (the service unreachable or refusing: the
//                        region cut off)
//   log_unavailable      the last append to the decision log failed, within
//                        the hold time, with no success since
//   identity_unavailable an identity provider's JWKS is older than its
//                        max_staleness or was never fetched
//                        (gateway/jwks_cache.h)
// Ready: 200 {"status":"ready","node":…,"log_size":…}. The messages name no
// host, file or member: the answer is unauthenticated; details go to the
// node's log (core/logger.h).
//
// A recorded failure holds for `hold` (10 s) after its last occurrence and
// clears at the next success: a node taken out of rotation gets few
// requests, so it must come back by itself for the balancer to try it again.
//
// Thread-safety: every method may be called from any thread.
#ifndef CLOVER_GATEWAY_HEALTH_H_
#define CLOVER_GATEWAY_HEALTH_H_

#include <atomic>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace clover::gateway {

struct HealthProblem {
  std::string reason;   // e.g. "log_unavailable"
  std::string message;  // for the client: no host, file or secret
};

class FailureWindow {
 public:
  explicit FailureWindow(absl::Duration hold = absl::Seconds(10))
      : hold_(hold) {}
  // A failure: the cause goes to the node's log (at most once per hold
  // time), the problem to /readyz.
  void Failed(HealthProblem problem, const absl::Status& cause);
  void Succeeded();
  std::optional<HealthProblem> Current(absl::Time now) const;

 private:
  const absl::Duration hold_;
  // Set while a problem is recorded: a success (every append) then costs
  // one relaxed load, not a lock.
  std::atomic<bool> failing_{false};
  mutable absl::Mutex mu_;
  std::optional<HealthProblem> problem_ ABSL_GUARDED_BY(mu_);
  absl::Time last_failure_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Time last_logged_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

// Failures of the key release service (gateway/key_release.h), per process
// (a node process has one vault and one release client), held 5 s: the
// release client reports no success, and with keys.release.status_poll a
// cut-off region fails again at every poll.
FailureWindow& KeyReleaseHealth();

}  // namespace clover::gateway

#endif  // CLOVER_GATEWAY_HEALTH_H_
