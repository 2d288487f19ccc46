// The auditor's verification of legacy-migration deletion attestations
// (audit/legacy_check.h) against a throwaway PostgreSQL legacy table: a node's
// log (an in-memory tiled log, as the auditor's other tests use) holds
// migration writes and `legacy_deletion` entries; the auditor follows it,
// reads the source read-only and raises `deletion_unverified` for every way an
// attestation can be wrong.
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "audit/auditor.h"
#include "audit/auditor_fixture.h"
#include "audit/console.h"
#include "audit/decision_builder.h"
#include "audit/legacy_check.h"
#include "audit/report.h"
#include "core/rfc3339.h"
#include "entry/decision_record.h"
#include "entry/legacy_deletion.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "policy/compiled_policy.h"
#include "tests/postgres_test_util.h"

namespace clover::audit {
namespace {

using testing::FakeLog;
using ::testing::HasSubstr;

constexpr char kPolicy[] = R"(version: 1
description: legacy audit test policy
rules:
  - id: migration-writes
    effect: allow
    when: {principal.role: migrator, purpose: migration}
  - id: support-writes
    effect: allow
    when: {principal.role: agent, purpose: support}
)";
constexpr char kMigration[] = "run-2026-12";

class LegacyAuditTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CLOVER_REQUIRE_POSTGRES();
    static int n = 0;
    table_ = absl::StrCat("legacy_customers_", ++n);
    source_ = absl::StrCat("postgres:test/legacy/", table_);
    ASSERT_TRUE(pgtest::Sql(absl::StrCat("CREATE TABLE ", table_,
                                         " (id text PRIMARY KEY, country "
                                         "text)"))
                    .ok());
    auto files = testing::WriteAuditorFiles(dir_, "auditor.test", kPolicy);
    ASSERT_TRUE(files.ok()) << files.status();
    policy_ = files->policy.compiled;
    config_ = files->config;
    config_.insecure_no_auth = true;
    config_.logs.push_back(testing::FollowLog(log_, "mem://node"));
    config_.migration.interval = absl::Minutes(10);
    config_.migration.sources.push_back({source_, pgtest::Dsn(), table_, "id"});
    Reopen();
  }

  void Reopen() { testing::ReopenAuditor(config_, clock_, log_, &auditor_); }

  void Sql(const std::string& sql) {
    ASSERT_TRUE(pgtest::Sql(sql).ok()) << sql;
  }
  void InsertRows(const std::vector<std::string>& keys) {
    for (const std::string& k : keys) {
      Sql(absl::StrCat("INSERT INTO ", table_, " VALUES ('", k, "', 'IE')"));
    }
  }
  void DeleteRows(const std::vector<std::string>& keys) {
    for (const std::string& k : keys) {
      Sql(absl::StrCat("DELETE FROM ", table_, " WHERE id = '", k, "'"));
    }
  }

  // A write of `pseudonym` logged now; its log index.
  uint64_t LogWrite(const std::string& pseudonym,
                    const std::string& purpose = "migration",
                    const std::string& action = "write") {
    entry::DecisionEntry e = testing::SupportRead(clock_.Now(), pseudonym);
    e.principal_id = purpose == "migration" ? "legacy-migrator" : "agent-1";
    e.principal_kind = "service";
    e.principal_roles = {purpose == "migration" ? "migrator" : "agent"};
    e.purpose = purpose;
    e.action = action;
    e.fields[0].restricted = false;
    DecideWith(*policy_, &e);
    EXPECT_EQ(e.fields[0].effect, policy::Effect::kAllow);
    e.records = 1;
    log_.Append(entry::DecisionJson(e));
    return log_.entries().size() - 1;
  }

  // Migrates `keys` as batch `batch`: one migration write per key (subject
  // "ps-<key>"), then the rows are deleted at the source (unless `delete_rows`
  // is false), then the attestation is logged; its log index.
  struct Batch {
    std::vector<std::string> keys;
    std::vector<uint64_t> writes;
    std::vector<std::string> pseudonyms;
  };
  Batch Migrate(const std::vector<std::string>& keys, bool delete_rows = true) {
    Batch b;
    b.keys = keys;
    for (const std::string& k : keys) {
      b.pseudonyms.push_back("ps-" + k);
      b.writes.push_back(LogWrite(b.pseudonyms.back()));
    }
    if (delete_rows) DeleteRows(keys);
    return b;
  }
  uint64_t Attest(const Batch& b, uint64_t batch_no,
                  const std::string& root_override = "") {
    entry::LegacyDeletion a;
    a.time = clock_.Now();
    a.node = "ie-dub-1-a";
    a.region = "eu";
    a.migration = kMigration;
    a.source = source_;
    a.batch = batch_no;
    a.records = b.keys.size();
    for (const std::string& k : b.keys)
      a.key_hashes.push_back(entry::LegacyKeyHash(source_, k));
    a.subjects_root = root_override.empty()
                          ? entry::MigratedSubjectsRoot(b.pseudonyms)
                          : root_override;
    a.write_indexes = b.writes;
    log_.Append(entry::LegacyDeletionJson(a));
    return log_.entries().size() - 1;
  }

  std::vector<Incident> Unverified() {
    std::vector<Incident> out;
    for (const Incident& i : auditor_->incidents().List(std::nullopt)) {
      if (i.detector == kDetectorDeletionUnverified) out.push_back(i);
    }
    return out;
  }

  void Poll() { ASSERT_TRUE(auditor_->PollOnce().ok()); }
  // A polling round, then a forced read of the source.
  void PollAndCheck() {
    Poll();
    auditor_->CheckMigrationSourcesOnce();
  }

  MigrationSummary Summary() {
    std::vector<MigrationSummary> s = auditor_->MigrationSummaries();
    EXPECT_EQ(s.size(), 1u);
    return s.empty() ? MigrationSummary{} : s[0];
  }

  testing::TempDir dir_;
  FakeClock clock_{absl::FromUnixSeconds(1795000000)};
  std::shared_ptr<const policy::CompiledPolicy> policy_;
  FakeLog log_{"clover.test/eu"};
  std::string table_;
  std::string source_;
  AuditorConfig config_;
  std::unique_ptr<Auditor> auditor_;
};

TEST_F(LegacyAuditTest, HonestMigrationRaisesNothing) {
  InsertRows({"c1", "c2", "c3", "c4", "c5", "cn-1"});
  LogWrite("ps-someone-else", "support");  // ordinary traffic between
  Attest(Migrate({"c1", "c2", "c3"}), 0);
  Attest(Migrate({"c4", "c5"}), 1);
  PollAndCheck();
  EXPECT_TRUE(Unverified().empty());
  const MigrationSummary s = Summary();
  EXPECT_EQ(s.migration, kMigration);
  EXPECT_EQ(s.source, source_);
  EXPECT_EQ(s.batches, 2u);
  EXPECT_EQ(s.records, 5u);
  EXPECT_EQ(s.verified, 2u);
  EXPECT_EQ(s.unverified, 0u);
  EXPECT_EQ(s.unchecked, 0u);
  EXPECT_EQ(s.last_check, clock_.Now());
  // The public transparency page counts them (no source named).
  const std::string pub = PublicSummaryJson(*auditor_, clock_.Now(), 30);
  EXPECT_THAT(pub, HasSubstr("\"legacy_deletions\":{\"batches\":2,"
                             "\"records\":5,\"verified\":2,"
                             "\"unverified\":0,\"unchecked\":0}"));
  EXPECT_THAT(pub, ::testing::Not(HasSubstr(source_)));
  // A quarantined row (never attested) left at the source is no finding.
  clock_.Advance(config_.migration.interval);
  Poll();
  EXPECT_TRUE(Unverified().empty());
}

TEST_F(LegacyAuditTest, RowLeftAtTheSourceIsDeletionUnverifiedWithProof) {
  InsertRows({"c1", "c2", "c3"});
  Batch b = Migrate({"c1", "c2", "c3"});
  InsertRows({"c2"});  // the deletion missed it (or it was put back at once)
  const uint64_t at = Attest(b, 0);
  PollAndCheck();
  std::vector<Incident> found = Unverified();
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].severity, Severity::kHigh);
  EXPECT_THAT(found[0].summary, HasSubstr("1 of its 3 attested rows"));
  ASSERT_FALSE(found[0].evidence.empty());
  EXPECT_EQ(found[0].evidence[0].index, at);
  EXPECT_EQ(found[0].evidence[0].entry, log_.entries()[at]);
  EXPECT_FALSE(found[0].evidence[0].proof.empty());
  EXPECT_EQ(Summary().unverified, 1u);
  // Checked again: the same episode, not a second incident nor occurrence.
  auditor_->CheckMigrationSourcesOnce();
  found = Unverified();
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].occurrences, 1u);
}

TEST_F(LegacyAuditTest, RowReappearingLaterIsRaisedAtTheNextCheck) {
  InsertRows({"c1", "c2"});
  Attest(Migrate({"c1", "c2"}), 0);
  PollAndCheck();
  EXPECT_TRUE(Unverified().empty());
  EXPECT_EQ(Summary().verified, 1u);
  InsertRows({"c1"});  // restored from a backup behind the auditor's back
  clock_.Advance(absl::Minutes(1));
  Poll();  // not due yet
  EXPECT_TRUE(Unverified().empty());
  clock_.Advance(config_.migration.interval);
  Poll();  // the periodic re-read
  std::vector<Incident> found = Unverified();
  ASSERT_EQ(found.size(), 1u);
  EXPECT_THAT(found[0].summary, HasSubstr("back at the source"));
  EXPECT_EQ(Summary().unverified, 1u);
}

TEST_F(LegacyAuditTest, WriteThatIsNotAMigrationWriteIsRaised) {
  InsertRows({"c1", "c2"});
  Batch b = Migrate({"c1", "c2"});
  // The second "write" is an ordinary support write.
  b.writes[1] = LogWrite("ps-c2", "support");
  const uint64_t at = Attest(b, 0);
  PollAndCheck();
  std::vector<Incident> found = Unverified();
  ASSERT_EQ(found.size(), 1u);
  EXPECT_THAT(found[0].summary, HasSubstr("purpose 'support'"));
  ASSERT_EQ(found[0].evidence.size(), 2u);
  EXPECT_EQ(found[0].evidence[0].index, at);
  EXPECT_EQ(found[0].evidence[1].index, b.writes[1]);
  EXPECT_EQ(found[0].evidence[1].entry, log_.entries()[b.writes[1]]);
  EXPECT_FALSE(found[0].evidence[1].proof.empty());
  EXPECT_EQ(Summary().unverified, 1u);
}

TEST_F(LegacyAuditTest, WriteIndexOnAnotherKindOfEntryIsRaised) {
  InsertRows({"c1", "c2"});
  Batch b = Migrate({"c1", "c2"});
  b.writes[0] = LogWrite("ps-c1", "migration", "read");
  Attest(b, 0);
  PollAndCheck();
  std::vector<Incident> found = Unverified();
  ASSERT_EQ(found.size(), 1u);
  EXPECT_THAT(found[0].summary, HasSubstr("'read' decision, not a write"));
}

TEST_F(LegacyAuditTest, WritesCountedTwiceOrMissingAreRaised) {
  InsertRows({"c1", "c2", "c3", "c4"});
  Batch first = Migrate({"c1", "c2"});
  Attest(first, 0);
  // Batch 1 deletes two more rows but points at batch 0's writes: two rows
  // deleted with no copy written.
  DeleteRows({"c3", "c4"});
  Batch second = first;
  second.keys = {"c3", "c4"};
  Attest(second, 1);
  // Batch 2 names a write index the log does not hold yet.
  Batch third;
  third.keys = {"c5"};
  third.pseudonyms = {"ps-c5"};
  third.writes = {log_.entries().size() + 10};
  Attest(third, 2);
  PollAndCheck();
  std::vector<Incident> found = Unverified();
  ASSERT_EQ(found.size(), 2u);
  std::string all;
  for (const Incident& i : found) all += i.summary + "\n";
  EXPECT_THAT(all, HasSubstr("already claimed by another attestation"));
  EXPECT_THAT(all, HasSubstr("is not before the attestation"));
  const MigrationSummary s = Summary();
  EXPECT_EQ(s.verified, 1u);
  EXPECT_EQ(s.unverified, 2u);
}

TEST_F(LegacyAuditTest, WrongSubjectsRootIsRaised) {
  InsertRows({"c1", "c2"});
  Batch b = Migrate({"c1", "c2"});
  Attest(b, 0, entry::MigratedSubjectsRoot({"ps-c1", "ps-other"}));
  PollAndCheck();
  std::vector<Incident> found = Unverified();
  ASSERT_EQ(found.size(), 1u);
  EXPECT_THAT(found[0].summary, HasSubstr("subjects root"));
}

TEST_F(LegacyAuditTest, DuplicateBatchIsRaised) {
  InsertRows({"c1", "c2"});
  Batch b = Migrate({"c1"});
  Attest(b, 0);
  Attest(Migrate({"c2"}), 0);  // the same (migration, batch) again
  PollAndCheck();
  std::vector<Incident> found = Unverified();
  ASSERT_EQ(found.size(), 1u);
  EXPECT_THAT(found[0].summary, HasSubstr("already attested"));
  EXPECT_EQ(Summary().batches, 1u);
}

TEST_F(LegacyAuditTest, MalformedAttestationsAreIncidentsNotCrashes) {
  InsertRows({"c1"});
  Batch b = Migrate({"c1"});
  const std::string good = [&] {
    entry::LegacyDeletion a;
    a.time = clock_.Now();
    a.migration = kMigration;
    a.source = source_;
    a.records = 1;
    a.key_hashes = {entry::LegacyKeyHash(source_, "c1")};
    a.subjects_root = entry::MigratedSubjectsRoot(b.pseudonyms);
    a.write_indexes = b.writes;
    return entry::LegacyDeletionJson(a);
  }();
  const std::vector<std::string> bad = {
      R"({"type":"legacy_deletion"})",
      R"({"type":"legacy_deletion","v":1,"time":"x"})",
      absl::StrReplaceAll(good, {{"\"records\":1", "\"records\":2"}}),
      absl::StrReplaceAll(good, {{"\"records\":1", "\"records\":-1"}}),
      absl::StrReplaceAll(
          good, {{"\"write_indexes\":[", "\"write_indexes\":[\"x\","}}),
      absl::StrReplaceAll(good, {{entry::LegacyKeyHash(source_, "c1"), "zz"}}),
      absl::StrReplaceAll(good, {{"\"batch\":0", "\"batch\":1e400"}}),
  };
  for (const std::string& e : bad) log_.Append(e);
  PollAndCheck();
  // Each is an incident with its entry proved: deletion_unverified, or
  // malformed_entry for the one that is not JSON the log parser takes (a
  // number out of range).
  const std::vector<Incident> all = auditor_->incidents().List(std::nullopt);
  EXPECT_EQ(all.size(), bad.size());
  EXPECT_EQ(Unverified().size(), bad.size() - 1);
  for (const Incident& i : all) {
    if (i.detector == kDetectorDeletionUnverified) {
      EXPECT_THAT(i.summary, HasSubstr("cannot be verified"));
    } else {
      EXPECT_EQ(i.detector, kDetectorMalformedEntry);
    }
    ASSERT_FALSE(i.evidence.empty());
    EXPECT_FALSE(i.evidence[0].proof.empty());
  }
  // Nothing of them is kept as an attestation.
  EXPECT_TRUE(auditor_->MigrationSummaries().empty());
}

TEST_F(LegacyAuditTest, RestartNeitherRepeatsNorForgets) {
  InsertRows({"c1", "c2", "c3", "c4"});
  Batch b0 = Migrate({"c1", "c2"});
  InsertRows({"c2"});
  Attest(b0, 0);
  Attest(Migrate({"c3", "c4"}), 1);
  PollAndCheck();
  ASSERT_EQ(Unverified().size(), 1u);

  Reopen();
  PollAndCheck();
  clock_.Advance(config_.migration.interval);
  PollAndCheck();
  std::vector<Incident> found = Unverified();
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].occurrences, 1u);
  MigrationSummary s = Summary();
  EXPECT_EQ(s.batches, 2u);
  EXPECT_EQ(s.verified, 1u);
  EXPECT_EQ(s.unverified, 1u);

  // The verified batch is still watched after the restart.
  Reopen();
  InsertRows({"c4"});
  PollAndCheck();
  EXPECT_EQ(Unverified().size(), 2u);
  EXPECT_EQ(Summary().unverified, 2u);
}

TEST_F(LegacyAuditTest, AttestationSeenBeforeARestartIsCheckedAfter) {
  InsertRows({"c1", "c2"});
  // The batch's writes fill the log's first entry bundle, the attestation
  // starts the second.
  while (log_.entries().size() < 253) LogWrite("ps-filler", "support");
  Batch b = Migrate({"c1"});
  b.keys.push_back("c2");
  b.pseudonyms.push_back("ps-c2");
  b.writes.push_back(LogWrite("ps-c2", "support"));
  DeleteRows({"c2"});
  LogWrite("ps-filler", "support");
  ASSERT_EQ(log_.entries().size(), 256u);
  Poll();
  // The node stops serving the first bundle: the attestation arrives but its
  // writes cannot be read before the auditor restarts.
  log_.RefuseBundle(0);
  Attest(b, 0);
  Poll();
  EXPECT_TRUE(Unverified().empty());
  EXPECT_EQ(Summary().unchecked, 1u);
  Reopen();
  log_.ServeBundle(0);
  Poll();
  std::vector<Incident> found = Unverified();
  ASSERT_EQ(found.size(), 1u);
  EXPECT_THAT(found[0].summary, HasSubstr("purpose 'support'"));
}

TEST_F(LegacyAuditTest, UnconfiguredSourceIsReportedUnchecked) {
  InsertRows({"c1"});
  Batch b = Migrate({"c1"}, /*delete_rows=*/false);
  const std::string real = source_;
  source_ = "ndjson:0123abcd";  // a file source: cannot be read again
  Attest(b, 0);
  source_ = real;
  PollAndCheck();
  EXPECT_TRUE(Unverified().empty());
  std::vector<MigrationSummary> s = auditor_->MigrationSummaries();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_FALSE(s[0].source_configured);
  EXPECT_EQ(s[0].unchecked, 1u);
}

TEST_F(LegacyAuditTest, UnreachableSourceIsRetriedNotRaised) {
  config_.migration.sources[0].dsn = "host=127.0.0.1 port=1 password=hunter2";
  Reopen();
  InsertRows({"c1"});
  Attest(Migrate({"c1"}, /*delete_rows=*/false), 0);
  PollAndCheck();
  EXPECT_TRUE(Unverified().empty());
  EXPECT_EQ(Summary().unchecked, 1u);
}

TEST_F(LegacyAuditTest, ReportHasTheMigrationSection) {
  InsertRows({"c1", "c2"});
  Attest(Migrate({"c1"}), 0);
  PollAndCheck();
  auditor_.reset();
  auto files = WriteAuditReport(config_, clock_.Now() - absl::Hours(1),
                                clock_.Now() + absl::Hours(1), dir_.Sub("r"));
  ASSERT_TRUE(files.ok()) << files.status();
  std::ifstream json(files->json);
  std::string text((std::istreambuf_iterator<char>(json)),
                   std::istreambuf_iterator<char>());
  EXPECT_THAT(text, HasSubstr(absl::StrCat(
                        "\"migrations\":[{\"batches\":1,\"last_check\":\"",
                        FormatRfc3339Millis(clock_.Now()))));
  EXPECT_THAT(text, HasSubstr("\"records\":1,\"source\":\"" + source_ +
                              "\",\"source_checked\":true,\"unchecked\":0,"
                              "\"unverified\":0,\"verified\":1}"));
  std::ifstream html(files->html);
  std::string page((std::istreambuf_iterator<char>(html)),
                   std::istreambuf_iterator<char>());
  EXPECT_THAT(page, HasSubstr("Legacy migrations"));
  EXPECT_THAT(page, HasSubstr(source_));
}

}  // namespace
}  // namespace clover::audit
