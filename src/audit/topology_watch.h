// The auditor's side of the residency check of a region's replicas (issue 19,
// item 3; the node's side is region/topology.h, with the same rule:
// docs/operations.md, "Residency of replicas"). The auditor reads each
// configured region's actual topology — Patroni's GET /cluster through the
// region's Patroni REST APIs and, when it is given a read-only DSN, the
// leader's pg_stat_replication — compares it with the DCs the auditor's own
// config declares for the region, and reports a `topology_violation` (severity
// high) for every member or replica outside them.
//
// One finding per violation episode: a member or replica is reported when a
// check first finds it outside the region, not again while it stays there,
// and again once it has been back within the region and leaves it anew. The
// finding's key is "topology_violation/<region>/<who>", so an auditor that
// restarts during an episode adds an occurrence to the open incident instead
// of opening a second one. A check that cannot observe the topology (no
// Patroni API answers, the database is unreachable) raises nothing and leaves
// the episodes as they were: an outage is not a residency violation.
//
// Evidence names the member (Patroni name), its address and role, whether its
// name is a declared DC, and the region's declared DCs; never a DSN, password
// or URL credentials.
//
// Thread-safety: Check is not thread-safe (the auditor calls it from its
// polling thread, or a test from one thread).
#ifndef CLOVER_AUDIT_TOPOLOGY_WATCH_H_
#define CLOVER_AUDIT_TOPOLOGY_WATCH_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "audit/incident.h"
#include "config/deployment.h"
#include "region/topology.h"

namespace clover::audit {

inline constexpr absl::string_view kDetectorTopologyViolation =
    "topology_violation";

// One region whose replicas the auditor watches (`topology.regions[]`).
struct RegionTopologyConfig {
  // The region's id and its declared DCs (id, optional db_hosts), as the
  // auditor knows them: not taken from the operator's deployment.
  Region region;
  // Base URLs of the region's Patroni REST APIs ("http://host:8008"); the
  // first that answers is asked for /cluster.
  std::vector<std::string> patroni_urls;
  // Optional: a libpq DSN (read from a secret file) of a role that may read
  // pg_stat_replication on the leader; also catches streaming replicas that
  // Patroni does not manage. Never logged or put in evidence.
  std::string dsn;
};

class TopologyWatch {
 public:
  using Observer = std::function<absl::StatusOr<region::ObservedTopology>(
      const RegionTopologyConfig&)>;
  // `observe` defaults to ObserveRegion with `timeout` per call.
  explicit TopologyWatch(std::vector<RegionTopologyConfig> regions,
                         absl::Duration timeout = absl::Seconds(5),
                         Observer observe = nullptr);

  // Checks every region once; returns a finding for each violation that
  // began since the previous check (see the file comment).
  [[nodiscard]] std::vector<Finding> Check(absl::Time now);

  // Checks completed (observation succeeded), over all regions.
  [[nodiscard]] uint64_t checks() const { return checks_; }

 private:
  std::vector<RegionTopologyConfig> regions_;
  Observer observe_;
  // Per region: the `who` of each violation the last successful check found.
  std::vector<absl::flat_hash_set<std::string>> current_;
  uint64_t checks_ = 0;
};

// Reads the region's topology: the Patroni members (GET <url>/cluster of the
// first URL that answers 200), and with a DSN the leader's
// pg_stat_replication. Errors: Unavailable when no Patroni API answers or the
// database cannot be read (messages name no DSN).
[[nodiscard]] absl::StatusOr<region::ObservedTopology> ObserveRegion(
    const RegionTopologyConfig& config, absl::Duration timeout);

}  // namespace clover::audit

#endif  // CLOVER_AUDIT_TOPOLOGY_WATCH_H_
