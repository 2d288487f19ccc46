#include "audit/auditor.h"

#include <atomic>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <tuple>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "audit/auditor_fixture.h"
#include "audit/decision_builder.h"
#include "audit/report.h"
#include "audit/tlog_proof.h"
#include "audit/witness_server.h"
#include "core/canonical_json.h"
#include "core/json_fields.h"
#include "core/rfc3339.h"
#include "crypto/secret_key_file.h"
#include "crypto/subject_pseudonym.h"
#include "entry/decision_record.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "policy/bundle.h"
#include "policy/signature.h"
#include "rapidjson/document.h"
#include "tests/openapi_spec.h"

namespace clover::audit {
namespace {

using ::clover::entry::DecisionEntry;
using ::clover::entry::FieldEntry;
using testing::FakeLog;
using ::testing::HasSubstr;
using testing::kAdminToken;
using testing::kReadToken;
using testing::WriteFile;

constexpr char kPolicy[] = R"(version: 1
description: auditor test policy
rules:
  - id: support-reads-eu
    effect: allow
    when: {principal.role: support, purpose: customer_support, destination: eu}
  - id: contact-pseudonymized-abroad
    effect: pseudonymize
    when: {destination: {not: eu}, field.category: contact}
  - id: engineers-pseudonyms
    effect: pseudonymize
    when: {principal.role: engineer, purpose: service_operation}
  - id: admins-raw-everywhere
    effect: allow
    when: {principal.role: admin}
)";

class AuditorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto files = testing::WriteAuditorFiles(dir_, "auditor.test", kPolicy);
    ASSERT_TRUE(files.ok()) << files.status();
    witness_key_ = files->witness;
    policy_ = files->policy.compiled;
    config_ = files->config;
    // Another bundle the auditor never signed.
    auto other =
        policy::ParseBundle(std::string(kPolicy) +
                                "  - id: extra\n    effect: allow\n"
                                "    when: {principal.role: engineer}\n",
                            "other.yaml");
    ASSERT_TRUE(other.ok()) << other.status();
    unsigned_policy_ = *policy::CompiledPolicy::Compile(*other);

    config_.logs.push_back(testing::FollowLog(log_, "mem://eu"));
    config_.detectors.bulk_subjects = 20;
    config_.detectors.canary_pseudonyms = {"canary-token-1"};
    config_.incidents_jsonl = dir_.Sub("incidents.jsonl");
    config_.api_credentials = testing::AdminAndReadCredentials();
    Reopen();
  }

  void Reopen() { testing::ReopenAuditor(config_, clock_, log_, &auditor_); }

  DecisionEntry Read(const std::string& principal, const std::string& role,
                     const std::string& subject,
                     const std::string& destination = "eu") {
    DecisionEntry e = testing::SupportRead(clock_.Now(), subject);
    e.principal_id = principal;
    e.principal_roles = {role};
    e.principal_country = destination == "eu" ? "IE" : "CN";
    e.principal_jurisdiction = destination;
    e.purpose = role == "engineer" ? "service_operation" : "customer_support";
    e.destination = destination;
    e.fields.push_back({"country", "identity", false, {}, {}, {}});
    e.bytes = 120;
    DecideWith(*policy_, &e);
    return e;
  }
  void Log(const DecisionEntry& e) { log_.Append(entry::DecisionJson(e)); }

  // One request through the auditor's router, with `token` as bearer (none
  // when empty).
  server::HttpResponse Call(const std::string& method, const std::string& path,
                            const std::string& query = "",
                            const std::string& body = "",
                            const std::string& token = kAdminToken) {
    server::HttpRequest req;
    req.method = method;
    req.path = path;
    req.query = query;
    req.body = body;
    if (!token.empty()) req.headers["authorization"] = "Bearer " + token;
    // Every answer is one docs/openapi.yaml documents.
    return testing::CallRouter(*auditor_, std::move(req));
  }

  std::vector<Incident> Incidents(absl::string_view detector) {
    return testing::IncidentsOf(*auditor_, detector);
  }

  // Every evidence item with an index must prove its entry against a log-signed
  // checkpoint that this auditor cosigned.
  void ExpectEvidenceVerifies(const Incident& inc) {
    auto lv = *log::ParseVerifierKey(log_.key().verifier);
    auto wv = *log::ParseVerifierKey(witness_key_.verifier);
    const log::NoteVerifier* logs[] = {lv.get()};
    const log::NoteVerifier* ws[] = {wv.get()};
    int proven = 0;
    for (const Evidence& e : inc.evidence) {
      if (!e.index) continue;
      ASSERT_FALSE(e.proof.empty());
      ASSERT_FALSE(e.entry.empty());
      EXPECT_EQ(e.entry, log_.entries()[*e.index]);
      absl::Status s =
          VerifyTlogProof(e.proof, e.entry, log_.origin(), logs, ws);
      EXPECT_TRUE(s.ok()) << s;
      ++proven;
    }
    EXPECT_GT(proven, 0);
  }

  testing::TempDir dir_;
  FakeClock clock_{absl::FromUnixSeconds(1795000000)};
  testing::TestKey witness_key_;
  std::shared_ptr<const policy::CompiledPolicy> policy_;
  std::shared_ptr<const policy::CompiledPolicy> unsigned_policy_;
  FakeLog log_{"log.test/ie-dub-1"};
  AuditorConfig config_;
  std::unique_ptr<Auditor> auditor_;
};

TEST_F(AuditorTest, HonestTrafficRaisesNothingAndCountsFlows) {
  for (int i = 0; i < 10; ++i)
    Log(Read("eu-support-1", "support", absl::StrCat("s", i)));
  for (int i = 0; i < 5; ++i)
    Log(Read("cn-engineer-1", "engineer", absl::StrCat("s", i), "cn"));
  auto n = auditor_->PollOnce();
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 15u);
  EXPECT_TRUE(auditor_->incidents().List(std::nullopt).empty());
  const std::string flows = auditor_->FlowsJson(clock_.Now() - absl::Hours(1),
                                                clock_.Now() + absl::Hours(1));
  EXPECT_THAT(
      flows,
      HasSubstr("\"destination\":\"cn\",\"category\":\"contact\","
                "\"purpose\":\"service_operation\",\"effect\":\"pseudonymize\","
                "\"decisions\":5,\"values\":5"));
  EXPECT_THAT(flows,
              HasSubstr("\"destination\":\"eu\",\"category\":\"contact\","
                        "\"purpose\":\"customer_support\",\"effect\":\"allow\","
                        "\"decisions\":10"));
  // The EU node's reads by CN staff leave the region; its EU reads do not.
  EXPECT_THAT(flows, HasSubstr("\"region\":\"eu\",\"destination\":\"cn\""));
  EXPECT_THAT(flows, HasSubstr("\"bytes\":600,\"destination_region\":\"cn\","
                               "\"out_of_region\":true}"));
  EXPECT_THAT(flows, HasSubstr("\"bytes\":1200,\"destination_region\":\"eu\","
                               "\"out_of_region\":false}"));
  EXPECT_THAT(
      auditor_->metrics().Render(),
      HasSubstr("clover_audit_decisions_replayed_total{verdict=\"match\"} 15"));
  // Flows survive a restart.
  Reopen();
  EXPECT_EQ(auditor_->FlowsJson(clock_.Now() - absl::Hours(1),
                                clock_.Now() + absl::Hours(1)),
            flows);
}

TEST_F(AuditorTest, DecisionOtherThanThePolicyIsMismatch) {
  Log(Read("eu-support-1", "support", "s1"));
  DecisionEntry e = Read("cn-engineer-1", "engineer", "s2", "cn");
  e.fields[0].effect =
      policy::Effect::kAllow;  // the gateway released raw email to cn
  Log(e);
  ASSERT_TRUE(auditor_->PollOnce().ok());
  auto inc = Incidents(kDetectorDecisionMismatch);
  ASSERT_EQ(inc.size(), 1u);
  EXPECT_EQ(inc[0].severity, Severity::kCritical);
  EXPECT_THAT(inc[0].summary, HasSubstr("field 'email': logged allow"));
  EXPECT_EQ(inc[0].evidence[0].index, 1u);
  ExpectEvidenceVerifies(inc[0]);
  // Its GDPR deadline is 72 hours after detection.
  EXPECT_EQ(inc[0].notification_deadline, clock_.Now() + absl::Hours(72));
}

// `e` as a gateway wrote it before version 2: one "fields" object per field.
std::string VersionOneJson(const DecisionEntry& e) {
  rapidjson::Document d;
  const std::string v2 = entry::DecisionJson(e);
  d.Parse(v2.data(), v2.size());
  auto& al = d.GetAllocator();
  d.RemoveMember("field_groups");
  d["v"].SetInt(1);
  rapidjson::Value fields(rapidjson::kArrayType);
  for (const FieldEntry& f : e.fields) {
    rapidjson::Value v(rapidjson::kObjectType);
    v.AddMember("name", JsonString(f.name, d), al);
    v.AddMember("category", JsonString(f.category, d), al);
    v.AddMember("restricted", f.restricted, al);
    v.AddMember("effect", JsonString(policy::ToString(f.effect), d), al);
    v.AddMember("rules", JsonStringArray(f.rules, d), al);
    if (!f.decided_by.empty())
      v.AddMember("decided_by", JsonString(f.decided_by, d), al);
    fields.PushBack(v, al);
  }
  d.AddMember("fields", fields, al);
  return *CanonicalJson(d);
}

// A log begun by an older gateway holds version 1 entries before version 2
// ones: both are replayed, and a wrong decision in either is found.
TEST_F(AuditorTest, ReplaysVersionOneAndTwoEntries) {
  for (int i = 0; i < 3; ++i) {
    log_.Append(VersionOneJson(
        Read("cn-engineer-1", "engineer", absl::StrCat("s", i), "cn")));
  }
  DecisionEntry wrong = Read("cn-engineer-1", "engineer", "s9", "cn");
  wrong.fields[0].effect = policy::Effect::kAllow;
  log_.Append(VersionOneJson(wrong));
  for (int i = 0; i < 3; ++i)
    Log(Read("cn-engineer-1", "engineer", absl::StrCat("s", i), "cn"));
  Log(wrong);
  auto n = auditor_->PollOnce();
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 8u);
  EXPECT_THAT(
      auditor_->metrics().Render(),
      HasSubstr("clover_audit_decisions_replayed_total{verdict=\"match\"} 6"));
  // One incident per node and policy, with both wrong entries as evidence.
  auto inc = Incidents(kDetectorDecisionMismatch);
  ASSERT_EQ(inc.size(), 1u);
  std::vector<uint64_t> indices;
  for (const Evidence& e : inc[0].evidence)
    if (e.index) indices.push_back(*e.index);
  EXPECT_EQ(indices, (std::vector<uint64_t>{3, 7}));
  ExpectEvidenceVerifies(inc[0]);
}

TEST_F(AuditorTest, DecisionUnderUnsignedPolicy) {
  DecisionEntry e = Read("cn-engineer-1", "engineer", "s2", "cn");
  DecideWith(*unsigned_policy_, &e);  // a gateway started with another policy
  Log(e);
  ASSERT_TRUE(auditor_->PollOnce().ok());
  auto inc = Incidents(kDetectorUnsignedPolicy);
  ASSERT_EQ(inc.size(), 1u);
  EXPECT_THAT(inc[0].summary, HasSubstr("did not sign"));
  ExpectEvidenceVerifies(inc[0]);
}

TEST_F(AuditorTest, InsiderBulkReadRaisesOneIncidentWithProofs) {
  for (int i = 0; i < 30; ++i) {
    clock_.Advance(absl::Seconds(1));
    Log(Read("eu-support-7", "support", absl::StrCat("subject-", i)));
  }
  ASSERT_TRUE(auditor_->PollOnce().ok());
  auto inc = Incidents(kDetectorBulkAccess);
  ASSERT_EQ(inc.size(), 1u);
  EXPECT_EQ(inc[0].occurrences,
            10u);  // subjects 21..30 each exceeded the threshold
  EXPECT_THAT(inc[0].summary, HasSubstr("'eu-support-7'"));
  ExpectEvidenceVerifies(inc[0]);
  // Another principal reading a few subjects is fine.
  for (int i = 0; i < 5; ++i)
    Log(Read("eu-support-1", "support", absl::StrCat("x", i)));
  ASSERT_TRUE(auditor_->PollOnce().ok());
  EXPECT_EQ(Incidents(kDetectorBulkAccess).size(), 1u);
}

TEST_F(AuditorTest, CanaryTouchAndRestrictedTransfer) {
  Log(Read("eu-support-1", "support", "canary-token-1"));
  DecisionEntry admin = Read("root-1", "admin", "s9", "us");
  admin.fields.push_back({"passport", "identity", true, {}, {}, {}});
  DecideWith(*policy_, &admin);
  Log(admin);  // raw restricted passport number to us
  ASSERT_TRUE(auditor_->PollOnce().ok());
  auto canary = Incidents(kDetectorCanary);
  ASSERT_EQ(canary.size(), 1u);
  EXPECT_EQ(canary[0].severity, Severity::kCritical);
  ExpectEvidenceVerifies(canary[0]);
  auto transfer = Incidents(kDetectorRestrictedTransfer);
  ASSERT_EQ(transfer.size(), 1u);
  EXPECT_THAT(transfer[0].summary, HasSubstr("'passport'"));
  ExpectEvidenceVerifies(transfer[0]);
}

TEST_F(AuditorTest, MalformedEntryIsAFinding) {
  log_.Append("{\"v\":1,\"type\":\"decision\",\"time\":\"yesterday\"}");
  // A well-formed approval transition is not one.
  log_.Append(
      "{\"v\":1,\"type\":\"approval\",\"id\":\"apr-1\",\"state\":"
      "\"approved\",\"principal\":\"us-legal-1\",\"fields\":[\"email\"],"
      "\"subjects\":[\"p-s1\"],\"by\":\"auditor\","
      "\"time\":\"2026-11-28T23:50:00.000Z\","
      "\"expires\":\"2026-11-29T07:50:00.000Z\"}");
  ASSERT_TRUE(auditor_->PollOnce().ok());
  auto inc = Incidents(kDetectorMalformedEntry);
  ASSERT_EQ(inc.size(), 1u);
  EXPECT_THAT(inc[0].summary, HasSubstr("field 'time'"));
  // One missing what every transition states is.
  log_.Append(
      "{\"v\":1,\"type\":\"approval\",\"id\":\"apr-2\",\"state\":"
      "\"approved\"}");
  ASSERT_TRUE(auditor_->PollOnce().ok());
  inc = Incidents(kDetectorMalformedEntry);
  ASSERT_EQ(inc.size(), 1u);
  EXPECT_THAT(inc[0].summary, HasSubstr("not a valid approval transition"));
}

TEST_F(AuditorTest, SplitViewThroughTheAuditor) {
  Log(Read("eu-support-1", "support", "s1"));
  Log(Read("eu-support-1", "support", "s2"));
  ASSERT_TRUE(auditor_->PollOnce().ok());
  log_.Publish(1);
  ASSERT_TRUE(auditor_->PollOnce().ok());
  auto inc = Incidents(kDetectorSplitView);
  ASSERT_EQ(inc.size(), 1u);
  EXPECT_EQ(inc[0].evidence[0].checkpoints.size(), 2u);
}

TEST_F(AuditorTest, IncidentApiJournalAndJsonl) {
  Log(Read("eu-support-1", "support", "canary-token-1"));
  ASSERT_TRUE(auditor_->PollOnce().ok());
  ASSERT_TRUE(auditor_->StartDelivery().ok());
  auto call = [&](const std::string& method, const std::string& path,
                  const std::string& query = "", const std::string& body = "") {
    return Call(method, path, query, body);
  };
  auto list = call("GET", "/v1/incidents", "status=open");
  ASSERT_EQ(list.status, 200);
  EXPECT_THAT(list.body, HasSubstr("canary_touched"));
  const std::string id = auditor_->incidents().List(std::nullopt)[0].id;
  auto ack =
      call("POST", "/v1/incidents/" + id + "/ack", "", "{\"by\":\"dpo\"}");
  ASSERT_EQ(ack.status, 200) << ack.body;
  EXPECT_THAT(ack.body, HasSubstr("\"acknowledged_by\":\"dpo\""));
  EXPECT_EQ(call("POST", "/v1/incidents/" + id + "/ack").status, 409);
  EXPECT_EQ(call("POST", "/v1/incidents/inc-nope/ack").status, 404);
  EXPECT_EQ(call("GET", "/v1/incidents", "status=weird").status, 400);
  EXPECT_EQ(call("GET", "/v1/flows", "from=nonsense").status, 400);
  EXPECT_EQ(call("GET", "/v1/flows").status, 200);

  // Two journal events (opened, acknowledged), provable against the signed
  // journal.
  EXPECT_EQ(auditor_->incidents().EventCount(), 2u);
  auto proof = call("GET", "/v1/journal/proof", "seq=1");
  ASSERT_EQ(proof.status, 200) << proof.body;
  auto events = auditor_->incidents().ReadEvents(1, 1);
  ASSERT_TRUE(events.ok());
  auto jv = log::ParseVerifierKey(*log::VerifierKeyFromSignerKey(
      *ReadKeyFile(config_.journal_key_file, true)));
  const log::NoteVerifier* jvs[] = {jv->get()};
  EXPECT_TRUE(VerifyTlogProof(proof.body, (*events)[0].second,
                              "auditor.test/incidents", jvs)
                  .ok());

  // The JSON-lines sink catches up.
  for (int i = 0; i < 200; ++i) {
    std::ifstream in(config_.incidents_jsonl);
    std::string l1, l2;
    if (std::getline(in, l1) && std::getline(in, l2)) {
      EXPECT_THAT(l1, HasSubstr("\"event\":\"opened\""));
      EXPECT_THAT(l2, HasSubstr("\"event\":\"acknowledged\""));
      return;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  FAIL() << "incidents file not written";
}

// Issue 17: the example auditor had no admin credential, and
// `POST .../resolve` with {"by":"nobody"} resolved a critical incident.
TEST_F(AuditorTest, IncidentApiNeedsABearerCredential) {
  Log(Read("eu-support-1", "support", "canary-token-1"));
  ASSERT_TRUE(auditor_->PollOnce().ok());
  ASSERT_EQ(Incidents(kDetectorCanary).size(), 1u);
  const std::string id = Incidents(kDetectorCanary)[0].id;
  const std::string resolve = "/v1/incidents/" + id + "/resolve";
  const std::string nobody = "{\"by\":\"nobody\"}";
  auto header = [](const server::HttpResponse& r, absl::string_view name) {
    for (const auto& [k, v] : r.headers) {
      if (absl::EqualsIgnoreCase(k, name)) return v;
    }
    return std::string();
  };
  auto still_open = [&] {
    return Incidents(kDetectorCanary)[0].status == IncidentStatus::kOpen;
  };

  // No token, a wrong token, another scheme: 401 with a challenge.
  server::HttpResponse r = Call("POST", resolve, "", nobody, "");
  EXPECT_EQ(r.status, 401);
  EXPECT_THAT(r.body, HasSubstr("\"code\":\"unauthenticated\""));
  EXPECT_EQ(header(r, "www-authenticate"), "Bearer realm=\"clover-auditor\"");
  EXPECT_TRUE(still_open());
  r = Call("POST", resolve, "", nobody, "admin-token-0123456789abcdeX");
  EXPECT_EQ(r.status, 401);
  EXPECT_THAT(header(r, "www-authenticate"), HasSubstr("invalid_token"));
  EXPECT_TRUE(still_open());
  {
    server::HttpRequest req;
    req.method = "POST";
    req.path = resolve;
    req.headers["authorization"] = absl::StrCat("Basic ", kAdminToken);
    server::HttpResponse out;
    auditor_->handler()(req,
                        [&](server::HttpResponse x) { out = std::move(x); });
    EXPECT_EQ(out.status, 401);
  }
  EXPECT_TRUE(still_open());
  // A read-only credential reads but does not change incidents.
  r = Call("POST", resolve, "", nobody, kReadToken);
  EXPECT_EQ(r.status, 403);
  EXPECT_THAT(r.body, HasSubstr("\"code\":\"permission_denied\""));
  EXPECT_TRUE(still_open());
  EXPECT_EQ(Call("GET", "/v1/incidents", "", "", kReadToken).status, 200);
  // Reads of incidents, flows and metrics need a credential too; signed
  // checkpoints, proofs and the health check stay public.
  for (const char* path : {"/v1/incidents", "/v1/flows", "/metrics"}) {
    EXPECT_EQ(Call("GET", path, "", "", "").status, 401) << path;
    EXPECT_EQ(Call("GET", path, "", "", kReadToken).status, 200) << path;
  }
  for (const char* path :
       {"/healthz", "/v1/checkpoints", "/v1/journal/checkpoint"}) {
    EXPECT_EQ(Call("GET", path, "", "", "").status, 200) << path;
  }
  EXPECT_EQ(Call("GET", "/v1/journal/proof", "seq=0", "", "").status, 200);

  // The admin credential resolves, and the record names the credential, not
  // what the body claims.
  r = Call("POST", resolve, "", nobody, kAdminToken);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(r.body, HasSubstr("\"resolved_by\":\"dpo\""));
  EXPECT_THAT(r.body, ::testing::Not(HasSubstr("nobody")));
  const Incident done = Incidents(kDetectorCanary)[0];
  EXPECT_EQ(done.status, IncidentStatus::kResolved);
  EXPECT_EQ(done.resolved_by, "dpo");
}

TEST_F(AuditorTest, RefusesToStartWithoutACredentialUnlessInsecure) {
  auditor_.reset();
  config_.api_credentials.clear();
  auto a = testing::OpenAuditor(config_, clock_, log_);
  ASSERT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(a.status().message(), HasSubstr("auditor.admin_token_sha256"));
  EXPECT_THAT(a.status().message(), ::testing::Not(HasSubstr("\n")));
  // A credential must be a name and a 32-byte hash.
  config_.api_credentials = {{"x", ApiRole::kAdmin, "short"}};
  EXPECT_FALSE(testing::OpenAuditor(config_, clock_, log_).ok());
  EXPECT_FALSE(CredentialForToken("x", ApiRole::kAdmin, "too-short").ok());
  // The explicit opt-out serves everyone, recorded as unauthenticated.
  config_.api_credentials.clear();
  config_.insecure_no_auth = true;
  Reopen();
  Log(Read("eu-support-1", "support", "canary-token-1"));
  ASSERT_TRUE(auditor_->PollOnce().ok());
  const std::string id = Incidents(kDetectorCanary)[0].id;
  auto r = Call("POST", "/v1/incidents/" + id + "/ack", "",
                "{\"by\":\"nobody\"}", "");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(r.body, HasSubstr("\"acknowledged_by\":\"unauthenticated\""));
}

TEST_F(AuditorTest, ReportHasFlowsIncidentsCheckpointsAndPolicies) {
  for (int i = 0; i < 5; ++i)
    Log(Read("eu-support-1", "support", absl::StrCat("s", i)));
  Log(Read("eu-support-1", "support", "canary-token-1"));
  DecisionEntry e = Read("cn-engineer-1", "engineer", "s2", "cn");
  DecideWith(*unsigned_policy_, &e);
  Log(e);
  ASSERT_TRUE(auditor_->PollOnce().ok());
  auto files =
      WriteAuditReport(config_, clock_.Now() - absl::Hours(1),
                       clock_.Now() + absl::Hours(1), dir_.Sub("report"));
  ASSERT_TRUE(files.ok()) << files.status();
  std::ifstream h(files->html), j(files->json);
  std::stringstream hs, js;
  hs << h.rdbuf();
  js << j.rdbuf();
  const std::string html = hs.str(), json = js.str();
  EXPECT_THAT(html, HasSubstr("<svg"));
  EXPECT_THAT(html, HasSubstr("canary_touched"));
  EXPECT_THAT(html, HasSubstr("c2sp.org/tlog-proof@v1"));
  EXPECT_THAT(html, HasSubstr(policy_->sha256()));
  EXPECT_THAT(html, HasSubstr("NO</b>"));  // the unsigned bundle is flagged
  EXPECT_THAT(html, ::testing::Not(HasSubstr("<script")));
  rapidjson::Document d;
  d.Parse(json.c_str());
  ASSERT_TRUE(d.IsObject());
  EXPECT_EQ(d["incidents"].Size(), 2u);
  EXPECT_EQ(d["checkpoints"].Size(), 1u);
  EXPECT_EQ(d["checkpoints"][0]["size"].GetUint64(), 7u);
  EXPECT_EQ(d["policies"].Size(), 2u);
  EXPECT_EQ(
      WriteAuditReport(config_, clock_.Now(), clock_.Now(), dir_.Sub("r2"))
          .status()
          .code(),
      absl::StatusCode::kInvalidArgument);
}

TEST(AuditConfigTest, LoadsAndReportsErrorsWithLocation) {
  testing::TempDir dir;
  // SHA-256 of "read-token-0123456789abcdef".
  const std::string kReadHash = absl::BytesToHexString(
      CredentialForToken("", ApiRole::kRead, "read-token-0123456789abcdef")
          ->sha256);
  auto log_key = testing::MakeKey("log.test/a");
  auto pkey = testing::MakeKey("auditor.test");
  crypto::SecretKey secret{};
  secret[0] = 1;
  ASSERT_TRUE(crypto::WriteSecretKeyFile(dir.Sub("pseudo.key"), secret).ok());
  const std::string yaml = absl::StrCat(
      testing::ConfigYaml(
          absl::StrCat("  admin_token_file: admin.token\n"
                       "  api_tokens:\n"
                       "    - {name: grafana, role: read, sha256: \"",
                       kReadHash, "\"}\n"),
          log_key.verifier, pkey.verifier),
      R"(canaries:
  - pseudonym_key_file: pseudo.key
    subjects: [canary-1]
    planted_by: [accounts-eu]
detectors:
  bulk_access: {subjects: 7, window: 5m}
  log_stalled_after: 2m
incidents:
  jsonl_file: incidents.jsonl
principals:
  file: principals.yaml
  jurisdictions: jurisdictions.yaml
approvals:
  approvers: [auditor]
)");
  WriteFile(dir.Sub("audit.yaml"), yaml);
  WriteFile(dir.Sub("admin.token"), "admin-token-0123456789abcdef\n", true);
  auto c = LoadAuditorConfig(dir.Sub("audit.yaml"));
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->api_credentials.size(), 2u);
  EXPECT_EQ(c->api_credentials[0].name, "admin");
  EXPECT_EQ(c->api_credentials[0].role, ApiRole::kAdmin);
  EXPECT_EQ(
      c->api_credentials[0].sha256,
      CredentialForToken("", ApiRole::kAdmin, "admin-token-0123456789abcdef")
          ->sha256);
  EXPECT_EQ(c->api_credentials[1].name, "grafana");
  EXPECT_EQ(c->api_credentials[1].role, ApiRole::kRead);
  EXPECT_EQ(absl::BytesToHexString(c->api_credentials[1].sha256), kReadHash);
  EXPECT_FALSE(c->insecure_no_auth);
  EXPECT_EQ(c->history_bundles_per_poll, 1);  // history_check's default
  for (const auto& [value, want] : std::vector<std::pair<std::string, int>>{
           {"{bundles_per_poll: 0}", 0},
           {"{bundles_per_poll: 16}", 16},
           {"{bundles_per_poll: -1}", -1},
           {"{bundles_per_poll: 2000}", -1},
           {"{bundles: 1}", -1}}) {
    std::string changed = yaml;
    changed.insert(changed.find("  admin_token_file"),
                   absl::StrCat("  history_check: ", value, "\n"));
    WriteFile(dir.Sub("history.yaml"), changed);
    auto h = LoadAuditorConfig(dir.Sub("history.yaml"));
    if (want >= 0) {
      ASSERT_TRUE(h.ok()) << value << ": " << h.status();
      EXPECT_EQ(h->history_bundles_per_poll, want);
    } else {
      EXPECT_THAT(h.status().message(), HasSubstr("auditor.history_check"))
          << value;
    }
  }
  // Credential errors name their field.
  for (const auto& [from, to, message] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"role: read", "role: root", "api_tokens[0].role"},
           {kReadHash, "abc", "api_tokens[0].sha256"},
           {"admin_token_file: admin.token",
            "admin_token_file: admin.token\n  insecure_no_auth: true",
            "auditor.insecure_no_auth"},
           {"admin_token_file: admin.token", "admin_token_file: world.token",
            "auditor.admin_token_file"}}) {
    std::string changed = yaml;
    changed.replace(changed.find(from), from.size(), to);
    WriteFile(dir.Sub("cred.yaml"), changed);
    WriteFile(dir.Sub("world.token"), "admin-token-0123456789abcdef");
    std::filesystem::permissions(dir.Sub("world.token"),
                                 std::filesystem::perms::owner_read |
                                     std::filesystem::perms::others_read);
    EXPECT_THAT(LoadAuditorConfig(dir.Sub("cred.yaml")).status().message(),
                HasSubstr(message))
        << to;
  }
  // Without its own signed directory the auditor would replay what entries
  // claim about their principals: refused.
  {
    std::string changed = yaml;
    const std::string section =
        "principals:\n  file: principals.yaml\n  jurisdictions: "
        "jurisdictions.yaml\n";
    ASSERT_NE(changed.find(section), std::string::npos);
    changed.erase(changed.find(section), section.size());
    WriteFile(dir.Sub("nodir.yaml"), changed);
    auto refused = LoadAuditorConfig(dir.Sub("nodir.yaml"));
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(refused.status().message(), HasSubstr("field 'principals'"));
  }
  // Each detector's {count, window} section is read alike.
  {
    std::string changed = yaml;
    changed.replace(changed.find("bulk_access: {subjects: 7, window: 5m}"), 38,
                    "bulk_access: {subjects: 7, window: 5m}\n"
                    "  bulk_erasure: {subjects: 3, window: 1h}\n"
                    "  denial_burst: {count: 9, window: 30s}");
    WriteFile(dir.Sub("det.yaml"), changed);
    auto d = LoadAuditorConfig(dir.Sub("det.yaml"));
    ASSERT_TRUE(d.ok()) << d.status();
    EXPECT_EQ(d->detectors.bulk_erase_subjects, 3u);
    EXPECT_EQ(d->detectors.bulk_erase_window, absl::Hours(1));
    EXPECT_EQ(d->detectors.denial_burst, 9u);
    EXPECT_EQ(d->detectors.denial_window, absl::Seconds(30));
    for (const std::string bad : {"denial_burst: {count: 0, window: 30s}",
                                  "denial_burst: {subjects: 9, window: 30s}",
                                  "denial_burst: {count: 9, window: soon}"}) {
      std::string wrong = changed;
      wrong.replace(wrong.find("denial_burst: {count: 9, window: 30s}"), 37,
                    bad);
      WriteFile(dir.Sub("det.yaml"), wrong);
      EXPECT_THAT(LoadAuditorConfig(dir.Sub("det.yaml")).status().message(),
                  HasSubstr("detectors.denial_burst"))
          << bad;
    }
  }
  EXPECT_EQ(c->data_dir, dir.Sub("data"));
  EXPECT_EQ(c->principals_file, dir.Sub("principals.yaml"));
  EXPECT_EQ(c->jurisdictions_file, dir.Sub("jurisdictions.yaml"));
  EXPECT_EQ(c->approvers, std::vector<std::string>{"auditor"});
  // Attestations are checked by default, with the policy-signing key.
  EXPECT_EQ(c->attestation_keys, std::vector<std::string>{pkey.verifier});
  {
    auto other = testing::MakeKey("desk.test");
    auto witness = testing::MakeKey("w.test", log::kNoteTypeCosignature);
    for (const auto& [to, want] :
         std::vector<std::pair<std::string, std::vector<std::string>>>{
             {"approvers: [auditor]\n  attestation_keys: []", {}},
             {absl::StrCat("approvers: [auditor]\n  attestation_keys: [\"",
                           other.verifier, "\"]"),
              {other.verifier}},
             {absl::StrCat("approvers: [auditor]\n  attestation_keys: [\"",
                           witness.verifier, "\"]"),
              {"error"}},
             {"approvers: [auditor]\n  attestation_keys: [junk]", {"error"}}}) {
      std::string changed = yaml;
      changed.replace(changed.find("approvers: [auditor]"), 20, to);
      WriteFile(dir.Sub("attest.yaml"), changed);
      auto a = LoadAuditorConfig(dir.Sub("attest.yaml"));
      if (want == std::vector<std::string>{"error"}) {
        EXPECT_THAT(a.status().message(),
                    HasSubstr("approvals.attestation_keys"))
            << to;
      } else {
        ASSERT_TRUE(a.ok()) << a.status();
        EXPECT_EQ(a->attestation_keys, want) << to;
      }
    }
  }
  EXPECT_EQ(c->detectors.bulk_subjects, 7u);
  EXPECT_EQ(c->detectors.bulk_window, absl::Minutes(5));
  EXPECT_EQ(c->log_stalled_after, absl::Minutes(2));
  EXPECT_EQ(c->detectors.canary_planters,
            std::vector<std::string>{"accounts-eu"});
  ASSERT_EQ(c->detectors.canary_pseudonyms.size(), 1u);
  EXPECT_EQ(c->detectors.canary_pseudonyms[0],
            crypto::SubjectPseudonym(*crypto::DeriveLogSubjectKey(secret),
                                     "canary-1"));

  std::string bad = yaml;
  bad.replace(bad.find("subjects: 7"), 11, "subjects: x");
  WriteFile(dir.Sub("bad.yaml"), bad);
  auto e = LoadAuditorConfig(dir.Sub("bad.yaml"));
  EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(e.status().message(), HasSubstr("bad.yaml:22:27:")) << e.status();
  EXPECT_THAT(e.status().message(),
              HasSubstr("detectors.bulk_access.subjects"));

  WriteFile(dir.Sub("bad2.yaml"), "auditor: {name: a}\nlogz: []\n");
  EXPECT_THAT(LoadAuditorConfig(dir.Sub("bad2.yaml")).status().message(),
              HasSubstr("field 'logz': unknown key"));
  EXPECT_EQ(LoadAuditorConfig(dir.Sub("missing.yaml")).status().code(),
            absl::StatusCode::kNotFound);
}

// History re-verification through the auditor (default budget: one bundle
// per poll): a complete bundle rewritten after it was verified raises
// tampered_history within 2 * (bundles in the tree) polls.
TEST_F(AuditorTest, RewrittenVerifiedBundleRaisesTamperedHistory) {
  ASSERT_EQ(config_.history_bundles_per_poll, 1);
  for (int i = 0; i < 300; ++i) {
    Log(Read("eu-support-1", "support", absl::StrCat("s", i % 10)));
  }
  ASSERT_TRUE(auditor_->PollOnce().ok());
  ASSERT_TRUE(Incidents("tampered_history").empty());
  log_.TamperBundle(100,
                    entry::DecisionJson(Read("eu-support-2", "support", "s1")));
  for (int poll = 0; poll < 4 && Incidents("tampered_history").empty();
       ++poll) {
    ASSERT_TRUE(auditor_->PollOnce().ok());
  }
  auto inc = Incidents("tampered_history");
  ASSERT_EQ(inc.size(), 1u);
  EXPECT_EQ(inc[0].severity, Severity::kCritical);
  ASSERT_FALSE(inc[0].evidence.empty());
  EXPECT_EQ(inc[0].evidence[0].index, 100u);
  EXPECT_THAT(auditor_->metrics().Render(),
              HasSubstr("clover_audit_history_bundles_checked_total"));
}

// /healthz always; /readyz 503 until every log was polled, 503 while the last
// poll of a log failed, 200 again once it works; both unauthenticated (a
// probe has no credential). /metrics has the process metrics.
TEST_F(AuditorTest, ReadyzFollowsThePollsOfItsLogs) {
  auto down = std::make_shared<std::atomic<bool>>(false);
  auditor_.reset();
  auto a = Auditor::Create(
      config_, clock_, [this, down](const std::string&) -> FetchFn {
        FetchFn inner = log_.Fetcher();
        return [inner,
                down](absl::string_view path) -> absl::StatusOr<std::string> {
          if (down->load()) return absl::UnavailableError("connection refused");
          return inner(path);
        };
      });
  ASSERT_TRUE(a.ok()) << a.status();
  auditor_ = *std::move(a);
  EXPECT_EQ(Call("GET", "/healthz", "", "", "").status, 200);
  server::HttpResponse r = Call("GET", "/readyz", "", "", "");
  EXPECT_EQ(r.status, 503);
  EXPECT_THAT(r.body, HasSubstr("\"reason\":\"starting\""));
  bool retry_after = false;
  for (const auto& [name, value] : r.headers)
    retry_after = retry_after || name == "Retry-After";
  EXPECT_TRUE(retry_after);
  Log(Read("eu-support-1", "support", "s1"));
  ASSERT_TRUE(auditor_->PollOnce().ok());
  r = Call("GET", "/readyz", "", "", "");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "{\"status\":\"ready\"}");
  down->store(true);
  (void)auditor_->PollOnce();
  r = Call("GET", "/readyz", "", "", "");
  EXPECT_EQ(r.status, 503);
  EXPECT_THAT(r.body, HasSubstr("\"reason\":\"log_unreachable\""));
  EXPECT_THAT(r.body, HasSubstr(log_.origin()));
  down->store(false);
  ASSERT_TRUE(auditor_->PollOnce().ok());
  EXPECT_EQ(Call("GET", "/readyz", "", "", "").status, 200);

  r = Call("GET", "/metrics", "", "", kReadToken);
  ASSERT_EQ(r.status, 200);
  EXPECT_THAT(r.body, HasSubstr("\nprocess_resident_memory_bytes "));
  EXPECT_THAT(r.body, HasSubstr("\nclover_build_info{version=\""));
}

// The auditor and the witness serve exactly the routes docs/openapi.yaml
// lists for them.
TEST_F(AuditorTest, RoutesAreThoseOfTheApiContract) {
  using Route = api_spec::ApiSpec::Route;
  auto registered = [](const std::vector<server::Router::RouteInfo>& routes) {
    std::set<std::pair<std::string, std::string>> out;
    for (const auto& r : routes) out.insert({r.method, r.pattern});
    return out;
  };
  auto documented = [](absl::string_view server) {
    std::set<std::pair<std::string, std::string>> out;
    for (const Route& r : api_spec::ApiSpec::Default().RoutesFor(server)) {
      EXPECT_FALSE(r.conditional) << r.pattern;
      out.insert({r.method, r.pattern});
    }
    return out;
  };
  EXPECT_EQ(registered(auditor_->routes()), documented("auditor"));
  WitnessConfig w;
  w.data_dir = dir_.Sub("witness-data");
  w.key_file = dir_.Sub("witness.key");
  w.logs.push_back({log_.origin(), "", {log_.key().verifier}});
  auto witness = WitnessServer::Create(w, clock_);
  ASSERT_TRUE(witness.ok()) << witness.status();
  EXPECT_EQ(registered((*witness)->routes()), documented("witness"));
  EXPECT_FALSE(registered(auditor_->routes()).empty());
}

// Walks a paged list to its end with `limit`, calling `between` after each
// page; returns the ids (from `ids_of` each page's body) in order, and
// fails on a page that is not 200.
template <typename Call, typename Ids, typename Between>
std::vector<std::string> WalkPages(Call call, const std::string& path,
                                   const std::string& query, int limit,
                                   Ids ids_of, Between between) {
  std::vector<std::string> out;
  std::string token;
  for (int pages = 0; pages < 1000; ++pages) {
    std::string q =
        absl::StrCat(query, query.empty() ? "" : "&", "limit=", limit);
    if (!token.empty()) absl::StrAppend(&q, "&page_token=", token);
    server::HttpResponse r = call("GET", path, q);
    EXPECT_EQ(r.status, 200) << r.body;
    if (r.status != 200) break;
    rapidjson::Document d;
    d.Parse(r.body.c_str());
    std::vector<std::string> ids = ids_of(d);
    EXPECT_LE(ids.size(), static_cast<size_t>(limit));
    out.insert(out.end(), ids.begin(), ids.end());
    if (!d.HasMember("next_page_token")) break;
    token = d["next_page_token"].GetString();
    between();
  }
  return out;
}

TEST_F(AuditorTest, IncidentsPageExactlyOnceWhileNewOnesArrive) {
  auto call = [this](const std::string& m, const std::string& p,
                     const std::string& q) {
    return Call(m, p, q, "", kReadToken);
  };
  std::set<std::string> before;
  for (int i = 0; i < 23; ++i) {
    Finding f;
    f.detector = "test";
    f.key = absl::StrCat("k", i);
    f.summary = "s";
    f.time = clock_.Now();
    f.origin = log_.origin();
    auto u = auditor_->incidents().Report(f, {});
    ASSERT_TRUE(u.ok()) << u.status();
    before.insert(u->incident.id);
    if (i % 3 == 0) clock_.Advance(absl::Seconds(1));  // ties and not
  }
  int added = 0;
  auto ids = WalkPages(
      call, "/v1/incidents", "", 5,
      [](const rapidjson::Document& d) {
        std::vector<std::string> out;
        for (const auto& i : d["incidents"].GetArray())
          out.push_back(i["id"].GetString());
        return out;
      },
      [&] {
        Finding f;
        f.detector = "test";
        f.key = absl::StrCat("new", added++);
        f.summary = "s";
        f.time = clock_.Now();
        f.origin = log_.origin();
        ASSERT_TRUE(auditor_->incidents().Report(f, {}).ok());
        clock_.Advance(absl::Seconds(1));
      });
  std::multiset<std::string> seen(ids.begin(), ids.end());
  for (const std::string& id : before) EXPECT_EQ(seen.count(id), 1u) << id;
  for (const std::string& id : seen) EXPECT_EQ(seen.count(id), 1u) << id;
  EXPECT_GE(added, 4);
  // Without paging parameters: the first 100 and no token (23 + added).
  auto all = call("GET", "/v1/incidents", "");
  EXPECT_THAT(all.body, Not(HasSubstr("next_page_token")));
  // A forged, altered or foreign token is a 400 invalid_argument.
  auto first = call("GET", "/v1/incidents", "limit=2");
  rapidjson::Document d;
  d.Parse(first.body.c_str());
  ASSERT_TRUE(d.HasMember("next_page_token")) << first.body;
  std::string token = d["next_page_token"].GetString();
  std::string altered = token;
  altered[altered.size() / 2] = altered[altered.size() / 2] == 'A' ? 'B' : 'A';
  for (const std::string& q :
       std::vector<std::string>{"page_token=" + altered,
                                "page_token=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                                "status=open&page_token=" + token, "limit=0",
                                "limit=1001", "page_token=%25%25"}) {
    auto r = call("GET", "/v1/incidents", q);
    EXPECT_EQ(r.status, 400) << q;
    EXPECT_THAT(r.body, HasSubstr("\"code\":\"invalid_argument\"")) << q;
  }
  // The token of another list is refused too.
  EXPECT_EQ(call("GET", "/v1/flows", "page_token=" + token).status, 400);
}

TEST_F(AuditorTest, FlowsAndCheckpointsPage) {
  auto call = [this](const std::string& m, const std::string& p,
                     const std::string& q) {
    return Call(m, p, q, "", kReadToken);
  };
  const absl::Time start = clock_.Now();
  for (int h = 0; h < 9; ++h) {
    Log(Read("eu-support-1", "support", absl::StrCat("s", h)));
    clock_.Advance(absl::Hours(1));
  }
  ASSERT_TRUE(auditor_->PollOnce().ok());
  const std::string window =
      absl::StrCat("from=", FormatRfc3339Millis(start - absl::Hours(1)),
                   "&to=", FormatRfc3339Millis(start + absl::Hours(20)));
  auto whole = call("GET", "/v1/flows", window);
  ASSERT_EQ(whole.status, 200) << whole.body;
  rapidjson::Document all;
  all.Parse(whole.body.c_str());
  const size_t rows = all["flows"].Size();
  ASSERT_GE(rows, 9u);
  int more = 0;
  auto keys = WalkPages(
      call, "/v1/flows", window, 4,
      [](const rapidjson::Document& d) {
        std::vector<std::string> out;
        for (const auto& f : d["flows"].GetArray()) {
          out.push_back(absl::StrCat(f["hour"].GetString(), "/",
                                     f["category"].GetString(), "/",
                                     f["effect"].GetString()));
        }
        return out;
      },
      [&] {
        Log(Read("eu-support-1", "support", absl::StrCat("late", more++)));
        ASSERT_TRUE(auditor_->PollOnce().ok());
      });
  std::multiset<std::string> seen(keys.begin(), keys.end());
  for (const auto& f : all["flows"].GetArray()) {
    const std::string k =
        absl::StrCat(f["hour"].GetString(), "/", f["category"].GetString(), "/",
                     f["effect"].GetString());
    EXPECT_EQ(seen.count(k), 1u) << k;
  }
  for (const std::string& k : seen) EXPECT_EQ(seen.count(k), 1u) << k;
  // A later page keeps the first page's window; naming another is refused.
  auto first = call("GET", "/v1/flows", window + "&limit=1");
  rapidjson::Document d;
  d.Parse(first.body.c_str());
  ASSERT_TRUE(d.HasMember("next_page_token"));
  EXPECT_EQ(call("GET", "/v1/flows",
                 absl::StrCat("from=", FormatRfc3339Millis(start),
                              "&page_token=", d["next_page_token"].GetString()))
                .status,
            400);
  // Checkpoints: one followed log, so one page.
  auto cps = call("GET", "/v1/checkpoints", "limit=1");
  ASSERT_EQ(cps.status, 200) << cps.body;
  EXPECT_THAT(cps.body, Not(HasSubstr("next_page_token")));
  EXPECT_EQ(call("GET", "/v1/checkpoints", "page_token=x").status, 400);
}

}  // namespace
}  // namespace clover::audit
