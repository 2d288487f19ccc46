// Loopback regression tests for the read-side holes of issue 17 (one EU node of
// the example deployment): aggregates need a cohort of generalised values and
// spend the budget of who asks, not of a destination they pick; siv tokens are
// bound to their field; purposes are a declared set; field lists, JSON keys
// and content types are refused when ambiguous.
#include <unistd.h>

#include <filesystem>
#include <set>

#include "absl/strings/str_cat.h"
#include "core/test_temp_dir.h"
#include "gateway_test_client.h"
#include "gateway/http_client.h"
#include "gateway/local_deployment.h"
#include "gateway/node.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace clover::gateway {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Subject n: born in 1987 unless `year` says otherwise.
std::string Record(int n, int year = 1987) {
  return absl::StrCat("{\"country\":\"IE\",\"fields\":{\"email\":\"reads", n,
                      "@mail.example\",\"name\":\"Reads Person", n,
                      "\",\"birthdate\":\"", year,
                      "-03-04\",\"device_id\":\"device-", n,
                      "\",\"uploaded_videos\":[\"clip-", n, "\"]}}");
}

class GatewayReadsTest : public ::testing::Test {
 protected:
  static constexpr int kSubjects = 14;  // 12 born in 1987, 2 in 1950

  static void SetUpTestSuite() { setup_error_ = new std::string(StartNode()); }
  void SetUp() override { ASSERT_TRUE(setup_error_->empty()) << *setup_error_; }

  static std::string StartNode() {
    tmp_ = new test::TempDir("gateway-reads");
    dir_ = new std::string(tmp_->path());
    auto d = LoadDeployment(
        absl::StrCat(CLOVER_SOURCE_DIR, "/examples/deployment.yaml"));
    if (!d.ok()) return d.status().ToString();
    // Four analytics queries at the example policy's epsilon of 0.5.
    d->privacy.daily_epsilon_budget = 2.0;
    auto nodes = PrepareLocalDeployment(*d, *dir_, 0, FreeLoopbackPort);
    if (!nodes.ok()) return nodes.status().ToString();
    nodes_ = new std::vector<LocalNode>(*std::move(nodes));
    running_ = new std::vector<std::unique_ptr<Node>>();
    for (LocalNode& n : *nodes_) {
      if (n.dc != "ie-dub-1") continue;
      NodeOptions o;
      o.threads = 2;
      auto node = Node::Start(n.deployment, o);
      if (!node.ok()) return absl::StrCat(n.dc, ": ", node.status().ToString());
      running_->push_back(*std::move(node));
      eu_ = new std::string(n.endpoint);
    }
    if (eu_ == nullptr) return "no ie-dub-1 node";
    HttpClient client;
    for (int i = 0; i < kSubjects; ++i) {
      auto r =
          client.Send("PUT", absl::StrCat(*eu_, "/v1/subjects/rd-", i),
                      {"Authorization: Bearer " + ExampleApiKey("accounts-eu"),
                       "X-Clover-Purpose: account_management"},
                      Record(i, i < 12 ? 1987 : 1950));
      if (!r.ok()) return r.status().ToString();
      if (r->status != 201)
        return absl::StrCat("seeding rd-", i, ": ", r->status, " ", r->body);
    }
    return "";
  }

  static void TearDownTestSuite() {
    if (running_ != nullptr) {
      for (auto& n : *running_) n->Shutdown();
      delete running_;
    }
    delete tmp_;  // removes the directory it made, marker and all
  }

  ClientResponse Call(absl::string_view principal, absl::string_view method,
                      const std::string& path, absl::string_view purpose,
                      absl::string_view body = {},
                      std::vector<std::string> headers = {}) {
    return e2e::CallAs(client_, principal, method, *eu_ + path, purpose,
                           body, std::move(headers));
  }

  static rapidjson::Document Json(const std::string& body) {
    return e2e::ParseBody(body);
  }
  static std::string ErrorCode(const ClientResponse& r) {
    return e2e::ErrorCodeOf(r);
  }

  // The log entry at `index`, as the auditor's access report of `subject`
  // shows it ("" if the report has none at that index).
  std::string LoggedEntry(const std::string& subject, uint64_t index) {
    auto r = Call("auditor", "GET",
                  "/v1/subjects/" + subject + "/access-report", "");
    EXPECT_EQ(r.status, 200) << r.body;
    auto doc = Json(r.body);
    if (!doc.IsObject() || !doc.HasMember("entries")) return "";
    for (const auto& e : doc["entries"].GetArray()) {
      if (e["index"].GetUint64() != index) continue;
      rapidjson::StringBuffer buf;
      rapidjson::Writer<rapidjson::StringBuffer> w(buf);
      e["entry"].Accept(w);
      return buf.GetString();
    }
    return "";
  }

  static std::string* setup_error_;
  static test::TempDir* tmp_;
  static std::string* dir_;
  static std::vector<LocalNode>* nodes_;
  static std::vector<std::unique_ptr<Node>>* running_;
  static std::string* eu_;
  HttpClient client_;
};

std::string* GatewayReadsTest::setup_error_ = nullptr;
test::TempDir* GatewayReadsTest::tmp_ = nullptr;
std::string* GatewayReadsTest::dir_ = nullptr;
std::vector<LocalNode>* GatewayReadsTest::nodes_ = nullptr;
std::vector<std::unique_ptr<Node>>* GatewayReadsTest::running_ = nullptr;
std::string* GatewayReadsTest::eu_ = nullptr;

// One test walks the whole budget of (clover-analytics, analytics): 2.0 at 0.5
// a query.
TEST_F(GatewayReadsTest, AggregatesNeedACohortAndSpendTheRequestersBudget) {
  auto aggregate = [&](const std::string& body) {
    return Call("eu-analytics", "POST", "/v1/aggregates", "analytics", body);
  };
  // A token per value is one bucket per person: refused before any charge.
  auto device = aggregate("{\"field\":\"device_id\"}");
  EXPECT_EQ(device.status, 400) << device.body;
  EXPECT_EQ(ErrorCode(device), "field_not_generalized");

  // One person's birth year: refused, logged, and charged (1.5 left).
  auto one = aggregate("{\"field\":\"birthdate\",\"subjects\":[\"rd-3\"]}");
  EXPECT_EQ(one.status, 403) << one.body;
  EXPECT_EQ(ErrorCode(one), "cohort_too_small");
  EXPECT_TRUE(Json(one.body)["error"].HasMember("log_index"));
  EXPECT_THAT(one.body, Not(HasSubstr("1987")));

  // The same person named ten times is still one person (1.0 left).
  std::string repeated = "{\"field\":\"birthdate\",\"subjects\":[";
  for (int i = 0; i < 10; ++i)
    absl::StrAppend(&repeated, i ? "," : "", "\"rd-3\"");
  repeated.append("]}");
  auto same = aggregate(repeated);
  EXPECT_EQ(same.status, 403) << same.body;
  EXPECT_EQ(ErrorCode(same), "cohort_too_small");

  // Nobody matches: the rule's epsilon is still charged (0.5 left).
  auto none = aggregate(
      "{\"field\":\"birthdate\",\"subjects\":[\"nobody-1\",\"nobody-2\"]}");
  EXPECT_EQ(none.status, 403) << none.body;
  EXPECT_EQ(ErrorCode(none), "cohort_too_small");

  // The whole store: 12 people born in 1987, 2 in 1950. Every listed bucket
  // has a noisy count of at least k; the budget left shows the three refusals
  // above were charged.
  auto all = aggregate("{\"field\":\"birthdate\",\"destination\":\"eu\"}");
  ASSERT_EQ(all.status, 200) << all.body;
  auto doc = Json(all.body);
  EXPECT_DOUBLE_EQ(doc["budget_left"].GetDouble(), 0.0);
  EXPECT_EQ(doc["min_cohort"].GetInt(), 10);
  for (const auto& b : doc["buckets"].GetObject()) {
    EXPECT_GE(b.value.GetInt64(), 10) << b.name.GetString();
  }

  // Spent for (clover-analytics, analytics), whatever destination is named.
  for (const char* destination : {"eu", "us", "cn", "uk", "ch"}) {
    auto r = aggregate(absl::StrCat(
        "{\"field\":\"birthdate\",\"destination\":\"", destination, "\"}"));
    EXPECT_EQ(r.status, 429) << destination << ": " << r.body;
  }
}

TEST_F(GatewayReadsTest, SivTokensDetokenizeOnlyAsTheirField) {
  auto read =
      Call("eu-tns-1", "GET", "/v1/subjects/rd-5?fields=name", "trust_safety");
  ASSERT_EQ(read.status, 200) << read.body;
  std::string token = Json(read.body)["fields"]["name"]["value"].GetString();
  ASSERT_THAT(token, HasSubstr("stk_"));
  auto detokenize = [&](absl::string_view field) {
    return Call("eu-support-1", "POST", "/v1/detokenize", "customer_support",
                absl::StrCat("{\"field\":\"", field, "\",\"token\":\"", token,
                             "\",\"issued_destination\":\"eu\","
                             "\"issued_purpose\":\"trust_safety\"}"));
  };
  // A name token presented as uploaded_videos reveals nothing.
  auto wrong = detokenize("uploaded_videos");
  EXPECT_EQ(wrong.status, 400) << wrong.body;
  EXPECT_EQ(ErrorCode(wrong), "field_mismatch");
  EXPECT_THAT(wrong.body, Not(HasSubstr("Reads Person")));
  // As its own field it opens, and the log names the field revealed.
  auto right = detokenize("name");
  ASSERT_EQ(right.status, 200) << right.body;
  auto doc = Json(right.body);
  EXPECT_STREQ(doc["value"].GetString(), "Reads Person5");
  EXPECT_STREQ(doc["field"].GetString(), "name");
  std::string entry = LoggedEntry("rd-5", doc["log_index"].GetUint64());
  ASSERT_FALSE(entry.empty());
  EXPECT_THAT(entry, HasSubstr("\"detokenize\""));
  EXPECT_THAT(entry, HasSubstr("\"name\""));
  EXPECT_THAT(entry, Not(HasSubstr("uploaded_videos")));
  // Tokens issued for a purpose nobody declared, or a destination that is no
  // jurisdiction, are not looked at.
  auto bad_purpose =
      Call("eu-support-1", "POST", "/v1/detokenize", "customer_support",
           absl::StrCat("{\"field\":\"name\",\"token\":\"", token,
                        "\",\"issued_purpose\":\"made_up\"}"));
  EXPECT_EQ(bad_purpose.status, 400);
  EXPECT_EQ(ErrorCode(bad_purpose), "unknown_purpose");
  auto bad_destination =
      Call("eu-support-1", "POST", "/v1/detokenize", "customer_support",
           absl::StrCat("{\"field\":\"name\",\"token\":\"", token,
                        "\",\"issued_destination\":\"mars\"}"));
  EXPECT_EQ(bad_destination.status, 400);
}

// 2,000 invented purposes, through the header and an export's body: every one
// is refused before anything is keyed by it.
TEST_F(GatewayReadsTest, UndeclaredPurposesAreRefused) {
  std::set<int> statuses;
  std::set<std::string> codes;
  for (int i = 0; i < 1000; ++i) {
    std::string purpose = absl::StrCat("invented_", i);
    auto header =
        Call("eu-support-1", "GET", "/v1/subjects/rd-1?fields=name", purpose);
    statuses.insert(header.status);
    codes.insert(ErrorCode(header));
    auto body =
        Call("us-recommender", "POST", "/v1/exports", "",
             absl::StrCat("{\"destination\":\"us\",\"purpose\":\"", purpose,
                          "\",\"fields\":[\"name\"],\"subjects\":[\"rd-"
                          "1\"]}"));
    statuses.insert(body.status);
    codes.insert(ErrorCode(body));
  }
  EXPECT_EQ(statuses, std::set<int>{400});
  EXPECT_EQ(codes, std::set<std::string>{"unknown_purpose"});
  auto aggregate = Call("eu-analytics", "POST", "/v1/aggregates", "marketing",
                        "{\"field\":\"birthdate\"}");
  EXPECT_EQ(aggregate.status, 400);
  EXPECT_EQ(ErrorCode(aggregate), "unknown_purpose");
  // Declared purposes still work.
  EXPECT_EQ(Call("eu-support-1", "GET", "/v1/subjects/rd-1?fields=name",
                 "customer_support")
                .status,
            200);
}

TEST_F(GatewayReadsTest, FieldListsMustBeExact) {
  for (const char* query :
       {"fields=email%00", "fields=email%00,name", "fields=%00",
        "fields=email,", "fields=,", "fields=email,,name",
        "fields=email&fields=name", "fields=email%zz"}) {
    auto r =
        Call("eu-support-1", "GET", absl::StrCat("/v1/subjects/rd-1?", query),
             "customer_support");
    EXPECT_EQ(r.status, 400) << query << ": " << r.body;
    EXPECT_THAT(r.body, Not(HasSubstr("reads1@mail.example"))) << query;
  }
  auto ok = Call("eu-support-1", "GET",
                 "/v1/subjects/rd-1?fields=email,%20name", "customer_support");
  ASSERT_EQ(ok.status, 200) << ok.body;
  auto doc = Json(ok.body);
  EXPECT_EQ(doc["fields"].MemberCount(), 2u);
}

TEST_F(GatewayReadsTest, DuplicateJsonKeysAreRefused) {
  auto exp = Call("us-recommender", "POST", "/v1/exports", "",
                  "{\"destination\":\"us\",\"purpose\":\"recommendation\","
                  "\"purpose\":\"customer_support\",\"fields\":[\"name\"],"
                  "\"subjects\":[\"rd-1\"]}");
  EXPECT_EQ(exp.status, 400) << exp.body;
  EXPECT_THAT(exp.body, HasSubstr("duplicate key 'purpose'"));
  auto agg = Call("eu-analytics", "POST", "/v1/aggregates", "analytics",
                  "{\"field\":\"device_id\",\"field\":\"birthdate\"}");
  EXPECT_EQ(agg.status, 400) << agg.body;
  EXPECT_THAT(agg.body, HasSubstr("duplicate key 'field'"));
  auto create = Call(
      "us-legal-1", "POST", "/v1/approvals", "",
      "{\"justification\":\"LEGAL_REQUEST\",\"detail\":\"CASE-9\",\"subjects\":"
      "[\"rd-2\"],\"fields\":[\"name\"],\"fields\":[\"email\"],"
      "\"duration\":\"1h\"}");
  EXPECT_EQ(create.status, 400) << create.body;
  EXPECT_THAT(create.body, HasSubstr("duplicate key 'fields'"));
  // A well-formed request, then a decision with a repeated key.
  auto good = Call(
      "us-legal-1", "POST", "/v1/approvals", "",
      "{\"justification\":\"LEGAL_REQUEST\",\"detail\":\"CASE-9\",\"subjects\":"
      "[\"rd-2\"],\"fields\":[\"name\"],\"duration\":\"1h\"}");
  ASSERT_EQ(good.status, 201) << good.body;
  std::string id = Json(good.body)["approval"]["id"].GetString();
  auto decide = Call("auditor", "POST", "/v1/approvals/" + id + "/deny", "",
                     "{\"reason\":\"no\",\"reason\":\"yes\"}");
  EXPECT_EQ(decide.status, 400) << decide.body;
  EXPECT_THAT(decide.body, HasSubstr("duplicate key 'reason'"));
}

TEST_F(GatewayReadsTest, JsonBodiesNeedAJsonContentType) {
  const std::string body =
      "{\"destination\":\"us\",\"purpose\":\"recommendation\",\"fields\":["
      "\"name\"],\"subjects\":[\"rd-1\"]}";
  for (const char* type :
       {"Content-Type: text/plain",
        "Content-Type: application/x-www-form-urlencoded",
        "Content-Type: multipart/form-data; boundary=x",
        "Content-Type: application/jsonx", "Content-Type: json"}) {
    auto r = Call("us-recommender", "POST", "/v1/exports", "", body, {type});
    EXPECT_EQ(r.status, 415) << type << ": " << r.body;
    EXPECT_EQ(ErrorCode(r), "unsupported_media_type") << type;
  }
  auto put =
      Call("accounts-eu", "PUT", "/v1/subjects/rd-x", "account_management",
           Record(99), {"Content-Type: text/plain"});
  EXPECT_EQ(put.status, 415) << put.body;
  EXPECT_EQ(Call("eu-support-1", "GET", "/v1/subjects/rd-x", "customer_support")
                .status,
            404);
  for (const char* type : {"Content-Type: application/json",
                           "Content-Type: application/json; charset=utf-8",
                           "Content-Type: Application/JSON;charset=UTF-8"}) {
    auto r = Call("us-recommender", "POST", "/v1/exports", "", body, {type});
    EXPECT_EQ(r.status, 200) << type << ": " << r.body;
  }
}

}  // namespace
}  // namespace clover::gateway
