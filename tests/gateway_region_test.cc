// Two gateway nodes of the EU region (ie-dub-1 and no-ham-1) over one
// PostgreSQL database, as the region's DCs share it: an erasure acknowledged
// through one DC is 410 through the other at once (the other had the subject
// cached); a write through one is read through the other at once; two DCs
// creating one subject at once end with one subject; and a canary planted
// through one DC and touched through the other raises canary_touched in an
// auditor following both nodes' logs.
#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "audit/auditor.h"
#include "audit/incident.h"
#include "core/test_temp_dir.h"
#include "crypto/ed25519.h"
#include "crypto/secret_key_file.h"
#include "crypto/subject_pseudonym.h"
#include "gateway/http_client.h"
#include "gateway/local_deployment.h"
#include "gateway/node.h"
#include "gateway_test_client.h"
#include "gtest/gtest.h"
#include "log/note.h"
#include "postgres_test_util.h"

namespace clover::gateway {
namespace {

using e2e::CallAs;
using e2e::ParseBody;

// One database per test: each test's region has its own keys, and a vault
// refuses an epoch key it cannot unwrap.
class GatewayRegionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CLOVER_REQUIRE_POSTGRES();
    std::string db = absl::AsciiStrToLower(absl::StrCat(
        "gwr_",
        ::testing::UnitTest::GetInstance()->current_test_info()->name()));
    ASSERT_TRUE(pgtest::Sql("DROP DATABASE IF EXISTS " + db).ok());
    ASSERT_TRUE(pgtest::Sql("CREATE DATABASE " + db).ok());
    auto d = LoadDeployment(
        absl::StrCat(CLOVER_SOURCE_DIR, "/examples/deployment.yaml"));
    ASSERT_TRUE(d.ok()) << d.status();
    d->storage.driver = StorageDriver::kPostgres;
    d->storage.postgres_dsn = pgtest::Dsn() + " dbname=" + db;
    auto nodes = PrepareLocalDeployment(*d, dir_.path(), 0, FreeLoopbackPort);
    ASSERT_TRUE(nodes.ok()) << nodes.status();
    for (auto& n : *nodes) {
      if (n.dc != "ie-dub-1" && n.dc != "no-ham-1") continue;
      auto node = Node::Start(n.deployment);
      ASSERT_TRUE(node.ok()) << node.status();
      running_.push_back(*std::move(node));
      (n.dc == "ie-dub-1" ? a_ : b_) = n;
    }
    ASSERT_FALSE(a_.endpoint.empty());
    ASSERT_FALSE(b_.endpoint.empty());
  }
  void TearDown() override {
    for (auto& n : running_) n->Shutdown();
  }

  ClientResponse Put(const LocalNode& at, const std::string& subject,
                     const std::string& name) {
    return CallAs(c_, "accounts-eu", "PUT",
                  at.endpoint + "/v1/subjects/" + subject, "account_management",
                  absl::StrCat(R"({"country":"IE","fields":{"name":")", name,
                               R"(","email":"x@mail.example"}})"));
  }
  ClientResponse Read(const LocalNode& at, const std::string& subject) {
    return CallAs(c_, "eu-support-1", "GET",
                  at.endpoint + "/v1/subjects/" + subject + "?fields=name",
                  "customer_support");
  }
  ClientResponse Erase(const LocalNode& at, const std::string& subject) {
    return CallAs(c_, "eu-support-1", "DELETE",
                  at.endpoint + "/v1/subjects/" + subject, "customer_support");
  }

  test::TempDir dir_{"gw-region"};
  HttpClient c_;
  LocalNode a_, b_;
  std::vector<std::unique_ptr<Node>> running_;
};

TEST_F(GatewayRegionTest, ErasureThroughOneDcIsGoneThroughTheOtherAtOnce) {
  for (int i = 0; i < 10; ++i) {
    const std::string s = absl::StrCat("gone-", i);
    ASSERT_EQ(Put(a_, s, "Aoife").status, 201);
    // B reads it twice: it now holds the subject in its cache.
    for (int k = 0; k < 2; ++k) {
      auto r = Read(b_, s);
      ASSERT_EQ(r.status, 200) << r.body;
      ASSERT_TRUE(absl::StrContains(r.body, "Aoife")) << r.body;
    }
    auto erased = Erase(a_, s);
    ASSERT_EQ(erased.status, 200) << erased.body;
    // At once, no sleep: the erasure is acknowledged.
    auto after = Read(b_, s);
    EXPECT_EQ(after.status, 410) << after.body;
    EXPECT_FALSE(absl::StrContains(after.body, "Aoife")) << after.body;
    // A write through B cannot bring it back.
    auto again = Put(b_, s, "Zombie");
    EXPECT_EQ(again.status, 409) << again.body;
    EXPECT_EQ(Read(a_, s).status, 410);
  }
}

TEST_F(GatewayRegionTest, WriteThroughOneDcIsReadThroughTheOtherAtOnce) {
  ASSERT_EQ(Put(a_, "moves", "v0").status, 201);
  ASSERT_EQ(Read(b_, "moves").status, 200);
  for (int i = 1; i <= 10; ++i) {
    const std::string name = absl::StrCat("v", i);
    const LocalNode& writer = i % 2 ? a_ : b_;
    const LocalNode& reader = i % 2 ? b_ : a_;
    auto put = Put(writer, "moves", name);
    ASSERT_EQ(put.status, 200) << put.body;
    auto r = Read(reader, "moves");
    ASSERT_EQ(r.status, 200) << r.body;
    auto doc = ParseBody(r.body);
    ASSERT_TRUE(doc.IsObject() && doc.HasMember("fields")) << r.body;
    EXPECT_EQ(std::string(doc["fields"]["name"]["value"].GetString()), name)
        << r.body;
  }
}

TEST_F(GatewayRegionTest, ConcurrentCreatesThroughTwoDcsMakeOneSubject) {
  for (int round = 0; round < 8; ++round) {
    const std::string s = absl::StrCat("twice-", round);
    std::atomic<bool> go{false};
    ClientResponse ra, rb;
    std::thread ta([&] {
      HttpClient c;
      while (!go.load()) {
      }
      ra = CallAs(c, "accounts-eu", "PUT", a_.endpoint + "/v1/subjects/" + s,
                  "account_management",
                  R"({"country":"IE","fields":{"name":"FromA"}})");
    });
    std::thread tb([&] {
      HttpClient c;
      while (!go.load()) {
      }
      rb = CallAs(c, "accounts-eu", "PUT", b_.endpoint + "/v1/subjects/" + s,
                  "account_management",
                  R"({"country":"IE","fields":{"name":"FromB"}})");
    });
    go = true;
    ta.join();
    tb.join();
    // One created it (201), the other updated it (200) or lost the race
    // with a clear 409 conflict: never two creations.
    std::vector<int> statuses = {ra.status, rb.status};
    std::sort(statuses.begin(), statuses.end());
    EXPECT_EQ(statuses[0] == 200 || statuses[0] == 201, true) << ra.body;
    EXPECT_TRUE((statuses == std::vector<int>{200, 201}) ||
                (statuses == std::vector<int>{201, 409}))
        << ra.status << " " << ra.body << " / " << rb.status << " " << rb.body;
    for (const ClientResponse* r : {&ra, &rb}) {
      if (r->status == 409) {
        EXPECT_EQ(e2e::ErrorCodeOf(*r), "conflict") << r->body;
      }
    }
    // Both DCs serve the same record.
    auto at_a = Read(a_, s);
    auto at_b = Read(b_, s);
    ASSERT_EQ(at_a.status, 200);
    ASSERT_EQ(at_b.status, 200);
    EXPECT_EQ(std::string(
                  ParseBody(at_a.body)["fields"]["name"]["value"].GetString()),
              std::string(
                  ParseBody(at_b.body)["fields"]["name"]["value"].GetString()));
  }
}

TEST_F(GatewayRegionTest, CanaryPlantedInOneDcAndTouchedInAnotherIsRaised) {
  // Planted through ie-dub-1 by the planter, touched through no-ham-1.
  ASSERT_EQ(Put(a_, "canary-eu-1", "Nobody").status, 201);
  ASSERT_EQ(Read(b_, "canary-eu-1").status, 200);

  // The canary's pseudonym as every node of the region logs it (one
  // region-wide pseudonym key).
  auto root = crypto::ReadSecretKeyFile(a_.deployment.keys.pseudonym_key_file);
  ASSERT_TRUE(root.ok()) << root.status();
  EXPECT_EQ(a_.deployment.keys.pseudonym_key_file,
            b_.deployment.keys.pseudonym_key_file);
  auto key = crypto::DeriveLogSubjectKey(*root);
  ASSERT_TRUE(key.ok());
  const std::string pseudonym = crypto::SubjectPseudonym(*key, "canary-eu-1");

  audit::AuditorConfig c;
  c.source_file = "gateway_region_test";
  c.data_dir = dir_.Sub("auditor");
  c.insecure_no_auth = true;
  auto wkey = crypto::Ed25519PrivateKey::Generate();
  auto jkey = crypto::Ed25519PrivateKey::Generate();
  ASSERT_TRUE(wkey.ok() && jkey.ok());
  c.witness_key_file = dir_.Sub("witness.key");
  c.journal_key_file = dir_.Sub("journal.key");
  ASSERT_TRUE(crypto::WritePrivateFile(
                  c.witness_key_file,
                  log::FormatSignerKey("auditor.gwr", 0x04, *wkey) + "\n")
                  .ok());
  ASSERT_TRUE(
      crypto::WritePrivateFile(
          c.journal_key_file,
          log::FormatSignerKey("auditor.gwr/incidents", 0x01, *jkey) + "\n")
          .ok());
  for (const LocalNode* n : {&a_, &b_}) {
    audit::AuditorLogConfig l;
    l.log.origin = n->deployment.log.origin;
    l.log.url = n->endpoint + "/log";
    l.log.verifier_keys = {n->verifier_key};
    c.logs.push_back(l);
  }
  c.detectors.canary_pseudonyms = {pseudonym};
  c.detectors.canary_planters = {"accounts-eu"};
  auto auditor = audit::Auditor::Create(c);
  ASSERT_TRUE(auditor.ok()) << auditor.status();
  auto polled = (*auditor)->PollOnce();
  ASSERT_TRUE(polled.ok()) << polled.status();
  ASSERT_GE(*polled, 2u);
  std::vector<audit::Incident> canary;
  for (const audit::Incident& i : (*auditor)->incidents().List(std::nullopt)) {
    if (i.detector == audit::kDetectorCanary) canary.push_back(i);
  }
  // One incident: the read through no-ham-1, proven against that node's log;
  // the planting write through ie-dub-1 raises nothing.
  ASSERT_EQ(canary.size(), 1u);
  EXPECT_TRUE(absl::StrContains(canary[0].summary, "eu-support-1"))
      << canary[0].summary;
  ASSERT_FALSE(canary[0].evidence.empty());
  EXPECT_EQ(canary[0].evidence[0].origin, b_.deployment.log.origin);
  EXPECT_FALSE(canary[0].evidence[0].proof.empty());
}

}  // namespace
}  // namespace clover::gateway
