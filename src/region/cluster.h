// Library clover_region_cluster: the storage of a replicated region on
// loopback, started for real by `clover region up` (region/region_up.h) and,
// as a throwaway, by the region tests (region/region_test_cluster.h). For
// each data centre (by default ie-dub-1, ie-dub-2, no-ham-1) one etcd member
// and one Patroni-managed PostgreSQL 15 member, the way issue 19 deploys a
// region.
//
// What Start sets up, in a directory Clover owns (core/owned_dir.h): a fresh
// temporary one, or options.dir (created, or adopted if empty):
//   - a 3-member etcd cluster (etcd v3 API) on 127.0.0.1, ephemeral ports;
//   - one Patroni per DC (REST API on 127.0.0.1) managing one PostgreSQL
//     (listening on 127.0.0.1 and a unix socket in the member's directory),
//     in Patroni's synchronous_mode with synchronous_mode_strict: a commit is
//     acknowledged only once it is also on a synchronous standby, so an
//     acknowledged commit is on at least two members, and with one member
//     left commits wait rather than go unreplicated;
//   - use_pg_rewind, so a killed leader rejoins as a replica when restarted;
//   - a database (options.database) on the cluster.
// Start returns once there is a leader, every other member runs as a
// streaming replica and a synchronous standby is assigned (bounded by
// options.startup_timeout).
//
// As root, every server runs as the `postgres` system user (postgres refuses
// to run as root; core/test_process.h). A watchdog kills the cluster's
// processes and removes its directory (only while the directory carries
// Clover's marker) if the process dies without running the destructor or
// calling Detach.
// Only processes this cluster started are ever signalled: its own children,
// processes whose command line names its directory, and the sessions of its
// postmasters.
//
// Failover timing: Patroni's leader key lives `ttl_seconds` (Patroni's
// documented minimum is 20) after the leader's last refresh; a leader killed
// with SIGKILL is replaced only once it expires, plus up to `loop_wait`, the
// promotion, and (strict mode) the wait for a new synchronous standby.
//
// Thread-safety: not thread-safe; use from one thread (the DSNs, once
// returned, may be used anywhere).
#ifndef CLOVER_REGION_REGION_CLUSTER_H_
#define CLOVER_REGION_REGION_CLUSTER_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace clover::region {

struct RegionClusterOptions {
  std::vector<std::string> dcs = {"ie-dub-1", "ie-dub-2", "no-ham-1"};
  // PostgreSQL binaries; empty: $CLOVER_POSTGRES_BIN, else
  // /usr/lib/postgresql/15/bin.
  std::string postgres_bin_dir;
  std::string patroni = "/usr/bin/patroni";
  std::string etcd = "/usr/bin/etcd";
  std::string database = "clover";
  // Patroni's dynamic configuration; Patroni's rule: loop_wait +
  // 2 * retry_timeout <= ttl.
  int ttl_seconds = 20;
  int loop_wait_seconds = 2;
  int retry_timeout_seconds = 5;
  // fsync on every member. Off only for tests that check behaviour, not
  // durability against power loss (replication still makes commits
  // synchronous to two members).
  bool fsync = true;
  absl::Duration startup_timeout = absl::Seconds(90);
  // Empty: a fresh temporary directory. Else this directory (created with
  // Clover's marker, or adopted if empty; a directory with other content is
  // refused). Either way the destructor removes it unless Detach was called.
  std::string dir;
};

// One member's processes and addresses (for a state file: see region_up.h).
struct RegionMemberProcesses {
  std::string dc;
  std::string dir;      // the member's directory (its data in dir/data)
  pid_t etcd_pid = -1;  // -1: not running
  pid_t patroni_pid = -1;
  int etcd_client_port = 0;
  int etcd_peer_port = 0;
  int rest_port = 0;  // Patroni's REST API
  int pg_port = 0;
};

// One member as Patroni's REST API reports it.
struct RegionMemberStatus {
  std::string name;   // the DC
  std::string role;   // "leader", "sync_standby", "replica", ...
  std::string state;  // "running", "starting", "stopped", ...
  int port = 0;       // PostgreSQL port
  int64_t timeline = 0;
  int64_t lag_bytes = -1;  // replicas; -1 unknown or not reported
};

// The members a Patroni `GET /cluster` body lists. Errors: InvalidArgument.
[[nodiscard]] absl::StatusOr<std::vector<RegionMemberStatus>>
ParsePatroniCluster(const std::string& body);

// The live postmaster of the PostgreSQL data directory `data_dir` (its
// postmaster.pid, checked against the process's command line, so a stale
// pid file never names a stranger), or -1.
pid_t FindPostmaster(const std::string& data_dir);
// SIGKILLs the postmaster and every process of its session owned by `uid`
// (backends, WAL senders and receivers) and waits until it is gone. Errors:
// Internal if it survives.
[[nodiscard]] absl::Status KillPostmaster(pid_t postmaster, uid_t uid);

class RegionCluster {
 public:
  // Errors: FailedPrecondition when the cluster cannot run here at all
  // (patroni, etcd or the PostgreSQL binaries missing, or root without a
  // `postgres` user): tests should skip with the message. DeadlineExceeded
  // when the cluster is not healthy within options.startup_timeout; Internal
  // when a step fails (messages quote the tail of the relevant log).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<RegionCluster>> Start(
      const RegionClusterOptions& options = {});

  // Kills every process of the cluster and removes its directory, unless
  // Detach was called.
  ~RegionCluster();
  RegionCluster(const RegionCluster&) = delete;
  RegionCluster& operator=(const RegionCluster&) = delete;

  // libpq conninfo naming every member, for a node of the region:
  // "host=127.0.0.1,127.0.0.1,127.0.0.1 port=a,b,c user=postgres
  // dbname=<database> target_session_attrs=read-write". libpq tries the
  // hosts in order and keeps the first that accepts writes: the leader.
  const std::string& dsn() const { return dsn_; }
  // A direct connection to one DC's member, whatever its role (read-only on
  // a replica). Empty for an unknown DC.
  std::string MemberDsn(const std::string& dc) const;
  const std::vector<std::string>& dcs() const { return options_.dcs; }
  // The DC's PostgreSQL address as a db_hosts entry ("127.0.0.1:PORT") and
  // its Patroni REST API ("http://127.0.0.1:PORT"). Empty for an unknown DC.
  std::string DbHost(const std::string& dc) const;
  std::string PatroniUrl(const std::string& dc) const;
  const std::string& dir() const { return dir_; }
  std::vector<RegionMemberProcesses> Processes() const;
  // The processes keep running after this object (and this process) is
  // gone: the watchdog is told to stand down and the destructor neither
  // kills nor removes anything. Stopping them is then the caller's business
  // (region/region_up.h: StopRegion).
  void Detach();
  // How long Start took, from nothing to a healthy cluster with its database.
  absl::Duration startup_time() const { return startup_time_; }

  // The members as Patroni sees them (GET /cluster of the first member whose
  // REST API answers). Errors: Unavailable if none answers.
  [[nodiscard]] absl::StatusOr<std::vector<RegionMemberStatus>> Members();
  // The DC whose member is the running leader. Errors: Unavailable if no
  // REST API answers, NotFound if there is no running leader now.
  [[nodiscard]] absl::StatusOr<std::string> Leader();
  // Waits until a leader other than `not_dc` runs and a write through dsn()
  // commits (so, in strict synchronous mode, a synchronous standby is back).
  // Returns the leader's DC. Errors: DeadlineExceeded.
  [[nodiscard]] absl::StatusOr<std::string> WaitForWritableLeader(
      absl::Duration timeout, const std::string& not_dc = "");
  // Waits until every member not killed is running, one is the leader and,
  // with two or more running, one is the synchronous standby. Errors:
  // DeadlineExceeded (with what was last seen).
  [[nodiscard]] absl::Status WaitHealthy(absl::Duration timeout);

  // SIGKILLs the DC's Patroni and PostgreSQL (the postmaster and its
  // session: backends, WAL sender/receiver), and with `with_etcd` its etcd
  // member too: the abrupt loss of a machine. Waits until they are gone.
  // Errors: NotFound for an unknown DC, FailedPrecondition if already killed.
  [[nodiscard]] absl::Status Kill(const std::string& dc,
                                  bool with_etcd = false);
  // Starts again what Kill stopped; Patroni brings PostgreSQL back (as a
  // replica, rewound if it had diverged). Does not wait; see WaitHealthy.
  [[nodiscard]] absl::Status Restart(const std::string& dc);

  struct Member;

 private:
  RegionCluster();
  static absl::StatusOr<std::unique_ptr<RegionCluster>> StartOnce(
      const RegionClusterOptions& options);
  absl::Status StartWatchdog();
  absl::Status StartEtcd(Member& m);
  absl::Status StartPatroni(Member& m);
  absl::Status CreateDatabase();
  Member* Find(const std::string& dc);

  RegionClusterOptions options_;
  std::string bin_dir_;
  std::string dir_;
  std::string dsn_;
  std::vector<std::unique_ptr<Member>> members_;
  absl::Duration startup_time_;
  int watchdog_fd_ = -1;
  pid_t watchdog_pid_ = -1;
  bool detached_ = false;
};

}  // namespace clover::region

#endif  // CLOVER_REGION_REGION_CLUSTER_H_
