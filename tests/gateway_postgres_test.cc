// Two gateway nodes of the EU region (ie-dub-1 and no-ham-1) on the PostgreSQL
// backend: a subject written through one DC is readable through the other (the
// region's vault is one database), each node keeps its own log, and everything
// survives a node restart.
#include <unistd.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "core/test_temp_dir.h"
#include "gateway/http_client.h"
#include "gateway/local_deployment.h"
#include "gateway/node.h"
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

}  // namespace
}  // namespace clover::gateway
