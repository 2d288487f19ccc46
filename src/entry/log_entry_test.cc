// The decision-entry reader on hand-written entries: the shapes and the
// malformed inputs no writer produces.
#include "entry/log_entry.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/rfc3339.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace clover::entry {
namespace {

using ::testing::HasSubstr;

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

}  // namespace
}  // namespace clover::entry
