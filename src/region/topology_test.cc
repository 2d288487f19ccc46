#include "region/topology.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace clover::region {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

Region Eu() {
  Region r;
  r.id = "eu";
  r.jurisdictions = {"eu"};
  r.dcs = {{"ie-dub-1", "IE", "http://a", {"10.0.1.5:5432"}},
           {"ie-dub-2", "IE", "http://b", {"10.0.2.5:5432"}},
           {"no-ham-1", "NO", "http://c", {"pg-no.example"}}};
  return r;
}

ObservedTopology Good() {
  ObservedTopology t;
  t.members = {{"ie-dub-1", "10.0.1.5", 5432, "leader", "running"},
               {"ie-dub-2", "10.0.2.5", 5432, "sync_standby", "streaming"},
               {"no-ham-1", "pg-no.example", 5432, "replica", "streaming"}};
  t.replicas = {{"ie-dub-2", "10.0.2.5", "sync"},
                {"no-ham-1", "10.9.9.9", "async"}};
  return t;
}

TEST(TopologyTest, AllMembersAndReplicasInTheRegion) {
  EXPECT_THAT(CheckTopology(Eu(), Good()), IsEmpty());
}

TEST(TopologyTest, ForeignMemberIsAViolation) {
  ObservedTopology t = Good();
  t.members.push_back({"us-east-1", "10.7.0.1", 5432, "replica", "streaming"});
  auto v = CheckTopology(Eu(), t);
  ASSERT_THAT(v, SizeIs(1));
  EXPECT_EQ(v[0].who, "member us-east-1");
  EXPECT_THAT(v[0].reason, HasSubstr("not a data centre of region eu"));
  EXPECT_THAT(v[0].reason, HasSubstr("10.7.0.1:5432"));
}

TEST(TopologyTest, MemberAtAnUndeclaredAddressIsAViolation) {
  // A member that takes a declared DC's name but runs elsewhere.
  ObservedTopology t = Good();
  t.members[1].host = "10.7.0.1";
  auto v = CheckTopology(Eu(), t);
  ASSERT_THAT(v, SizeIs(1));
  EXPECT_EQ(v[0].who, "member ie-dub-2");
  EXPECT_THAT(v[0].reason, HasSubstr("not a declared db_hosts entry"));
  t = Good();
  t.members[0].port = 6432;
  EXPECT_THAT(CheckTopology(Eu(), t), SizeIs(1));
}

TEST(TopologyTest, ForeignReplicaByApplicationName) {
  // Streaming from the leader without being a Patroni member of the region
  // (e.g. a pg_basebackup'd standby in us-east).
  ObservedTopology t = Good();
  t.replicas.push_back({"us-east-1", "10.7.0.1", "async"});
  auto v = CheckTopology(Eu(), t);
  ASSERT_THAT(v, SizeIs(1));
  EXPECT_EQ(v[0].who, "replica us-east-1");
  EXPECT_THAT(v[0].reason, HasSubstr("not a data centre of region eu"));
}

TEST(TopologyTest, ReplicaByClientAddr) {
  // A replica borrowing a declared DC's name, connecting from elsewhere.
  ObservedTopology t = Good();
  t.replicas[0].client_addr = "10.7.0.1";
  auto v = CheckTopology(Eu(), t);
  ASSERT_THAT(v, SizeIs(1));
  EXPECT_EQ(v[0].who, "replica ie-dub-2");
  EXPECT_THAT(v[0].reason, HasSubstr("connects from 10.7.0.1"));
  // no-ham-1 declares its host by name: its address cannot be compared
  // without resolving it, so only the name counts (documented).
  t = Good();
  t.replicas[1].client_addr = "10.7.0.1";
  EXPECT_THAT(CheckTopology(Eu(), t), IsEmpty());
}

TEST(TopologyTest, DcWithoutDbHostsIsMatchedByName) {
  Region r = Eu();
  for (auto& dc : r.dcs) dc.db_hosts.clear();
  ObservedTopology t = Good();
  t.members[0].host = "anywhere";
  EXPECT_THAT(CheckTopology(r, t), IsEmpty());
}

TEST(TopologyTest, EveryViolationIsReported) {
  Region r = Eu();
  r.dcs.pop_back();  // no-ham-1 is no longer declared
  auto v = CheckTopology(r, Good());
  ASSERT_THAT(v, SizeIs(2));
  EXPECT_EQ(v[0].who, "member no-ham-1");
  EXPECT_EQ(v[1].who, "replica no-ham-1");
}

TEST(TopologyTest, ParsesPatroniCluster) {
  auto m = ParsePatroniCluster(
      R"({"members":[{"name":"ie-dub-1","role":"leader","state":"running",)"
      R"("api_url":"http://127.0.0.1:8008/patroni","host":"127.0.0.1",)"
      R"("port":5433,"timeline":1},{"name":"ie-dub-2","role":"sync_standby",)"
      R"("state":"streaming","host":"127.0.0.1","port":5434,"lag":0}],)"
      R"("scope":"clover-region"})");
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_THAT(*m, SizeIs(2));
  EXPECT_EQ((*m)[0].name, "ie-dub-1");
  EXPECT_EQ((*m)[0].host, "127.0.0.1");
  EXPECT_EQ((*m)[0].port, 5433);
  EXPECT_EQ((*m)[1].role, "sync_standby");
  for (const char* bad : {"", "[]", "{}", R"({"members":{}})",
                          R"({"members":[1]})", R"({"members":[{"host":"x"}]})",
                          "{\"members\":[", "\xff"}) {
    EXPECT_FALSE(ParsePatroniCluster(bad).ok()) << bad;
  }
}

TEST(TopologyTest, MonitorReportsAndClearsViolations) {
  absl::Mutex mu;
  ObservedTopology current = Good();
  current.members.push_back({"us-east-1", "10.7.0.1", 5432, "replica", "x"});
  uint64_t counted = 0;
  TopologyMonitor monitor(
      Eu(),
      [&]() -> absl::StatusOr<ObservedTopology> {
        absl::MutexLock lock(&mu);
        return current;
      },
      absl::Milliseconds(5), [&](uint64_t n) {
        absl::MutexLock lock(&mu);
        counted += n;
      });
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (monitor.checks() == 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  ASSERT_GT(monitor.checks(), 0u);
  EXPECT_THAT(monitor.Violations(), HasSubstr("member us-east-1"));
  {
    absl::MutexLock lock(&mu);
    EXPECT_GE(counted, 1u);
    current = Good();
  }
  uint64_t after = monitor.checks() + 1;
  while (monitor.checks() <= after && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  EXPECT_EQ(monitor.Violations(), "");
}

TEST(TopologyTest, FailedObservationKeepsTheLastVerdict) {
  std::atomic<int> calls{0};
  TopologyMonitor monitor(
      Eu(),
      [&]() -> absl::StatusOr<ObservedTopology> {
        if (calls.fetch_add(1) == 0) {
          ObservedTopology t = Good();
          t.replicas.push_back({"us-east-1", "", "async"});
          return t;
        }
        return absl::UnavailableError("down");
      },
      absl::Milliseconds(5), nullptr);
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (calls.load() < 3 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  EXPECT_EQ(monitor.checks(), 1u);
  EXPECT_THAT(monitor.Violations(), HasSubstr("replica us-east-1"));
}

}  // namespace
}  // namespace clover::region
