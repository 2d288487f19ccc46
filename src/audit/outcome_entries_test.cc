// The gateway's entries of look-ups that decided no field, as the auditor
// replays them.
#include <string>

#include "absl/strings/str_cat.h"
#include "audit/replayer.h"
#include "config/deployment.h"
#include "core/canonical_json.h"
#include "entry/decision_record.h"
#include "entry/log_entry.h"
#include "gtest/gtest.h"
#include "policy/loader.h"

namespace clover::audit {
namespace {

// A look-up that decided no field (an unknown or erased subject, an access
// report) is logged with its outcome; the auditor reads it as a decision
// with no fields, and its replay against the example policy is a match, not
// a false mismatch.
TEST(ReplayerTest, OutcomeEntriesReplayAsMatches) {
  auto deployment = LoadDeployment(
      absl::StrCat(CLOVER_SOURCE_DIR, "/examples/deployment.yaml"));
  ASSERT_TRUE(deployment.ok()) << deployment.status();
  auto policy = policy::LoadPolicy(*deployment);
  ASSERT_TRUE(policy.ok()) << policy.status();
  auto replayer = Replayer::FromPolicies({*policy});
  const Principal* p = deployment->FindPrincipal("cn-engineer-1");
  ASSERT_NE(p, nullptr);
  for (absl::string_view outcome : {"not_found", "gone", "forbidden", ""}) {
    entry::DecisionRecord r;
    r.time = absl::FromUnixSeconds(1'795'910'400);
    r.node = "ie-dub-1";
    r.region = "eu";
    r.principal = p;
    r.purpose = "service_operation";
    r.action = outcome.empty() ? "access_report" : "read";
    r.destination = "cn";
    r.subject = "c3ViamVjdA";
    r.policy = (*policy)->sha256();
    r.outcome = outcome;
    std::string json;
    entry::AppendDecisionJson(r, &json);
    auto canonical = CanonicalizeJson(json);
    ASSERT_TRUE(canonical.ok()) << canonical.status() << "\n" << json;
    EXPECT_EQ(*canonical, json);
    EXPECT_EQ(json.find("\"outcome\""),
              outcome.empty()
                  ? std::string::npos
                  : json.find(absl::StrCat("\"outcome\":\"", outcome, "\"")))
        << json;
    entry::LogEntry parsed;
    ASSERT_TRUE(entry::ParseLogEntry(json, &parsed).ok()) << json;
    ASSERT_EQ(parsed.type, entry::EntryType::kDecision);
    EXPECT_TRUE(parsed.decision.fields.empty());
    EXPECT_EQ(parsed.decision.subject, "c3ViamVjdA");
    EXPECT_EQ(replayer->Replay(parsed.decision).verdict,
              Replayer::Verdict::kMatch)
        << replayer->Replay(parsed.decision).detail;
  }
}

}  // namespace
}  // namespace clover::audit
