// Pseudonym key rotation through a node over real HTTP on loopback: a token
// issued before `clover keys rotate-pseudonym` still reverses in the overlap
// window and is refused with 410 token_expired after it (an injected clock, no
// sleeps); the new token differs; the subject's access report spans the
// rotation (decisions logged under the same subject pseudonym before and
// after); the ring survives the node's restart; the rotation and the old
// version's retirement are in the node's log.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/clock.h"
#include "core/owned_dir.h"
#include "entry/pseudonym_key_entry.h"
#include "gateway/http_client.h"
#include "gateway/local_deployment.h"
#include "gateway/node.h"
#include "gateway_test_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "log/client.h"
#include "log/fetch.h"
#include "log/note.h"
#include "rapidjson/document.h"
#include "vault/vault.h"

namespace clover::gateway {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

class PseudonymRotationE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto made = CreateOwnedTempDir("pseudorot-e2e");
    ASSERT_TRUE(made.ok()) << made.status();
    dir_ = *made;
    auto d = LoadDeployment(
        absl::StrCat(CLOVER_SOURCE_DIR, "/examples/deployment.yaml"));
    ASSERT_TRUE(d.ok()) << d.status();
    auto nodes = PrepareLocalDeployment(*d, dir_, 0, FreeLoopbackPort);
    ASSERT_TRUE(nodes.ok()) << nodes.status();
    for (LocalNode& n : *nodes) {
      if (n.dc == "ie-dub-1") node_config_ = std::make_unique<LocalNode>(n);
    }
    ASSERT_NE(node_config_, nullptr);
    Start();
    auto put = client_.Send(
        "PUT", node_config_->endpoint + "/v1/subjects/eu-5",
        {"Authorization: Bearer " + ExampleApiKey("accounts-eu"),
         "X-Clover-Purpose: account_management"},
        R"({"country":"IE","fields":{"email":"p5@mail.example",)"
        R"("name":"Person Number5","uploaded_videos":["upload-5"]}})");
    ASSERT_TRUE(put.ok()) << put.status();
    ASSERT_EQ(put->status, 201) << put->body;
  }

  void TearDown() override {
    if (node_ != nullptr) node_->Shutdown();
    node_.reset();
    if (!dir_.empty()) {
      EXPECT_TRUE(RemoveOwnedDir(dir_).ok());
    }
  }

  void Start() {
    NodeOptions o;
    o.threads = 2;
    o.clock = &clock_;
    auto node = Node::Start(node_config_->deployment, o);
    ASSERT_TRUE(node.ok()) << node.status();
    node_ = *std::move(node);
  }

  void Stop() {
    node_->Shutdown();
    node_.reset();
  }

  ClientResponse Call(absl::string_view principal, absl::string_view method,
                      absl::string_view path, absl::string_view purpose,
                      absl::string_view body = {}) {
    return e2e::CallAs(client_, principal, method,
                       absl::StrCat(node_config_->endpoint, path), purpose,
                       body);
  }

  // Trust and safety reads eu-5's name: a siv token for (eu, trust_safety).
  std::string NameToken() {
    auto r = Call("eu-tns-1", "GET", "/v1/subjects/eu-5?fields=name",
                  "trust_safety");
    EXPECT_EQ(r.status, 200) << r.body;
    auto doc = e2e::ParseBody(r.body);
    return doc["fields"]["name"]["value"].GetString();
  }

  // Every entry of the node's log.
  std::vector<std::string> LogEntries() {
    auto v = log::ParseVerifierKey(node_config_->verifier_key);
    EXPECT_TRUE(v.ok());
    std::vector<std::unique_ptr<log::NoteVerifier>> vs;
    vs.push_back(*std::move(v));
    auto client = *log::LogClient::Create(
        log::HttpFetcher(node_config_->endpoint + "/log"), std::move(vs));
    auto cp = client->FetchCheckpoint();
    EXPECT_TRUE(cp.ok()) << cp.status();
    std::vector<std::string> out;
    for (uint64_t k = 0; cp.ok() && k < cp->checkpoint.size; ++k) {
      auto e = client->FetchEntry(cp->checkpoint, k);
      EXPECT_TRUE(e.ok()) << e.status();
      out.push_back(e.ok() ? *e : "");
    }
    return out;
  }

  ClientResponse Detokenize(const std::string& token) {
    return Call("eu-support-1", "POST", "/v1/detokenize", "customer_support",
                absl::StrCat("{\"field\":\"name\",\"token\":\"", token,
                             "\",\"issued_destination\":\"eu\","
                             "\"issued_purpose\":\"trust_safety\"}"));
  }

  FakeClock clock_{absl::Now()};
  std::string dir_;
  std::unique_ptr<LocalNode> node_config_;
  std::unique_ptr<Node> node_;
  HttpClient client_;
};

TEST_F(PseudonymRotationE2eTest, OldTokensResolveInTheWindowThenExpire) {
  const std::string old_token = NameToken();
  ASSERT_THAT(old_token, StartsWith("stk_"));
  auto before = Detokenize(old_token);
  ASSERT_EQ(before.status, 200) << before.body;

  // `clover keys rotate-pseudonym` with the node stopped (embedded store).
  Stop();
  {
    auto v =
        RotatePseudonymKey(node_config_->deployment, absl::Hours(1), &clock_);
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_EQ(*v, 2u);
  }
  Start();
  // The node's log announced the rotation and the retirement of v1 at the
  // end of the overlap, as the ring records it.
  {
    std::vector<entry::PseudonymKeyEvent> events;
    for (const std::string& e : LogEntries()) {
      auto k = entry::ParsePseudonymKey(e);
      if (k.ok()) events.push_back(*k);
    }
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[0].event, "rotate");
    EXPECT_EQ(events[0].key, "v2");
    EXPECT_EQ(events[0].supersedes, "v1");
    EXPECT_EQ(events[1].event, "retire");
    EXPECT_EQ(events[1].key, "v1");
    EXPECT_EQ(events[0].overlap_end, events[1].overlap_end);
    EXPECT_EQ(events[1].overlap_end, absl::FromUnixMillis(absl::ToUnixMillis(
                                         clock_.Now() + absl::Hours(1))));
  }

  const std::string new_token = NameToken();
  EXPECT_THAT(new_token, StartsWith("stk_v2."));
  EXPECT_NE(new_token, old_token);
  auto in_window = Detokenize(old_token);
  ASSERT_EQ(in_window.status, 200) << in_window.body;
  EXPECT_STREQ(e2e::ParseBody(in_window.body)["value"].GetString(),
               "Person Number5");
  ASSERT_EQ(Detokenize(new_token).status, 200);

  clock_.Advance(absl::Hours(1));
  auto expired = Detokenize(old_token);
  EXPECT_EQ(expired.status, 410) << expired.body;
  EXPECT_EQ(e2e::ErrorCodeOf(expired), "token_expired");
  EXPECT_THAT(expired.body, Not(HasSubstr("Person")));
  auto fresh = Detokenize(new_token);
  ASSERT_EQ(fresh.status, 200) << fresh.body;

  // The access report finds the decisions from before the rotation (the
  // write, the first read and detokenize) and after it, under one pseudonym.
  auto report = Call("auditor", "GET", "/v1/subjects/eu-5/access-report", "");
  ASSERT_EQ(report.status, 200) << report.body;
  auto doc = e2e::ParseBody(report.body);
  std::vector<std::string> actions;
  for (const auto& e : doc["entries"].GetArray()) {
    const auto& entry = e["entry"];
    ASSERT_TRUE(entry.IsObject() && entry.HasMember("action")) << report.body;
    actions.push_back(entry["action"].GetString());
  }
  // write, read, detokenize | read, detokenize x2 | detokenize (the 410 is
  // refused before any decision, so it is not an access).
  EXPECT_EQ(actions.size(), 7u) << report.body;
  EXPECT_EQ(std::count(actions.begin(), actions.end(), "detokenize"), 4)
      << report.body;
  EXPECT_EQ(std::count(actions.begin(), actions.end(), "read"), 2)
      << report.body;
}

TEST_F(PseudonymRotationE2eTest, UnknownVersionIsNotFoundAndMalformedIs400) {
  const std::string token = NameToken();
  auto unknown = Detokenize("stk_v9." + token.substr(4));
  EXPECT_EQ(unknown.status, 404) << unknown.body;
  auto malformed = Detokenize("stk_v01." + token.substr(4));
  EXPECT_EQ(malformed.status, 400) << malformed.body;
}

}  // namespace
}  // namespace clover::gateway
