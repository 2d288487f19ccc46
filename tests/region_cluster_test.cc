// The region test harness (region/region_test_cluster.h) for real: three etcd
// and three Patroni-managed PostgreSQL members on loopback, synchronous
// replication on, a commit acknowledged by the leader survives the leader's
// SIGKILL, the old leader rejoins as a replica, and teardown leaves nothing.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/postgres_connection.h"
#include "gtest/gtest.h"
#include "region/region_test_cluster.h"

namespace clover::region {
namespace {

// Starts the cluster or skips the test when it cannot run on this machine.
#define CLOVER_START_REGION(var)                                         \
  auto var##_or = RegionTestCluster::Start();                            \
  if (!var##_or.ok() && absl::IsFailedPrecondition(var##_or.status())) { \
    GTEST_SKIP() << "region cluster unavailable: "                       \
                 << var##_or.status().message();                         \
  }                                                                      \
  ASSERT_TRUE(var##_or.ok()) << var##_or.status();                       \
  std::unique_ptr<RegionTestCluster> var = *std::move(var##_or)

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

TEST(RegionClusterTest, SynchronousReplicationLeaderLossAndTeardown) {
  CLOVER_START_REGION(cluster);
  std::printf("region cluster started in %.1f s\n",
              absl::ToDoubleSeconds(cluster->startup_time()));
  absl::StatusOr<std::string> leader = cluster->Leader();
  ASSERT_TRUE(leader.ok()) << leader.status();

  // The multi-host DSN lands on the leader, whatever its position.
  auto c = pg::Connection::Open(cluster->dsn());
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE((*c)->Exec("CREATE TABLE acked (id int PRIMARY KEY, v text);"
                         "INSERT INTO acked VALUES (1, 'first')",
                         "write")
                  .ok());
  // Synchronous replication is really on: a standby is 'sync' on the leader.
  auto sync = QueryOne(cluster->MemberDsn(*leader),
                       "SELECT application_name FROM pg_stat_replication "
                       "WHERE sync_state = 'sync'");
  ASSERT_TRUE(sync.ok()) << sync.status();
  EXPECT_NE(*sync, *leader);

  // The row is on another member: read it there over a direct connection.
  std::string seen_on;
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (seen_on.empty() && absl::Now() < deadline) {
    for (const std::string& dc : cluster->dcs()) {
      if (dc == *leader) continue;
      auto v =
          QueryOne(cluster->MemberDsn(dc), "SELECT v FROM acked WHERE id = 1");
      if (v.ok() && *v == "first") seen_on = dc;
    }
    if (seen_on.empty()) absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_FALSE(seen_on.empty()) << "the row is on no replica";
  auto in_recovery =
      QueryOne(cluster->MemberDsn(seen_on), "SELECT pg_is_in_recovery()::text");
  ASSERT_TRUE(in_recovery.ok()) << in_recovery.status();
  EXPECT_EQ(*in_recovery, "true");

  // The last acknowledged commit before the leader dies is on the new leader.
  ASSERT_TRUE((*c)->Exec("INSERT INTO acked VALUES (2, 'just before the kill')",
                         "write")
                  .ok());
  c->reset();
  const absl::Time killed = absl::Now();
  ASSERT_TRUE(cluster->Kill(*leader).ok());
  auto next = cluster->WaitForWritableLeader(absl::Seconds(60), *leader);
  ASSERT_TRUE(next.ok()) << next.status();
  std::printf("leader %s killed; %s took over, writable after %.1f s\n",
              leader->c_str(), next->c_str(),
              absl::ToDoubleSeconds(absl::Now() - killed));
  auto v = QueryOne(cluster->dsn(), "SELECT v FROM acked WHERE id = 2");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(*v, "just before the kill");

  // The old leader comes back as a replica of the new one, with the row.
  ASSERT_TRUE(cluster->Restart(*leader).ok());
  ASSERT_TRUE(cluster->WaitHealthy(absl::Seconds(60)).ok());
  auto back = cluster->Leader();
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, *next);
  std::string replicated;
  const absl::Time until = absl::Now() + absl::Seconds(10);
  while (replicated.empty() && absl::Now() < until) {
    auto r = QueryOne(cluster->MemberDsn(*leader),
                      "SELECT v FROM acked WHERE id = 2");
    if (r.ok())
      replicated = *r;
    else
      absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(replicated, "just before the kill");

  // A whole DC lost at once (PostgreSQL, Patroni and etcd), then teardown:
  // no process names the cluster's directory any more, and it is gone.
  ASSERT_TRUE(cluster->Kill(*leader, /*with_etcd=*/true).ok());
  const std::string dir = cluster->dir();
  cluster.reset();
  EXPECT_FALSE(std::filesystem::exists(dir));
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    std::ifstream in(e.path() / "cmdline", std::ios::binary);
    std::string cmd((std::istreambuf_iterator<char>(in)),
                    std::istreambuf_iterator<char>());
    EXPECT_EQ(cmd.find(dir + "/"), std::string::npos) << e.path();
  }
}

}  // namespace
}  // namespace clover::region
