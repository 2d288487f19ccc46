// The auditor checks the partner's key releases against the nodes' decisions
// (audit/release_check.h): a node log and a release log served from memory,
// releases as the key-release service writes them, and the releases a
// malicious operator would ask for — naming a decision that does not exist,
// a deny decision, another subject's decision, a stale one — each raising
// release_unjustified; a release log whose checkpoint does not verify raises
// release_log_unverified.
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "audit/auditor.h"
#include "audit/auditor_fixture.h"
#include "audit/decision_builder.h"
#include "audit/release_check.h"
#include "audit/report.h"
#include "audit/tlog_proof.h"
#include "core/canonical_json.h"
#include "core/rfc3339.h"
#include "entry/decision_record.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "policy/compiled_policy.h"
#include "rapidjson/document.h"

namespace clover::audit {
namespace {

using testing::FakeLog;
using ::testing::HasSubstr;
using testing::WriteFile;

constexpr char kPolicy[] = R"(version: 1
description: release audit test policy
rules:
  - id: support-reads-eu
    effect: allow
    when: {principal.role: support, purpose: customer_support, destination: eu}
)";

// A release entry as release/release_service.cc writes it.
struct Release {
  std::string code = "read";
  std::optional<uint64_t> index;
  std::string log;
  std::string node = "ie-dub-1-a";
  std::string principal = "eu-support-1";
  std::string purpose = "customer_support";
  std::string subject;
  std::string outcome = "released";
  absl::Time time;
};

std::string ReleaseJson(const Release& r) {
  std::string e = "{\"code\":";
  AppendJsonString(r.code, &e);
  if (r.index) absl::StrAppend(&e, ",\"decision_index\":", *r.index);
  if (!r.log.empty()) {
    e.append(",\"decision_log\":");
    AppendJsonString(r.log, &e);
  }
  e.append(",\"decision_node\":");
  AppendJsonString(r.node, &e);
  e.append(",\"key_id\":\"release:00\",\"node\":\"CN=eu-node-1\",\"outcome\":");
  AppendJsonString(r.outcome, &e);
  e.append(",\"principal\":");
  AppendJsonString(r.principal, &e);
  e.append(",\"purpose\":");
  AppendJsonString(r.purpose, &e);
  e.append(",\"region\":\"eu\",\"subject\":");
  AppendJsonString(r.subject, &e);
  e.append(",\"time\":");
  AppendJsonString(FormatRfc3339Millis(r.time), &e);
  e.append(",\"type\":\"release\"}");
  return e;
}

class ReleaseAuditTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto files = testing::WriteAuditorFiles(dir_, "auditor.test", kPolicy);
    ASSERT_TRUE(files.ok()) << files.status();
    policy_ = files->policy.compiled;
    config_ = files->config;
    config_.insecure_no_auth = true;
    config_.logs.push_back(testing::FollowLog(node_log_, "mem://node"));
    ReleaseLogConfig rc;
    rc.log = {
        release_log_.origin(), "mem://release", {release_log_.key().verifier}};
    rc.max_delay = absl::Seconds(60);
    rc.pending_timeout = absl::Minutes(10);
    config_.releases.push_back(rc);
    auto a = Auditor::Create(config_, clock_, [this](const std::string& url) {
      if (url == "mem://node") return node_log_.Fetcher();
      if (forged_release_log_) return forged_release_log_->Fetcher();
      return release_log_.Fetcher();
    });
    ASSERT_TRUE(a.ok()) << a.status();
    auditor_ = *std::move(a);
  }

  // A read decision of `principal` (role support: allowed; role engineer:
  // denied, nothing returned) on `subject`, appended to the node log.
  uint64_t LogRead(const std::string& subject, const std::string& role) {
    entry::DecisionEntry e = testing::SupportRead(clock_.Now(), subject);
    e.principal_roles = {role};
    DecideWith(*policy_, &e);
    const bool denied = e.fields[0].effect == policy::Effect::kDeny;
    e.records = denied ? 0 : 1;
    e.bytes = denied ? 0 : 40;
    node_log_.Append(entry::DecisionJson(e));
    return node_log_.entries().size() - 1;
  }

  Release ReadRelease(uint64_t index, const std::string& subject) {
    Release r;
    r.index = index;
    r.log = node_log_.origin();
    r.subject = subject;
    r.time = clock_.Now();
    return r;
  }

  std::vector<Incident> Unjustified() {
    return testing::IncidentsOf(*auditor_, kDetectorReleaseUnjustified);
  }

  void Poll() { ASSERT_TRUE(auditor_->PollOnce().ok()); }

  testing::TempDir dir_;
  FakeClock clock_{absl::FromUnixSeconds(1795000000)};
  std::shared_ptr<const policy::CompiledPolicy> policy_;
  FakeLog node_log_{"clover.test/eu"};
  FakeLog release_log_{"partner.test/releases"};
  std::unique_ptr<FakeLog> forged_release_log_;
  AuditorConfig config_;
  std::unique_ptr<Auditor> auditor_;
};

TEST_F(ReleaseAuditTest, ReleaseNamingItsAllowingDecisionIsJustified) {
  const uint64_t d = LogRead("ps-ann", "support");
  clock_.Advance(absl::Milliseconds(20));
  release_log_.Append(ReleaseJson(ReadRelease(d, "ps-ann")));
  // A refusal released nothing; a maintenance release is the vault's own.
  Release refused = ReadRelease(99, "ps-ann");
  refused.outcome = "refused";
  release_log_.Append(ReleaseJson(refused));
  Release maintenance;
  maintenance.code = "maintenance";
  maintenance.principal = "vault";
  maintenance.purpose = "kek-rotation";
  maintenance.time = clock_.Now();
  release_log_.Append(ReleaseJson(maintenance));
  Poll();
  EXPECT_TRUE(Unjustified().empty());
  const ReleaseCounts c = auditor_->release_counts(release_log_.origin());
  EXPECT_EQ(c.released, 2);
  EXPECT_EQ(c.justified, 1);
  EXPECT_EQ(c.maintenance, 1);
  EXPECT_EQ(c.refused, 1);
  EXPECT_EQ(c.unjustified, 0);
  // The release log is followed and cosigned like a decision log.
  ASSERT_EQ(auditor_->release_followers().size(), 1);
  EXPECT_EQ(auditor_->release_followers()[0]->size(), 3);
}

TEST_F(ReleaseAuditTest, ReleaseBeforeItsDecisionIsVerifiedWaitsForIt) {
  // The node's checkpoint lags the release: pending, then justified.
  const uint64_t d = LogRead("ps-ann", "support");
  node_log_.Publish(0);
  release_log_.Append(ReleaseJson(ReadRelease(d, "ps-ann")));
  Poll();
  EXPECT_EQ(auditor_->release_counts(release_log_.origin()).pending, 1);
  node_log_.Publish(1);
  clock_.Advance(absl::Seconds(1));
  Poll();
  EXPECT_TRUE(Unjustified().empty());
  const ReleaseCounts c = auditor_->release_counts(release_log_.origin());
  EXPECT_EQ(c.pending, 0);
  EXPECT_EQ(c.justified, 1);
}

TEST_F(ReleaseAuditTest, AttackReleaseNamingNoDecisionRaisesIncident) {
  LogRead("ps-ann", "support");
  // The operator asks for a key naming an index the node's log never holds:
  // pending while the log may still be lagging, then an incident.
  release_log_.Append(ReleaseJson(ReadRelease(500, "ps-ann")));
  Poll();
  EXPECT_TRUE(Unjustified().empty());
  clock_.Advance(absl::Minutes(11));
  Poll();
  std::vector<Incident> got = Unjustified();
  ASSERT_EQ(got.size(), 1);
  EXPECT_EQ(got[0].severity, Severity::kCritical);
  EXPECT_THAT(got[0].summary, HasSubstr("not verified within"));
  // Evidence: the release entry itself, with its inclusion proof.
  ASSERT_FALSE(got[0].evidence.empty());
  EXPECT_EQ(got[0].evidence[0].origin, release_log_.origin());
  EXPECT_THAT(got[0].evidence[0].entry, HasSubstr("\"decision_index\":500"));
  EXPECT_TRUE(ParseTlogProof(got[0].evidence[0].proof).ok());

  // Naming no index, or a log the auditor does not follow: at once.
  Release none = ReadRelease(0, "ps-ann");
  none.index.reset();
  release_log_.Append(ReleaseJson(none));
  Release elsewhere = ReadRelease(0, "ps-ann");
  elsewhere.log = "somewhere.else/log";
  elsewhere.principal = "eu-support-2";
  release_log_.Append(ReleaseJson(elsewhere));
  Poll();
  got = Unjustified();
  ASSERT_EQ(got.size(), 2);  // one per (node, principal)
  EXPECT_EQ(auditor_->release_counts(release_log_.origin()).unjustified, 3);
}

TEST_F(ReleaseAuditTest, AttackReleaseNamingDenyDecisionRaisesIncident) {
  const uint64_t denied = LogRead("ps-ann", "engineer");
  release_log_.Append(ReleaseJson(ReadRelease(denied, "ps-ann")));
  Poll();
  std::vector<Incident> got = Unjustified();
  ASSERT_EQ(got.size(), 1);
  EXPECT_THAT(got[0].summary, HasSubstr("did not allow any data"));
  // The decision named, from the node's log, with its proof.
  ASSERT_EQ(got[0].evidence.size(), 2);
  const Evidence& decision = got[0].evidence[0];
  EXPECT_EQ(decision.origin, node_log_.origin());
  EXPECT_EQ(decision.index, denied);
  EXPECT_THAT(decision.entry, HasSubstr("\"deny\""));
  EXPECT_TRUE(ParseTlogProof(decision.proof).ok());
  EXPECT_EQ(got[0].evidence[1].origin, release_log_.origin());
}

TEST_F(ReleaseAuditTest, AttackReleaseForAnotherSubjectRaisesIncident) {
  const uint64_t d = LogRead("ps-ann", "support");
  release_log_.Append(ReleaseJson(ReadRelease(d, "ps-bob")));
  Poll();
  std::vector<Incident> got = Unjustified();
  ASSERT_EQ(got.size(), 1);
  EXPECT_THAT(got[0].summary, HasSubstr("another subject"));
}

TEST_F(ReleaseAuditTest, AttackReleaseReusingOldOrForeignDecisionRaises) {
  const uint64_t d = LogRead("ps-ann", "support");
  // Stale: past the cache window.
  clock_.Advance(absl::Seconds(61));
  release_log_.Append(ReleaseJson(ReadRelease(d, "ps-ann")));
  // Another principal or purpose than the decision's.
  Release other = ReadRelease(d, "ps-ann");
  other.principal = "eu-support-2";
  release_log_.Append(ReleaseJson(other));
  Poll();
  std::vector<Incident> got = Unjustified();
  ASSERT_EQ(got.size(), 2);
  std::string all;
  for (const Incident& i : got) all += i.summary + "\n";
  EXPECT_THAT(all, HasSubstr("before the release (more than 1m)"));
  EXPECT_THAT(all, HasSubstr("is principal 'eu-support-1''s"));
}

// JudgeRelease on its own: each way a release can fail to match the entry it
// names, and the forward scan of the codes that name the log's size.
TEST(JudgeReleaseTest, MatchesEveryPartOfTheDecision) {
  entry::DecisionEntry e;
  e.time = absl::FromUnixSeconds(1795000000);
  e.node = "ie-dub-1-a";
  e.principal_id = "p";
  e.purpose = "support";
  e.action = "read";
  e.subject = "ps";
  e.fields = {{"email", "contact", true, policy::Effect::kAllow, {}, "r"}};
  e.records = 1;
  std::vector<std::string> log = {entry::DecisionJson(e)};
  entry::DecisionEntry x = e;
  x.action = "export";
  x.subject = "";
  x.subject_count = 3;
  log.push_back(entry::DecisionJson(x));  // 1: an export
  VerifiedEntryFn lookup = [&](const std::string& origin,
                               uint64_t i) -> absl::StatusOr<std::string> {
    if (origin != "L") return absl::NotFoundError(origin);
    if (i >= log.size()) return absl::OutOfRangeError("not yet");
    return log[i];
  };
  ReleaseEntry r;
  r.type = "release";
  r.outcome = "released";
  r.code = "read";
  r.decision_index = 0;
  r.decision_log = "L";
  r.decision_node = "ie-dub-1-a";
  r.principal = "p";
  r.purpose = "support";
  r.subject = "ps";
  r.time = e.time + absl::Seconds(1);
  using V = ReleaseJudgement::Verdict;
  EXPECT_EQ(JudgeRelease(r, lookup, absl::Minutes(1)).verdict, V::kJustified);
  auto why = [&](ReleaseEntry changed) {
    ReleaseJudgement j = JudgeRelease(changed, lookup, absl::Minutes(1));
    EXPECT_EQ(j.verdict, V::kUnjustified);
    return j.why;
  };
  ReleaseEntry c = r;
  c.purpose = "marketing";
  EXPECT_THAT(why(c), HasSubstr("is for purpose 'support'"));
  c = r;
  c.code = "detokenize";
  c.decision_index = 0;
  log.resize(2);
  // Non-read codes scan forward; with no match in the window's verified
  // part the release waits.
  EXPECT_EQ(JudgeRelease(c, lookup, absl::Minutes(1)).verdict, V::kPending);
  c = r;
  c.decision_node = "ie-dub-1-b";
  EXPECT_THAT(why(c), HasSubstr("is node 'ie-dub-1-a''s"));
  c = r;
  c.time = e.time - absl::Seconds(30);
  EXPECT_THAT(why(c), HasSubstr("after the release"));
  c = r;
  c.decision_index = 1;  // the export, named by a read
  EXPECT_THAT(why(c), HasSubstr("is a 'export', not a 'read'"));
  // An export names the log's size when it decided: its entry at or after.
  c = r;
  c.code = "export";
  c.subject = "ps";
  c.decision_index = 0;
  EXPECT_EQ(JudgeRelease(c, lookup, absl::Minutes(1)).verdict, V::kJustified);
  c.principal = "q";
  for (uint64_t i = 0; i < kForwardScan; ++i) log.push_back(log[0]);
  EXPECT_THAT(why(c),
              HasSubstr(absl::StrCat("no entry 0..", kForwardScan - 1)));
  // An export's entry is written after its reads: up to max_delay later.
  c = r;
  c.code = "export";
  c.decision_index = 1;
  c.time = e.time - absl::Seconds(30);
  EXPECT_EQ(JudgeRelease(c, lookup, absl::Minutes(1)).verdict, V::kJustified);
  c = r;
  c.code = "maintenance";
  c.principal = "eu-support-1";
  EXPECT_THAT(why(c), HasSubstr("not the vault"));
  c.principal = "vault";
  EXPECT_EQ(JudgeRelease(c, lookup, absl::Minutes(1)).verdict, V::kNotChecked);
}

TEST_F(ReleaseAuditTest, ReleaseLogWhoseCheckpointDoesNotVerifyRaises) {
  release_log_.Append(ReleaseJson(ReadRelease(0, "ps-ann")));
  // A log at the release log's URL that signs with another key.
  forged_release_log_ = std::make_unique<FakeLog>(release_log_.origin());
  forged_release_log_->Append(release_log_.entries()[0]);
  auditor_.reset();
  auto a = Auditor::Create(config_, clock_, [this](const std::string& url) {
    if (url == "mem://node") return node_log_.Fetcher();
    return forged_release_log_->Fetcher();
  });
  ASSERT_TRUE(a.ok()) << a.status();
  auditor_ = *std::move(a);
  Poll();
  bool raised = false;
  for (const Incident& i : auditor_->incidents().List(std::nullopt)) {
    raised |= i.detector == kDetectorReleaseLogUnverified;
  }
  EXPECT_TRUE(raised);
  EXPECT_EQ(auditor_->release_followers()[0]->size(), 0);
}

TEST_F(ReleaseAuditTest, ReportCountsReleases) {
  const uint64_t d = LogRead("ps-ann", "support");
  release_log_.Append(ReleaseJson(ReadRelease(d, "ps-ann")));
  release_log_.Append(ReleaseJson(ReadRelease(d, "ps-bob")));
  Poll();
  auditor_.reset();  // the report opens the store read-only
  auto files = WriteAuditReport(config_, clock_.Now() - absl::Hours(1),
                                clock_.Now() + absl::Hours(1), dir_.Sub("rep"));
  ASSERT_TRUE(files.ok()) << files.status();
  std::ifstream in(files->json);
  std::string json((std::istreambuf_iterator<char>(in)),
                   std::istreambuf_iterator<char>());
  EXPECT_THAT(json, HasSubstr("\"releases\":[{\"cutoffs\":0,\"justified\":1,"
                              "\"maintenance\":0,\"origin\":\"partner.test/"
                              "releases\",\"pending\":0,\"refused\":0,"
                              "\"released\":2,\"restores\":0,"
                              "\"unjustified\":1}]"));
  EXPECT_THAT(json, HasSubstr("release_unjustified"));
}

// A verifier finds the key-release logs where it finds the decision logs: the
// public checkpoint listing names both, each with its verified checkpoint.
TEST_F(ReleaseAuditTest, CheckpointListingIncludesTheReleaseLog) {
  const uint64_t d = LogRead("ps-ann", "support");
  release_log_.Append(ReleaseJson(ReadRelease(d, "ps-ann")));
  Poll();
  server::HttpRequest req;
  req.method = "GET";
  req.path = "/v1/checkpoints";
  server::HttpResponse r;
  auditor_->handler()(req,
                      [&](server::HttpResponse out) { r = std::move(out); });
  ASSERT_EQ(r.status, 200) << r.body;
  rapidjson::Document doc;
  doc.Parse(r.body.c_str());
  ASSERT_TRUE(doc.IsObject() && doc.HasMember("logs")) << r.body;
  std::map<std::string, std::tuple<std::string, uint64_t, std::string>> logs;
  for (const auto& l : doc["logs"].GetArray()) {
    logs[l["origin"].GetString()] = {l["kind"].GetString(),
                                     l["size"].GetUint64(),
                                     l["checkpoint"].GetString()};
  }
  ASSERT_EQ(logs.size(), 2u) << r.body;
  const auto& [kind, size, note] = logs.at(release_log_.origin());
  EXPECT_EQ(kind, "release");
  EXPECT_EQ(size, 1u);
  EXPECT_TRUE(absl::StartsWith(note, release_log_.origin() + "\n1\n")) << note;
  EXPECT_EQ(std::get<0>(logs.at(node_log_.origin())), "decision");
  EXPECT_EQ(std::get<1>(logs.at(node_log_.origin())), 1u);
}

TEST(ReleaseConfigTest, ReleasesSectionIsReadAndCheckedLikeLogs) {
  testing::TempDir dir;
  auto log_key = testing::MakeKey("log.test/a");
  auto release_key = testing::MakeKey("partner.test/releases");
  const std::string base =
      absl::StrCat(testing::ConfigYaml("  insecure_no_auth: true\n",
                                       log_key.verifier, log_key.verifier),
                   testing::kPrincipalsYaml);
  const std::string releases = absl::StrCat(R"(releases:
  - origin: partner.test/releases
    url: https://127.0.0.1:2/log
    verifier_keys: [")",
                                            release_key.verifier, R"("]
    ca_file: ca.crt
    max_delay: 90s
    pending_timeout: 3m
)");
  WriteFile(dir.Sub("a.yaml"), base + releases);
  auto c = LoadAuditorConfig(dir.Sub("a.yaml"));
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->releases.size(), 1u);
  EXPECT_EQ(c->releases[0].log.origin, "partner.test/releases");
  EXPECT_EQ(c->releases[0].log.url, "https://127.0.0.1:2/log");
  EXPECT_EQ(c->releases[0].ca_file, dir.Sub("ca.crt"));
  EXPECT_EQ(c->releases[0].max_delay, absl::Seconds(90));
  EXPECT_EQ(c->releases[0].pending_timeout, absl::Minutes(3));
  for (const auto& [from, to, message] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"max_delay: 90s", "max_delay: soon", "releases[0].max_delay"},
           {"ca_file: ca.crt", "cafile: ca.crt", "releases[0].cafile"},
           {"origin: partner.test/releases", "origin: log.test/a",
            "is also a decision log"},
           {release_key.verifier, "not-a-key", "releases[0].verifier_keys"}}) {
    std::string changed = base + releases;
    changed.replace(changed.find(from), from.size(), to);
    WriteFile(dir.Sub("b.yaml"), changed);
    EXPECT_THAT(LoadAuditorConfig(dir.Sub("b.yaml")).status().message(),
                HasSubstr(message))
        << to;
  }
}

TEST(ReleaseEntryTest, ParsesWhatTheServiceWritesAndRefusesTheRest) {
  Release r;
  r.index = 7;
  r.log = "clover.test/eu";
  r.subject = "ps";
  r.time = absl::FromUnixSeconds(1795000000);
  auto e = ParseReleaseEntry(ReleaseJson(r));
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->decision_index, 7);
  EXPECT_EQ(e->decision_log, "clover.test/eu");
  EXPECT_EQ(e->decision_node, "ie-dub-1-a");
  EXPECT_EQ(e->time, r.time);
  EXPECT_FALSE(ParseReleaseEntry("{}").ok());
  EXPECT_FALSE(ParseReleaseEntry("[1]").ok());
  EXPECT_FALSE(
      ParseReleaseEntry(R"({"type":"release","time":"x","region":"eu"})").ok());
  EXPECT_FALSE(
      ParseReleaseEntry(
          R"({"type":"release","time":"2026-01-01T00:00:00Z","region":"eu","outcome":"maybe"})")
          .ok());
  auto counts =
      DecodeReleaseCounts(EncodeReleaseCounts({1, 2, 3, 4, 5, 6, 7, 8}));
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(counts->pending, 8);
  EXPECT_FALSE(DecodeReleaseCounts("1 2").ok());
}

}  // namespace
}  // namespace clover::audit
