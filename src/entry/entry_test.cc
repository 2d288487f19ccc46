// The entry format pinned: golden bytes for each version, and the writer, the
// DOM reader and the SAX reader agreeing with one another.
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "entry/decision_record.h"
#include "entry/entry_subjects.h"
#include "entry/field_groups.h"
#include "entry/log_entry.h"
#include "gtest/gtest.h"

namespace clover::entry {
namespace {

// A read with every optional member set and three fields in two groups.
DecisionEntry FullRead() {
  DecisionEntry e;
  e.time = absl::FromUnixMillis(1795910400123);
  e.node = "ie-dub-1-a";
  e.region = "eu";
  e.principal_id = "us-legal-1";
  e.principal_kind = "employee";
  e.principal_org = "legal \"us\"";
  e.principal_roles = {"counsel", "reviewer"};
  e.principal_country = "US";
  e.principal_jurisdiction = "us";
  e.purpose = "legal_request";
  e.action = "read";
  e.destination = "us";
  e.subject = "c3ViamVjdA";
  e.subject_jurisdiction = "eu";
  e.policy = "ab12";
  e.approval = "apr-7";
  e.justification = "court_order";
  e.fields = {
      {"email",
       "contact",
       true,
       policy::Effect::kApproval,
       {"legal-grant"},
       "legal-grant"},
      {"name",
       "identity",
       false,
       policy::Effect::kApproval,
       {"legal-grant"},
       "legal-grant"},
      {"bio", "content", false, policy::Effect::kDeny, {}, ""},
  };
  e.records = 1;
  e.bytes = 77;
  return e;
}

// Version 2, as the gateway writes it today: these bytes are what nodes
// have logged and auditors verify. A change here is a new entry version.
TEST(EntryGoldenTest, VersionTwoBytes) {
  EXPECT_EQ(
      DecisionJson(FullRead()),
      R"({"action":"read","approval":"apr-7","bytes":77,"destination":"us",)"
      R"("field_groups":[{"decided_by":"legal-grant","effect":"approval",)"
      R"("fields":{"contact":["email"],"identity":["name"]},)"
      R"("restricted":["email"],"rules":["legal-grant"]},)"
      R"({"effect":"deny","fields":{"content":["bio"]},"restricted":[],)"
      R"("rules":[]}],"justification":"court_order","node":"ie-dub-1-a",)"
      R"("policy":"ab12","principal":{"country":"US","id":"us-legal-1",)"
      R"("jurisdiction":"us","kind":"employee","org":"legal \"us\"",)"
      R"("roles":["counsel","reviewer"]},"purpose":"legal_request",)"
      R"("records":1,"region":"eu","subject":"c3ViamVjdA",)"
      R"("subject_jurisdiction":"eu","time":"2026-11-29T00:00:00.123Z",)"
      R"("type":"decision","v":2})");
}

// The writer through a configured principal (the gateway's path) gives the
// same bytes as through a parsed entry's principal members.
TEST(EntryGoldenTest, PrincipalAndEntryPathsAgree) {
  Principal p;
  p.id = "accounts-eu";
  p.kind = PrincipalKind::kService;
  p.org = "billing";
  p.roles = {"writer", "reader"};
  p.country = "IE";
  p.jurisdiction = "eu";
  DecisionEntry e;
  e.principal_id = p.id;
  e.principal_kind = "service";
  e.principal_org = p.org;
  e.principal_roles = p.roles;
  e.principal_country = p.country;
  e.principal_jurisdiction = p.jurisdiction;
  e.subject = "s1";
  DecisionRecord r;
  r.principal = &p;
  r.subject = e.subject;
  std::string json;
  AppendDecisionJson(r, &json);
  EXPECT_EQ(json, DecisionJson(e));
  EXPECT_NE(json.find(R"("kind":"service")"), std::string::npos) << json;
}

// Version 1 (older logs: one "fields" object per field) is still read.
TEST(EntryGoldenTest, VersionOneIsRead) {
  const std::string v1 =
      R"({"action":"read","bytes":5,"destination":"cn","fields":[)"
      R"({"category":"contact","decided_by":"r1","effect":"pseudonymize",)"
      R"("name":"email","restricted":true,"rules":["r1","r2"]},)"
      R"({"category":"content","effect":"deny","name":"bio",)"
      R"("restricted":false,"rules":[]}],"node":"n","policy":"ab12",)"
      R"("principal":{"country":"CN","id":"cn-engineer-1",)"
      R"("jurisdiction":"cn","kind":"employee","org":"eng","roles":[]},)"
      R"("purpose":"service_operation","records":1,"region":"eu",)"
      R"("subject":"s1","time":"2026-11-29T00:00:00Z","type":"decision",)"
      R"("v":1})";
  LogEntry parsed;
  ASSERT_TRUE(ParseLogEntry(v1, &parsed).ok());
  ASSERT_EQ(parsed.type, EntryType::kDecision);
  const DecisionEntry& d = parsed.decision;
  EXPECT_EQ(d.time, absl::FromUnixSeconds(1795910400));
  EXPECT_EQ(d.principal_id, "cn-engineer-1");
  EXPECT_EQ(d.subject, "s1");
  ASSERT_EQ(d.fields.size(), 2u);
  EXPECT_EQ(d.fields[0].name, "email");
  EXPECT_TRUE(d.fields[0].restricted);
  EXPECT_EQ(d.fields[0].effect, policy::Effect::kPseudonymize);
  EXPECT_EQ(d.fields[0].decided_by, "r1");
  EXPECT_EQ(d.fields[0].rules, (std::vector<std::string>{"r1", "r2"}));
  EXPECT_EQ(d.fields[1].name, "bio");
  EXPECT_EQ(d.fields[1].effect, policy::Effect::kDeny);
  EXPECT_EQ(d.fields[1].decided_by, "");
}

void ExpectSameDecision(const DecisionEntry& a, const DecisionEntry& b) {
  EXPECT_EQ(a.time, b.time);
  EXPECT_EQ(a.node, b.node);
  EXPECT_EQ(a.region, b.region);
  EXPECT_EQ(a.principal_id, b.principal_id);
  EXPECT_EQ(a.principal_kind, b.principal_kind);
  EXPECT_EQ(a.principal_org, b.principal_org);
  EXPECT_EQ(a.principal_roles, b.principal_roles);
  EXPECT_EQ(a.principal_country, b.principal_country);
  EXPECT_EQ(a.principal_jurisdiction, b.principal_jurisdiction);
  EXPECT_EQ(a.purpose, b.purpose);
  EXPECT_EQ(a.action, b.action);
  EXPECT_EQ(a.destination, b.destination);
  EXPECT_EQ(a.subject, b.subject);
  EXPECT_EQ(a.subject_count, b.subject_count);
  EXPECT_EQ(a.subject_jurisdiction, b.subject_jurisdiction);
  EXPECT_EQ(a.policy, b.policy);
  EXPECT_EQ(a.approval, b.approval);
  EXPECT_EQ(a.justification, b.justification);
  EXPECT_EQ(a.records, b.records);
  EXPECT_EQ(a.bytes, b.bytes);
  ASSERT_EQ(a.fields.size(), b.fields.size());
  for (size_t i = 0; i < a.fields.size(); ++i) {
    EXPECT_EQ(a.fields[i].name, b.fields[i].name);
    EXPECT_EQ(a.fields[i].category, b.fields[i].category);
    EXPECT_EQ(a.fields[i].restricted, b.fields[i].restricted);
    EXPECT_EQ(a.fields[i].effect, b.fields[i].effect);
    EXPECT_EQ(a.fields[i].rules, b.fields[i].rules);
    EXPECT_EQ(a.fields[i].decided_by, b.fields[i].decided_by);
  }
}

// Writer then reader: every member of a read and of an export survives (the
// fields of FullRead are already in group order, so they come back in order).
TEST(EntryRoundTripTest, EveryMemberSurvives) {
  DecisionEntry read = FullRead();
  DecisionEntry exp = FullRead();
  exp.action = "export";
  exp.subject.clear();
  exp.subject_count = 500;
  exp.subject_jurisdiction.clear();
  exp.approval.clear();
  exp.justification.clear();
  exp.principal_roles.clear();
  exp.fields.clear();
  LogEntry parsed;
  for (const DecisionEntry& e : {read, exp}) {
    const std::string json = DecisionJson(e);
    ASSERT_TRUE(ParseLogEntry(json, &parsed).ok()) << json;
    ASSERT_EQ(parsed.type, EntryType::kDecision);
    EXPECT_EQ(parsed.time, e.time);
    ExpectSameDecision(parsed.decision, e);
    // Writing what was read gives the same bytes.
    EXPECT_EQ(DecisionJson(parsed.decision), json);
  }
}

// The two readers agree on what subject a decision entry names.
TEST(EntryReadersTest, SaxAndDomAgreeOnSubjects) {
  std::vector<std::string> subjects;
  LogEntry parsed;
  DecisionEntry read = FullRead();
  DecisionEntry exp = FullRead();
  exp.subject.clear();
  exp.subject_count = 3;
  DecisionEntry odd = FullRead();
  odd.subject = "a\"b\\c\xc3\xa9";
  for (const DecisionEntry& e : {read, exp, odd}) {
    const std::string json = DecisionJson(e);
    ASSERT_TRUE(SubjectsOf(json, subjects)) << json;
    ASSERT_TRUE(ParseLogEntry(json, &parsed).ok()) << json;
    if (parsed.decision.subject.empty()) {
      EXPECT_TRUE(subjects.empty()) << json;
    } else {
      EXPECT_EQ(subjects, std::vector<std::string>{parsed.decision.subject});
    }
  }
  // An approval names its subjects in an array; nested "subject" members
  // are not the entry's.
  ASSERT_TRUE(
      SubjectsOf(R"({"type":"approval","id":"a1","subjects":["s1","s2"],)"
                 R"("x":{"subject":"no"}})",
                 subjects));
  EXPECT_EQ(subjects, (std::vector<std::string>{"s1", "s2"}));
  // Not JSON: nothing, and both readers refuse it.
  const std::string broken = R"({"subject":"s1",)";
  EXPECT_FALSE(SubjectsOf(broken, subjects));
  EXPECT_TRUE(subjects.empty());
  EXPECT_FALSE(ParseLogEntry(broken, &parsed).ok());
}

}  // namespace
}  // namespace clover::entry
