// The residency of a region's replicas at run time (issue 19): where the
// members of the region's replicated PostgreSQL actually are, compared with
// the data centres the deployment declares for the region.
//
// The rule (docs/operations.md, "Residency"): every Patroni member and every
// streaming replica must be a declared DC of the node's region.
//   - A Patroni member is matched by its name, which must be the id of a DC of
//     the region (the Patroni `name:` setting); when that DC declares
//     db_hosts, the member's PostgreSQL address (host, port) must be one of
//     them.
//   - A replica in the leader's pg_stat_replication is matched by its
//     application_name (Patroni sets it to the member name), which must be the
//     id of a DC of the region; when that DC declares db_hosts by IP address,
//     the replica's client_addr must be one of those addresses.
// A member or replica that is not is a violation: the node reports it (log,
// clover_topology_violations) and turns not-ready (/readyz 503,
// reason topology_violation) until the topology is back within the region.
#ifndef CLOVER_REGION_TOPOLOGY_H_
#define CLOVER_REGION_TOPOLOGY_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "config/deployment.h"

namespace clover::region {

// A member as Patroni's GET /cluster lists it.
struct ObservedMember {
  std::string name;
  std::string host;  // its PostgreSQL address
  int port = 0;
  std::string role;   // "leader", "sync_standby", "replica", ...
  std::string state;  // "running", "streaming", ...
};

// A row of the leader's pg_stat_replication.
struct ObservedReplica {
  std::string application_name;
  std::string client_addr;  // empty for a unix-socket client
  std::string sync_state;   // "sync", "quorum", "potential", "async"
};

struct ObservedTopology {
  std::vector<ObservedMember> members;
  std::vector<ObservedReplica> replicas;
};

struct TopologyViolation {
  std::string who;     // "member us-east-1" or "replica us-east-1"
  std::string reason;  // one sentence
  std::string ToString() const { return who + ": " + reason; }
};

// The pure comparison: every violation of the rule above, in the order
// observed. Empty when the topology lies within `region`.
[[nodiscard]] std::vector<TopologyViolation> CheckTopology(
    const Region& region, const ObservedTopology& observed);

// Parses Patroni's GET /cluster answer. Errors: InvalidArgument.
[[nodiscard]] absl::StatusOr<std::vector<ObservedMember>> ParsePatroniCluster(
    absl::string_view body);

// Reads the topology: GET <url>/cluster of the first of `patroni_urls` that
// answers 200, and pg_stat_replication through `dsn` (a read-write session,
// so the leader's; no replicas are read when `dsn` is empty). Each call
// bounded by `timeout`. Errors: Unavailable when no Patroni API answers or the
// database cannot be queried; messages name neither the DSN nor credentials
// in a URL.
[[nodiscard]] absl::StatusOr<ObservedTopology> ObserveTopology(
    const std::vector<std::string>& patroni_urls, const std::string& dsn,
    absl::Duration timeout);

// Runs ObserveTopology + CheckTopology every `interval` on its own thread
// (off the request path) for the node's region, from construction until
// destruction. A failed observation is logged and leaves the last verdict in
// place (the database being down is storage_unavailable's business, not a
// residency violation). Thread-safe.
class TopologyMonitor {
 public:
  using Observer = std::function<absl::StatusOr<ObservedTopology>()>;
  // `on_violations(n)` is called after each check that found n > 0 (e.g. to
  // count clover_topology_violations).
  TopologyMonitor(Region region, Observer observe, absl::Duration interval,
                  std::function<void(uint64_t)> on_violations);
  ~TopologyMonitor();
  TopologyMonitor(const TopologyMonitor&) = delete;
  TopologyMonitor& operator=(const TopologyMonitor&) = delete;

  // The violations of the last completed check ("" when none, or no check
  // has completed yet), one line, "; "-separated.
  [[nodiscard]] std::string Violations() const;
  // Checks completed (observation succeeded), for tests waiting on one.
  [[nodiscard]] uint64_t checks() const { return checks_.load(); }

 private:
  void CheckOnce();

  const Region region_;
  const Observer observe_;
  const absl::Duration interval_;
  const std::function<void(uint64_t)> on_violations_;
  mutable absl::Mutex mu_;
  std::string violations_ ABSL_GUARDED_BY(mu_);
  std::atomic<uint64_t> checks_{0};
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace clover::region

#endif  // CLOVER_REGION_TOPOLOGY_H_
