#include "audit/detectors.h"

#include "absl/strings/str_cat.h"
#include "audit/decision_builder.h"
#include "audit/flows.h"
#include "audit/json_util.h"
#include "entry/decision_record.h"
#include "entry/log_entry.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace clover::audit {
namespace {

using ::clover::entry::DecisionEntry;
using ::clover::entry::EntryType;
using ::clover::entry::FieldEntry;
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

TEST(LogEntryTest, ParsesVersionOneEntries) {
  LogEntry le;
  const std::string entry =
      R"({"v":1,"type":"decision","time":"2026-11-28T23:50:00.123Z","node":"ie-dub-1-a","region":"eu","principal":{"id":"cn-engineer-1","kind":"employee","org":"x","roles":["engineer"],"country":"CN","jurisdiction":"cn"},"purpose":"customer_support","action":"read","destination":"cn","subject":"abc","subject_jurisdiction":"eu","policy":"00","approval":"apr-1","fields":[{"name":"email","category":"contact","restricted":true,"effect":"deny","rules":["r1","r7"],"decided_by":"r7"}],"records":1,"bytes":123})";
  ASSERT_TRUE(ParseLogEntry(entry, &le).ok());
  EXPECT_EQ(le.type, EntryType::kDecision);
  const DecisionEntry& d = le.decision;
  EXPECT_EQ(d.time, *ParseRfc3339("2026-11-28T23:50:00.123Z"));
  EXPECT_EQ(absl::ToUnixMillis(d.time) % 1000, 123);
  EXPECT_EQ(d.principal_roles, std::vector<std::string>{"engineer"});
  EXPECT_EQ(d.approval, "apr-1");
  ASSERT_EQ(d.fields.size(), 1u);
  EXPECT_EQ(d.fields[0].effect, policy::Effect::kDeny);
  EXPECT_EQ(d.fields[0].rules, (std::vector<std::string>{"r1", "r7"}));
  EXPECT_EQ(d.bytes, 123u);

  EXPECT_THAT(ParseLogEntry("{\"type\":\"decision\"}", &le).message(),
              HasSubstr("'time'"));
  EXPECT_FALSE(ParseLogEntry("[]", &le).ok());
  EXPECT_FALSE(ParseLogEntry("{} trailing", &le).ok());
  EXPECT_FALSE(
      ParseLogEntry(absl::string_view("{\"type\":\"x\"}\0", 13), &le).ok());
  ASSERT_TRUE(
      ParseLogEntry(R"({"v":1,"type":"erasure","subject":"t"})", &le).ok());
  EXPECT_EQ(le.type, EntryType::kErasure);
  ASSERT_TRUE(ParseLogEntry(R"({"v":1,"type":"future-thing"})", &le).ok());
  EXPECT_EQ(le.type, EntryType::kOther);
}

// Version 2 entries state each group of fields decided alike once.
TEST(LogEntryTest, ParsesFieldGroups) {
  const std::string head =
      R"({"action":"read","bytes":9,"destination":"cn","field_groups":)";
  const std::string tail =
      R"(,"node":"n","policy":"00","principal":{"id":"cn-engineer-1"},)"
      R"("purpose":"customer_support","records":1,"subject":"abc",)"
      R"("time":"2026-11-28T23:50:00.123Z","type":"decision","v":2})";
  LogEntry le;
  ASSERT_TRUE(
      ParseLogEntry(
          head +
              R"([{"decided_by":"r7","effect":"deny","fields":{"contact":)"
              R"(["email","phone"],"network":["ip"]},"restricted":["phone","ip"],)"
              R"("rules":["r1","r7"]},{"effect":"deny","fields":{"content":)"
              R"(["bio"]},"restricted":[],"rules":[]}])" +
              tail,
          &le)
          .ok());
  const std::vector<FieldEntry>& f = le.decision.fields;
  ASSERT_EQ(f.size(), 4u);
  EXPECT_EQ(f[0].name, "email");
  EXPECT_EQ(f[0].category, "contact");
  EXPECT_FALSE(f[0].restricted);
  EXPECT_EQ(f[1].name, "phone");
  EXPECT_TRUE(f[1].restricted);
  EXPECT_EQ(f[2].name, "ip");
  EXPECT_EQ(f[2].category, "network");
  EXPECT_TRUE(f[2].restricted);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(f[i].effect, policy::Effect::kDeny);
    EXPECT_EQ(f[i].decided_by, "r7");
    EXPECT_EQ(f[i].rules, (std::vector<std::string>{"r1", "r7"}));
  }
  EXPECT_EQ(f[3].name, "bio");
  EXPECT_EQ(f[3].decided_by, "");
  EXPECT_TRUE(f[3].rules.empty());
  ASSERT_TRUE(ParseLogEntry(head + "[]" + tail, &le).ok());
  EXPECT_TRUE(le.decision.fields.empty());

  // Each malformed group is refused, naming what is wrong.
  const std::pair<std::string, std::string> bad[] = {
      {R"({})", "field_groups"},
      {R"([1])", "each item must be an object"},
      {R"([{"effect":"maybe","fields":{"c":["a"]}}])", "unknown effect"},
      {R"([{"effect":"deny"}])", "field_groups[].fields"},
      {R"([{"effect":"deny","fields":{}}])", "field_groups[].fields"},
      {R"([{"effect":"deny","fields":{"c":[]}}])", "must list field names"},
      {R"([{"effect":"deny","fields":{"c":[1]}}])", "field names are strings"},
      {R"([{"effect":"deny","fields":{"c":["a"]}},)"
       R"({"effect":"allow","fields":{"d":["a"]}}])",
       "'a' is named twice"},
      {R"([{"effect":"deny","fields":{"c":["a"]},"restricted":["b"]}])",
       "names 'b', not a field of its group"},
      {R"([{"effect":"deny","fields":{"c":["a"]},"rules":"r"}])", "'rules'"},
  };
  for (const auto& [groups, message] : bad) {
    EXPECT_THAT(ParseLogEntry(head + groups + tail, &le).message(),
                HasSubstr(message))
        << groups;
  }
  // A version this auditor does not know is refused, not misread.
  std::string v3 = head + "[]" + tail;
  v3.replace(v3.find("\"v\":2"), 5, "\"v\":3");
  EXPECT_THAT(ParseLogEntry(v3, &le).message(),
              HasSubstr("unsupported version 3"));
  // Version 1 has no groups, and version 2 no per-field list.
  std::string v1 = head + "[]" + tail;
  v1.replace(v1.find("\"v\":2"), 5, "\"v\":1");
  EXPECT_THAT(ParseLogEntry(v1, &le).message(), HasSubstr("'fields'"));
}

TEST(TimeTest, Rfc3339) {
  EXPECT_EQ(*ParseRfc3339("2026-11-28T23:50:00Z"),
            absl::FromUnixSeconds(1795909800));
  EXPECT_EQ(*ParseRfc3339("2026-11-29T00:50:00+01:00"),
            absl::FromUnixSeconds(1795909800));
  EXPECT_FALSE(ParseRfc3339("2026-02-30T00:00:00Z").ok());
  EXPECT_FALSE(ParseRfc3339("2026-11-28T23:50:00.Z").ok());
  EXPECT_FALSE(ParseRfc3339("yesterday").ok());
  EXPECT_EQ(Rfc3339(absl::FromUnixMillis(1795909800123)),
            "2026-11-28T23:50:00.123Z");
}

}  // namespace
}  // namespace clover::audit
