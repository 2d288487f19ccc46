// The auditor's own sources of truth: a signed principal directory and the
// approvals its logs record. Entries forged with the node's own key (as a
// malicious operator could, `clover log append`) that a replay of the entry's
// own claims would pass.
#include <filesystem>
#include <set>

#include "absl/strings/str_cat.h"
#include "approvals/approvals.h"
#include "approvals/attestation.h"
#include "audit/auditor.h"
#include "audit/auditor_fixture.h"
#include "audit/decision_builder.h"
#include "audit/tlog_proof.h"
#include "entry/decision_record.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "policy/bundle.h"
#include "policy/signature.h"

namespace clover::audit {
namespace {

using ::clover::entry::DecisionEntry;
using ::clover::entry::FieldEntry;
using testing::FakeLog;
using ::testing::HasSubstr;
using testing::WriteFile;

constexpr char kPolicy[] = R"(version: 1
description: sources of truth test policy
rules:
  - id: support-reads-eu
    effect: allow
    when: {principal.role: support, purpose: customer_support, destination: eu}
  - id: engineers-pseudonyms
    effect: pseudonymize
    when: {principal.role: engineer, purpose: service_operation}
  - id: legal-needs-approval
    effect: approval
    params: {max_duration: 8h}
    when: {principal.role: legal, purpose: legal_request}
)";

std::string Principal(const std::string& id, const std::string& kind,
                      const std::string& roles, const std::string& country,
                      char key) {
  return absl::StrCat(
      "- id: ", id, "\n  kind: ", kind, "\n  org: org-", id, "\n  roles: [",
      roles, "]\n  country: ", country,
      "\n  credentials: {api_key_sha256: ", std::string(64, key), "}\n");
}

const std::string& PrincipalsYaml() {
  static const std::string* yaml = new std::string(absl::StrCat(
      Principal("eu-support-1", "employee", "support", "IE", 'a'),
      Principal("cn-engineer-1", "employee", "engineer", "CN", 'b'),
      Principal("us-legal-1", "employee", "legal", "US", 'c'),
      Principal("auditor", "auditor", "approver", "IE", 'd')));
  return *yaml;
}

constexpr char kJurisdictions[] = R"(eu: {countries: [IE, "NO"]}
us: {countries: [US]}
cn: {countries: [CN]}
)";

// The attributes an entry states for its principal.
struct Stated {
  std::string kind, org, role, country, jurisdiction;
};
Stated Truth(const std::string& id) {
  if (id == "eu-support-1")
    return {"employee", "org-eu-support-1", "support", "IE", "eu"};
  if (id == "cn-engineer-1")
    return {"employee", "org-cn-engineer-1", "engineer", "CN", "cn"};
  if (id == "us-legal-1")
    return {"employee", "org-us-legal-1", "legal", "US", "us"};
  return {"employee", "org-x", "support", "IE", "eu"};
}

class SourcesOfTruthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto files = testing::WriteAuditorFiles(dir_, "auditor.test", kPolicy);
    ASSERT_TRUE(files.ok()) << files.status();
    key_ = files->policy.key;
    witness_key_ = files->witness;
    policy_ = files->policy.compiled;
    config_ = files->config;

    principals_path_ = dir_.Sub("principals.yaml");
    WriteFile(principals_path_, PrincipalsYaml());
    WriteFile(policy::SignaturePath(principals_path_),
              *policy::SignPrincipals(policy::Sha256Hex(PrincipalsYaml()),
                                      key_.signer));
    WriteFile(dir_.Sub("jurisdictions.yaml"), kJurisdictions);

    config_.insecure_no_auth = true;
    config_.logs.push_back(testing::FollowLog(log_, "mem://eu"));
    config_.principals_file = principals_path_;
    config_.jurisdictions_file = dir_.Sub("jurisdictions.yaml");

    // The node's approvals desk, writing the transition records the gateway
    // logs (subjects under their log pseudonym: here "p-" + id).
    auto kv = kv::KvStore::Open(dir_.Sub("approvals"));
    ASSERT_TRUE(kv.ok()) << kv.status();
    approvals_kv_ = *std::move(kv);
    approvals::ApprovalOptions o;
    o.pseudonymize = [](absl::string_view s) { return absl::StrCat("p-", s); };
    approvals_ =
        *approvals::ApprovalStore::Open(approvals_kv_.get(), o, clock_);
    Reopen();
  }

  void Reopen() { testing::ReopenAuditor(config_, clock_, log_, &auditor_); }

  // A read of `subject` (a pseudonym) by `id`, stating `who`, decided by the
  // policy from what it states: what a forger with the node's key writes.
  DecisionEntry Read(const std::string& id, const Stated& who,
                     const std::string& purpose, const std::string& subject) {
    DecisionEntry e = testing::SupportRead(clock_.Now(), subject);
    e.principal_id = id;
    e.principal_kind = who.kind;
    e.principal_org = who.org;
    e.principal_roles = {who.role};
    e.principal_country = who.country;
    e.principal_jurisdiction = who.jurisdiction;
    e.purpose = purpose;
    e.destination = who.jurisdiction;
    e.fields.push_back({"country", "identity", false, {}, {}, {}});
    e.bytes = 120;
    DecideWith(*policy_, &e);
    return e;
  }
  // A legal read naming approval `id`, as the gateway logs a granted read
  // (fields keep the policy's `approval` effect, the entry names the grant).
  DecisionEntry LegalRead(const std::string& approval,
                          const std::string& subject = "p-s1") {
    DecisionEntry e =
        Read("us-legal-1", Truth("us-legal-1"), "legal_request", subject);
    // A US subject: a grant revealing an EU subject's restricted field to
    // the US is a restricted_transfer of its own.
    e.subject_jurisdiction = "us";
    e.approval = approval;
    return e;
  }
  void Log(const DecisionEntry& e) { log_.Append(entry::DecisionJson(e)); }

  // Files and approves a request of us-legal-1 for `fields` of subject s1;
  // both transitions go to the log. Returns the approval id.
  std::string Grant(std::vector<std::string> fields = {"email"}) {
    approvals::ApprovalRequestSpec spec;
    spec.principal = "us-legal-1";
    spec.requested_by = "us-legal-1";
    spec.justification = approvals::Justification::kLegalRequest;
    spec.subjects = {"s1"};
    spec.fields = std::move(fields);
    spec.duration = absl::Hours(2);
    spec.requester_country = "US";
    spec.detail = "TICKET-43";
    spec.detail = "TICKET-42";
    auto created = approvals_->Create(spec);
    EXPECT_TRUE(created.ok()) << created.status();
    log_.Append(created->record);
    auto approved = approvals_->Approve(
        created->approval.id,
        approvals::Approver{"auditor", "auditor", {"approver"}},
        "court order checked");
    EXPECT_TRUE(approved.ok()) << approved.status();
    log_.Append(approved->record);
    return created->approval.id;
  }

  // Files a request of us-legal-1 for email of s1 and logs its approval by
  // `auditor` carrying an attestation `edit` may change (signed with `signer`,
  // the auditor's key by default) before it is signed, as a forger with the
  // node's key but not the auditor's could log it. Returns the approval id.
  std::string AttestedGrant(
      const std::function<void(approvals::Attestation&)>& edit = {},
      std::string signer = {}) {
    approvals::ApprovalRequestSpec spec;
    spec.principal = "us-legal-1";
    spec.requested_by = "us-legal-1";
    spec.justification = approvals::Justification::kLegalRequest;
    spec.subjects = {"s1"};
    spec.fields = {"email"};
    spec.duration = absl::Hours(2);
    spec.requester_country = "US";
    spec.detail = "TICKET-44";
    auto created = approvals_->Create(spec);
    EXPECT_TRUE(created.ok()) << created.status();
    log_.Append(created->record);
    approvals::Attestation a;
    a.id = created->approval.id;
    a.request_sha256 = approvals::RequestSha256(created->record);
    a.principal = "us-legal-1";
    a.by = "auditor";
    a.approved = clock_.Now();
    a.expires = a.approved + absl::Hours(2);
    if (edit) edit(a);
    auto note =
        approvals::SignAttestation(a, signer.empty() ? key_.signer : signer);
    EXPECT_TRUE(note.ok()) << note.status();
    // The store takes the note as given: logging is what a forger controls.
    auto approved = approvals_->Approve(
        created->approval.id,
        approvals::Approver{"auditor", "auditor", {"approver"}}, "checked", {},
        {},
        approvals::AttestedGrant{note.value_or(""), absl::InfiniteFuture()});
    EXPECT_TRUE(approved.ok()) << approved.status();
    log_.Append(approved->record);
    return created->approval.id;
  }

  std::vector<Incident> Incidents(absl::string_view detector) {
    std::vector<Incident> out;
    for (const Incident& i : auditor_->incidents().List(std::nullopt)) {
      if (i.detector == detector) out.push_back(i);
    }
    return out;
  }
  std::set<std::string> Detectors() {
    std::set<std::string> out;
    for (const Incident& i : auditor_->incidents().List(std::nullopt))
      out.insert(i.detector);
    return out;
  }
  std::set<uint64_t> Indices(const Incident& inc) {
    std::set<uint64_t> out;
    for (const Evidence& e : inc.evidence)
      if (e.index) out.insert(*e.index);
    return out;
  }

  // The incident's evidence proves the entry against a log-signed checkpoint
  // this auditor cosigned.
  void ExpectEvidenceVerifies(const Incident& inc, uint64_t index) {
    auto lv = *log::ParseVerifierKey(log_.key().verifier);
    auto wv = *log::ParseVerifierKey(witness_key_.verifier);
    const log::NoteVerifier* logs[] = {lv.get()};
    const log::NoteVerifier* ws[] = {wv.get()};
    bool found = false;
    for (const Evidence& e : inc.evidence) {
      if (!e.index || *e.index != index) continue;
      found = true;
      EXPECT_EQ(e.entry, log_.entries()[index]);
      absl::Status s =
          VerifyTlogProof(e.proof, e.entry, log_.origin(), logs, ws);
      EXPECT_TRUE(s.ok()) << s;
    }
    EXPECT_TRUE(found) << "no evidence for entry " << index;
  }

  testing::TempDir dir_;
  FakeClock clock_{absl::FromUnixSeconds(1795000000)};
  testing::TestKey key_;
  testing::TestKey witness_key_;
  std::string principals_path_;
  std::shared_ptr<const policy::CompiledPolicy> policy_;
  FakeLog log_{"log.test/ie-dub-1"};
  AuditorConfig config_;
  std::unique_ptr<kv::KvStore> approvals_kv_;
  std::unique_ptr<approvals::ApprovalStore> approvals_;
  std::unique_ptr<Auditor> auditor_;
};

TEST_F(SourcesOfTruthTest, TruthfulEntriesRaiseNothing) {
  ASSERT_NE(auditor_->directory(), nullptr);
  EXPECT_EQ(auditor_->directory()->size(), 4u);
  Log(Read("eu-support-1", Truth("eu-support-1"), "customer_support", "p-s1"));
  Log(Read("cn-engineer-1", Truth("cn-engineer-1"), "service_operation",
           "p-s2"));
  const std::string id = Grant();
  clock_.Advance(absl::Minutes(5));
  Log(LegalRead(id));
  auto n = auditor_->PollOnce();
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 5u);
  EXPECT_TRUE(auditor_->incidents().List(std::nullopt).empty())
      << *Detectors().begin();
  EXPECT_THAT(
      auditor_->metrics().Render(),
      HasSubstr("clover_audit_decisions_replayed_total{verdict=\"match\"} 3"));
}

TEST_F(SourcesOfTruthTest, ApprovalNeverIssuedIsForged) {
  Log(LegalRead("apr-0123456789abcdef01234567"));
  ASSERT_TRUE(auditor_->PollOnce().ok());
  auto inc = Incidents(kDetectorForgedApproval);
  ASSERT_EQ(inc.size(), 1u);
  EXPECT_EQ(inc[0].severity, Severity::kCritical);
  EXPECT_THAT(inc[0].summary, HasSubstr("was never logged on this log"));
  ExpectEvidenceVerifies(inc[0], 0);
  // The entry itself replays as a match: only the approval is forged.
  EXPECT_EQ(Detectors(), std::set<std::string>{"forged_approval"});
}

TEST_F(SourcesOfTruthTest, ApprovalNotCoveringTheUseIsForged) {
  const std::string id = Grant({"email"});
  clock_.Advance(absl::Minutes(1));
  // Not yet approved: a request that was only filed.
  approvals::ApprovalRequestSpec spec;
  spec.principal = "us-legal-1";
  spec.requested_by = "us-legal-1";
  spec.justification = approvals::Justification::kLegalRequest;
  spec.subjects = {"s1"};
  spec.fields = {"email"};
  spec.duration = absl::Hours(1);
  spec.requester_country = "US";
  spec.detail = "TICKET-43";
  auto pending = approvals_->Create(spec);
  ASSERT_TRUE(pending.ok()) << pending.status();
  log_.Append(pending->record);
  const uint64_t first = log_.entries().size();
  Log(LegalRead(id, "p-s2"));            // another subject
  Log(LegalRead(pending->approval.id));  // never approved
  // Another principal's grant, where no field is left to an approval: it
  // opens nothing, so it is not a use.
  DecisionEntry other =
      Read("eu-support-1", Truth("eu-support-1"), "legal_request", "p-s1");
  other.approval = id;
  Log(other);
  DecisionEntry early = LegalRead(id);
  early.time -= absl::Hours(1);  // before the approval
  Log(early);
  DecisionEntry late = LegalRead(id);
  late.time += absl::Hours(3);  // after the 2 h grant
  Log(late);
  ASSERT_TRUE(auditor_->PollOnce().ok());
  auto inc = Incidents(kDetectorForgedApproval);
  ASSERT_EQ(inc.size(), 1u);
  EXPECT_EQ(Indices(inc[0]),
            (std::set<uint64_t>{first, first + 1, first + 3, first + 4}));
  // Revoked: uses after the revocation are forged, earlier ones are not.
  const uint64_t before = log_.entries().size();
  Log(LegalRead(id));
  auto revoked = approvals_->Revoke(
      id, approvals::Approver{"auditor", "auditor", {"approver"}},
      "order withdrawn");
  ASSERT_TRUE(revoked.ok()) << revoked.status();
  log_.Append(revoked->record);
  clock_.Advance(absl::Seconds(1));
  Log(LegalRead(id));
  ASSERT_TRUE(auditor_->PollOnce().ok());
  inc = Incidents(kDetectorForgedApproval);
  ASSERT_EQ(inc.size(), 1u);
  EXPECT_EQ(Indices(inc[0]).count(before), 0u);
  EXPECT_EQ(Indices(inc[0]).count(before + 2), 1u);
}

TEST_F(SourcesOfTruthTest, OnlyTheAuditorsDeskApproves) {
  config_.approvers = {"desk-1"};  // not the principal `auditor`
  Reopen();
  const std::string id = Grant();
  clock_.Advance(absl::Minutes(1));
  Log(LegalRead(id));
  ASSERT_TRUE(auditor_->PollOnce().ok());
  auto inc = Incidents(kDetectorForgedApproval);
  ASSERT_EQ(inc.size(), 1u);
  EXPECT_THAT(inc[0].summary,
              HasSubstr("approved by 'auditor', not by the auditor's "
                        "approvals desk"));
  // With the desk named right, the same grant is the auditor's.
  config_.approvers = {"auditor"};
  Reopen();
  Log(LegalRead(id));
  ASSERT_TRUE(auditor_->PollOnce().ok());
  EXPECT_EQ(Incidents(kDetectorForgedApproval)[0].occurrences, 1u);
}

TEST_F(SourcesOfTruthTest, ApprovalLedgerSurvivesARestart) {
  const std::string id = Grant();
  ASSERT_TRUE(auditor_->PollOnce().ok());
  Reopen();
  clock_.Advance(absl::Minutes(1));
  Log(LegalRead(id));
  ASSERT_TRUE(auditor_->PollOnce().ok());
  EXPECT_TRUE(auditor_->incidents().List(std::nullopt).empty());
}

// With attestation keys, a logged approval counts only with the auditor's
// attestation of exactly that request: the attested grant passes (also
// after a restart), and every pair of transitions a forger holding only the
// node's key can log is forged_approval on use.
TEST_F(SourcesOfTruthTest, ApprovalsMustBeAttestedByTheAuditor) {
  config_.attestation_keys = {key_.verifier};
  Reopen();
  const std::string good = AttestedGrant();
  clock_.Advance(absl::Minutes(1));
  Log(LegalRead(good));
  ASSERT_TRUE(auditor_->PollOnce().ok());
  EXPECT_TRUE(auditor_->incidents().List(std::nullopt).empty())
      << Incidents(kDetectorForgedApproval)[0].summary;
  Reopen();  // the ledger's stored attestation is judged again
  Log(LegalRead(good));
  ASSERT_TRUE(auditor_->PollOnce().ok());
  EXPECT_TRUE(auditor_->incidents().List(std::nullopt).empty());

  const testing::TestKey other = testing::MakeKey("operator.test");
  struct Forgery {
    std::string name;
    std::function<std::string()> grant;
    std::string why;
  };
  const std::vector<Forgery> forgeries = {
      {"no attestation", [&] { return Grant(); }, "carries no attestation"},
      {"another id",
       [&] {
         return AttestedGrant([](approvals::Attestation& a) {
           a.id = "apr-0123456789abcdef01234567";
         });
       },
       "'id'"},
      {"another request",
       [&] {
         return AttestedGrant([](approvals::Attestation& a) {
           a.request_sha256 = approvals::RequestSha256("another request");
         });
       },
       "'request'"},
      {"another principal",
       [&] {
         return AttestedGrant(
             [](approvals::Attestation& a) { a.principal = "eu-support-1"; });
       },
       "'principal'"},
      {"another approver",
       [&] {
         return AttestedGrant(
             [](approvals::Attestation& a) { a.by = "desk-2"; });
       },
       "'by'"},
      {"a key not the auditor's",
       [&] { return AttestedGrant({}, other.signer); },
       "no signature from a known key"},
  };
  for (const Forgery& f : forgeries) {
    const std::string id = f.grant();
    clock_.Advance(absl::Minutes(1));
    const uint64_t use = log_.entries().size();
    Log(LegalRead(id));
    ASSERT_TRUE(auditor_->PollOnce().ok());
    auto inc = Incidents(kDetectorForgedApproval);
    ASSERT_EQ(inc.size(), 1u) << f.name;
    EXPECT_EQ(Indices(inc[0]).count(use), 1u) << f.name;
    bool named = false;
    for (const Evidence& e : inc[0].evidence)
      named |= e.index && *e.index == use;
    EXPECT_TRUE(named) << f.name;
    EXPECT_EQ(inc[0].severity, Severity::kCritical);
    EXPECT_THAT(inc[0].summary, HasSubstr(f.why)) << f.name;
  }
  EXPECT_EQ(Incidents(kDetectorForgedApproval)[0].occurrences,
            forgeries.size());
}

// The grant's window is the attested one: a longer grant logged by the node
// does not extend it.
TEST_F(SourcesOfTruthTest, AttestedWindowBoundsTheGrant) {
  config_.attestation_keys = {key_.verifier};
  Reopen();
  const std::string id = AttestedGrant([](approvals::Attestation& a) {
    a.expires = a.approved + absl::Minutes(30);  // the store logs 2 h
  });
  clock_.Advance(absl::Minutes(29));
  Log(LegalRead(id));
  const uint64_t late = log_.entries().size();
  clock_.Advance(absl::Minutes(2));
  Log(LegalRead(id));
  ASSERT_TRUE(auditor_->PollOnce().ok());
  auto inc = Incidents(kDetectorForgedApproval);
  ASSERT_EQ(inc.size(), 1u);
  EXPECT_EQ(Indices(inc[0]), std::set<uint64_t>{late});
  EXPECT_THAT(inc[0].summary, HasSubstr("grant expired"));
}

TEST_F(SourcesOfTruthTest, FakeAttributesAreMismatchAndReplayUsesTheDirectory) {
  Log(Read("cn-engineer-1", Truth("cn-engineer-1"), "service_operation",
           "p-s1"));
  // CN-based engineer stating IE / eu / support: by its own claims every
  // field is allow.
  DecisionEntry fake = Read(
      "cn-engineer-1", {"employee", "org-cn-engineer-1", "support", "IE", "eu"},
      "customer_support", "p-s2");
  for (const FieldEntry& f : fake.fields)
    ASSERT_EQ(f.effect, policy::Effect::kAllow);
  Log(fake);
  ASSERT_TRUE(auditor_->PollOnce().ok());
  auto inc = Incidents(kDetectorAttributeMismatch);
  ASSERT_EQ(inc.size(), 1u);
  EXPECT_EQ(inc[0].severity, Severity::kCritical);
  EXPECT_THAT(inc[0].summary, HasSubstr("country 'IE' (directory: 'CN')"));
  EXPECT_THAT(inc[0].summary, HasSubstr("jurisdiction 'eu' (directory: 'cn')"));
  EXPECT_THAT(inc[0].summary,
              HasSubstr("roles 'support' (directory: 'engineer')"));
  ExpectEvidenceVerifies(inc[0], 1);
  // Replayed as the directory's CN engineer: the raw fields are a mismatch.
  auto mismatch = Incidents(kDetectorDecisionMismatch);
  ASSERT_EQ(mismatch.size(), 1u);
  EXPECT_THAT(mismatch[0].summary, HasSubstr("logged allow"));
  EXPECT_EQ(Indices(mismatch[0]), std::set<uint64_t>{1});
}

TEST_F(SourcesOfTruthTest, UnknownPrincipalIsAnIncident) {
  Log(Read("nobody-42", Truth("eu-support-1"), "customer_support", "p-s1"));
  ASSERT_TRUE(auditor_->PollOnce().ok());
  auto inc = Incidents(kDetectorUnknownPrincipal);
  ASSERT_EQ(inc.size(), 1u);
  EXPECT_EQ(inc[0].severity, Severity::kCritical);
  EXPECT_THAT(inc[0].summary, HasSubstr("'nobody-42'"));
  ExpectEvidenceVerifies(inc[0], 0);
}

TEST_F(SourcesOfTruthTest, DirectoryMustBeSignedByTheAuditor) {
  auditor_.reset();
  // Signed by another key.
  const testing::TestKey other = testing::MakeKey("operator.test");
  WriteFile(policy::SignaturePath(principals_path_),
            *policy::SignPrincipals(policy::Sha256Hex(PrincipalsYaml()),
                                    other.signer));
  auto a = testing::OpenAuditor(config_, clock_, log_);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(a.status().message(), HasSubstr("principals.yaml.sig"));
  // A policy signature does not stand for a directory signature.
  WriteFile(
      policy::SignaturePath(principals_path_),
      *policy::SignPolicy(policy::Sha256Hex(PrincipalsYaml()), key_.signer));
  a = testing::OpenAuditor(config_, clock_, log_);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), absl::StatusCode::kUnauthenticated);
  // Edited after signing.
  WriteFile(policy::SignaturePath(principals_path_),
            *policy::SignPrincipals(policy::Sha256Hex(PrincipalsYaml()),
                                    key_.signer));
  WriteFile(principals_path_, PrincipalsYaml() + Principal("mallory", "admin",
                                                           "admin", "IE", 'e'));
  a = testing::OpenAuditor(config_, clock_, log_);
  ASSERT_FALSE(a.ok());
  EXPECT_THAT(a.status().message(), HasSubstr("for another directory"));
  // Unsigned.
  std::filesystem::remove(policy::SignaturePath(principals_path_));
  a = testing::OpenAuditor(config_, clock_, log_);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace clover::audit
