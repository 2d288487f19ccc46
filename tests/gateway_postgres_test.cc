// Two gateway nodes of the EU region (ie-dub-1 and no-ham-1) on the PostgreSQL
// backend: a subject written through one DC is readable through the other (the
// region's vault is one database), each node keeps its own log, and everything
// survives a node restart. Approvals and the privacy budget are the region's
// too: a grant approved through one DC works through the other, a revocation
// through one is refused at the other at once, two DCs deciding one request
// at once: exactly one wins, and the two DCs spend one budget.
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/test_temp_dir.h"
#include "gateway/http_client.h"
#include "gateway/local_deployment.h"
#include "gateway/node.h"
#include "gateway_test_client.h"
#include "gtest/gtest.h"
#include "postgres_test_util.h"
#include "rapidjson/document.h"

namespace clover::gateway {
namespace {

constexpr char kAccounts[] =
    "Authorization: Bearer clv_example_accounts_eu_f82f9af9e84945f8";
constexpr char kSupport[] =
    "Authorization: Bearer clv_example_eu_support_1_ea58181ac18d4441";

TEST(GatewayPostgresTest, RegionSharesOneVaultAndSurvivesRestart) {
  CLOVER_REQUIRE_POSTGRES();
  test::TempDir dir("gw-pg");
  auto d = LoadDeployment(
      absl::StrCat(CLOVER_SOURCE_DIR, "/examples/deployment.yaml"));
  ASSERT_TRUE(d.ok()) << d.status();
  d->storage.driver = StorageDriver::kPostgres;
  d->storage.postgres_dsn = pgtest::Dsn();
  auto nodes = PrepareLocalDeployment(*d, dir.path(), 0, FreeLoopbackPort);
  ASSERT_TRUE(nodes.ok()) << nodes.status();
  const LocalNode* dublin = nullptr;
  const LocalNode* hamar = nullptr;
  for (const auto& n : *nodes) {
    if (n.dc == "ie-dub-1") dublin = &n;
    if (n.dc == "no-ham-1") hamar = &n;
  }
  ASSERT_NE(dublin, nullptr);
  ASSERT_NE(hamar, nullptr);
  auto a = Node::Start(dublin->deployment);
  ASSERT_TRUE(a.ok()) << a.status();
  auto b = Node::Start(hamar->deployment);
  ASSERT_TRUE(b.ok()) << b.status();

  HttpClient c;
  auto put = c.Send(
      "PUT", dublin->endpoint + "/v1/subjects/pg-1",
      {kAccounts, "X-Clover-Purpose: account_management"},
      R"({"country":"NO","fields":{"email":"kari@mail.example","name":"Kari"}})");
  ASSERT_TRUE(put.ok());
  ASSERT_EQ(put->status, 201) << put->body;
  // Read through the other DC of the region.
  auto get = c.Send("GET", hamar->endpoint + "/v1/subjects/pg-1?fields=email",
                    {kSupport, "X-Clover-Purpose: customer_support"});
  ASSERT_TRUE(get.ok());
  ASSERT_EQ(get->status, 200) << get->body;
  EXPECT_NE(get->body.find("kari@mail.example"), std::string::npos);

  auto checkpoint = [&](const std::string& endpoint) {
    auto r = c.Send("GET", endpoint + "/log/checkpoint", {});
    return r.ok() ? r->body : std::string();
  };
  std::string before = checkpoint(dublin->endpoint);
  ASSERT_FALSE(before.empty());
  (*a)->Shutdown();
  a->reset();
  // The restarted node resumes its log from PostgreSQL: same checkpoint, and it
  // appends.
  auto again = Node::Start(dublin->deployment);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(checkpoint(dublin->endpoint), before);
  auto get2 = c.Send("GET", dublin->endpoint + "/v1/subjects/pg-1?fields=name",
                     {kSupport, "X-Clover-Purpose: customer_support"});
  ASSERT_TRUE(get2.ok());
  EXPECT_EQ(get2->status, 200) << get2->body;
  EXPECT_NE(checkpoint(dublin->endpoint), before);
  (*again)->Shutdown();
  (*b)->Shutdown();
}

TEST(GatewayPostgresTest, ApprovalsAndPrivacyBudgetAreTheRegions) {
  CLOVER_REQUIRE_POSTGRES();
  test::TempDir dir("gw-pg-regional");
  auto d = LoadDeployment(
      absl::StrCat(CLOVER_SOURCE_DIR, "/examples/deployment.yaml"));
  ASSERT_TRUE(d.ok()) << d.status();
  d->storage.driver = StorageDriver::kPostgres;
  // A region of its own: the other test's vault, under another KEK, shares
  // this server (a vault refuses to open an epoch key it cannot unwrap).
  ASSERT_TRUE(pgtest::Sql("CREATE DATABASE regional_state").ok());
  d->storage.postgres_dsn = pgtest::Dsn() + " dbname=regional_state";
  d->privacy.daily_epsilon_budget = 1.0;  // two aggregates of ε 0.5
  auto nodes = PrepareLocalDeployment(*d, dir.path(), 0, FreeLoopbackPort);
  ASSERT_TRUE(nodes.ok()) << nodes.status();
  std::string dublin, hamar;
  std::vector<std::unique_ptr<Node>> running;
  for (const auto& n : *nodes) {
    if (n.dc != "ie-dub-1" && n.dc != "no-ham-1") continue;
    (n.dc == "ie-dub-1" ? dublin : hamar) = n.endpoint;
    auto node = Node::Start(n.deployment);
    ASSERT_TRUE(node.ok()) << node.status();
    running.push_back(*std::move(node));
  }
  ASSERT_FALSE(dublin.empty());
  ASSERT_FALSE(hamar.empty());
  HttpClient c;
  auto call = [&](const std::string& base, absl::string_view principal,
                  absl::string_view method, const std::string& path,
                  absl::string_view purpose = {}, absl::string_view body = {}) {
    return e2e::CallAs(c, principal, method, base + path, purpose, body);
  };
  ASSERT_EQ(call(dublin, "accounts-eu", "PUT", "/v1/subjects/pgr-1",
                 "account_management",
                 R"({"country":"IE","fields":{"name":"Aoife"}})")
                .status,
            201);
  auto file = [&](const std::string& base) -> std::string {
    auto r = call(base, "us-legal-1", "POST", "/v1/approvals", {},
                  R"({"justification":"LEGAL_REQUEST","detail":"CASE-9",)"
                  R"("subjects":["pgr-1"],"fields":["name"]})");
    EXPECT_EQ(r.status, 201) << r.body;
    auto doc = e2e::ParseBody(r.body);
    return r.status == 201 ? doc["approval"]["id"].GetString() : "";
  };
  auto read_at = [&](const std::string& base) {
    return call(base, "us-legal-1", "GET", "/v1/subjects/pgr-1?fields=name",
                "legal_request");
  };

  // Filed and approved through Dublin, used through Hamar.
  const std::string id = file(dublin);
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(read_at(hamar).status, 403);
  ASSERT_EQ(call(dublin, "auditor", "POST", "/v1/approvals/" + id + "/approve",
                 {}, "{}")
                .status,
            200);
  auto granted = read_at(hamar);
  ASSERT_EQ(granted.status, 200) << granted.body;
  EXPECT_NE(granted.body.find("Aoife"), std::string::npos);
  auto listed = call(hamar, "auditor", "GET", "/v1/approvals?state=approved");
  EXPECT_NE(listed.body.find(id), std::string::npos) << listed.body;
  // Revoked through Dublin: refused through Hamar at once.
  ASSERT_EQ(call(dublin, "auditor", "POST", "/v1/approvals/" + id + "/revoke",
                 {}, "{}")
                .status,
            200);
  EXPECT_EQ(read_at(hamar).status, 403);
  EXPECT_EQ(call(hamar, "auditor", "POST", "/v1/approvals/" + id + "/revoke",
                 {}, "{}")
                .status,
            409);

  // Approve through Dublin and deny through Hamar at once: one wins.
  for (int round = 0; round < 4; ++round) {
    const std::string other = file(round % 2 == 0 ? dublin : hamar);
    ASSERT_FALSE(other.empty());
    std::atomic<int> ok{0}, conflict{0};
    auto decide = [&](const std::string& base, const char* verb) {
      HttpClient own;
      auto r =
          e2e::CallAs(own, "auditor", "POST",
                      base + "/v1/approvals/" + other + "/" + verb, {}, "{}");
      if (r.status == 200) ++ok;
      if (r.status == 409) ++conflict;
    };
    std::thread x(decide, dublin, "approve");
    std::thread y(decide, hamar, "deny");
    x.join();
    y.join();
    EXPECT_EQ(ok, 1);
    EXPECT_EQ(conflict, 1);
    auto at_d = call(dublin, "auditor", "GET", "/v1/approvals/" + other);
    auto at_h = call(hamar, "auditor", "GET", "/v1/approvals/" + other);
    EXPECT_EQ(e2e::ParseBody(at_d.body)["approval"]["state"],
              e2e::ParseBody(at_h.body)["approval"]["state"]);
    // Revoke a winning approval so that the next round starts clean.
    (void)call(dublin, "auditor", "POST", "/v1/approvals/" + other + "/revoke",
               {}, "{}");
  }

  // One budget (ε 0.5 per aggregate, 1.0 a day as set above) for
  // both DCs: of 8 concurrent aggregates split over them, exactly 2 spend,
  // the rest are 429. Per-node budgets would let 4 through.
  std::atomic<int> spent{0}, refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      HttpClient own;
      auto r = e2e::CallAs(own, "eu-analytics", "POST",
                           (t % 2 == 0 ? dublin : hamar) + "/v1/aggregates",
                           "analytics", R"({"field":"birthdate"})");
      // 200, or 403 cohort_too_small: ε is spent either way.
      if (r.status == 200 ||
          (r.status == 403 &&
           r.body.find("cohort_too_small") != std::string::npos)) {
        ++spent;
      } else if (r.status != 429) {
        ADD_FAILURE() << r.status << " " << r.body;
      }
      if (r.status == 429) ++refused;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(spent, 2);
  EXPECT_EQ(refused, 6);
  for (auto& n : running) n->Shutdown();
}

}  // namespace
}  // namespace clover::gateway
