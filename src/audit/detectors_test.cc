#include "audit/detectors.h"

#include "absl/strings/str_cat.h"
#include "audit/decision_builder.h"
#include "audit/flows.h"
#include "entry/decision_record.h"
#include "entry/log_entry.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace clover::audit {
namespace {

using ::clover::entry::DecisionEntry;
using ::clover::entry::LogEntry;
using ::clover::entry::ParseLogEntry;
using ::testing::HasSubstr;

DecisionEntry Entry(absl::Time t, const std::string& principal,
                    const std::string& subject,
                    policy::Effect effect = policy::Effect::kAllow) {
  DecisionEntry e;
  e.time = t;
  e.principal_id = principal;
  e.principal_kind = "employee";
  e.purpose = "customer_support";
  e.action = "read";
  e.destination = "eu";
  e.subject = subject;
  e.subject_jurisdiction = "eu";
  e.fields = {{"email", "contact", true, effect, {}, {}}};
  e.records = 1;
  e.bytes = 10;
  return e;
}

TEST(DetectorsTest, BulkAccessIgnoresServiceFlows) {
  DetectorOptions o;
  o.bulk_subjects = 3;
  Detectors d(o);
  std::vector<Finding> out;
  const absl::Time t0 = absl::FromUnixSeconds(1795000000);
  for (int i = 0; i < 10; ++i) {
    DecisionEntry service = Entry(t0, "accounts", "s" + std::to_string(i));
    service.principal_kind = "service";
    d.Observe("log", i, service, &out);
    service.action = "write";
    d.Observe("log", 100 + i, service, &out);
  }
  EXPECT_TRUE(out.empty());
}

// A person's writes count toward bulk access like reads do (issue 17: one
// support agent replaced or shredded many records unnoticed).
TEST(DetectorsTest, BulkAccessCountsWritesAndErasures) {
  for (const char* action : {"write", "erase"}) {
    DetectorOptions o;
    o.bulk_subjects = 3;
    o.bulk_erase_subjects = 100;  // only the access threshold here
    Detectors d(o);
    std::vector<Finding> out;
    const absl::Time t0 = absl::FromUnixSeconds(1795000000);
    for (int i = 0; i < 4; ++i) {
      DecisionEntry w = Entry(t0, "p", "w" + std::to_string(i));
      w.action = action;
      d.Observe("log", i, w, &out);
    }
    ASSERT_EQ(out.size(), 1u) << action;
    EXPECT_EQ(out[0].detector, kDetectorBulkAccess) << action;
    EXPECT_EQ(out[0].indices.back(), 3u);
  }
}

// Issue 17: a support agent crypto-shredded 60 subjects in a burst and the
// auditor raised nothing.
TEST(DetectorsTest, SixtyErasuresByOnePrincipalRaiseBulkErasure) {
  Detectors d{DetectorOptions{}};  // the defaults
  std::vector<Finding> out;
  const absl::Time t0 = absl::FromUnixSeconds(1795000000);
  for (int i = 0; i < 60; ++i) {
    DecisionEntry e =
        Entry(t0 + absl::Seconds(i), "eu-support-1", absl::StrCat("s", i));
    e.action = "erase";
    e.fields[0].effect = policy::Effect::kAllow;
    d.Observe("log", i, e, &out);
  }
  std::vector<const Finding*> erasure, bulk;
  for (const Finding& f : out) {
    if (f.detector == kDetectorBulkErasure) erasure.push_back(&f);
    if (f.detector == kDetectorBulkAccess) bulk.push_back(&f);
  }
  ASSERT_FALSE(erasure.empty());
  EXPECT_EQ(erasure[0]->severity, Severity::kCritical);
  EXPECT_EQ(erasure[0]->key, "bulk_erasure/log/eu-support-1");
  EXPECT_THAT(erasure[0]->summary, HasSubstr("11 distinct subjects"));
  EXPECT_EQ(erasure[0]->indices.back(), 10u);  // the 11th crossed it
  EXPECT_THAT(erasure.back()->summary, HasSubstr("60 distinct subjects"));
  EXPECT_FALSE(bulk.empty());  // and past 50, bulk access too

  // Erasures by a service count too (a stolen service key shreds as well),
  // and the same subject erased again is one subject.
  out.clear();
  for (int i = 0; i < 30; ++i) {
    DecisionEntry e = Entry(t0, "accounts-eu", absl::StrCat("t", i % 11));
    e.principal_kind = "service";
    e.action = "erase";
    d.Observe("log", 100 + i, e, &out);
  }
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out[0].detector, kDetectorBulkErasure);
  EXPECT_EQ(out[0].indices.back(), 110u);
  // Ten in the window is under the threshold.
  out.clear();
  for (int i = 0; i < 10; ++i) {
    DecisionEntry e = Entry(t0, "eu-support-2", absl::StrCat("u", i));
    e.action = "erase";
    d.Observe("log", 200 + i, e, &out);
  }
  EXPECT_TRUE(out.empty());
}

TEST(DetectorsTest, BulkAccessCountsDistinctSubjectsInWindow) {
  DetectorOptions o;
  o.bulk_subjects = 3;
  o.bulk_window = absl::Minutes(1);
  Detectors d(o);
  std::vector<Finding> out;
  const absl::Time t0 = absl::FromUnixSeconds(1795000000);
  // The same subject again and again is not bulk.
  for (int i = 0; i < 10; ++i) d.Observe("log", i, Entry(t0, "p", "s1"), &out);
  d.Observe("log", 10, Entry(t0, "p", "s2"), &out);
  d.Observe("log", 11, Entry(t0, "p", "s3"), &out);
  EXPECT_TRUE(out.empty());
  d.Observe("log", 12, Entry(t0, "p", "s4"), &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].detector, kDetectorBulkAccess);
  EXPECT_EQ(out[0].indices.back(), 12u);
  // Outside the window the old subjects no longer count.
  out.clear();
  d.Observe("log", 13, Entry(t0 + absl::Minutes(2), "p", "s5"), &out);
  EXPECT_TRUE(out.empty());
  // An export of many subjects counts them all.
  DecisionEntry exp = Entry(t0 + absl::Minutes(2), "q", "");
  exp.subject_count = 500;
  exp.action = "export";
  d.Observe("log", 14, exp, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_THAT(out[0].summary, HasSubstr("500 distinct"));
}

TEST(DetectorsTest, DenialBurstCanaryAndRestrictedTransfer) {
  DetectorOptions o;
  o.denial_burst = 2;
  o.canary_pseudonyms = {"canary"};
  o.canary_planters = {"planter"};
  Detectors d(o);
  std::vector<Finding> out;
  const absl::Time t0 = absl::FromUnixSeconds(1795000000);
  for (int i = 0; i < 3; ++i) {
    d.Observe("log", i,
              Entry(t0 + absl::Seconds(i), "p", "s", policy::Effect::kDeny),
              &out);
  }
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].detector, kDetectorDenialBurst);
  out.clear();
  d.Observe("log", 3, Entry(t0, "x", "canary", policy::Effect::kPseudonymize),
            &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].detector, kDetectorCanary);
  EXPECT_EQ(out[0].severity, Severity::kCritical);
  out.clear();
  // The planter writing the canary plants it; the planter reading it, or
  // anyone else writing it, touches it.
  struct Case {
    const char* principal;
    const char* action;
    bool touch;
  };
  uint64_t index = 5;
  for (const Case& c :
       {Case{"planter", "write", false}, Case{"planter", "read", true},
        Case{"x", "write", true}}) {
    DecisionEntry e = Entry(t0, c.principal, "canary");
    e.action = c.action;
    d.Observe("log", index++, e, &out);
    ASSERT_EQ(out.size(), c.touch ? 1u : 0u) << c.principal << " " << c.action;
    if (c.touch) {
      EXPECT_EQ(out[0].detector, kDetectorCanary);
    }
    out.clear();
  }
  DecisionEntry abroad = Entry(t0, "y", "s9");
  abroad.destination = "cn";
  d.Observe("log", 4, abroad, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].detector, kDetectorRestrictedTransfer);
  // Pseudonymised, it is fine.
  out.clear();
  abroad.fields[0].effect = policy::Effect::kPseudonymize;
  d.Observe("log", 5, abroad, &out);
  EXPECT_TRUE(out.empty());
}

// Issue 17: with an approved grant, us-legal-1 read an EU subject's
// restricted email raw (destination us); the detector looked only at `allow`.
TEST(DetectorsTest, RestrictedTransferCountsEveryRawReveal) {
  Detectors d{DetectorOptions{}};
  std::vector<Finding> out;
  const absl::Time t0 = absl::FromUnixSeconds(1795000000);
  DecisionEntry granted =
      Entry(t0, "us-legal-1", "s1", policy::Effect::kApproval);
  granted.principal_kind = "employee";
  granted.purpose = "legal_request";
  granted.destination = "us";
  granted.approval = "apr-7";
  // As the gateway logs it: through the entry JSON and the parser.
  const std::string json = entry::DecisionJson(granted);
  LogEntry parsed;
  ASSERT_TRUE(ParseLogEntry(json, &parsed).ok());
  d.Observe("log", 1, parsed.decision, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].detector, kDetectorRestrictedTransfer);
  EXPECT_EQ(out[0].key, "restricted_transfer/log/us-legal-1/us/email");
  EXPECT_THAT(out[0].summary, HasSubstr("approval apr-7"));
  EXPECT_EQ(out[0].indices, std::vector<uint64_t>{1});

  // The same effect without a grant returned nothing: no finding.
  out.clear();
  DecisionEntry refused = granted;
  refused.approval.clear();
  d.Observe("log", 2, refused, &out);
  EXPECT_TRUE(out.empty());

  // A detokenize that revealed a value abroad, by allow or by grant.
  for (DecisionEntry e : {Entry(t0, "x", "s2"), granted}) {
    out.clear();
    e.action = "detokenize";
    e.destination = "cn";
    d.Observe("log", 3, e, &out);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].detector, kDetectorRestrictedTransfer);
  }

  // An export under a grant counts the same way.
  out.clear();
  DecisionEntry exp = granted;
  exp.action = "export";
  exp.subject.clear();
  exp.subject_count = 3;
  d.Observe("log", 4, exp, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].detector, kDetectorRestrictedTransfer);

  // At home, or returned generalised/pseudonymised, nothing is raised; nor
  // for writes, which reveal nothing (a UK subject stored in the EU region).
  out.clear();
  DecisionEntry home = granted;
  home.destination = "eu";
  d.Observe("log", 5, home, &out);
  DecisionEntry token = granted;
  token.fields[0].effect = policy::Effect::kPseudonymize;
  d.Observe("log", 6, token, &out);
  DecisionEntry write = Entry(t0, "accounts-eu", "s3");
  write.principal_kind = "service";
  write.action = "write";
  write.subject_jurisdiction = "uk";
  d.Observe("log", 7, write, &out);
  EXPECT_TRUE(out.empty());
}

TEST(DetectorsTest, StallNeedsTrafficEvidence) {
  StallDetector s(absl::Minutes(2));
  const absl::Time t0 = absl::FromUnixSeconds(1795000000);
  EXPECT_FALSE(s.Observe(t0, 10, 100));
  EXPECT_FALSE(
      s.Observe(t0 + absl::Minutes(5), 10, 100));  // no traffic: an idle log
  EXPECT_FALSE(s.Observe(t0 + absl::Minutes(1), 10, 150));
  EXPECT_TRUE(s.Observe(t0 + absl::Minutes(3), 10, 200));  // traffic, no growth
  EXPECT_FALSE(s.Observe(t0 + absl::Minutes(4), 11, 250));  // grew again
  EXPECT_FALSE(
      s.Observe(t0 + absl::Minutes(9), 11, -1));  // metrics unreachable
}

TEST(FlowStatsTest, AggregatesAndPersists) {
  FlowStats f;
  const absl::Time t0 = absl::FromUnixSeconds(1795000000);
  DecisionEntry e = Entry(t0, "p", "s");
  e.fields.push_back(
      {"ip", "network", false, policy::Effect::kGeneralize, {}, {}});
  e.records = 3;
  f.Add(e);
  f.Add(e);
  const std::string json = f.ToJson(t0 - absl::Hours(1), t0 + absl::Hours(1));
  EXPECT_THAT(
      json,
      HasSubstr("\"category\":\"network\",\"purpose\":\"customer_support\","
                "\"effect\":\"generalize\",\"decisions\":2,\"values\":6"));
  EXPECT_THAT(json, HasSubstr("\"requests\":2,\"records\":6,\"bytes\":20"));
  EXPECT_THAT(f.ToJson(t0 + absl::Hours(2), t0 + absl::Hours(3)),
              HasSubstr("\"flows\":[],\"transfers\":[]"));
}

// An entry's fields are counted per flow (category, effect), also when it
// names more flows than are grouped at once.
TEST(FlowStatsTest, CountsEveryFieldOfManyFlows) {
  FlowStats f;
  const absl::Time t0 = absl::FromUnixSeconds(1795000000);
  DecisionEntry e = Entry(t0, "p", "s");
  e.fields.clear();
  e.records = 2;
  for (int i = 0; i < 40; ++i) {  // 20 categories, each twice allowed
    e.fields.push_back({absl::StrCat("f", i),
                        absl::StrCat("c", i % 20),
                        false,
                        policy::Effect::kAllow,
                        {},
                        {}});
  }
  e.fields.push_back({"x", "c3", false, policy::Effect::kDeny, {}, {}});
  f.Add(e);
  f.Add(e);
  ASSERT_EQ(f.flows().size(), 21u);
  for (const auto& [key, totals] : f.flows()) {
    const uint64_t fields = key.effect == policy::Effect::kDeny ? 1 : 2;
    EXPECT_EQ(totals.decisions, 2 * fields) << key.category;
    EXPECT_EQ(totals.values, 2 * fields * 2) << key.category;
  }
}

}  // namespace
}  // namespace clover::audit
