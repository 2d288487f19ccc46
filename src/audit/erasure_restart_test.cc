// The erasure check survives an auditor restart: the erasures it saw and had
// not yet seen attested are kept in the auditor's store with the log position
// they reflect, so a restarted auditor still reports one left unpurged and
// still compares the next attestation with them.
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "audit/auditor.h"
#include "audit/decision_builder.h"
#include "audit/erasure_check.h"
#include "audit/test_util.h"
#include "entry/decision_record.h"
#include "entry/erasure_attestation.h"
#include "gtest/gtest.h"
#include "policy/bundle.h"
#include "policy/compiled_policy.h"
#include "policy/signature.h"

namespace clover::audit {
namespace {

using testing::FakeLog;

constexpr char kPolicy[] = R"(version: 1
description: erasure restart test policy
rules:
  - id: dpo-erases
    effect: allow
    when: {principal.role: dpo, purpose: legal_request}
)";

void WriteFile(const std::string& path, const std::string& text,
               bool secret = false) {
  std::ofstream(path) << text;
  if (secret) {
    std::filesystem::permissions(path, std::filesystem::perms::owner_read |
                                           std::filesystem::perms::owner_write);
  }
}

class ErasureRestartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    policy_key_ = testing::MakeKey("auditor.test");
    const std::string policy_path = dir_.Sub("policy.yaml");
    WriteFile(policy_path, kPolicy);
    auto bundle = policy::ParseBundle(kPolicy, policy_path);
    ASSERT_TRUE(bundle.ok()) << bundle.status();
    WriteFile(policy::SignaturePath(policy_path),
              *policy::SignPolicy(bundle->sha256, policy_key_.signer));
    policy_ = *policy::CompiledPolicy::Compile(*bundle);
    WriteFile(
        dir_.Sub("witness.key"),
        testing::MakeKey("auditor.test/witness", log::kNoteTypeCosignature)
            .signer,
        true);
    WriteFile(dir_.Sub("journal.key"),
              testing::MakeKey("auditor.test/incidents").signer, true);
    config_.name = "auditor.test";
    config_.data_dir = dir_.Sub("data");
    config_.witness_key_file = dir_.Sub("witness.key");
    config_.journal_key_file = dir_.Sub("journal.key");
    config_.insecure_no_auth = true;
    config_.logs.push_back(
        {{log_.origin(), "mem://node", {log_.key().verifier}}, ""});
    config_.policy_bundles = {policy_path};
    config_.policy_keys = {policy_key_.verifier};
    Reopen();
  }

  void Reopen() {
    auditor_.reset();
    auto a = Auditor::Create(
        config_, clock_, [this](const std::string&) { return log_.Fetcher(); });
    ASSERT_TRUE(a.ok()) << a.status();
    auditor_ = *std::move(a);
  }

  // An allowed erasure of `pseudonym`, logged now.
  void LogErase(const std::string& pseudonym) {
    entry::DecisionEntry e;
    e.time = clock_.Now();
    e.node = "ie-dub-1-a";
    e.region = "eu";
    e.principal_id = "eu-dpo-1";
    e.principal_kind = "employee";
    e.principal_org = "clover";
    e.principal_roles = {"dpo"};
    e.principal_country = "IE";
    e.principal_jurisdiction = "eu";
    e.purpose = "legal_request";
    e.action = "erase";
    e.destination = "eu";
    e.subject = pseudonym;
    e.subject_jurisdiction = "eu";
    e.fields = {{"email", "contact", true, {}, {}, {}}};
    DecideWith(*policy_, &e);
    ASSERT_EQ(e.fields[0].effect, policy::Effect::kAllow);
    e.records = 1;
    log_.Append(entry::DecisionJson(e));
  }

  // The node's attestation of a purge whose cut is the log's size now,
  // claiming `erased`.
  void LogAttestation(const std::vector<std::string>& erased,
                      const std::string& epoch) {
    entry::ErasurePurge a;
    a.time = clock_.Now();
    a.node = "ie-dub-1-a";
    a.region = "eu";
    a.cut_log_size = log_.entries().size();
    a.erased = erased.size();
    a.erased_root = entry::ErasedSubjectsRoot(erased);
    a.destroyed_epochs = {"epoch:0000000000000001"};
    a.new_epoch = epoch;
    log_.Append(entry::ErasurePurgeJson(a));
  }

  size_t Count(absl::string_view detector) {
    size_t n = 0;
    for (const Incident& i : auditor_->incidents().List(std::nullopt)) {
      if (i.detector == detector) ++n;
    }
    return n;
  }

  void Poll() { ASSERT_TRUE(auditor_->PollOnce().ok()); }

  testing::TempDir dir_;
  FakeClock clock_{absl::FromUnixSeconds(1795000000)};
  testing::TestKey policy_key_;
  std::shared_ptr<const policy::CompiledPolicy> policy_;
  FakeLog log_{"clover.test/eu"};
  AuditorConfig config_;
  std::unique_ptr<Auditor> auditor_;
};

TEST_F(ErasureRestartTest, ErasureSeenBeforeARestartIsReportedUnpurgedAfter) {
  LogErase("ps-ann");
  Poll();
  Reopen();
  // Past the purge window and its slack, with no attestation in the log.
  clock_.Advance(config_.erasure.window + config_.erasure.slack +
                 absl::Minutes(1));
  Poll();
  EXPECT_EQ(Count(kDetectorErasureUnpurged), 1u);
  // Reported once, also across a second restart.
  Reopen();
  Poll();
  EXPECT_EQ(Count(kDetectorErasureUnpurged), 1u);
  const std::vector<Incident> all = auditor_->incidents().List(std::nullopt);
  for (const Incident& i : all) {
    if (i.detector == kDetectorErasureUnpurged) {
      EXPECT_EQ(i.occurrences, 1u);
    }
  }
}

TEST_F(ErasureRestartTest, AttestationAfterARestartIsComparedWithWhatWasSeen) {
  LogErase("ps-ann");
  Poll();
  Reopen();
  // The node attests a purge that claims another subject than the one it
  // logged erasing.
  LogAttestation({"ps-bob"}, "epoch:0000000000000002");
  Poll();
  EXPECT_EQ(Count(kDetectorErasureMismatch), 1u);
}

TEST_F(ErasureRestartTest, HonestPurgeAfterARestartRaisesNothing) {
  LogErase("ps-ann");
  Poll();
  Reopen();
  LogAttestation({"ps-ann"}, "epoch:0000000000000002");
  Poll();
  // The same attestation again after another restart (a purge finished
  // twice) is not counted twice.
  Reopen();
  LogAttestation({"ps-ann"}, "epoch:0000000000000002");
  Poll();
  clock_.Advance(config_.erasure.window + config_.erasure.slack +
                 absl::Minutes(1));
  Poll();
  EXPECT_EQ(Count(kDetectorErasureMismatch), 0u);
  EXPECT_EQ(Count(kDetectorErasureUnpurged), 0u);
}

}  // namespace
}  // namespace clover::audit

namespace clover::audit {
namespace {

TEST(ErasureCheckStateTest, EncodeRestoreKeepsPendingEpochsAndArming) {
  ErasureCheck check({});
  check.Begin("log", 0);
  entry::DecisionEntry e;
  e.action = "erase";
  e.records = 1;
  e.subject = "ps-ann";
  e.time = absl::FromUnixSeconds(1795000000);
  check.ObserveDecision("log", 4, e);
  const std::string state = check.Encode("log");
  ErasureCheck back({});
  ASSERT_TRUE(back.Restore("log", state).ok());
  back.Begin("log", 5);  // a resuming auditor: the stored state stands
  EXPECT_EQ(back.pending("log"), 1u);
  EXPECT_EQ(back.Encode("log"), state);
  // Still armed: an attestation that leaves the erasure out is a mismatch.
  std::vector<Finding> out;
  entry::ErasurePurge a;
  a.cut_log_size = 5;
  a.new_epoch = "epoch:2";
  a.erased_root = entry::ErasedSubjectsRoot({});
  back.ObserveAttestation("log", 5, a, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].detector, kDetectorErasureMismatch);
}

TEST(ErasureCheckStateTest, MalformedStateIsDataLoss) {
  ErasureCheck check({});
  for (const char* bad :
       {"", "erasure-check 2\n", "erasure-check 1\npending x 1 0 p\n",
        "erasure-check 1\narmed 2\n", "erasure-check 1\nsomething\n"}) {
    EXPECT_EQ(check.Restore("log", bad).code(), absl::StatusCode::kDataLoss)
        << bad;
  }
}

}  // namespace
}  // namespace clover::audit
