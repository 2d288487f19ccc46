#include "gateway/decision_record.h"

#include <random>
#include <vector>

#include "core/canonical_json.h"
#include "gtest/gtest.h"

namespace clover::gateway {
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
  std::string fields_json;
  AppendFieldOutcomesJson(fields, &fields_json);
  r.fields_json = fields_json;
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
      json.find(R"("rules":["cn-staff-pseudonymize","cn-no-restricted"])"),
      std::string::npos);
  EXPECT_EQ(json.find("approval"), std::string::npos);

  // No rendered outcomes: an empty array.
  r.fields_json = {};
  json.clear();
  AppendDecisionJson(r, &json);
  EXPECT_NE(json.find(R"("fields":[],)"), std::string::npos) << json;
}

}  // namespace
}  // namespace clover::gateway

namespace clover::gateway {
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
}  // namespace clover::gateway
