// `clover region up|down|status`: the example deployment's EU region run for
// real on loopback — per EU data centre one etcd member, one Patroni-managed
// PostgreSQL 15 member (region/cluster.h: strict synchronous replication) and
// one gateway node (`clover serve`, storage.driver postgres with the region's
// multi-host DSN) — plus one embedded node per DC of every other region (the
// US node).
//
// Everything lives in a data directory Clover owns (core/owned_dir.h):
//   D/.clover-owned   the ownership marker
//   D/cluster/        etcd and PostgreSQL members (owned by the postgres user
//                     when run as root)
//   D/nodes/          generated keys, node configurations, node data and logs
//   D/region.json     the state file: every process started, with the
//                     identity it had (pid, start time, a path its command
//                     line names), the endpoints, ports and DSN.
//
// Only processes the state file records, and only while they still are the
// very process recorded (same start time, command line naming D), are ever
// signalled: a pid reused by another program is left alone.
//
// Thread-safety: the functions are not meant to run concurrently on the same
// directory.
#ifndef CLOVER_REGION_REGION_UP_H_
#define CLOVER_REGION_REGION_UP_H_

#include <sys/types.h>

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace clover::region {

inline constexpr char kRegionStateFile[] = "region.json";

struct RegionUpOptions {
  std::string config = "examples/deployment.yaml";
  std::string data_dir;
  // The `clover` binary run as each gateway node; empty: this process's own.
  std::string clover_binary;
  // The region replicated on the cluster (its DCs get the PostgreSQL
  // members); every other region's DCs run embedded nodes.
  std::string region = "eu";
  // Patroni's timing (loop_wait + 2 * retry_timeout <= ttl; ttl >= 20).
  // loop_wait 1: a new leader and its synchronous standby are settled one
  // or two loops after the dead leader's key expires (docs/operations.md,
  // "Tuning the failover").
  int ttl_seconds = 20;
  int loop_wait_seconds = 1;
  int retry_timeout_seconds = 5;
  // How long a gateway's storage call keeps reconnecting before a 503.
  int postgres_retry_seconds = 5;
  // Bound on the whole bring-up.
  absl::Duration timeout = absl::Seconds(120);
  std::ostream* progress = nullptr;  // narration, or nullptr
};

// One process `up` started.
struct RegionProcess {
  std::string kind;  // "etcd", "patroni", "gateway"
  std::string dc;
  pid_t pid = -1;
  uint64_t start_time = 0;  // /proc/<pid>/stat field 22 (clock ticks)
  std::string needle;       // a path its command line names
};

struct RegionNodeState {
  std::string dc;
  std::string region;
  std::string endpoint;  // http://127.0.0.1:PORT
  std::string storage;   // "postgres" or "rocksdb"
  std::string config;    // its node configuration file
  std::string log;       // its stdout/stderr
};

struct RegionMemberState {
  std::string dc;
  std::string dir;  // its data directory is dir + "/data"
  int pg_port = 0;
  int rest_port = 0;
  int etcd_client_port = 0;
};

struct RegionState {
  std::string data_dir;
  std::string dsn;  // the nodes' multi-host DSN
  std::vector<RegionMemberState> members;
  std::vector<RegionNodeState> nodes;
  std::vector<RegionProcess> processes;
  std::string ToJson() const;
  // The endpoints, members and DSN, one line each.
  std::string ToText() const;
};

// Starts the region (see the file comment) and returns once every part is
// ready: a leader with a synchronous standby, every gateway's /readyz 200.
// `data_dir` must be new, empty, or a directory an earlier `up` created and
// `down` stopped (it is emptied). On any failure everything started so far is
// stopped and the error names the part that failed. Errors:
// InvalidArgument (options, configuration), FailedPrecondition (the data
// directory is not Clover's or a region recorded there still runs; Patroni,
// etcd or PostgreSQL missing), DeadlineExceeded (a part not ready in time,
// named), Internal.
[[nodiscard]] absl::StatusOr<RegionState> RegionUp(
    const RegionUpOptions& options);

// The state recorded in `data_dir`. Errors: FailedPrecondition if the
// directory has no valid ownership marker or no state file; Internal if the
// state file cannot be read.
[[nodiscard]] absl::StatusOr<RegionState> LoadRegionState(
    const std::string& data_dir);

// Whether the recorded process still is the very process `up` started.
bool StillOurs(const RegionProcess& p);

// Stops every recorded process that still is ours (gateways, then Patroni,
// which stops its PostgreSQL, then etcd; SIGTERM, then SIGKILL after a
// bound), and any PostgreSQL left in a member's data directory; then records
// that nothing runs. `remove` also deletes the data directory. Writes a line
// per stopped part to `progress`. Errors: those of LoadRegionState
// (FailedPrecondition for a directory without the marker: nothing is
// touched), Internal if a process survives SIGKILL.
[[nodiscard]] absl::Status RegionDown(const std::string& data_dir, bool remove,
                                      std::ostream* progress);

// Which recorded processes still run, and the members as Patroni sees them:
// one line each.
[[nodiscard]] absl::StatusOr<std::string> RegionStatus(
    const std::string& data_dir);

// The DC whose PostgreSQL member is the running leader, asked of the first
// Patroni REST API that answers. Errors: Unavailable, NotFound (no leader).
[[nodiscard]] absl::StatusOr<std::string> RegionLeader(const RegionState& s);

// The abrupt loss of a whole DC: SIGKILLs its gateway node, Patroni,
// PostgreSQL (postmaster and session) and etcd member at once (only recorded
// processes that still are ours). Errors: NotFound for a DC without
// processes; Internal if one survives.
[[nodiscard]] absl::Status KillDc(const RegionState& s, const std::string& dc);

}  // namespace clover::region

#endif  // CLOVER_REGION_REGION_UP_H_
