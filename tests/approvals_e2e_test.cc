// End-to-end tests of the approvals desk over loopback HTTP (issue 17,
// finding 4): an EU node (ie-dub-1) of the example deployment whose policy is
// the example's with a 1h legal grant and a content rule only a `dpo` may
// decide. Grants never reveal restricted EU data outside the EU, honour the
// policy's approver_role and max_duration, can be revoked, are bounded in size
// and number, are refused in exports, and every transition and administrative
// look-up is in the log.
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "approvals/approvals.h"
#include "approvals/attestation.h"
#include "core/canonical_json.h"
#include "core/json_fields.h"
#include "core/rfc3339.h"
#include "core/test_temp_dir.h"
#include "crypto/ed25519.h"
#include "gateway/http_client.h"
#include "gateway/local_deployment.h"
#include "gateway/node.h"
#include "gateway_test_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "log/client.h"
#include "log/fetch.h"
#include "log/note.h"
#include "policy/bundle.h"
#include "rapidjson/document.h"

namespace clover::gateway {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string Record(absl::string_view country, int n) {
  return absl::StrCat("{\"country\":\"", country,
                      "\",\"fields\":{\"email\":\"person", n,
                      "@mail.example\",\"name\":\"Person Number", n,
                      "\",\"uploaded_videos\":[\"upload-", n, "\"]}}");
}

class ApprovalsE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { setup_error_ = new std::string(StartNode()); }
  void SetUp() override { ASSERT_TRUE(setup_error_->empty()) << *setup_error_; }

  static std::string StartNode() {
    tmp_ = new test::TempDir("approvals-e2e");
    dir_ = new std::string(tmp_->path());
    auto d = LoadDeployment(
        absl::StrCat(CLOVER_SOURCE_DIR, "/examples/deployment.yaml"));
    if (!d.ok()) return d.status().ToString();
    // The example policy with a 1h legal grant and a content rule for `dpo`.
    auto text = policy::ReadFileToString(d->policy.file);
    if (!text.ok()) return text.status().ToString();
    std::string policy =
        absl::StrReplaceAll(*text, {{"max_duration: 8h", "max_duration: 1h"}});
    policy = absl::StrReplaceAll(
        policy,
        {{"\nrules:\n",
          "\nrules:\n"
          "  - id: legal-content-needs-dpo\n"
          "    effect: approval\n"
          "    params: {approver_role: dpo, max_duration: 30m}\n"
          "    when: {principal.role: legal, purpose: legal_request,\n"
          "           field.category: content, destination: {not: cn},\n"
          "           principal.jurisdiction: {not: cn}}\n\n"}});
    d->policy.file = *dir_ + "/policy.yaml";
    std::ofstream(d->policy.file) << policy;
    auto nodes =
        PrepareLocalDeployment(*d, *dir_ + "/nodes", 0, FreeLoopbackPort);
    if (!nodes.ok()) return nodes.status().ToString();
    for (LocalNode& n : *nodes) {
      if (n.dc != "ie-dub-1") continue;
      NodeOptions o;
      o.threads = 2;
      auto node = Node::Start(n.deployment, o);
      if (!node.ok()) return node.status().ToString();
      node_ = node->release();
      eu_ = new std::string(n.endpoint);
      verifier_ = new std::string(n.verifier_key);
    }
    if (eu_ == nullptr) return "no ie-dub-1 node";
    HttpClient client;
    for (int i = 0; i < 3; ++i) {
      auto r =
          client.Send("PUT", absl::StrCat(*eu_, "/v1/subjects/eu-", i),
                      {"Authorization: Bearer " + ExampleApiKey("accounts-eu"),
                       "X-Clover-Purpose: account_management"},
                      Record("IE", i));
      if (!r.ok()) return r.status().ToString();
      if (r->status != 201) return absl::StrCat("seeding: ", r->body);
    }
    return "";
  }

  static void TearDownTestSuite() {
    if (node_ != nullptr) {
      node_->Shutdown();
      delete node_;
    }
    delete tmp_;  // removes the directory it made, marker and all
  }

  ClientResponse Call(absl::string_view principal, absl::string_view method,
                      const std::string& path, absl::string_view purpose = {},
                      absl::string_view body = {}) {
    return e2e::CallAs(client_, principal, method, *eu_ + path, purpose, body);
  }

  static rapidjson::Document Json(const std::string& body) {
    return e2e::ParseBody(body);
  }
  static std::string ErrorCode(const ClientResponse& r) {
    return e2e::ErrorCodeOf(r);
  }

  // Files a request by us-legal-1; returns its id ("" on failure).
  std::string File(absl::string_view subject, absl::string_view fields,
                   absl::string_view duration = {}) {
    std::string body = absl::StrCat(
        "{\"justification\":\"LEGAL_REQUEST\",\"detail\":\"CASE-7\","
        "\"subjects\":[\"",
        subject, "\"],\"fields\":[", fields, "]",
        duration.empty() ? ""
                         : absl::StrCat(",\"duration\":\"", duration, "\""),
        "}");
    auto r = Call("us-legal-1", "POST", "/v1/approvals", {}, body);
    EXPECT_EQ(r.status, 201) << r.body;
    auto doc = Json(r.body);
    if (r.status != 201 || !doc.IsObject()) return "";
    return doc["approval"]["id"].GetString();
  }

  // The entries appended to the log from index `from` on.
  std::vector<std::string> EntriesFrom(uint64_t from) {
    auto v = log::ParseVerifierKey(*verifier_);
    EXPECT_TRUE(v.ok());
    std::vector<std::unique_ptr<log::NoteVerifier>> vs;
    vs.push_back(*std::move(v));
    auto c =
        log::LogClient::Create(log::HttpFetcher(*eu_ + "/log"), std::move(vs));
    EXPECT_TRUE(c.ok());
    auto cp = (*c)->FetchCheckpoint();
    EXPECT_TRUE(cp.ok()) << cp.status();
    std::vector<std::string> out;
    if (!cp.ok()) return out;
    for (uint64_t i = from; i < cp->checkpoint.size; ++i) {
      auto e = (*c)->FetchEntry(cp->checkpoint, i);
      EXPECT_TRUE(e.ok()) << e.status();
      if (e.ok()) out.push_back(*e);
    }
    return out;
  }

  uint64_t LogSize() {
    auto r = client_.Send("GET", *eu_ + "/readyz", {});
    EXPECT_TRUE(r.ok());
    if (!r.ok()) return 0;
    return Json(r->body)["log_size"].GetUint64();
  }

  static std::string* setup_error_;
  static test::TempDir* tmp_;
  static std::string* dir_;
  static Node* node_;
  static std::string* eu_;
  static std::string* verifier_;
  HttpClient client_;
};

std::string* ApprovalsE2eTest::setup_error_ = nullptr;
test::TempDir* ApprovalsE2eTest::tmp_ = nullptr;
std::string* ApprovalsE2eTest::dir_ = nullptr;
Node* ApprovalsE2eTest::node_ = nullptr;
std::string* ApprovalsE2eTest::eu_ = nullptr;
std::string* ApprovalsE2eTest::verifier_ = nullptr;

TEST_F(ApprovalsE2eTest, GrantNeverRevealsRestrictedEuFieldsOutsideTheEu) {
  const std::string id = File("eu-0", "\"email\",\"name\"");
  ASSERT_FALSE(id.empty());
  auto approved = Call("auditor", "POST", "/v1/approvals/" + id + "/approve",
                       {}, "{\"reason\":\"court order\"}");
  ASSERT_EQ(approved.status, 200) << approved.body;
  auto read = Call("us-legal-1", "GET", "/v1/subjects/eu-0?fields=email,name",
                   "legal_request");
  ASSERT_EQ(read.status, 200) << read.body;
  auto doc = Json(read.body);
  // The unrestricted field is granted raw; the restricted one never leaves.
  EXPECT_STREQ(doc["fields"]["name"]["value"].GetString(), "Person Number0");
  EXPECT_STREQ(doc["fields"]["email"]["effect"].GetString(), "deny");
  EXPECT_FALSE(doc["fields"]["email"].HasMember("value"));
  EXPECT_THAT(read.body, Not(HasSubstr("@mail.example")));
}

TEST_F(ApprovalsE2eTest, PolicyMaxDurationAndApproverRoleAreHonoured) {
  // 8h asked under `max_duration: 1h`: refused, naming the limit.
  auto eight = Call(
      "us-legal-1", "POST", "/v1/approvals", {},
      "{\"justification\":\"LEGAL_REQUEST\",\"detail\":\"CASE-8\",\"subjects\":"
      "[\"eu-1\"],\"fields\":[\"name\"],\"duration\":\"8h\"}");
  EXPECT_EQ(eight.status, 400) << eight.body;
  EXPECT_THAT(eight.body, HasSubstr("at most 1h"));
  EXPECT_THAT(eight.body, HasSubstr("legal-requests-need-approval"));

  // No duration: the rule's hour; a longer approval is refused, the grant
  // lasts the hour.
  const std::string id = File("eu-1", "\"name\"");
  ASSERT_FALSE(id.empty());
  auto longer = Call("auditor", "POST", "/v1/approvals/" + id + "/approve", {},
                     "{\"duration\":\"8h\"}");
  EXPECT_EQ(longer.status, 400) << longer.body;
  EXPECT_THAT(longer.body, HasSubstr("at most 1h"));
  auto approved =
      Call("auditor", "POST", "/v1/approvals/" + id + "/approve", {}, "{}");
  ASSERT_EQ(approved.status, 200) << approved.body;
  auto a = Json(approved.body)["approval"].GetObject();
  auto decided = ParseRfc3339(a["decided"].GetString());
  auto expires = ParseRfc3339(a["grant_expires"].GetString());
  ASSERT_TRUE(decided.ok() && expires.ok());
  EXPECT_LE(*expires - *decided, absl::Hours(1));
  EXPECT_GT(*expires - *decided, absl::Minutes(59));

  // Content needs the `dpo` role: the auditor (roles auditor, approver) may
  // not decide it, nor the administrator.
  const std::string content = File("eu-1", "\"uploaded_videos\"", "20m");
  ASSERT_FALSE(content.empty());
  for (absl::string_view who : {"auditor", "admin"}) {
    auto refused =
        Call(who, "POST", "/v1/approvals/" + content + "/approve", {}, "{}");
    EXPECT_EQ(refused.status, 403) << who << " " << refused.body;
    EXPECT_THAT(refused.body, HasSubstr("'dpo'"));
  }
  auto read = Call("us-legal-1", "GET",
                   "/v1/subjects/eu-1?fields=uploaded_videos", "legal_request");
  EXPECT_EQ(read.status, 403) << read.body;
}

// The auditor's desk (audit/approvals_desk.h) shows each pending request's
// limit and its subjects as the log names them; the requester sees neither.
TEST_F(ApprovalsE2eTest, TheAuditorSeesAPendingRequestsLimitAndPseudonyms) {
  const uint64_t from = LogSize();
  const std::string id = File("eu-2", "\"name\"", "30m");
  ASSERT_FALSE(id.empty());
  auto got = Call("auditor", "GET", "/v1/approvals/" + id);
  ASSERT_EQ(got.status, 200) << got.body;
  auto a = Json(got.body);
  ASSERT_TRUE(a.IsObject() && a.HasMember("max_duration")) << got.body;
  EXPECT_STREQ(a["max_duration"].GetString(), "1h");
  ASSERT_TRUE(a.HasMember("subject_pseudonyms"));
  ASSERT_EQ(a["subject_pseudonyms"].Size(), 1u);
  const std::string pseudonym = a["subject_pseudonyms"][0].GetString();
  // The same pseudonym as the request's logged creation.
  bool logged = false;
  for (const std::string& e : EntriesFrom(from)) {
    auto d = Json(e);
    if (d.IsObject() && d.HasMember("type") &&
        std::string(d["type"].GetString()) == "approval" && d.HasMember("id") &&
        id == d["id"].GetString() && d.HasMember("subjects")) {
      ASSERT_EQ(d["subjects"].Size(), 1u);
      EXPECT_EQ(pseudonym, d["subjects"][0].GetString());
      logged = true;
    }
  }
  EXPECT_TRUE(logged);
  auto list = Call("auditor", "GET", "/v1/approvals?state=pending");
  ASSERT_EQ(list.status, 200);
  EXPECT_THAT(list.body, HasSubstr("\"max_duration\":\"1h\""));
  // The requester sees their own request as before.
  auto own = Call("us-legal-1", "GET", "/v1/approvals/" + id);
  ASSERT_EQ(own.status, 200);
  EXPECT_THAT(own.body, Not(HasSubstr("max_duration")));
  EXPECT_THAT(own.body, Not(HasSubstr("subject_pseudonyms")));
  // Once decided, no limit is shown.
  ASSERT_EQ(Call("auditor", "POST", "/v1/approvals/" + id + "/deny", {},
                 "{\"reason\":\"no\"}")
                .status,
            200);
  EXPECT_THAT(Call("auditor", "GET", "/v1/approvals/" + id).body,
              Not(HasSubstr("max_duration")));
}

TEST_F(ApprovalsE2eTest, RevokeEndsTheGrantAtOnceAndIsLogged) {
  const std::string id = File("eu-2", "\"name\"");
  ASSERT_FALSE(id.empty());
  ASSERT_EQ(
      Call("auditor", "POST", "/v1/approvals/" + id + "/approve", {}, "{}")
          .status,
      200);
  ASSERT_EQ(Call("us-legal-1", "GET", "/v1/subjects/eu-2?fields=name",
                 "legal_request")
                .status,
            200);
  // Deny after approve stays a conflict; the requester cannot revoke.
  EXPECT_EQ(
      Call("auditor", "POST", "/v1/approvals/" + id + "/deny", {}, "{}").status,
      409);
  EXPECT_EQ(
      Call("us-legal-1", "POST", "/v1/approvals/" + id + "/revoke", {}, "{}")
          .status,
      403);
  EXPECT_EQ(Call("auditor", "POST", "/v1/approvals/" + id + "/revoke", {},
                 "{\"duration\":\"1h\"}")
                .status,
            400);
  auto revoked = Call("auditor", "POST", "/v1/approvals/" + id + "/revoke", {},
                      "{\"reason\":\"order withdrawn\"}");
  ASSERT_EQ(revoked.status, 200) << revoked.body;
  auto doc = Json(revoked.body);
  EXPECT_STREQ(doc["approval"]["state"].GetString(), "revoked");
  const uint64_t index = doc["log_index"].GetUint64();
  auto entries = EntriesFrom(index);
  ASSERT_FALSE(entries.empty());
  EXPECT_THAT(entries[0], HasSubstr("\"state\":\"revoked\""));
  EXPECT_THAT(entries[0], HasSubstr(id));
  // Effective at once.
  auto read = Call("us-legal-1", "GET", "/v1/subjects/eu-2?fields=name",
                   "legal_request");
  EXPECT_EQ(read.status, 403) << read.body;
  EXPECT_EQ(Call("auditor", "POST", "/v1/approvals/" + id + "/revoke", {}, "{}")
                .status,
            409);
  auto list = Call("auditor", "GET", "/v1/approvals?state=revoked");
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_THAT(list.body, HasSubstr(id));
}

TEST_F(ApprovalsE2eTest, RequestsAreBoundedInSizeAndNumber) {
  std::string big =
      "{\"justification\":\"LEGAL_REQUEST\",\"detail\":\"CASE-9\","
      "\"fields\":[\"name\"],\"subjects\":[";
  while (big.size() < 20000) big += "\"subject-0000000\",";
  big += "\"eu-0\"]}";
  auto too_big = Call("cn-engineer-1", "POST", "/v1/approvals", {}, big);
  EXPECT_EQ(too_big.status, 413) << too_big.body;
  EXPECT_EQ(ErrorCode(too_big), "payload_too_large");
  auto dup = Call(
      "cn-engineer-1", "POST", "/v1/approvals", {},
      "{\"justification\":\"SERVICE_OPERATION\",\"detail\":\"T\",\"subjects\":"
      "[\"eu-0\"],\"fields\":[\"name\",\"name\"]}");
  EXPECT_EQ(dup.status, 400) << dup.body;

  const std::string body =
      "{\"justification\":\"SERVICE_OPERATION\",\"detail\":\"T\",\"subjects\":"
      "[\"eu-0\"],\"fields\":[\"name\"]}";
  for (int i = 0; i < 20; ++i) {
    auto r = Call("cn-engineer-1", "POST", "/v1/approvals", {}, body);
    ASSERT_EQ(r.status, 201) << i << " " << r.body;
  }
  auto refused = Call("cn-engineer-1", "POST", "/v1/approvals", {}, body);
  EXPECT_EQ(refused.status, 409) << refused.body;
  EXPECT_EQ(ErrorCode(refused), "too_many_open_requests");
}

TEST_F(ApprovalsE2eTest, ExportNeedingApprovalIsRefusedAndLogged) {
  auto r = Call("us-legal-1", "POST", "/v1/exports", {},
                "{\"destination\":\"us\",\"purpose\":\"legal_request\","
                "\"fields\":[\"name\"],\"subjects\":[\"eu-0\",\"eu-1\"]}");
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(ErrorCode(r), "approval_required");
  EXPECT_THAT(r.body, HasSubstr("name"));
  auto doc = Json(r.body);
  ASSERT_TRUE(doc.IsObject() && doc["error"].HasMember("log_index")) << r.body;
  auto entries = EntriesFrom(doc["error"]["log_index"].GetUint64());
  ASSERT_FALSE(entries.empty());
  EXPECT_THAT(entries[0], HasSubstr("\"action\":\"export\""));
  EXPECT_THAT(entries[0], HasSubstr("\"effect\":\"approval\""));
  EXPECT_THAT(r.body, Not(HasSubstr("Person Number")));
}

TEST_F(ApprovalsE2eTest, AdminLookupsAreLoggedBeforeTheAnswer) {
  const std::string id = File("eu-0", "\"name\"", "30m");
  ASSERT_FALSE(id.empty());
  uint64_t before = LogSize();
  ASSERT_EQ(Call("auditor", "GET", "/v1/approvals?state=pending").status, 200);
  ASSERT_EQ(Call("admin", "GET", "/v1/approvals/" + id).status, 200);
  auto entries = EntriesFrom(before);
  std::string all;
  for (const auto& e : entries) all += e + "\n";
  EXPECT_THAT(all, HasSubstr("\"action\":\"list_approvals\""));
  EXPECT_THAT(all,
              HasSubstr("\"action\":\"get_approval\",\"approval\":\"" + id));
  EXPECT_THAT(all, HasSubstr("\"type\":\"lookup\""));
  EXPECT_THAT(all, HasSubstr("\"id\":\"admin\""));
  EXPECT_THAT(all, Not(HasSubstr("eu-0")));  // no subject ids in the log
}

// A node with approvals.attestation_keys (issue 18): an approval needs the
// approver's signed attestation of exactly that request; the approved
// record in the log carries it.
class AttestedApprovalsE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { setup_error_ = new std::string(StartNode()); }
  void SetUp() override { ASSERT_TRUE(setup_error_->empty()) << *setup_error_; }

  static std::string StartNode() {
    tmp_ = new test::TempDir("attested-approvals-e2e");
    auto d = LoadDeployment(
        absl::StrCat(CLOVER_SOURCE_DIR, "/examples/deployment.yaml"));
    if (!d.ok()) return d.status().ToString();
    auto key = crypto::Ed25519PrivateKey::Generate();
    auto other = crypto::Ed25519PrivateKey::Generate();
    if (!key.ok() || !other.ok()) return "no keys";
    signer_ = new std::string(
        log::FormatSignerKey("auditor.e2e", log::kNoteTypeEd25519, *key));
    operator_signer_ = new std::string(
        log::FormatSignerKey("operator.e2e", log::kNoteTypeEd25519, *other));
    d->approvals.attestation_keys = {*log::VerifierKeyFromSignerKey(*signer_)};
    auto nodes = PrepareLocalDeployment(*d, tmp_->path() + "/nodes", 0,
                                        FreeLoopbackPort);
    if (!nodes.ok()) return nodes.status().ToString();
    for (LocalNode& n : *nodes) {
      if (n.dc != "ie-dub-1") continue;
      NodeOptions o;
      o.threads = 2;
      auto node = Node::Start(n.deployment, o);
      if (!node.ok()) return node.status().ToString();
      node_ = node->release();
      eu_ = new std::string(n.endpoint);
      verifier_ = new std::string(n.verifier_key);
    }
    if (eu_ == nullptr) return "no ie-dub-1 node";
    HttpClient client;
    auto r =
        client.Send("PUT", *eu_ + "/v1/subjects/eu-0",
                    {"Authorization: Bearer " + ExampleApiKey("accounts-eu"),
                     "X-Clover-Purpose: account_management"},
                    Record("IE", 0));
    if (!r.ok()) return r.status().ToString();
    if (r->status != 201) return absl::StrCat("seeding: ", r->body);
    return "";
  }

  static void TearDownTestSuite() {
    if (node_ != nullptr) {
      node_->Shutdown();
      delete node_;
    }
    delete tmp_;
  }

  ClientResponse Call(absl::string_view principal, absl::string_view method,
                      const std::string& path, absl::string_view purpose = {},
                      absl::string_view body = {}) {
    return e2e::CallAs(client_, principal, method, *eu_ + path, purpose, body);
  }

  // Files a request by us-legal-1 for eu-0's name; returns the POST answer.
  ClientResponse File() {
    return Call("us-legal-1", "POST", "/v1/approvals", {},
                "{\"justification\":\"LEGAL_REQUEST\",\"detail\":\"CASE-7\","
                "\"subjects\":[\"eu-0\"],\"fields\":[\"name\"]}");
  }

  // The approval as the auditor's desk looks it up.
  std::string Get(const std::string& id) {
    auto r = Call("auditor", "GET", "/v1/approvals/" + id);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.body;
  }

  static std::string Body(const std::string& note) {
    std::string body = "{\"reason\":\"court order\",\"attestation\":";
    AppendJsonString(note, &body);
    return body + "}";
  }

  std::string Entry(uint64_t index) {
    auto v = log::ParseVerifierKey(*verifier_);
    EXPECT_TRUE(v.ok());
    std::vector<std::unique_ptr<log::NoteVerifier>> vs;
    vs.push_back(*std::move(v));
    auto c =
        log::LogClient::Create(log::HttpFetcher(*eu_ + "/log"), std::move(vs));
    EXPECT_TRUE(c.ok());
    auto cp = (*c)->FetchCheckpoint();
    EXPECT_TRUE(cp.ok()) << cp.status();
    if (!cp.ok()) return "";
    auto e = (*c)->FetchEntry(cp->checkpoint, index);
    EXPECT_TRUE(e.ok()) << e.status();
    return e.ok() ? *e : "";
  }

  static std::string* setup_error_;
  static test::TempDir* tmp_;
  static Node* node_;
  static std::string* eu_;
  static std::string* verifier_;
  static std::string* signer_;
  static std::string* operator_signer_;
  HttpClient client_;
};

std::string* AttestedApprovalsE2eTest::setup_error_ = nullptr;
test::TempDir* AttestedApprovalsE2eTest::tmp_ = nullptr;
Node* AttestedApprovalsE2eTest::node_ = nullptr;
std::string* AttestedApprovalsE2eTest::eu_ = nullptr;
std::string* AttestedApprovalsE2eTest::verifier_ = nullptr;
std::string* AttestedApprovalsE2eTest::signer_ = nullptr;
std::string* AttestedApprovalsE2eTest::operator_signer_ = nullptr;

TEST_F(AttestedApprovalsE2eTest, ApprovalNeedsTheApproversAttestation) {
  auto created = File();
  ASSERT_EQ(created.status, 201) << created.body;
  auto doc = e2e::ParseBody(created.body);
  const std::string id = doc["approval"]["id"].GetString();
  // GET names the SHA-256 of the created record exactly as logged.
  const std::string got = Get(id);
  const std::string created_entry = Entry(doc["log_index"].GetUint64());
  ASSERT_THAT(created_entry, HasSubstr("\"state\":\"pending\""));
  EXPECT_STREQ(e2e::ParseBody(got)["request_sha256"].GetString(),
               approvals::RequestSha256(created_entry).c_str());

  // Without an attestation: refused, nothing approved.
  auto bare = Call("auditor", "POST", "/v1/approvals/" + id + "/approve", {},
                   "{\"reason\":\"court order\"}");
  EXPECT_EQ(bare.status, 403) << bare.body;
  EXPECT_EQ(e2e::ErrorCodeOf(bare), "attestation_required");
  // Garbage, a non-listed key, another approver, a stale time: refused.
  const absl::Time now = absl::Now();
  struct Bad {
    std::string note, why;
  };
  const std::vector<Bad> bad = {
      {"not a note", "note"},
      {*approvals::AttestApproval(got, "auditor", absl::Hours(1),
                                  *operator_signer_, now),
       "no signature from a known key"},
      {*approvals::AttestApproval(got, "admin", absl::Hours(1), *signer_, now),
       "'by'"},
      {*approvals::AttestApproval(got, "auditor", absl::Hours(2), *signer_,
                                  now - absl::Hours(1)),
       "from this node's clock"},
  };
  for (const Bad& b : bad) {
    auto r = Call("auditor", "POST", "/v1/approvals/" + id + "/approve", {},
                  Body(b.note));
    EXPECT_EQ(r.status, 422) << r.body;
    EXPECT_EQ(e2e::ErrorCodeOf(r), "bad_attestation") << r.body;
    EXPECT_THAT(r.body, HasSubstr(b.why));
  }
  auto still = e2e::ParseBody(Get(id));
  EXPECT_STREQ(still["state"].GetString(), "pending");
  EXPECT_EQ(Call("us-legal-1", "GET", "/v1/subjects/eu-0?fields=name",
                 "legal_request")
                .status,
            403);

  // Attested for 10 minutes: approved, the grant works and ends by then; the
  // approved record in the log carries the note.
  auto note = approvals::AttestApproval(got, "auditor", absl::Minutes(10),
                                        *signer_, absl::Now());
  ASSERT_TRUE(note.ok()) << note.status();
  auto approved = Call("auditor", "POST", "/v1/approvals/" + id + "/approve",
                       {}, Body(*note));
  ASSERT_EQ(approved.status, 200) << approved.body;
  auto a = e2e::ParseBody(approved.body);
  auto decided = ParseRfc3339(a["approval"]["decided"].GetString());
  auto expires = ParseRfc3339(a["approval"]["grant_expires"].GetString());
  ASSERT_TRUE(decided.ok() && expires.ok());
  EXPECT_LE(*expires - *decided, absl::Minutes(10));
  const std::string approved_entry = Entry(a["log_index"].GetUint64());
  auto record = approvals::ParseTransitionRecord(approved_entry);
  ASSERT_TRUE(record.ok()) << record.status();
  EXPECT_EQ(record->state, "approved");
  EXPECT_EQ(record->attestation, *note);
  auto read = Call("us-legal-1", "GET", "/v1/subjects/eu-0?fields=name",
                   "legal_request");
  ASSERT_EQ(read.status, 200) << read.body;
  EXPECT_THAT(read.body, HasSubstr("Person Number0"));
  // A denial needs no attestation, and takes none.
  auto other = File();
  ASSERT_EQ(other.status, 201);
  const std::string other_id =
      e2e::ParseBody(other.body)["approval"]["id"].GetString();
  EXPECT_EQ(Call("auditor", "POST", "/v1/approvals/" + other_id + "/deny", {},
                 Body(*note))
                .status,
            400);
  EXPECT_EQ(
      Call("auditor", "POST", "/v1/approvals/" + other_id + "/deny", {}, "{}")
          .status,
      200);
}

TEST_F(AttestedApprovalsE2eTest, AnAttestationApprovesNoOtherRequest) {
  auto first = File();
  auto second = File();
  ASSERT_EQ(first.status, 201);
  ASSERT_EQ(second.status, 201);
  const std::string a =
      e2e::ParseBody(first.body)["approval"]["id"].GetString();
  const std::string b =
      e2e::ParseBody(second.body)["approval"]["id"].GetString();
  auto note = approvals::AttestApproval(Get(a), "auditor", absl::Hours(1),
                                        *signer_, absl::Now());
  ASSERT_TRUE(note.ok()) << note.status();
  // Replayed for another approval of the same principal, subject and field.
  auto replayed = Call("auditor", "POST", "/v1/approvals/" + b + "/approve", {},
                       Body(*note));
  EXPECT_EQ(replayed.status, 422) << replayed.body;
  EXPECT_EQ(e2e::ErrorCodeOf(replayed), "bad_attestation");
  EXPECT_THAT(replayed.body, HasSubstr("'id'"));
  // An attestation naming b but a's request hash (b's id written over a's).
  std::string swapped = Get(a);
  swapped.replace(swapped.find(a), a.size(), b);
  auto forged = approvals::AttestApproval(swapped, "auditor", absl::Hours(1),
                                          *signer_, absl::Now());
  ASSERT_TRUE(forged.ok());
  auto r = Call("auditor", "POST", "/v1/approvals/" + b + "/approve", {},
                Body(*forged));
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_THAT(r.body, HasSubstr("'request'"));
  // Used once where it belongs; once approved, it cannot approve again.
  ASSERT_EQ(Call("auditor", "POST", "/v1/approvals/" + a + "/approve", {},
                 Body(*note))
                .status,
            200);
  EXPECT_EQ(Call("auditor", "POST", "/v1/approvals/" + a + "/approve", {},
                 Body(*note))
                .status,
            409);
}

}  // namespace
}  // namespace clover::gateway
