// Issue 19, item 1, against a real replicated region (3 etcd + 3 Patroni
// PostgreSQL in synchronous_mode_strict on loopback): a write whose COMMIT
// was in doubt is acknowledged only once it is on a second member.
//
// Both standbys are made unable to confirm (their WAL receivers SIGSTOPped),
// so every commit on the leader waits for a synchronous standby. The writing
// backends of a vault Write and of a log batch are then terminated while they
// wait: their transactions have committed on the leader only. The drivers
// read such a write back and, before this fix, acknowledged it. They must
// now answer Unavailable (the gateway's 503 with Retry-After), within their
// retry window. Once the receivers run again, the same writes are
// acknowledged and the vault's row is read on a standby.
#include <signal.h>
#include <sys/types.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/postgres_connection.h"
#include "gtest/gtest.h"
#include "log/postgres_storage.h"
#include "region/region_test_cluster.h"
#include "vault/postgres_storage.h"

namespace clover {
namespace {

using region::RegionTestCluster;

absl::StatusOr<std::string> QueryOne(const std::string& dsn,
                                     const std::string& sql) {
  auto c = pg::Connection::Open(dsn + " connect_timeout=3");
  if (!c.ok()) return c.status();
  if (absl::Status s = (*c)->Prepare("q", sql, {}); !s.ok()) return s;
  auto r = (*c)->Query({"q", {}}, "query");
  if (!r.ok()) return r.status();
  if (PQntuples(r->get()) == 0) return absl::NotFoundError("no row");
  return std::string(pg::Cell(r->get(), 0, 0));
}

std::string ReadProc(pid_t pid, const char* file) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/", file), std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)),
                     std::istreambuf_iterator<char>());
}

// The parent pid, from /proc/<pid>/stat ("pid (comm) state ppid ...").
pid_t ParentOf(pid_t pid) {
  const std::string stat = ReadProc(pid, "stat");
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return -1;
  int ppid = -1;
  char state = 0;
  if (std::sscanf(stat.c_str() + close + 1, " %c %d", &state, &ppid) != 2) {
    return -1;
  }
  return ppid;
}

// The WAL receiver of `dc`'s member, checked to be a child of that member's
// postmaster (a process this cluster started), or -1.
pid_t WalReceiver(RegionTestCluster& cluster, const std::string& dc) {
  auto pid = QueryOne(cluster.MemberDsn(dc),
                      "SELECT pid::text FROM pg_stat_wal_receiver");
  int n = -1;
  if (!pid.ok() || !absl::SimpleAtoi(*pid, &n) || n <= 1) return -1;
  for (const region::RegionMemberProcesses& m : cluster.Processes()) {
    if (m.dc != dc) continue;
    const pid_t postmaster = region::FindPostmaster(m.dir + "/data");
    if (postmaster <= 1 || ParentOf(n) != postmaster) return -1;
    if (ReadProc(n, "cmdline").find("walreceiver") == std::string::npos) {
      return -1;
    }
    return n;
  }
  return -1;
}

// Terminates, from a connection of its own to the leader, every backend of
// the database waiting for a synchronous standby while committing a write
// (not a durability barrier: those are left to time out), until stopped.
class SyncWaitKiller {
 public:
  explicit SyncWaitKiller(std::string leader_dsn)
      : thread_([this, dsn = std::move(leader_dsn)] { Loop(dsn); }) {}
  ~SyncWaitKiller() {
    stop_ = true;
    thread_.join();
  }
  int killed() const { return killed_; }

 private:
  void Loop(const std::string& dsn) {
    std::unique_ptr<pg::Connection> c;
    while (!stop_) {
      if (c == nullptr || !c->healthy()) {
        auto opened = pg::Connection::Open(dsn + " connect_timeout=3");
        if (opened.ok() &&
            (*opened)
                ->Prepare("kill",
                          "SELECT pg_terminate_backend(pid) FROM "
                          "pg_stat_activity WHERE wait_event = 'SyncRep' AND "
                          "datname = current_database() AND pid <> "
                          "pg_backend_pid() AND query NOT LIKE '%barrier%'",
                          {})
                .ok()) {
          c = *std::move(opened);
        }
      }
      if (c != nullptr) {
        auto r = c->Query({"kill", {}}, "terminate waiting writers");
        if (r.ok()) killed_ += PQntuples(r->get());
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
  }

  std::atomic<bool> stop_{false};
  std::atomic<int> killed_{0};
  std::thread thread_;
};

TEST(RegionDurabilityTest, InDoubtCommitIsNotAcknowledgedUntilOnAStandby) {
  auto started = RegionTestCluster::Start();
  if (!started.ok() && absl::IsFailedPrecondition(started.status())) {
    GTEST_SKIP() << "region cluster unavailable: "
                 << started.status().message();
  }
  ASSERT_TRUE(started.ok()) << started.status();
  RegionTestCluster& cluster = **started;
  const absl::Time test_start = absl::Now();
  absl::StatusOr<std::string> leader = cluster.Leader();
  ASSERT_TRUE(leader.ok()) << leader.status();

  vault::PostgresOptions vo;
  vo.retry = absl::Seconds(3);
  auto vault = vault::OpenPostgresVaultStorage(cluster.dsn(), "durable", vo);
  ASSERT_TRUE(vault.ok()) << vault.status();
  log::PostgresLogStorageOptions lo;
  lo.write_retry = absl::ZeroDuration();  // the node's default is its retry
  lo.read_retry = absl::Seconds(2);
  auto log = log::OpenPostgresLogStorage(cluster.dsn(), "durable", lo);
  ASSERT_TRUE(log.ok()) << log.status();

  // Both standbys' WAL receivers, stopped; resumed however the test ends.
  std::vector<pid_t> receivers;
  for (const std::string& dc : cluster.dcs()) {
    if (dc == *leader) continue;
    const pid_t pid = WalReceiver(cluster, dc);
    ASSERT_GT(pid, 1) << "no WAL receiver of this cluster found on " << dc;
    receivers.push_back(pid);
  }
  ASSERT_EQ(receivers.size(), 2u);
  std::vector<pid_t> stopped;
  auto resume = [&] {
    for (pid_t pid : stopped) kill(pid, SIGCONT);
    stopped.clear();
  };
  absl::Cleanup resume_always = resume;
  for (pid_t pid : receivers) {
    ASSERT_EQ(kill(pid, SIGSTOP), 0);
    stopped.push_back(pid);
  }

  vault::WriteBatch row;
  row.Put(vault::Table::kSubjects, "erin", "sealed-row-of-erin");
  row.Put(vault::Table::kTokens, "handle-erin", "erin");
  log::LogWriteBatch batch;
  batch.tiles.push_back({log::TileId{0, 0}, "tile-0-0"});
  batch.bundles.push_back({0, "bundle-0"});
  batch.checkpoint = "checkpoint-of-size-1";
  batch.metadata = "metadata";
  {
    SyncWaitKiller killer(cluster.MemberDsn(*leader));
    const absl::Time start = absl::Now();
    auto vault_write =
        std::async(std::launch::async, [&] { return (*vault)->Write(row); });
    auto log_write =
        std::async(std::launch::async, [&] { return (*log)->Write(batch); });
    // Bounded: each gives up within its retry window (plus a barrier's
    // minimum wait), never with an acknowledgement.
    ASSERT_EQ(vault_write.wait_for(std::chrono::seconds(30)),
              std::future_status::ready)
        << "vault write still pending";
    ASSERT_EQ(log_write.wait_for(std::chrono::seconds(30)),
              std::future_status::ready)
        << "log write still pending";
    const absl::Status v = vault_write.get();
    const absl::Status l = log_write.get();
    std::printf(
        "with both standbys stopped: vault %s, log %s after %.1f s; "
        "%d waiting writers terminated\n",
        v.ToString().c_str(), l.ToString().c_str(),
        absl::ToDoubleSeconds(absl::Now() - start), killer.killed());
    EXPECT_GE(killer.killed(), 2) << "the in-doubt path was not taken";
    EXPECT_TRUE(absl::IsUnavailable(v))
        << "vault write acknowledged while on one member only: " << v;
    EXPECT_TRUE(absl::IsUnavailable(l))
        << "log batch acknowledged while on one member only: " << l;
  }
  // They did commit on the leader: the in-doubt path, not a refused write.
  auto on_leader =
      QueryOne(cluster.MemberDsn(*leader),
               "SELECT (v = 'sealed-row-of-erin'::bytea)::text FROM "
               "\"clover_vault_durable\".subjects WHERE k = 'erin'::bytea");
  ASSERT_TRUE(on_leader.ok()) << on_leader.status();
  EXPECT_EQ(*on_leader, "true");

  resume();
  // A retry of each is acknowledged once a standby confirms again.
  EXPECT_TRUE((*vault)->Write(row).ok());
  EXPECT_TRUE((*log)->Write(batch).ok());
  // And the row is on a standby, read there read-only.
  std::string seen_on;
  const absl::Time deadline = absl::Now() + absl::Seconds(15);
  while (seen_on.empty() && absl::Now() < deadline) {
    for (const std::string& dc : cluster.dcs()) {
      if (dc == *leader) continue;
      auto v = QueryOne(cluster.MemberDsn(dc),
                        "SELECT (pg_is_in_recovery() AND v = "
                        "'sealed-row-of-erin'::bytea)::text FROM "
                        "\"clover_vault_durable\".subjects WHERE k = "
                        "'erin'::bytea");
      if (v.ok() && *v == "true") seen_on = dc;
    }
    if (seen_on.empty()) absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_FALSE(seen_on.empty()) << "the acknowledged row is on no standby";
  std::printf(
      "acknowledged after resume; row on standby %s; test took %.1f s "
      "after cluster start\n",
      seen_on.c_str(), absl::ToDoubleSeconds(absl::Now() - test_start));
}

}  // namespace
}  // namespace clover
