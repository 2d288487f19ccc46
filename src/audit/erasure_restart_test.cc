// The erasure check survives an auditor restart: the erasures it saw and had
// not yet seen attested are kept in the auditor's store with the log position
// they reflect, so a restarted auditor still reports one left unpurged and
// still compares the next attestation with them.
#include <memory>
#include <string>
#include <vector>

#include "audit/auditor.h"
#include "audit/auditor_fixture.h"
#include "audit/decision_builder.h"
#include "audit/erasure_check.h"
#include "entry/decision_record.h"
#include "entry/erasure_attestation.h"
#include "gtest/gtest.h"
#include "policy/compiled_policy.h"

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

class ErasureRestartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto files = testing::WriteAuditorFiles(dir_, "auditor.test", kPolicy);
    ASSERT_TRUE(files.ok()) << files.status();
    policy_ = files->policy.compiled;
    config_ = files->config;
    config_.insecure_no_auth = true;
    config_.logs.push_back(testing::FollowLog(log_, "mem://node"));
    Reopen();
  }

  void Reopen() { testing::ReopenAuditor(config_, clock_, log_, &auditor_); }

  // An allowed erasure of `pseudonym`, logged now.
  void LogErase(const std::string& pseudonym) {
    entry::DecisionEntry e = testing::SupportRead(clock_.Now(), pseudonym);
    e.principal_id = "eu-dpo-1";
    e.principal_roles = {"dpo"};
    e.purpose = "legal_request";
    e.action = "erase";
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
    return testing::IncidentsOf(*auditor_, detector).size();
  }

  void Poll() { ASSERT_TRUE(auditor_->PollOnce().ok()); }

  testing::TempDir dir_;
  FakeClock clock_{absl::FromUnixSeconds(1795000000)};
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
