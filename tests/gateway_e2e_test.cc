// End-to-end tests of the gateway over real HTTP on loopback: an EU node
// (ie-dub-1) and a US node (us-tx-1) of the example deployment, every endpoint,
// every example principal and every error path, with log indices verified by
// inclusion proofs.
#include <unistd.h>

#include <filesystem>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/owned_dir.h"
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

namespace clover::gateway {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string Record(absl::string_view country, int n) {
  return absl::StrCat(
      "{\"country\":\"", country, "\",\"fields\":{\"email\":\"person", n,
      "@mail.example\",\"phone\":\"+35387", 1000000 + n,
      "\",\"name\":\"Person Number", n,
      "\",\"birthdate\":\"1987-06-15\",\"ip_address\":\"192.0.2.", n % 250 + 1,
      "\",\"device_id\":\"dev-", n,
      "\",\"watch_history\":[\"video-1\",\"video-2\"],\"follows\":[\"creator-"
      "9\"],"
      "\"uploaded_videos\":[\"upload-",
      n, "\"],\"payment_country\":\"", country, "\"}}");
}

class GatewayE2eTest : public ::testing::Test {
 protected:
  // Suite set-up failures would make gtest report every test as skipped; record
  // them and fail each test in SetUp instead.
  static void SetUpTestSuite() { setup_error_ = new std::string(StartNodes()); }
  void SetUp() override { ASSERT_TRUE(setup_error_->empty()) << *setup_error_; }

  static std::string StartNodes() {
    auto made = CreateOwnedTempDir("gateway-e2e");
    if (!made.ok()) return made.status().ToString();
    dir_ = new std::string(*made);
    auto d = LoadDeployment(
        absl::StrCat(CLOVER_SOURCE_DIR, "/examples/deployment.yaml"));
    if (!d.ok()) return d.status().ToString();
    d->privacy.daily_epsilon_budget =
        1.0;  // two analytics queries at epsilon 0.5
    auto nodes = PrepareLocalDeployment(*d, *dir_, 0, FreeLoopbackPort);
    if (!nodes.ok()) return nodes.status().ToString();
    nodes_ = new std::vector<LocalNode>(*std::move(nodes));
    running_ = new std::vector<std::unique_ptr<Node>>();
    for (LocalNode& n : *nodes_) {
      if (n.dc != "ie-dub-1" && n.dc != "us-tx-1") continue;
      NodeOptions o;
      o.threads = 2;
      auto node = Node::Start(n.deployment, o);
      if (!node.ok()) return absl::StrCat(n.dc, ": ", node.status().ToString());
      running_->push_back(*std::move(node));
      (n.dc == "ie-dub-1" ? eu_ : us_) = new std::string(n.endpoint);
      if (n.dc == "ie-dub-1") eu_verifier_ = new std::string(n.verifier_key);
    }
    HttpClient client;
    for (int i = 0; i < 30; ++i) {
      auto r =
          client.Send("PUT", absl::StrCat(*eu_, "/v1/subjects/eu-", i),
                      {"Authorization: Bearer " + ExampleApiKey("accounts-eu"),
                       "X-Clover-Purpose: account_management"},
                      Record(i % 2 ? "IE" : "NO", i));
      if (!r.ok()) return r.status().ToString();
      if (r->status != 201)
        return absl::StrCat("seeding eu-", i, ": ", r->status, " ", r->body);
    }
    for (int i = 0; i < 5; ++i) {
      auto r =
          client.Send("PUT", absl::StrCat(*us_, "/v1/subjects/us-", i),
                      {"Authorization: Bearer " + ExampleApiKey("accounts-us"),
                       "X-Clover-Purpose: account_management"},
                      Record("US", i));
      if (!r.ok()) return r.status().ToString();
      if (r->status != 201)
        return absl::StrCat("seeding us-", i, ": ", r->status, " ", r->body);
    }
    return "";
  }

  static void TearDownTestSuite() {
    if (running_ != nullptr) {
      for (auto& n : *running_) n->Shutdown();
      delete running_;
    }
    if (dir_ != nullptr) {
      EXPECT_TRUE(RemoveOwnedDir(*dir_).ok()) << *dir_;
    }
  }

  ClientResponse Call(absl::string_view principal, absl::string_view method,
                      const std::string& url, absl::string_view purpose,
                      absl::string_view body = {}) {
    return e2e::CallAs(client_, principal, method, url, purpose, body);
  }

  static rapidjson::Document Json(const std::string& body) {
    return e2e::ParseBody(body);
  }
  static std::string ErrorCode(const ClientResponse& r) {
    return e2e::ErrorCodeOf(r);
  }

  std::unique_ptr<log::LogClient> EuLogClient() {
    auto v = log::ParseVerifierKey(*eu_verifier_);
    EXPECT_TRUE(v.ok());
    std::vector<std::unique_ptr<log::NoteVerifier>> vs;
    vs.push_back(*std::move(v));
    auto c =
        log::LogClient::Create(log::HttpFetcher(*eu_ + "/log"), std::move(vs));
    EXPECT_TRUE(c.ok());
    return *std::move(c);
  }

  static std::string* setup_error_;
  static std::string* dir_;
  static std::vector<LocalNode>* nodes_;
  static std::vector<std::unique_ptr<Node>>* running_;
  static std::string* eu_;
  static std::string* us_;
  static std::string* eu_verifier_;
  HttpClient client_;
};

std::string* GatewayE2eTest::setup_error_ = nullptr;
std::string* GatewayE2eTest::dir_ = nullptr;
std::vector<LocalNode>* GatewayE2eTest::nodes_ = nullptr;
std::vector<std::unique_ptr<Node>>* GatewayE2eTest::running_ = nullptr;
std::string* GatewayE2eTest::eu_ = nullptr;
std::string* GatewayE2eTest::us_ = nullptr;
std::string* GatewayE2eTest::eu_verifier_ = nullptr;

TEST_F(GatewayE2eTest, EuSupportReadsRawEuData) {
  auto r = Call("eu-support-1", "GET",
                *eu_ + "/v1/subjects/eu-1?fields=email,name,phone",
                "customer_support");
  ASSERT_EQ(r.status, 200) << r.body;
  auto doc = Json(r.body);
  EXPECT_STREQ(doc["fields"]["email"]["effect"].GetString(), "allow");
  EXPECT_STREQ(doc["fields"]["email"]["value"].GetString(),
               "person1@mail.example");
  EXPECT_STREQ(doc["destination"].GetString(), "eu");
  EXPECT_TRUE(doc["log_index"].IsUint64());
}

TEST_F(GatewayE2eTest, RewriteIsOkAndNotCreated) {
  auto r = Call("accounts-eu", "PUT", *eu_ + "/v1/subjects/eu-0",
                "account_management", Record("NO", 0));
  EXPECT_EQ(r.status, 200) << r.body;
  // The home jurisdiction never changes silently.
  auto moved = Call("accounts-eu", "PUT", *eu_ + "/v1/subjects/eu-0",
                    "account_management", Record("GB", 0));
  EXPECT_EQ(moved.status / 100, 4) << moved.body;
}

TEST_F(GatewayE2eTest,
       CnEngineerNeverSeesRestrictedDataRawAndEveryIndexVerifies) {
  std::vector<std::pair<uint64_t, std::string>> seen;
  for (int i = 0; i < 30; ++i) {
    auto r =
        Call("cn-engineer-1", "GET", absl::StrCat(*eu_, "/v1/subjects/eu-", i),
             "service_operation");
    ASSERT_EQ(r.status, 200) << r.body;
    auto doc = Json(r.body);
    EXPECT_STREQ(doc["destination"].GetString(), "cn");
    for (const auto& f : doc["fields"].GetObject()) {
      std::string name = f.name.GetString();
      std::string effect = f.value["effect"].GetString();
      EXPECT_NE(effect, "allow") << name;
      if (name == "email" || name == "phone" || name == "ip_address") {
        EXPECT_FALSE(f.value.HasMember("value")) << name << " came back for cn";
      }
      if (name == "payment_country" && f.value.HasMember("value")) {
        // Restricted: at most generalised (country -> jurisdiction), never the
        // raw country.
        std::string v = f.value["value"].GetString();
        EXPECT_NE(v, "IE");
        EXPECT_NE(v, "NO");
      }
    }
    EXPECT_THAT(r.body, Not(HasSubstr("@mail.example")));
    EXPECT_THAT(r.body, Not(HasSubstr(absl::StrCat("Person Number", i, "\""))));
    seen.emplace_back(doc["log_index"].GetUint64(), absl::StrCat("eu-", i));
  }
  auto client = EuLogClient();
  auto cp = client->FetchCheckpoint();
  ASSERT_TRUE(cp.ok()) << cp.status();
  for (const auto& [index, subject] : seen) {
    ASSERT_LT(index, cp->checkpoint.size);
    auto entry =
        client->FetchEntry(cp->checkpoint, index);  // verifies inclusion
    ASSERT_TRUE(entry.ok()) << entry.status();
    EXPECT_THAT(*entry, HasSubstr("\"principal\":{\"country\":\"CN\""));
    EXPECT_THAT(*entry,
                Not(HasSubstr(subject + "\"")));  // pseudonym, not the raw id
    EXPECT_THAT(*entry, Not(HasSubstr("@mail.example")));
  }
}

TEST_F(GatewayE2eTest, ForbiddenWhenNothingMayBeReturnedAndStillLogged) {
  auto r =
      Call("cn-engineer-1", "GET",
           *eu_ + "/v1/subjects/eu-3?fields=email,phone", "service_operation");
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(ErrorCode(r), "permission_denied");
  EXPECT_TRUE(Json(r.body)["error"].HasMember("log_index"));
}

TEST_F(GatewayE2eTest, MisdirectedWriteGets421AndStoresNothing) {
  // By a principal the home region lets write the subject (others: 403).
  auto r = Call("accounts-us", "PUT", *eu_ + "/v1/subjects/us-99",
                "account_management", Record("US", 99));
  ASSERT_EQ(r.status, 421) << r.body;
  EXPECT_EQ(r.Header("location"), *us_);
  auto doc = Json(r.body);
  EXPECT_STREQ(doc["error"]["home_region"].GetString(), "us");
  EXPECT_EQ(Call("eu-support-1", "GET", *eu_ + "/v1/subjects/us-99",
                 "customer_support")
                .status,
            404);
  auto homeless = Call("accounts-eu", "PUT", *eu_ + "/v1/subjects/cn-1",
                       "account_management", Record("CN", 1));
  EXPECT_EQ(homeless.status, 422) << homeless.body;
}

TEST_F(GatewayE2eTest, AuthenticationAndBadInput) {
  EXPECT_EQ(
      Call("", "GET", *eu_ + "/v1/subjects/eu-1", "customer_support").status,
      401);
  auto bad_key =
      client_.Send("GET", *eu_ + "/v1/subjects/eu-1",
                   {"Authorization: Bearer clv_wrong", "X-Clover-Purpose: x"});
  ASSERT_TRUE(bad_key.ok());
  EXPECT_EQ(bad_key->status, 401);
  EXPECT_THAT(bad_key->body, Not(HasSubstr("clv_wrong")));
  auto no_purpose = Call("eu-support-1", "GET", *eu_ + "/v1/subjects/eu-1", "");
  EXPECT_EQ(no_purpose.status, 400);
  EXPECT_THAT(no_purpose.body, HasSubstr("X-Clover-Purpose"));
  EXPECT_EQ(
      Call("eu-support-1", "GET", *eu_ + "/v1/subjects/eu-1?fields=shoe_size",
           "customer_support")
          .status,
      400);
  EXPECT_EQ(Call("accounts-eu", "PUT", *eu_ + "/v1/subjects/eu-x",
                 "account_management", "{\"country\":")
                .status,
            400);
  EXPECT_EQ(Call("accounts-eu", "PUT", *eu_ + "/v1/subjects/eu-x",
                 "account_management",
                 "{\"country\":\"IE\",\"fields\":{\"email\":\"not-an-email\"}}")
                .status,
            400);
  EXPECT_EQ(
      Call("us-recommender", "POST", *eu_ + "/v1/exports", "", "[1,2]").status,
      400);
  EXPECT_EQ(Call("eu-support-1", "GET", *eu_ + "/v1/subjects/nobody",
                 "customer_support")
                .status,
            404);
  EXPECT_EQ(
      Call("eu-support-1", "GET", *eu_ + "/v1/nothing-here", "customer_support")
          .status,
      404);
  // Just over the 1 MiB body limit. The server may answer 413 and close before
  // curl has sent everything, which curl can report as a reset; retry those
  // rare cases.
  std::string huge((1 << 20) + 100, 'x');
  int status = 0;
  for (int attempt = 0; attempt < 5 && status == 0; ++attempt) {
    HttpClient fresh;
    auto r =
        fresh.Send("PUT", *eu_ + "/v1/subjects/eu-big",
                   {"Authorization: Bearer " + ExampleApiKey("accounts-eu"),
                    "X-Clover-Purpose: account_management"},
                   huge);
    if (r.ok()) status = r->status;
  }
  EXPECT_EQ(status, 413);
}

TEST_F(GatewayE2eTest, ErasureMakesSubjectGone) {
  auto del = Call("eu-support-1", "DELETE", *eu_ + "/v1/subjects/eu-29",
                  "customer_support");
  ASSERT_EQ(del.status, 200) << del.body;
  auto gone = Call("eu-support-1", "GET", *eu_ + "/v1/subjects/eu-29",
                   "customer_support");
  EXPECT_EQ(gone.status, 410) << gone.body;
  // A CN engineer may not erase.
  EXPECT_EQ(Call("cn-engineer-1", "DELETE", *eu_ + "/v1/subjects/eu-28",
                 "service_operation")
                .status,
            403);
}

TEST_F(GatewayE2eTest, RecommendationExportIsPseudonymisedBehaviourOnly) {
  auto r =
      Call("us-recommender", "POST", *eu_ + "/v1/exports", "",
           "{\"destination\":\"us\",\"purpose\":\"recommendation\",\"fields\":"
           "[\"watch_history\",\"email\"],\"subjects\":[\"eu-1\",\"eu-2\",\"eu-"
           "3\"]}");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Header("x-clover-records"), "3");
  EXPECT_FALSE(r.Header("x-clover-log-index").empty());
  std::vector<std::string> lines =
      absl::StrSplit(r.body, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u);
  for (const auto& line : lines) {
    auto doc = Json(line);
    ASSERT_TRUE(doc.IsObject()) << line;
    EXPECT_FALSE(doc["fields"].HasMember("email"));
    ASSERT_TRUE(doc["fields"].HasMember("watch_history"));
    for (const auto& v : doc["fields"]["watch_history"].GetArray()) {
      EXPECT_THAT(std::string(v.GetString()), HasSubstr("tok_"));
    }
    EXPECT_THAT(std::string(doc["subject_token"].GetString()),
                HasSubstr("tok_"));
  }
  EXPECT_THAT(r.body, Not(HasSubstr("eu-1")));
}

TEST_F(GatewayE2eTest, TrustAndSafetySeesContentAndSupportReversesItsTokens) {
  auto r = Call("eu-tns-1", "GET",
                *eu_ + "/v1/subjects/eu-5?fields=uploaded_videos,name",
                "trust_safety");
  ASSERT_EQ(r.status, 200) << r.body;
  auto doc = Json(r.body);
  EXPECT_STREQ(doc["fields"]["uploaded_videos"]["effect"].GetString(), "allow");
  EXPECT_STREQ(doc["fields"]["uploaded_videos"]["value"][0].GetString(),
               "upload-5");
  std::string token = doc["fields"]["name"]["value"].GetString();
  EXPECT_THAT(token, HasSubstr("stk_"));
  auto back =
      Call("eu-support-1", "POST", *eu_ + "/v1/detokenize", "customer_support",
           absl::StrCat("{\"field\":\"name\",\"token\":\"", token,
                        "\",\"issued_destination\":\"eu\",\"issued_purpose\":"
                        "\"trust_safety\"}"));
  ASSERT_EQ(back.status, 200) << back.body;
  EXPECT_STREQ(Json(back.body)["value"].GetString(), "Person Number5");
  // Not reversible by staff in cn, and hmac tokens are never reversible.
  EXPECT_EQ(
      Call("cn-engineer-1", "POST", *eu_ + "/v1/detokenize",
           "service_operation",
           absl::StrCat("{\"field\":\"name\",\"token\":\"", token,
                        "\",\"issued_destination\":\"eu\",\"issued_purpose\":"
                        "\"trust_safety\"}"))
          .status,
      403);
  EXPECT_EQ(
      Call("eu-support-1", "POST", *eu_ + "/v1/detokenize", "customer_support",
           "{\"field\":\"email\",\"token\":\"tok_abc\"}")
          .status,
      400);
}

TEST_F(GatewayE2eTest, LegalRequestNeedsAuditorApproval) {
  auto before = Call("us-legal-1", "GET",
                     *eu_ + "/v1/subjects/eu-7?fields=name", "legal_request");
  EXPECT_EQ(before.status, 403) << before.body;
  auto created = Call(
      "us-legal-1", "POST", *eu_ + "/v1/approvals", "",
      "{\"justification\":\"LEGAL_REQUEST\",\"detail\":\"CASE-1\",\"subjects\":"
      "[\"eu-7\"],\"fields\":[\"name\"],\"duration\":\"1h\"}");
  ASSERT_EQ(created.status, 201) << created.body;
  std::string id = Json(created.body)["approval"]["id"].GetString();
  EXPECT_EQ(Call("us-legal-1", "POST",
                 *eu_ + "/v1/approvals/" + id + "/approve", "", "{}")
                .status,
            403);
  auto pending =
      Call("auditor", "GET", *eu_ + "/v1/approvals?state=pending", "");
  EXPECT_THAT(pending.body, HasSubstr(id));
  auto approved =
      Call("auditor", "POST", *eu_ + "/v1/approvals/" + id + "/approve", "",
           "{\"reason\":\"court order checked\"}");
  ASSERT_EQ(approved.status, 200) << approved.body;
  auto after = Call("us-legal-1", "GET", *eu_ + "/v1/subjects/eu-7?fields=name",
                    "legal_request");
  ASSERT_EQ(after.status, 200) << after.body;
  EXPECT_STREQ(Json(after.body)["fields"]["name"]["value"].GetString(),
               "Person Number7");
  EXPECT_EQ(
      Call("auditor", "GET", *eu_ + "/v1/approvals?state=bogus", "").status,
      400);
}

TEST_F(GatewayE2eTest, AggregatesSpendTheBudgetThen429) {
  for (int i = 0; i < 2; ++i) {
    auto r = Call("eu-analytics", "POST", *eu_ + "/v1/aggregates", "analytics",
                  "{\"field\":\"birthdate\"}");
    ASSERT_EQ(r.status, 200) << r.body;
    auto doc = Json(r.body);
    EXPECT_TRUE(doc["buckets"].IsObject());
    EXPECT_DOUBLE_EQ(doc["epsilon"].GetDouble(), 0.5);
  }
  auto spent = Call("eu-analytics", "POST", *eu_ + "/v1/aggregates",
                    "analytics", "{\"field\":\"birthdate\"}");
  EXPECT_EQ(spent.status, 429) << spent.body;
  EXPECT_EQ(spent.Header("retry-after"),
            absl::StrCat(server::kRetryAfterSeconds));
  // Restricted fields are not aggregatable by analytics at all.
  EXPECT_EQ(Call("eu-analytics", "POST", *eu_ + "/v1/aggregates", "analytics",
                 "{\"field\":\"email\"}")
                .status,
            403);
}

TEST_F(GatewayE2eTest, IncidentResponseSeesGeneralisedNetworks) {
  auto r =
      Call("admin", "GET", *eu_ + "/v1/subjects/eu-4?fields=ip_address,email",
           "security_incident");
  ASSERT_EQ(r.status, 200) << r.body;
  auto doc = Json(r.body);
  EXPECT_STREQ(doc["fields"]["ip_address"]["effect"].GetString(), "generalize");
  EXPECT_STREQ(doc["fields"]["ip_address"]["value"].GetString(),
               "192.0.2.0/24");
}

TEST_F(GatewayE2eTest, AccessReportListsDecisionsWithProofs) {
  ASSERT_EQ(Call("eu-support-1", "GET", *eu_ + "/v1/subjects/eu-11",
                 "customer_support")
                .status,
            200);
  EXPECT_EQ(
      Call("eu-support-1", "GET", *eu_ + "/v1/subjects/eu-11/access-report", "")
          .status,
      403);
  auto r =
      Call("auditor", "GET", *eu_ + "/v1/subjects/eu-11/access-report", "");
  ASSERT_EQ(r.status, 200) << r.body;
  auto doc = Json(r.body);
  ASSERT_GE(doc["entries"].Size(), 2u);  // the write and the read
  // One embedded node: the report of earlier versions, nothing regional.
  EXPECT_FALSE(doc.HasMember("region_logs"));
  EXPECT_FALSE(doc["entries"][0].HasMember("dc"));
  auto client = EuLogClient();
  auto cp = client->OpenCheckpointNote(doc["checkpoint"].GetString());
  ASSERT_TRUE(cp.ok()) << cp.status();
  for (const auto& e : doc["entries"].GetArray()) {
    auto entry = client->FetchEntry(cp->checkpoint, e["index"].GetUint64());
    ASSERT_TRUE(entry.ok()) << entry.status();
    EXPECT_THAT(*entry, HasSubstr(doc["subject_pseudonym"].GetString()));
  }
}

TEST_F(GatewayE2eTest, PublicEndpoints) {
  HttpClient c;
  auto health = c.Send("GET", *eu_ + "/healthz", {});
  ASSERT_TRUE(health.ok());
  EXPECT_EQ(health->status, 200);
  auto cp = c.Send("GET", *eu_ + "/log/checkpoint", {});
  ASSERT_TRUE(cp.ok());
  EXPECT_EQ(cp->status, 200);
  EXPECT_THAT(cp->body, HasSubstr("log.eu.clover.example/ie-dub-1\n"));
  auto metrics = c.Send("GET", *eu_ + "/metrics", {});
  ASSERT_TRUE(metrics.ok());
  EXPECT_THAT(metrics->body, HasSubstr("clover_gateway_decisions_total{"));
  // Every entry in the log was counted in a batch (a batch is counted just
  // before the log publishes it, so a scrape may see one more).
  auto value = [&](absl::string_view name) {
    const std::string key = absl::StrCat("\n", name, " ");
    size_t at = metrics->body.find(key);
    double v = -1;
    if (at != std::string::npos) {
      at += key.size();
      (void)absl::SimpleAtod(absl::string_view(metrics->body)
                                 .substr(at, metrics->body.find('\n', at) - at),
                             &v);
    }
    return v;
  };
  const double size = value("clover_log_size");
  const double batches = value("clover_log_batch_entries_count");
  const double entries = value("clover_log_batch_entries_sum");
  EXPECT_GT(size, 0) << metrics->body;
  EXPECT_GE(batches, 1);
  EXPECT_LE(batches, entries);
  EXPECT_GE(entries, size);
  EXPECT_EQ(value("clover_log_batch_write_seconds_count"), batches);
  EXPECT_EQ(value("clover_log_batch_integrate_seconds_count"), batches);
  EXPECT_GT(value("clover_log_batch_integrate_seconds_sum"), 0);
  EXPECT_EQ(value("clover_log_batch_failures_total"), 0);
  auto proof =
      c.Send("GET", *eu_ + "/v1/log/proof/inclusion?index=0&size=2", {});
  ASSERT_TRUE(proof.ok());
  EXPECT_EQ(proof->status, 200) << proof->body;
  auto bad = c.Send("GET", *eu_ + "/log/tile/0/x0/zz", {});
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(bad->status / 100, 4);
}

// --- Write authorisation, logged look-ups (issue 17, findings 2, 3, 10) ---
// Subjects eu-20..eu-24 are used only here.

// The size of the EU node's log, as /readyz reports it (every answered
// request's entry is durable, and so counted, before its answer).
uint64_t LogSize(HttpClient& c, const std::string& endpoint) {
  auto r = c.Send("GET", endpoint + "/readyz", {});
  if (!r.ok() || r->status != 200) return 0;
  rapidjson::Document doc;
  doc.Parse(r->body.c_str());
  return doc.IsObject() && doc.HasMember("log_size")
             ? doc["log_size"].GetUint64()
             : 0;
}

TEST_F(GatewayE2eTest, WritesNeedThePolicyForEveryFieldWhateverTheBodyHolds) {
  const std::string url = *eu_ + "/v1/subjects/eu-20";
  auto rewrite = [&] {
    auto r =
        Call("accounts-eu", "PUT", url, "account_management", Record("IE", 20));
    EXPECT_EQ(r.status, 200) << r.body;
    return Json(r.body)["revision"].GetUint64();
  };
  const uint64_t before = rewrite();
  const std::string empty = R"({"country":"DE","fields":{}})";
  const std::string partial =
      R"({"country":"DE","fields":{"watch_history":["x"]}})";
  // Neither an empty record nor a partial one by a principal without write
  // rights, whichever purpose it names.
  for (const auto& [who, purpose] :
       std::vector<std::pair<std::string, std::string>>{
           {"cn-engineer-1", "service_operation"},
           {"cn-engineer-1", "account_management"},
           {"us-recommender", "recommendation"},
           {"us-recommender", "account_management"},
           {"eu-analytics", "analytics"}}) {
    for (const std::string& body : {empty, partial}) {
      auto r = Call(who, "PUT", url, purpose, body);
      EXPECT_EQ(r.status, 403) << who << " " << body << ": " << r.body;
      EXPECT_EQ(ErrorCode(r), "permission_denied");
      EXPECT_TRUE(Json(r.body)["error"].HasMember("log_index")) << r.body;
    }
  }
  // Nothing was stored: the record is intact and the next authorised write
  // is the very next revision.
  auto read = Call("eu-support-1", "GET", url + "?fields=email,name",
                   "customer_support");
  ASSERT_EQ(read.status, 200) << read.body;
  EXPECT_STREQ(Json(read.body)["fields"]["email"]["value"].GetString(),
               "person20@mail.example");
  EXPECT_EQ(rewrite(), before + 1);
}

TEST_F(GatewayE2eTest, PrincipalsWithoutWriteRightsCannotCreateSubjects) {
  for (const auto& [who, purpose] :
       std::vector<std::pair<std::string, std::string>>{
           {"cn-engineer-1", "service_operation"},
           {"us-recommender", "recommendation"}}) {
    const std::string url = *eu_ + "/v1/subjects/eu-new-by-" + who;
    auto r = Call(who, "PUT", url, purpose, R"({"country":"DE","fields":{}})");
    EXPECT_EQ(r.status, 403) << who << ": " << r.body;
    auto full = Call(who, "PUT", url, purpose, Record("DE", 77));
    EXPECT_EQ(full.status, 403) << who << ": " << full.body;
    EXPECT_EQ(Call("eu-support-1", "GET", url, "customer_support").status, 404)
        << who << " created a subject";
  }
  // The US recommender cannot create a US subject on its own region either.
  auto us = Call("us-recommender", "PUT", *us_ + "/v1/subjects/us-new-rec",
                 "recommendation", R"({"country":"US","fields":{}})");
  EXPECT_EQ(us.status, 403) << us.body;
  EXPECT_EQ(Call("accounts-us", "PUT", *us_ + "/v1/subjects/us-new-rec",
                 "account_management", Record("US", 5))
                .status,
            201);
}

TEST_F(GatewayE2eTest, MisdirectedWriteIsAuthenticatedAndAuthorisedFirst) {
  // Without (or with bad) credentials a misdirected write is 401, not 421:
  // nothing about residency is told to an unauthenticated caller.
  auto none = Call("", "PUT", *eu_ + "/v1/subjects/us-98", "account_management",
                   Record("US", 98));
  EXPECT_EQ(none.status, 401) << none.body;
  EXPECT_TRUE(none.Header("location").empty());
  auto bad = client_.Send("PUT", *eu_ + "/v1/subjects/us-98",
                          {"Authorization: Bearer clv_wrong",
                           "X-Clover-Purpose: account_management"},
                          Record("US", 98));
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(bad->status, 401) << bad->body;
  EXPECT_THAT(bad->body, Not(HasSubstr("home_region")));
  // Nor is an authenticated principal the home region would refuse sent
  // there: it is refused here, and the refusal is logged.
  for (const auto& [who, purpose] :
       std::vector<std::pair<std::string, std::string>>{
           {"cn-engineer-1", "service_operation"},
           {"accounts-eu", "account_management"}}) {
    auto r = Call(who, "PUT", *eu_ + "/v1/subjects/us-98", purpose,
                  Record("US", 98));
    EXPECT_EQ(r.status, 403) << who << ": " << r.body;
    EXPECT_TRUE(r.Header("location").empty());
    EXPECT_THAT(r.body, Not(HasSubstr(*us_)));
    EXPECT_TRUE(Json(r.body)["error"].HasMember("log_index")) << r.body;
  }
  EXPECT_EQ(Call("accounts-us", "PUT", *eu_ + "/v1/subjects/us-98",
                 "account_management", Record("US", 98))
                .status,
            421);
}

TEST_F(GatewayE2eTest, ExistenceChecksAreLogged) {
  ASSERT_EQ(Call("eu-support-1", "DELETE", *eu_ + "/v1/subjects/eu-21",
                 "customer_support")
                .status,
            200);
  auto client = EuLogClient();
  struct Probe {
    std::string method, subject, action, outcome;
    int status;
  };
  for (const Probe& probe :
       std::vector<Probe>{{"GET", "nobody-21", "read", "not_found", 404},
                          {"GET", "eu-21", "read", "gone", 410},
                          {"DELETE", "nobody-21", "erase", "not_found", 404},
                          {"DELETE", "eu-21", "erase", "gone", 410}}) {
    const uint64_t before = LogSize(client_, *eu_);
    auto r = Call("eu-support-1", probe.method,
                  *eu_ + "/v1/subjects/" + probe.subject, "customer_support");
    ASSERT_EQ(r.status, probe.status) << probe.method << " " << r.body;
    EXPECT_EQ(ErrorCode(r), probe.outcome == "gone" ? "gone" : "not_found");
    EXPECT_EQ(LogSize(client_, *eu_), before + 1)
        << probe.method << " " << probe.subject;
    auto doc = Json(r.body);
    ASSERT_TRUE(doc["error"].HasMember("log_index")) << r.body;
    auto cp = client->FetchCheckpoint();
    ASSERT_TRUE(cp.ok()) << cp.status();
    auto entry = client->FetchEntry(cp->checkpoint,
                                    doc["error"]["log_index"].GetUint64());
    ASSERT_TRUE(entry.ok()) << entry.status();
    EXPECT_THAT(*entry, HasSubstr("\"action\":\"" + probe.action + "\""));
    EXPECT_THAT(*entry, HasSubstr("\"outcome\":\"" + probe.outcome + "\""));
    EXPECT_THAT(*entry, HasSubstr("\"id\":\"eu-support-1\""));
    EXPECT_THAT(*entry, HasSubstr("\"records\":0"));
    EXPECT_THAT(*entry, HasSubstr("\"subject\":\""));
    EXPECT_THAT(*entry, Not(HasSubstr(probe.subject + "\"")));
  }
  // A malformed id is a client error, answered without an entry.
  const uint64_t before = LogSize(client_, *eu_);
  EXPECT_EQ(Call("eu-support-1", "GET", *eu_ + "/v1/subjects/.bad",
                 "customer_support")
                .status,
            400);
  EXPECT_EQ(LogSize(client_, *eu_), before);
}

TEST_F(GatewayE2eTest, AccessReportLookUpsAreLogged) {
  auto client = EuLogClient();
  uint64_t before = LogSize(client_, *eu_);
  auto r =
      Call("auditor", "GET", *eu_ + "/v1/subjects/eu-22/access-report", "");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(LogSize(client_, *eu_), before + 1);
  auto doc = Json(r.body);
  ASSERT_TRUE(doc.HasMember("log_index")) << r.body;
  const uint64_t index = doc["log_index"].GetUint64();
  EXPECT_GE(index, doc["tree_size"].GetUint64());
  auto cp = client->FetchCheckpoint();
  ASSERT_TRUE(cp.ok()) << cp.status();
  auto entry = client->FetchEntry(cp->checkpoint, index);
  ASSERT_TRUE(entry.ok()) << entry.status();
  EXPECT_THAT(*entry, HasSubstr("\"action\":\"access_report\""));
  EXPECT_THAT(*entry, HasSubstr("\"id\":\"auditor\""));
  EXPECT_THAT(*entry, HasSubstr(absl::StrCat(
                          "\"subject\":\"",
                          doc["subject_pseudonym"].GetString(), "\"")));
  // The next report lists the look-up itself.
  auto again =
      Call("admin", "GET", *eu_ + "/v1/subjects/eu-22/access-report", "");
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_THAT(again.body, HasSubstr("\"action\":\"access_report\""));
  // A refused look-up is logged too.
  before = LogSize(client_, *eu_);
  auto refused = Call("eu-support-1", "GET",
                      *eu_ + "/v1/subjects/eu-22/access-report", "");
  EXPECT_EQ(refused.status, 403) << refused.body;
  EXPECT_TRUE(Json(refused.body)["error"].HasMember("log_index"));
  EXPECT_EQ(LogSize(client_, *eu_), before + 1);
}

}  // namespace
}  // namespace clover::gateway
