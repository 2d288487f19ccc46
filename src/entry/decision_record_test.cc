#include "entry/decision_record.h"

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/canonical_json.h"
#include "entry/field_groups.h"
#include "entry/log_entry.h"
#include "gtest/gtest.h"

namespace clover::entry {
namespace {

TEST(DecisionRecordTest, IsCanonicalJson) {
  Principal p;
  p.id = "cn-engineer-1";
  p.kind = PrincipalKind::kEmployee;
  p.org = "eng \"core\"";
  p.roles = {"engineer", "oncall"};
  p.country = "CN";
  p.jurisdiction = "cn";
  absl::string_view rules[] = {"cn-staff-pseudonymize", "cn-no-restricted"};
  FieldOutcome fields[] = {
      {"email", "contact", true, "deny", "cn-no-restricted", rules},
      {"name",
       "identity",
       false,
       "pseudonymize",
       "cn-staff-pseudonymize",
       {rules, 1}},
      {"bio", "content", false, "deny", "", {}},
  };
  DecisionRecord r;
  r.time = absl::FromUnixMillis(1795910400123);
  r.node = "ie-dub-1-a";
  r.region = "eu";
  r.principal = &p;
  r.purpose = "customer_support";
  r.action = "read";
  r.destination = "cn";
  r.subject = "c3ViamVjdA";
  r.subject_jurisdiction = "eu";
  r.policy = "ab12";
  std::string groups_json;
  AppendFieldGroupsJson(fields, &groups_json);
  r.field_groups_json = groups_json;
  r.records = 1;
  r.bytes = 77;
  std::string json;
  AppendDecisionJson(r, &json);
  auto canonical = CanonicalizeJson(json);
  ASSERT_TRUE(canonical.ok()) << canonical.status() << "\n" << json;
  EXPECT_EQ(*canonical, json);
  EXPECT_NE(json.find("\"time\":\"2026-11-29T00:00:00.123Z\""),
            std::string::npos)
      << json;
  EXPECT_NE(
      json.find(
          R"("field_groups":[{"decided_by":"cn-no-restricted","effect":"deny",)"
          R"("fields":{"contact":["email"]},"restricted":["email"],)"
          R"("rules":["cn-staff-pseudonymize","cn-no-restricted"]},)"
          R"({"decided_by":"cn-staff-pseudonymize","effect":"pseudonymize",)"
          R"("fields":{"identity":["name"]},"restricted":[],)"
          R"("rules":["cn-staff-pseudonymize"]},)"
          R"({"effect":"deny","fields":{"content":["bio"]},"restricted":[],)"
          R"("rules":[]}],)"),
      std::string::npos)
      << json;
  EXPECT_NE(json.find(R"("v":2})"), std::string::npos) << json;
  EXPECT_EQ(json.find("approval"), std::string::npos);

  // No rendered outcomes: an empty array.
  r.field_groups_json = {};
  json.clear();
  AppendDecisionJson(r, &json);
  EXPECT_NE(json.find(R"("field_groups":[],)"), std::string::npos) << json;
}

// What the gateway writes, the auditor reads back field by field: random
// outcomes survive the grouping with every name, category, restriction,
// effect and rule list.
TEST(DecisionRecordTest, AuditorReadsBackEveryField) {
  std::mt19937_64 rng(11);
  const std::vector<std::string> categories = {
      "contact", "identity", "\xc3\xa9t\xc3\xa9", "\xf0\x9f\x8d\x80",
      "\xee\x80\x80"};
  const std::vector<absl::string_view> effects = {"allow", "deny",
                                                  "pseudonymize", "generalize"};
  const std::vector<absl::string_view> rule_pool = {"r1", "r2", "r3"};
  Principal p;
  p.id = "eu-support-1";
  p.kind = PrincipalKind::kEmployee;
  p.jurisdiction = "eu";
  LogEntry parsed;  // reused, as the auditor reuses its scratch entry
  for (int round = 0; round < 200; ++round) {
    const size_t n = rng() % 12;
    std::vector<std::string> names;
    std::vector<FieldOutcome> fields;
    for (size_t i = 0; i < n; ++i) names.push_back(absl::StrCat("f", i));
    for (size_t i = 0; i < n; ++i) {
      const size_t rules = rng() % 3;
      fields.push_back({names[i],
                        categories[rng() % categories.size()],
                        rng() % 2 == 0,
                        effects[rng() % effects.size()],
                        rules == 0 ? absl::string_view() : rule_pool[rules - 1],
                        {rule_pool.data(), rules}});
    }
    std::string groups;
    AppendFieldGroupsJson(fields, &groups);
    DecisionRecord r;
    r.time = absl::FromUnixSeconds(1'795'910'400);
    r.principal = &p;
    r.purpose = "customer_support";
    r.action = "read";
    r.destination = "eu";
    r.subject = "c3ViamVjdA";
    r.policy = "ab12";
    r.field_groups_json = groups;
    std::string json;
    AppendDecisionJson(r, &json);
    auto canonical = CanonicalizeJson(json);
    ASSERT_TRUE(canonical.ok()) << canonical.status() << "\n" << json;
    ASSERT_EQ(*canonical, json);
    ASSERT_TRUE(ParseLogEntry(json, &parsed).ok()) << json;
    const std::vector<FieldEntry>& back = parsed.decision.fields;
    ASSERT_EQ(back.size(), fields.size()) << json;
    for (const FieldOutcome& f : fields) {
      auto it =
          std::find_if(back.begin(), back.end(),
                       [&](const FieldEntry& b) { return b.name == f.name; });
      ASSERT_NE(it, back.end()) << f.name << " in " << json;
      EXPECT_EQ(it->category, f.category);
      EXPECT_EQ(it->restricted, f.restricted);
      EXPECT_EQ(policy::ToString(it->effect), f.effect);
      EXPECT_EQ(it->decided_by, f.decided_by);
      EXPECT_EQ(it->rules,
                std::vector<std::string>(f.rules.begin(), f.rules.end()));
    }
  }
}

}  // namespace
}  // namespace clover::entry

namespace clover::entry {
namespace {

// The per-second cache must give exactly what absl::FormatTime gives, across
// second boundaries, before the epoch and out of order.
TEST(DecisionRecordTest, TimestampsMatchFormatTime) {
  std::mt19937_64 rng(7);
  std::vector<absl::Time> times = {
      absl::UnixEpoch(),
      absl::FromUnixMillis(-1),
      absl::FromUnixMicros(-1),
      absl::FromUnixMillis(-1000),
      absl::FromUnixMicros(1'795'910'399'999'999),
      absl::FromUnixSeconds(253402300799)};  // 9999-12-31T23:59:59
  absl::Time t = absl::FromUnixSeconds(1'795'910'400);
  for (int i = 0; i < 3000; ++i) {
    t += absl::Microseconds(rng() % 2000);
    times.push_back(t);
    if (i % 97 == 0)
      times.push_back(absl::FromUnixMicros(
          static_cast<int64_t>(rng() % 4'000'000'000'000'000) -
          2'000'000'000'000'000));
  }
  for (absl::Time when : times) {
    EXPECT_EQ(
        FormatRfc3339Millis(when),
        absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", when, absl::UTCTimeZone()))
        << absl::ToUnixMicros(when);
  }
}

}  // namespace
}  // namespace clover::entry
