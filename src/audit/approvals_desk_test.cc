// The approvals desk's routes (audit/approvals_desk.h) through a real auditor
// over loopback HTTP, against a fake node that records what it is sent: who
// may call them, CSRF, bad input, the policy limit checked before the node is
// asked, the attestation the node receives, and access reports whose proofs
// verify.
#include "audit/approvals_desk.h"

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "approvals/attestation.h"
#include "audit/auditor.h"
#include "audit/auditor_fixture.h"
#include "audit/tlog_proof.h"
#include "core/canonical_json.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "log/merkle.h"
#include "net/http_client.h"
#include "rapidjson/document.h"
#include "server/http_server.h"
#include "server/router.h"
#include "tests/openapi_spec.h"

namespace clover::audit {
namespace {

using ::testing::HasSubstr;
using testing::kAdminToken;
using testing::kReadToken;
using ::testing::Not;
using testing::WriteFile;

constexpr char kPolicy[] = R"(version: 1
description: desk test policy
rules:
  - id: support-reads-eu
    effect: allow
    when: {principal.role: support, purpose: customer_support, destination: eu}
)";
constexpr char kDeskApiKey[] = "clv_desk_key_4f1c9a0b7e2d3c58";
constexpr char kPendingId[] = "apr-0001";
constexpr char kRequestSha[] =
    "5eabb025329accd7502e1f0b76469aba4b880d9950ead3bb25c32de4490e1dae";

std::string ApprovalJson(absl::string_view id, absl::string_view state,
                         absl::string_view created) {
  return absl::StrCat(
      R"({"created":")", created,
      R"(","decided":"","decided_by":"",)"
      R"("detail":"Subpoena 1","duration":"4h","fields":["name"],)"
      R"("grant_expires":"","id":")",
      id, R"(","justification":"LEGAL_REQUEST",)",
      state == "pending" ? R"("max_duration":"8h",)" : "",
      R"("principal":"us-legal-1","reason":"",)"
      R"("request_expires":"2026-12-10T10:00:00.000Z","request_sha256":")",
      kRequestSha,
      R"(","requested_by":"us-legal-1","requester_country":"US",)"
      R"("state":")",
      state, R"(","subject_pseudonyms":["PSEUDO"],"subjects":["u1"]})");
}

std::string PendingJson() {
  return ApprovalJson(kPendingId, "pending", "2026-12-06T10:00:00.000Z");
}

// A node's approval and report endpoints, recording the calls it gets.
class FakeNode {
 public:
  FakeNode() {
    server::Router router;
    router.Handle(
        "GET", "/v1/approvals",
        [this](server::HttpRequest& req, server::Responder respond) {
          Record(req);
          // Pages of `limit`, the page token being the next one's offset.
          size_t limit = 100, from = 0;
          if (!absl::SimpleAtoi(req.QueryParam("limit"), &limit)) limit = 100;
          if (!absl::SimpleAtoi(req.QueryParam("page_token"), &from)) from = 0;
          std::string list;
          for (size_t i = from; i < approvals.size() && i < from + limit; ++i) {
            absl::StrAppend(&list, i > from ? "," : "", approvals[i]);
          }
          std::string next;
          if (from + limit < approvals.size()) {
            next = absl::StrCat(",\"next_page_token\":\"", from + limit, "\"");
          }
          respond(server::HttpResponse::Json(
              200, absl::StrCat("{\"approvals\":[", list, "]", next, "}")));
        });
    router.Handle("GET", "/v1/approvals/{id}",
                  [this](server::HttpRequest& req, server::Responder respond) {
                    Record(req);
                    if (req.path_params["id"] != kPendingId) {
                      return respond(server::HttpResponse::Error(
                          404, "not_found", "no such approval"));
                    }
                    respond(server::HttpResponse::Json(200, PendingJson()));
                  });
    for (const char* action : {"approve", "deny", "revoke"}) {
      router.Handle(
          "POST", absl::StrCat("/v1/approvals/{id}/", action),
          [this, action](server::HttpRequest& req, server::Responder respond) {
            Record(req);
            respond(server::HttpResponse::Json(
                200, absl::StrCat(
                         R"({"approval":)",
                         ApprovalJson(
                             req.path_params["id"],
                             absl::string_view(action) == "approve" ? "approved"
                             : absl::string_view(action) == "deny"  ? "denied"
                                                                    : "revoked",
                             "2026-12-06T10:00:00.000Z"),
                         R"(,"log_index":7})")));
          });
    }
    router.Handle("GET", "/v1/subjects/{id}/access-report",
                  [this](server::HttpRequest& req, server::Responder respond) {
                    Record(req);
                    respond(server::HttpResponse::Json(200, report));
                  });
    server::HttpServerOptions o;
    o.threads = 1;
    server_ = *server::HttpServer::Start(o, router.AsHandler());
  }

  std::string url() const {
    return absl::StrCat("http://127.0.0.1:", server_->port());
  }

  struct Call {
    std::string method, target, authorization, body;
  };
  std::vector<Call> calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }
  int Posts() {
    int n = 0;
    for (const Call& c : calls()) n += c.method == "POST";
    return n;
  }

  std::string report = "{}";
  std::vector<std::string> approvals = {
      PendingJson(),
      ApprovalJson("apr-0000", "approved", "2026-12-05T10:00:00.000Z")};

 private:
  void Record(const server::HttpRequest& req) {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back(
        {req.method,
         req.query.empty() ? req.path : absl::StrCat(req.path, "?", req.query),
         std::string(req.Header("authorization")), req.body});
  }
  std::mutex mu_;
  std::vector<Call> calls_;
  std::unique_ptr<server::HttpServer> server_;
};

class ApprovalsDeskTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(true); }

  void Start(bool with_desk, std::vector<ApprovalDeskNode> extra = {}) {
    auto files = testing::WriteAuditorFiles(dir_, "desk.test", kPolicy);
    ASSERT_TRUE(files.ok()) << files.status();
    AuditorConfig c = files->config;
    c.logs.push_back(testing::FollowLog(log_, "mem://eu"));
    c.api_credentials = testing::AdminAndReadCredentials();
    if (with_desk) {
      c.desk.principal = "auditor";
      c.desk.attestation_signer_key = attester_.signer;
      c.desk.nodes.push_back({"ie-dub-1", node_.url(), kDeskApiKey, ""});
      c.desk.page_size = desk_page_size_;
      c.desk.max_pages = desk_max_pages_;
      for (ApprovalDeskNode& n : extra) c.desk.nodes.push_back(std::move(n));
    }
    auto a = testing::OpenAuditor(c, clock_, log_);
    ASSERT_TRUE(a.ok()) << a.status();
    auditor_ = *std::move(a);
    ASSERT_TRUE(auditor_->Serve().ok());
  }

  net::HttpAnswer Send(const std::string& method, const std::string& target,
                       std::vector<std::string> headers = {},
                       const std::string& body = "") {
    net::HttpCall call;
    const std::string url =
        absl::StrCat("http://127.0.0.1:", auditor_->port(), target);
    call.method = method;
    call.url = url;
    call.headers = std::move(headers);
    call.body = body;
    call.timeout = absl::Seconds(20);
    absl::StatusOr<net::HttpAnswer> a = client_.Send(call);
    EXPECT_TRUE(a.ok()) << a.status();
    if (!a.ok()) return net::HttpAnswer{};
    // Every answer is one docs/openapi.yaml documents.
    absl::Status spec = api_spec::CheckApiResponse(
        method, target, a->status, a->content_type, a->body,
        [&a](absl::string_view name) {
          return a->Header(absl::AsciiStrToLower(name));
        });
    EXPECT_TRUE(spec.ok()) << spec.message();
    return *std::move(a);
  }

  // Logs in with `token`: the headers a console session sends (cookie and,
  // with `csrf`, its token).
  std::vector<std::string> Session(const std::string& token, bool csrf) {
    net::HttpAnswer r =
        Send("POST", "/ui/api/login", {"Content-Type: application/json"},
             absl::StrCat("{\"token\":\"", token, "\"}"));
    EXPECT_EQ(r.status, 200) << r.body;
    std::string set = r.Header("set-cookie");
    std::vector<std::string> h = {
        absl::StrCat("Cookie: ", set.substr(0, set.find(';'))),
        "Content-Type: application/json"};
    rapidjson::Document d;
    d.Parse(r.body.c_str());
    if (csrf && d.IsObject() && d.HasMember("csrf_token")) {
      h.push_back(absl::StrCat("X-CSRF-Token: ", d["csrf_token"].GetString()));
    }
    return h;
  }

  static std::string ErrorCode(const net::HttpAnswer& a) {
    rapidjson::Document d;
    d.Parse(a.body.c_str());
    if (!d.IsObject() || !d.HasMember("error") || !d["error"].IsObject() ||
        !d["error"].HasMember("code")) {
      return "(no JSON error: " + a.body + ")";
    }
    return d["error"]["code"].GetString();
  }

  int desk_page_size_ = 100;
  int desk_max_pages_ = 20;
  testing::TempDir dir_;
  FakeClock clock_{absl::Now()};
  testing::FakeLog log_{"log.test/ie-dub-1"};
  testing::TestKey attester_ = testing::MakeKey("auditor.desk.test");
  FakeNode node_;
  std::unique_ptr<Auditor> auditor_;
  net::HttpClient client_;
};

TEST_F(ApprovalsDeskTest, EveryRouteNeedsASessionAndChangesTheAdminsCsrf) {
  const std::string approve =
      absl::StrCat("/ui/api/approvals/ie-dub-1/", kPendingId, "/approve");
  for (const std::string target :
       {"/ui/api/approvals", "/ui/api/access-report?subject=u1"}) {
    net::HttpAnswer r = Send("GET", target);
    EXPECT_EQ(r.status, 401) << target;
    EXPECT_EQ(ErrorCode(r), "unauthenticated");
    // A bearer token is not a console session.
    EXPECT_EQ(Send("GET", target,
                   {absl::StrCat("Authorization: Bearer ", kAdminToken)})
                  .status,
              401)
        << target;
  }
  EXPECT_EQ(
      Send("POST", approve, {"Content-Type: application/json"}, "{}").status,
      401);
  // The admin's session without its CSRF token, and with a forged one.
  std::vector<std::string> no_csrf = Session(kAdminToken, false);
  net::HttpAnswer r = Send("POST", approve, no_csrf, "{}");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(ErrorCode(r), "csrf_failed");
  no_csrf.push_back("X-CSRF-Token: forged");
  EXPECT_EQ(ErrorCode(Send("POST", approve, no_csrf, "{}")), "csrf_failed");
  // A cross-site Origin with the right token.
  std::vector<std::string> admin = Session(kAdminToken, true);
  std::vector<std::string> cross = admin;
  cross.push_back("Origin: https://evil.example");
  EXPECT_EQ(ErrorCode(Send("POST", approve, cross, "{}")), "csrf_failed");
  // A read credential's session sees the desk but decides nothing.
  std::vector<std::string> reader = Session(kReadToken, true);
  EXPECT_EQ(Send("GET", "/ui/api/approvals", reader).status, 200);
  for (const char* action : {"approve", "deny", "revoke"}) {
    net::HttpAnswer d = Send(
        "POST",
        absl::StrCat("/ui/api/approvals/ie-dub-1/", kPendingId, "/", action),
        reader, "{}");
    EXPECT_EQ(d.status, 403) << action;
    EXPECT_EQ(ErrorCode(d), "permission_denied") << action;
  }
  EXPECT_EQ(node_.Posts(), 0);
}

TEST_F(ApprovalsDeskTest, BadInputIsA4xxJsonErrorAndNeverReachesTheNode) {
  std::vector<std::string> admin = Session(kAdminToken, true);
  const std::string approve =
      absl::StrCat("/ui/api/approvals/ie-dub-1/", kPendingId, "/approve");
  struct Case {
    std::string method, target, body;
    int status;
    std::string content_type = "application/json";
  };
  const std::vector<Case> cases = {
      {"GET", "/ui/api/approvals?state=granted", "", 400},
      {"GET", "/ui/api/access-report", "", 400},
      {"GET", "/ui/api/access-report?subject=a%01b", "", 400},
      {"GET",
       absl::StrCat("/ui/api/access-report?subject=", std::string(257, 'x')),
       "", 400},
      {"POST", "/ui/api/approvals/no-such-node/apr-1/approve", "{}", 404},
      {"POST", "/ui/api/approvals/ie-dub-1/bad%20id!/approve", "{}", 400},
      {"POST", approve, "not json", 400},
      {"POST", approve, "[1,2]", 400},
      {"POST", approve, R"({"duration":"-1h"})", 400},
      {"POST", approve, R"({"duration":"forever"})", 400},
      {"POST", approve, R"({"duration":7200})", 400},
      {"POST", approve, R"({"reason":5})", 400},
      {"POST", approve,
       absl::StrCat(R"({"reason":")", std::string(1001, 'r'), R"("})"), 400},
      {"POST", approve, R"({"attestation":"mine"})", 400},
      {"POST", absl::StrCat("/ui/api/approvals/ie-dub-1/", kPendingId, "/deny"),
       R"({"duration":"1h"})", 400},
      {"POST", approve, R"({"reason":"x"})", 415, "text/plain"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> h = {admin[0], admin[2],
                                  "Content-Type: " + c.content_type};
    net::HttpAnswer r = Send(c.method, c.target, h, c.body);
    EXPECT_EQ(r.status, c.status) << c.method << " " << c.target << " "
                                  << c.body.substr(0, 40) << ": " << r.body;
    EXPECT_THAT(ErrorCode(r), Not(HasSubstr("no JSON error"))) << c.target;
    EXPECT_THAT(r.Header("content-type"), HasSubstr("application/json"));
  }
  EXPECT_EQ(node_.Posts(), 0);
  // Only the look-ups, never a change, reached the node.
  for (const FakeNode::Call& call : node_.calls())
    EXPECT_EQ(call.method, "GET");
}

TEST_F(ApprovalsDeskTest, AnApprovalBeyondThePolicysLimitIsRefused) {
  std::vector<std::string> admin = Session(kAdminToken, true);
  net::HttpAnswer r =
      Send("POST",
           absl::StrCat("/ui/api/approvals/ie-dub-1/", kPendingId, "/approve"),
           admin, R"({"duration":"9h","reason":"too long"})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(ErrorCode(r), "invalid_argument");
  EXPECT_THAT(r.body, HasSubstr("at most 8h"));
  EXPECT_EQ(node_.Posts(), 0);
  // An unknown approval is the node's 404, passed on.
  net::HttpAnswer missing =
      Send("POST", "/ui/api/approvals/ie-dub-1/apr-9999/approve", admin,
           R"({"duration":"1h"})");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(node_.Posts(), 0);
}

TEST_F(ApprovalsDeskTest,
       AnApprovalCarriesTheAuditorsAttestationOfThatRequest) {
  std::vector<std::string> admin = Session(kAdminToken, true);
  const absl::Time before = absl::Now();
  net::HttpAnswer r =
      Send("POST",
           absl::StrCat("/ui/api/approvals/ie-dub-1/", kPendingId, "/approve"),
           admin, R"({"duration":"1h","reason":"subpoena checked"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(r.body, HasSubstr("\"log_index\":7"));
  std::vector<FakeNode::Call> calls = node_.calls();
  ASSERT_FALSE(calls.empty());
  const FakeNode::Call& post = calls.back();
  EXPECT_EQ(post.method, "POST");
  EXPECT_EQ(post.target,
            absl::StrCat("/v1/approvals/", kPendingId, "/approve"));
  // The desk's identity at the node.
  EXPECT_EQ(post.authorization, absl::StrCat("Bearer ", kDeskApiKey));
  rapidjson::Document d;
  d.Parse(post.body.c_str());
  ASSERT_TRUE(d.IsObject() && d.HasMember("attestation")) << post.body;
  EXPECT_EQ(std::string(d["duration"].GetString()), "1h");
  EXPECT_EQ(std::string(d["reason"].GetString()), "subpoena checked");
  const std::vector<std::string> keys = {attester_.verifier};
  auto verifier = approvals::AttestationVerifier::Create(keys);
  ASSERT_TRUE(verifier.ok());
  auto att = verifier->Open(d["attestation"].GetString());
  ASSERT_TRUE(att.ok()) << att.status();
  EXPECT_TRUE(approvals::CheckAttestationFor(*att, kPendingId, kRequestSha,
                                             "us-legal-1", "auditor",
                                             absl::Now())
                  .ok());
  EXPECT_GE(att->approved, before - absl::Seconds(1));
  EXPECT_LE(att->expires - att->approved, absl::Hours(1));
  // Deny and revoke carry only the reason.
  for (const char* action : {"deny", "revoke"}) {
    net::HttpAnswer x = Send(
        "POST",
        absl::StrCat("/ui/api/approvals/ie-dub-1/", kPendingId, "/", action),
        admin, R"({"reason":"no"})");
    EXPECT_EQ(x.status, 200) << action;
    EXPECT_EQ(node_.calls().back().body, R"({"reason":"no"})") << action;
  }
}

TEST_F(ApprovalsDeskTest, TheListNamesEachNodeAndThoseNotReached) {
  auditor_.reset();
  // A second desk node on a port nothing listens on.
  Start(true, {{"dead-1", "http://127.0.0.1:1", kDeskApiKey, ""}});
  std::vector<std::string> reader = Session(kReadToken, true);
  net::HttpAnswer r = Send("GET", "/ui/api/approvals?state=pending", reader);
  ASSERT_EQ(r.status, 200) << r.body;
  rapidjson::Document d;
  d.Parse(r.body.c_str());
  ASSERT_TRUE(d.IsObject() && d["configured"].GetBool());
  ASSERT_EQ(d["approvals"].Size(), 2u);
  // Newest first, each named by its node.
  EXPECT_EQ(std::string(d["approvals"][0]["id"].GetString()), kPendingId);
  EXPECT_EQ(std::string(d["approvals"][0]["node"].GetString()), "ie-dub-1");
  EXPECT_EQ(std::string(d["approvals"][0]["max_duration"].GetString()), "8h");
  ASSERT_EQ(d["unavailable"].Size(), 1u);
  EXPECT_EQ(std::string(d["unavailable"][0]["node"].GetString()), "dead-1");
  EXPECT_THAT(r.body, Not(HasSubstr(kDeskApiKey)));
  // The filter reached the node.
  EXPECT_THAT(node_.calls().back().target, HasSubstr("state=pending"));
}

TEST_F(ApprovalsDeskTest, AccessReportEntriesCarryProofsThatVerify) {
  // A two-entry log; the node reports entry 1 with its proof.
  const std::string e0 = R"({"action":"write","subject":"PSEUDO","v":2})";
  const std::string e1 =
      R"({"action":"read","principal":{"id":"us-legal-1"},"purpose":"legal_request","subject":"PSEUDO","v":2})";
  log_.Append(e0);
  log_.Append(e1);
  const std::string checkpoint = log_.SignedCheckpoint(2);
  const log::Hash sibling = log::LeafHash(e0);
  std::string cp_json;
  AppendJsonString(checkpoint, &cp_json);
  node_.report = absl::StrCat(
      R"({"checkpoint":)", cp_json, R"(,"entries":[{"entry":)", e1,
      R"(,"inclusion_proof":[")",
      absl::Base64Escape(absl::string_view(
          reinterpret_cast<const char*>(sibling.data()), sibling.size())),
      R"("],"index":1}],"log_index":2,"subject":"u 1",)"
      R"("subject_pseudonym":"PSEUDO","tree_size":2})");
  std::vector<std::string> reader = Session(kReadToken, true);
  net::HttpAnswer r =
      Send("GET", "/ui/api/access-report?subject=u%201", reader);
  ASSERT_EQ(r.status, 200) << r.body;
  // The subject is percent-encoded into the node's path.
  EXPECT_EQ(node_.calls().back().target,
            "/v1/subjects/u 1/access-report?limit=100");
  rapidjson::Document d;
  d.Parse(r.body.c_str());
  ASSERT_TRUE(d.IsObject());
  ASSERT_EQ(d["entries"].Size(), 1u);
  const auto& e = d["entries"][0];
  EXPECT_EQ(std::string(e["entry"].GetString()), e1);  // the exact bytes
  EXPECT_EQ(std::string(e["origin"].GetString()), log_.origin());
  auto v = log::ParseVerifierKey(log_.key().verifier);
  ASSERT_TRUE(v.ok());
  const log::NoteVerifier* verifiers[] = {v->get()};
  EXPECT_TRUE(VerifyTlogProof(e["proof"].GetString(), e["entry"].GetString(),
                              log_.origin(), verifiers)
                  .ok());
  // Tampered, the same proof fails: the browser's check means something.
  EXPECT_FALSE(
      VerifyTlogProof(e["proof"].GetString(), e0, log_.origin(), verifiers)
          .ok());
  EXPECT_EQ(std::string(d["lookups"][0]["subject_pseudonym"].GetString()),
            "PSEUDO");
}

// A node with more than one look-up reads is never cut short silently: the
// answer names it in "more" with a token, and ?node=&page_token= continues.
TEST_F(ApprovalsDeskTest, ALongListSaysWhereItGoesOnAndContinues) {
  auditor_.reset();
  desk_page_size_ = 2;
  desk_max_pages_ = 2;
  for (int i = 1; i <= 5; ++i) {
    node_.approvals.push_back(ApprovalJson(absl::StrCat("apr-10", i), "denied",
                                           "2026-12-01T10:00:00.000Z"));
  }
  Start(true);
  std::vector<std::string> reader = Session(kReadToken, true);
  net::HttpAnswer r = Send("GET", "/ui/api/approvals", reader);
  ASSERT_EQ(r.status, 200) << r.body;
  rapidjson::Document d;
  d.Parse(r.body.c_str());
  ASSERT_TRUE(d.IsObject());
  EXPECT_EQ(d["approvals"].Size(), 4u);  // two pages of two
  ASSERT_EQ(d["more"].Size(), 1u);
  EXPECT_EQ(std::string(d["more"][0]["node"].GetString()), "ie-dub-1");
  const std::string token = d["more"][0]["page_token"].GetString();
  EXPECT_EQ(token, "4");
  net::HttpAnswer c = Send(
      "GET", absl::StrCat("/ui/api/approvals?node=ie-dub-1&page_token=", token),
      reader);
  ASSERT_EQ(c.status, 200) << c.body;
  rapidjson::Document rest;
  rest.Parse(c.body.c_str());
  ASSERT_TRUE(rest.IsObject());
  ASSERT_EQ(rest["approvals"].Size(), 3u);  // the last three: nothing lost
  EXPECT_EQ(rest["more"].Size(), 0u);
  EXPECT_EQ(node_.calls().back().target, "/v1/approvals?limit=2&page_token=6");

  // The access report says the same of a node whose report goes on.
  node_.report =
      R"({"entries":[],"log_index":0,"next_page_token":"p2","subject":"u1",)"
      R"("subject_pseudonym":"PSEUDO","tree_size":0})";
  net::HttpAnswer a = Send("GET", "/ui/api/access-report?subject=u1", reader);
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_THAT(a.body,
              HasSubstr(R"("more":[{"node":"ie-dub-1","page_token":"p2"}])"));

  // A continuation names a configured node; a token alone is refused.
  for (const char* bad :
       {"/ui/api/approvals?node=nowhere", "/ui/api/approvals?page_token=4",
        "/ui/api/access-report?subject=u1&node=nowhere"}) {
    net::HttpAnswer b = Send("GET", bad, reader);
    EXPECT_EQ(b.status, 400) << bad;
    EXPECT_EQ(ErrorCode(b), "invalid_argument") << bad;
  }
}

TEST_F(ApprovalsDeskTest, WithoutADeskTheConsoleSaysSo) {
  auditor_.reset();
  Start(false);
  std::vector<std::string> admin = Session(kAdminToken, true);
  net::HttpAnswer r = Send("GET", "/ui/api/approvals", admin);
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.body, HasSubstr("\"configured\":false"));
  EXPECT_THAT(Send("GET", "/ui/api/access-report?subject=u1", admin).body,
              HasSubstr("\"configured\":false"));
  net::HttpAnswer c =
      Send("POST", "/ui/api/approvals/ie-dub-1/apr-1/deny", admin, "{}");
  EXPECT_EQ(c.status, 409);
  EXPECT_EQ(ErrorCode(c), "failed_precondition");
}

}  // namespace
}  // namespace clover::audit

namespace clover::audit {
namespace {

// approvals.desk in a configuration file: read with its key files (0600), and
// every mistake named by its field, never with a secret in the message.
TEST(ApprovalsDeskConfigTest, LoadsTheDeskIdentityAndNamesItsErrors) {
  testing::TempDir dir;
  auto log_key = testing::MakeKey("log.test/a");
  auto pkey = testing::MakeKey("auditor.test");
  auto attester = testing::MakeKey("auditor.test/approvals");
  const std::string yaml =
      absl::StrCat(testing::ConfigYaml("  admin_token_file: admin.token\n",
                                       log_key.verifier, pkey.verifier),
                   testing::kPrincipalsYaml, R"(approvals:
  approvers: [auditor]
  desk:
    principal: auditor
    attestation_key_file: desk.key
    nodes:
      - {name: eu, url: "http://127.0.0.1:8443", api_key_file: eu.api.key}
      - {name: us, url: "https://us.example:8443", api_key_file: us.api.key, ca_file: ca.pem}
)");
  WriteFile(dir.Sub("audit.yaml"), yaml);
  WriteFile(dir.Sub("admin.token"), "admin-token-0123456789abcdef\n", true);
  WriteFile(dir.Sub("desk.key"), attester.signer + "\n", true);
  WriteFile(dir.Sub("eu.api.key"), "clv_eu_key_0123456789\n", true);
  WriteFile(dir.Sub("us.api.key"), "clv_us_key_0123456789\n", true);
  auto c = LoadAuditorConfig(dir.Sub("audit.yaml"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->desk.principal, "auditor");
  EXPECT_EQ(c->desk.attestation_signer_key, attester.signer);
  ASSERT_EQ(c->desk.nodes.size(), 2u);
  EXPECT_EQ(c->desk.nodes[0].name, "eu");
  EXPECT_EQ(c->desk.nodes[0].api_key, "clv_eu_key_0123456789");
  EXPECT_EQ(c->desk.nodes[1].ca_file, dir.Sub("ca.pem"));
  WriteFile(dir.Sub("world.key"), "clv_world_key_0123456789\n");
  std::filesystem::permissions(
      dir.Sub("world.key"),
      std::filesystem::perms::owner_read | std::filesystem::perms::others_read);
  WriteFile(dir.Sub("verifier.key"), attester.verifier + "\n", true);
  for (const auto& [from, to, message] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"    principal: auditor\n", "", "approvals.desk.principal"},
           {"desk.key", "verifier.key", "approvals.desk.attestation_key_file"},
           {"desk.key", "missing.key", "approvals.desk.attestation_key_file"},
           {"eu.api.key", "world.key", "approvals.desk.nodes[0].api_key_file"},
           {"\"http://127.0.0.1:8443\"", "ftp://x",
            "approvals.desk.nodes[0].url"},
           {"name: us", "name: eu", "approvals.desk.nodes[1].name"},
           {"ca_file: ca.pem", "token: x", "approvals.desk.nodes[1].token"},
           {"    nodes:", "    mode: x\n    nodes:", "approvals.desk.mode"}}) {
    std::string changed = yaml;
    ASSERT_NE(changed.find(from), std::string::npos) << from;
    changed.replace(changed.find(from), from.size(), to);
    WriteFile(dir.Sub("bad.yaml"), changed);
    auto bad = LoadAuditorConfig(dir.Sub("bad.yaml"));
    EXPECT_EQ(bad.status().code() == absl::StatusCode::kInvalidArgument ||
                  bad.status().code() == absl::StatusCode::kNotFound,
              true)
        << to << ": " << bad.status();
    EXPECT_THAT(std::string(bad.status().message()), HasSubstr(message)) << to;
    EXPECT_THAT(std::string(bad.status().message()),
                Not(HasSubstr("clv_world_key")));
    EXPECT_THAT(std::string(bad.status().message()),
                Not(HasSubstr("PRIVATE+KEY")));
  }
}

}  // namespace
}  // namespace clover::audit
