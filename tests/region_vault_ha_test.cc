// The region's vault and the auditor's topology check against a real
// replicated region (3 etcd + 3 Patroni-managed PostgreSQL on loopback, one
// cluster for the whole binary):
//   - two gateway nodes of the region on the region's multi-host DSN: an
//     erasure acknowledged through one is 410 through the other at once (the
//     other had the subject cached), a write through one is read through the
//     other at once;
//   - two vaults (two nodes) racing writes against an erasure, round after
//     round: the erased subject is never resurrected; two concurrent creates
//     make one subject;
//   - the auditor, configured with the region's Patroni APIs and DSN, raises
//     one topology_violation for a member outside the declared region (a
//     replica's DC left out of the declaration stands in for a standby added
//     in us-east) and nothing while the topology matches.
#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "audit/auditor.h"
#include "audit/topology_watch.h"
#include "core/test_temp_dir.h"
#include "crypto/ed25519.h"
#include "crypto/secret_key_file.h"
#include "gateway/http_client.h"
#include "gateway/local_deployment.h"
#include "gateway/node.h"
#include "gateway_test_client.h"
#include "gtest/gtest.h"
#include "log/note.h"
#include "region/region_test_cluster.h"
#include "vault/erased.h"
#include "vault/key_encryption_key.h"
#include "vault/postgres_storage.h"
#include "vault/record_parser.h"
#include "vault/test_util.h"
#include "vault/vault.h"

namespace clover {
namespace {

using gateway::e2e::CallAs;

class RegionHaTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto started = region::RegionTestCluster::Start();
    if (!started.ok()) {
      start_error_ = new absl::Status(started.status());
      return;
    }
    cluster_ = started->release();
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
    delete start_error_;
    start_error_ = nullptr;
  }
  void SetUp() override {
    if (start_error_ != nullptr) {
      if (absl::IsFailedPrecondition(*start_error_)) {
        GTEST_SKIP() << "region cluster unavailable: "
                     << start_error_->message();
      }
      FAIL() << *start_error_;
    }
  }

  // The example deployment's EU region declared as the cluster runs.
  Deployment RegionDeployment() {
    auto d = LoadDeployment(
        absl::StrCat(CLOVER_SOURCE_DIR, "/examples/deployment.yaml"));
    EXPECT_TRUE(d.ok()) << d.status();
    for (Region& r : d->regions) {
      if (r.id != "eu") continue;
      for (DataCenter& dc : r.dcs) dc.db_hosts = {cluster_->DbHost(dc.id)};
    }
    d->storage.driver = StorageDriver::kPostgres;
    d->storage.postgres_dsn = cluster_->dsn();
    return *d;
  }

  std::unique_ptr<vault::Vault> OpenVault(const std::string& schema) {
    auto storage = vault::OpenPostgresVaultStorage(cluster_->dsn(), schema);
    EXPECT_TRUE(storage.ok()) << storage.status();
    if (!storage.ok()) return nullptr;
    vault::VaultOptions o;
    o.region = "eu";
    auto v = vault::Vault::Open(
        deployment_, o, *std::move(storage),
        vault::FileKeyEncryptionKey::FromKey(vault::testing::TestKey(5)),
        vault::testing::TestKey(9));
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() ? *std::move(v) : nullptr;
  }

  vault::Record Rec(const std::string& name) {
    return *vault::ParseRecordJson(
        deployment_.schema,
        absl::StrCat(R"({"country":"IE","fields":{"name":")", name, "\"}}"));
  }

  static region::RegionTestCluster* cluster_;
  static absl::Status* start_error_;
  const Deployment deployment_ = vault::testing::TestDeployment();
  test::TempDir dir_{"region-ha"};
};

region::RegionTestCluster* RegionHaTest::cluster_ = nullptr;
absl::Status* RegionHaTest::start_error_ = nullptr;

TEST_F(RegionHaTest, ErasureAndWritesThroughOneDcAreSeenAtOnceThroughAnother) {
  Deployment d = RegionDeployment();
  auto nodes = gateway::PrepareLocalDeployment(d, dir_.path(), 0,
                                               gateway::FreeLoopbackPort);
  ASSERT_TRUE(nodes.ok()) << nodes.status();
  std::vector<std::unique_ptr<gateway::Node>> running;
  std::string a, b;
  for (auto& n : *nodes) {
    if (n.dc != "ie-dub-1" && n.dc != "no-ham-1") continue;
    auto node = gateway::Node::Start(n.deployment);
    ASSERT_TRUE(node.ok()) << node.status();
    running.push_back(*std::move(node));
    (n.dc == "ie-dub-1" ? a : b) = n.endpoint;
  }
  gateway::HttpClient c;
  auto put = [&](const std::string& at, const std::string& s,
                 const std::string& name) {
    return CallAs(
        c, "accounts-eu", "PUT", at + "/v1/subjects/" + s, "account_management",
        absl::StrCat(R"({"country":"IE","fields":{"name":")", name, "\"}}"));
  };
  auto read = [&](const std::string& at, const std::string& s) {
    return CallAs(c, "eu-support-1", "GET",
                  at + "/v1/subjects/" + s + "?fields=name",
                  "customer_support");
  };
  for (int i = 0; i < 5; ++i) {
    const std::string s = absl::StrCat("ha-gone-", i);
    ASSERT_EQ(put(a, s, "Aoife").status, 201);
    ASSERT_EQ(read(b, s).status, 200);  // cached at B now
    ASSERT_EQ(put(a, s, "Aoife2").status, 200);
    auto updated = read(b, s);
    ASSERT_EQ(updated.status, 200);
    EXPECT_TRUE(absl::StrContains(updated.body, "Aoife2")) << updated.body;
    auto erased = CallAs(c, "eu-support-1", "DELETE", a + "/v1/subjects/" + s,
                         "customer_support");
    ASSERT_EQ(erased.status, 200) << erased.body;
    auto gone = read(b, s);
    EXPECT_EQ(gone.status, 410) << gone.body;
    EXPECT_FALSE(absl::StrContains(gone.body, "Aoife")) << gone.body;
  }
  for (auto& n : running) n->Shutdown();
}

TEST_F(RegionHaTest, RacingWritesNeverResurrectAndCreatesSerialize) {
  auto a = OpenVault("ha_race");
  auto b = OpenVault("ha_race");
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  const vault::AccessContext ctx{"eu-support-1", "customer_support"};
  for (int round = 0; round < 20; ++round) {
    const std::string s = absl::StrCat("race-", round);
    ASSERT_TRUE(a->Put(s, Rec("Carl")).ok());
    ASSERT_TRUE(b->Get(s, {}, ctx).ok());
    std::atomic<bool> go{false};
    absl::Status last;
    std::thread writer([&] {
      while (!go.load()) {
      }
      for (int i = 0; i < 200; ++i) {
        auto p = b->Put(s, Rec("Zombie"));
        if (!p.ok()) {
          last = p.status();
          return;
        }
      }
    });
    go = true;
    absl::Status erased = a->Erase(s);
    writer.join();
    ASSERT_TRUE(erased.ok()) << erased;
    EXPECT_TRUE(absl::IsFailedPrecondition(last)) << last;
    EXPECT_TRUE(vault::IsErased(a->Get(s, {}, ctx).status())) << s;
    EXPECT_TRUE(vault::IsErased(b->Get(s, {}, ctx).status())) << s;
  }
  for (int round = 0; round < 10; ++round) {
    const std::string s = absl::StrCat("twice-", round);
    std::atomic<bool> go{false};
    absl::StatusOr<vault::Vault::PutResult> pa, pb;
    std::thread ta([&] {
      while (!go.load()) {
      }
      pa = a->Put(s, Rec("A"));
    });
    std::thread tb([&] {
      while (!go.load()) {
      }
      pb = b->Put(s, Rec("B"));
    });
    go = true;
    ta.join();
    tb.join();
    ASSERT_TRUE(pa.ok()) << pa.status();
    ASSERT_TRUE(pb.ok()) << pb.status();
    EXPECT_NE(pa->created, pb->created) << s;
    EXPECT_EQ(std::set<uint64_t>({pa->revision, pb->revision}),
              std::set<uint64_t>({1, 2}));
  }
}

TEST_F(RegionHaTest,
       AuditorRaisesTopologyViolationForAStandbyOutsideTheRegion) {
  audit::RegionTopologyConfig eu;
  eu.region.id = "eu";
  for (const std::string& dc : cluster_->dcs()) {
    eu.region.dcs.push_back({dc, "IE", "", {cluster_->DbHost(dc)}});
    eu.patroni_urls.push_back(cluster_->PatroniUrl(dc));
  }
  eu.dsn = cluster_->dsn();
  // As declared: nothing.
  {
    audit::TopologyWatch watch({eu}, absl::Seconds(5));
    EXPECT_TRUE(watch.Check(absl::Now()).empty());
    EXPECT_EQ(watch.checks(), 1u);
  }
  // A replica's DC left out of the auditor's declaration: it now stands
  // where the region does not allow (as a standby added in us-east would).
  auto leader = cluster_->Leader();
  ASSERT_TRUE(leader.ok()) << leader.status();
  std::string outside;
  for (const std::string& dc : cluster_->dcs()) {
    if (dc != *leader) outside = dc;
  }
  std::erase_if(eu.region.dcs,
                [&](const DataCenter& dc) { return dc.id == outside; });

  audit::AuditorConfig c;
  c.source_file = "region_vault_ha_test";
  c.data_dir = dir_.Sub("auditor");
  c.insecure_no_auth = true;
  auto wkey = crypto::Ed25519PrivateKey::Generate();
  auto jkey = crypto::Ed25519PrivateKey::Generate();
  ASSERT_TRUE(wkey.ok() && jkey.ok());
  c.witness_key_file = dir_.Sub("w.key");
  c.journal_key_file = dir_.Sub("j.key");
  ASSERT_TRUE(crypto::WritePrivateFile(
                  c.witness_key_file,
                  log::FormatSignerKey("auditor.ha", 0x04, *wkey) + "\n")
                  .ok());
  ASSERT_TRUE(
      crypto::WritePrivateFile(
          c.journal_key_file,
          log::FormatSignerKey("auditor.ha/incidents", 0x01, *jkey) + "\n")
          .ok());
  c.topology = {eu};
  auto auditor = audit::Auditor::Create(c);
  ASSERT_TRUE(auditor.ok()) << auditor.status();
  (*auditor)->CheckTopologyOnce();
  (*auditor)->CheckTopologyOnce();  // the same episode
  std::vector<audit::Incident> list =
      (*auditor)->incidents().List(std::nullopt);
  std::set<std::string> keys;
  for (const audit::Incident& i : list) {
    EXPECT_EQ(i.detector, "topology_violation");
    EXPECT_EQ(i.severity, audit::Severity::kHigh);
    EXPECT_EQ(i.occurrences, 1u) << i.summary;
    EXPECT_TRUE(absl::StrContains(i.summary, outside)) << i.summary;
    // Evidence names the member, never the DSN's credentials or options.
    for (const audit::Evidence& e : i.evidence) {
      EXPECT_FALSE(absl::StrContains(e.note, "target_session_attrs")) << e.note;
    }
    keys.insert(i.key);
  }
  // The member itself (Patroni) and its replication stream (the leader's
  // pg_stat_replication).
  EXPECT_TRUE(keys.contains("topology_violation/eu/member " + outside))
      << absl::StrJoin(keys, ", ");
  EXPECT_TRUE(keys.contains("topology_violation/eu/replica " + outside))
      << absl::StrJoin(keys, ", ");
}

}  // namespace
}  // namespace clover
