// Residency of replicas at run time (issue 19, item 3) against a real region:
// 3 etcd + 3 Patroni-managed PostgreSQL on loopback. With the region declared
// as it is, the topology check (region/topology.h) finds nothing; with one
// member's DC left out of the declaration (standing in for a standby added
// in another region) it reports exactly that member, and a real
// `clover serve` of the region turns not-ready with reason
// topology_violation and counts clover_topology_violations.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "core/test_temp_dir.h"
#include "gateway/http_client.h"
#include "gateway/local_deployment.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "region/region_test_cluster.h"
#include "region/topology.h"
#include "serve_process.h"

namespace clover::gateway {
namespace {

using ::testing::HasSubstr;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class RegionTopologyTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  test::TempDir dir_{"region-topology"};
  pid_t pid_ = -1;
};

TEST_F(RegionTopologyTest, MemberOutsideTheDeclaredRegionIsReported) {
  auto started = region::RegionTestCluster::Start();
  if (!started.ok() && absl::IsFailedPrecondition(started.status())) {
    GTEST_SKIP() << "region cluster unavailable: "
                 << started.status().message();
  }
  ASSERT_TRUE(started.ok()) << started.status();
  std::unique_ptr<region::RegionTestCluster> cluster = *std::move(started);

  auto d = LoadDeployment(
      absl::StrCat(CLOVER_SOURCE_DIR, "/examples/deployment.yaml"));
  ASSERT_TRUE(d.ok()) << d.status();
  std::vector<std::string> urls;
  for (const std::string& dc : cluster->dcs()) {
    urls.push_back(cluster->PatroniUrl(dc));
  }
  Region* eu = nullptr;
  for (Region& r : d->regions) {
    if (r.id == "eu") eu = &r;
  }
  ASSERT_NE(eu, nullptr);
  for (DataCenter& dc : eu->dcs) dc.db_hosts = {cluster->DbHost(dc.id)};

  // Declared as it runs: nothing to report.
  auto observed =
      region::ObserveTopology(urls, cluster->dsn(), absl::Seconds(5));
  ASSERT_TRUE(observed.ok()) << observed.status();
  EXPECT_EQ(observed->members.size(), 3u);
  EXPECT_EQ(observed->replicas.size(), 2u);
  EXPECT_THAT(region::CheckTopology(*eu, *observed), ::testing::IsEmpty());

  // Leave a replica's DC out of the declaration: it now stands outside the
  // region (as a standby added in us-east would).
  auto leader = cluster->Leader();
  ASSERT_TRUE(leader.ok()) << leader.status();
  std::string outside;
  for (const std::string& dc : cluster->dcs()) {
    if (dc != *leader) outside = dc;
  }
  std::erase_if(eu->dcs,
                [&](const DataCenter& dc) { return dc.id == outside; });
  auto violations = region::CheckTopology(*eu, *observed);
  ASSERT_FALSE(violations.empty());
  EXPECT_EQ(violations[0].who, "member " + outside);
  for (const auto& v : violations) {
    // The member and its replication stream; nothing about the others.
    EXPECT_TRUE(v.who == "member " + outside || v.who == "replica " + outside)
        << v.ToString();
  }

  // A real node of that region: not ready, reason topology_violation.
  std::vector<std::string> hosts, ports;
  for (const DataCenter& dc : eu->dcs) {
    const std::string h = cluster->DbHost(dc.id);
    hosts.push_back(h.substr(0, h.find(':')));
    ports.push_back(h.substr(h.find(':') + 1));
  }
  d->storage.driver = StorageDriver::kPostgres;
  d->storage.postgres_dsn = absl::StrCat(
      "host=", absl::StrJoin(hosts, ","), " port=", absl::StrJoin(ports, ","),
      " user=postgres dbname=clover target_session_attrs=read-write");
  d->storage.patroni_urls = urls;
  auto nodes = PrepareLocalDeployment(*d, dir_.path(), 0, FreeLoopbackPort);
  ASSERT_TRUE(nodes.ok()) << nodes.status();
  LocalNode node;
  for (auto& n : *nodes) {
    if (n.dc == *leader) node = n;
  }
  ASSERT_FALSE(node.endpoint.empty());
  const std::string config = dir_.Sub("node.yaml");
  std::ofstream(config) << NodeConfigYaml(
      node, absl::StrCat(CLOVER_SOURCE_DIR, "/examples"));
  const std::string log = dir_.Sub("node.log");
  pid_ = test::ForkCloverServe(config, log);
  HttpClient c(absl::Seconds(5));
  std::string last;
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  bool not_ready = false;
  while (absl::Now() < deadline) {
    auto r = c.Send("GET", node.endpoint + "/readyz", {});
    if (r.ok()) {
      last = absl::StrCat(r->status, " ", r->body);
      if (r->status == 503 &&
          absl::StrContains(r->body, "\"reason\":\"topology_violation\"")) {
        not_ready = true;
        break;
      }
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_TRUE(not_ready) << "last /readyz: " << last << "\nnode log:\n"
                         << ReadAll(log);
  // The answer names no member or address; the log does.
  EXPECT_THAT(last, ::testing::Not(HasSubstr(outside)));
  EXPECT_THAT(ReadAll(log),
              HasSubstr("topology violation in region eu: member " + outside));
  auto metrics = c.Send("GET", node.endpoint + "/metrics", {});
  ASSERT_TRUE(metrics.ok());
  EXPECT_THAT(metrics->body, HasSubstr("clover_topology_violations"));
  EXPECT_THAT(metrics->body,
              ::testing::Not(HasSubstr("clover_topology_violations 0")));
}

}  // namespace
}  // namespace clover::gateway
