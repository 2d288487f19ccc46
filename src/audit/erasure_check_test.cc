#include "audit/erasure_check.h"

#include <string>
#include <vector>

#include "entry/decision_record.h"
#include "entry/erasure_attestation.h"
#include "entry/log_entry.h"
#include "gtest/gtest.h"

namespace clover::audit {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'795'000'000);

// An erase decision as the gateway writes it (entry/decision_record.h),
// read back by the auditor's parser.
entry::DecisionEntry LoggedErase(const std::string& pseudonym, absl::Time t,
                                 uint64_t records = 1) {
  entry::DecisionEntry e;
  e.time = t;
  e.node = "ie-dub-1";
  e.region = "eu";
  e.principal_id = "eu-support-1";
  e.principal_kind = "employee";
  e.purpose = "legal_request";
  e.action = "erase";
  e.destination = "eu";
  e.subject = pseudonym;
  e.subject_jurisdiction = "eu";
  e.policy = std::string(64, 'a');
  e.fields = {{"email", "contact", true, policy::Effect::kAllow, {"r1"}, "r1"}};
  e.records = records;
  entry::LogEntry parsed;
  EXPECT_TRUE(entry::ParseLogEntry(entry::DecisionJson(e), &parsed).ok());
  EXPECT_EQ(parsed.type, entry::EntryType::kDecision);
  return parsed.decision;
}

// An attestation as the node writes it, read back.
entry::ErasurePurge Attestation(const std::vector<std::string>& erased,
                                uint64_t cut, const std::string& epoch) {
  entry::ErasurePurge a;
  a.time = kT0 + absl::Hours(1);
  a.node = "ie-dub-1";
  a.region = "eu";
  a.cut_log_size = cut;
  a.erased = erased.size();
  a.erased_root = entry::ErasedSubjectsRoot(erased);
  a.destroyed_epochs = {"epoch:0000000000000001"};
  a.new_epoch = epoch;
  auto back = entry::ParseErasurePurge(entry::ErasurePurgeJson(a));
  EXPECT_TRUE(back.ok()) << back.status();
  return *back;
}

TEST(ErasureCheckTest, AnAttestationOfExactlyTheLoggedErasuresPasses) {
  ErasureCheck check({});
  std::vector<Finding> out;
  check.ObserveDecision("log", 3, LoggedErase("p-b", kT0));
  check.ObserveDecision("log", 5, LoggedErase("p-a", kT0));
  check.ObserveDecision("log", 6, LoggedErase("p-a", kT0));     // twice: once
  check.ObserveDecision("log", 7, LoggedErase("p-r", kT0, 0));  // refused
  check.ObserveDecision("log", 9, LoggedErase("p-c", kT0));     // after the cut
  check.ObserveAttestation("log", 10,
                           Attestation({"p-a", "p-b"}, 9, "epoch:e1"), &out);
  EXPECT_TRUE(out.empty()) << out[0].summary;
  EXPECT_EQ(check.pending("log"), 1u);  // p-c waits for the next purge
  // The same purge attested again after a restart is not counted twice.
  check.ObserveAttestation("log", 11,
                           Attestation({"p-a", "p-b"}, 9, "epoch:e1"), &out);
  EXPECT_TRUE(out.empty());
  check.ObserveAttestation("log", 12, Attestation({"p-c"}, 12, "epoch:e2"),
                           &out);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(check.pending("log"), 0u);
}

TEST(ErasureCheckTest, AMissingOrForeignPseudonymIsAMismatch) {
  for (const std::vector<std::string>& claimed :
       {std::vector<std::string>{"p-a"},                   // p-b left out
        std::vector<std::string>{"p-a", "p-x"},            // same count, other
        std::vector<std::string>{"p-a", "p-b", "p-x"}}) {  // one too many
    ErasureCheck check({});
    std::vector<Finding> out;
    check.ObserveDecision("log", 1, LoggedErase("p-a", kT0));
    check.ObserveDecision("log", 2, LoggedErase("p-b", kT0));
    check.ObserveAttestation("log", 3, Attestation(claimed, 3, "epoch:e1"),
                             &out);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].detector, kDetectorErasureMismatch);
    EXPECT_EQ(out[0].severity, Severity::kCritical);
    EXPECT_EQ(out[0].indices.front(), 3u);
  }
}

TEST(ErasureCheckTest, AnErasureWithoutAttestationPastTheWindowIsRaisedOnce) {
  ErasureCheckOptions o;
  o.window = absl::Hours(24);
  o.slack = absl::Hours(1);
  ErasureCheck check(o);
  std::vector<Finding> out;
  check.ObserveDecision("log", 4, LoggedErase("p-a", kT0));
  check.CheckOverdue("log", kT0 + absl::Hours(24), &out);
  EXPECT_TRUE(out.empty());
  check.CheckOverdue("log", kT0 + absl::Hours(25) + absl::Seconds(1), &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].detector, kDetectorErasureUnpurged);
  EXPECT_EQ(out[0].indices, std::vector<uint64_t>{4});
  check.CheckOverdue("log", kT0 + absl::Hours(30), &out);
  EXPECT_EQ(out.size(), 1u);
  // Each log is its own.
  check.CheckOverdue("other", kT0 + absl::Hours(30), &out);
  EXPECT_EQ(out.size(), 1u);
}

TEST(ErasureCheckTest, AResumedAuditorTakesItsFirstAttestationAsTheStart) {
  ErasureCheck check({});
  std::vector<Finding> out;
  check.Begin("log", 100);  // resumed: erasures before 100 were not seen
  check.Begin("log", 120);
  check.ObserveDecision("log", 101, LoggedErase("p-a", kT0));
  // Covers p-0 (logged before the auditor resumed) and p-a.
  check.ObserveAttestation("log", 110,
                           Attestation({"p-0", "p-a"}, 110, "epoch:e1"), &out);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(check.pending("log"), 0u);
  // From then on it compares.
  check.ObserveDecision("log", 111, LoggedErase("p-b", kT0));
  check.ObserveAttestation("log", 112, Attestation({}, 112, "epoch:e2"), &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].detector, kDetectorErasureMismatch);
}

}  // namespace
}  // namespace clover::audit
