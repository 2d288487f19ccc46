#include "policy/bundle.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace clover::policy {
namespace {

using ::testing::HasSubstr;

TEST(BundleTest, ParsesRulesConditionsParamsAndInvariants) {
  const std::string text = R"(version: 1
description: test
rules:
  - id: a
    effect: allow
    when:
      principal.role: [support, admin]
      destination: eu
      field.category: {not: [contact]}
      field.restricted: no
  - id: b
    effect: approval
    params: {approver_role: trustee, max_duration: 2h30m}
  - id: c
    effect: aggregate
    params: {epsilon: 0.25}
    when: {action: aggregate, principal.country: [NO, IE]}
invariants:
  - id: i
    never: [allow, generalize]
    when: {destination: cn}
  - id: j
    always: deny
)";
  absl::StatusOr<Bundle> b = ParseBundle(text, "p.yaml");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->sha256, Sha256Hex(text));
  EXPECT_EQ(b->sha256.size(), 64u);
  ASSERT_EQ(b->rules.size(), 3u);
  const Rule& a = b->rules[0];
  EXPECT_EQ(a.id, "a");
  EXPECT_EQ(a.effect, Effect::kAllow);
  EXPECT_EQ(a.pos.line, 4);
  ASSERT_EQ(a.when.size(), 4u);
  EXPECT_EQ(a.when[0].attribute, Attribute::kPrincipalRole);
  EXPECT_EQ(a.when[0].values, (std::vector<std::string>{"support", "admin"}));
  EXPECT_FALSE(a.when[0].negated);
  EXPECT_TRUE(a.when[2].negated);
  EXPECT_EQ(a.when[3].values,
            std::vector<std::string>{"false"});  // "no" is a YAML bool
  EXPECT_EQ(b->rules[1].approval.approver_role, "trustee");
  EXPECT_EQ(b->rules[1].approval.max_duration, absl::Minutes(150));
  EXPECT_DOUBLE_EQ(b->rules[2].aggregate.epsilon, 0.25);
  // Country codes stay strings even where YAML 1.1 would read NO as false.
  EXPECT_EQ(b->rules[2].when[1].values, (std::vector<std::string>{"NO", "IE"}));
  ASSERT_EQ(b->invariants.size(), 2u);
  EXPECT_TRUE(b->invariants[0].Forbidden().Contains(Effect::kGeneralize));
  EXPECT_FALSE(b->invariants[0].Forbidden().Contains(Effect::kDeny));
  EXPECT_EQ(b->invariants[1].Forbidden(),
            b->invariants[1].effects.Complement());
}

TEST(BundleTest, HashIsOfTheExactBytes) {
  absl::StatusOr<Bundle> a = ParseBundle("version: 1\n", "a");
  absl::StatusOr<Bundle> b = ParseBundle("version: 1\n\n", "b");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->sha256, b->sha256);
  // FIPS 180-2 test vector.
  EXPECT_EQ(Sha256Hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

struct BadCase {
  const char* text;
  const char* expect;  // substring of the error
};

class BundleErrorTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(BundleErrorTest, NamesFileLineAndField) {
  absl::StatusOr<Bundle> b = ParseBundle(GetParam().text, "bad.yaml");
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(b.status().message()), HasSubstr(GetParam().expect));
}

INSTANTIATE_TEST_SUITE_P(
    Errors, BundleErrorTest,
    ::testing::Values(
        BadCase{"version: 2\n",
                "bad.yaml:1:10: field 'version': unsupported version '2'"},
        BadCase{"rules: []\n", "field 'version': missing"},
        BadCase{"version: 1\nrulez: []\n",
                "bad.yaml:2:1: field 'rulez': unknown key"},
        BadCase{
            "version: 1\nrules:\n  - id: a\n    effect: permit\n",
            "bad.yaml:4:13: field 'rules[0].effect': unknown effect 'permit'"},
        BadCase{"version: 1\nrules:\n  - effect: allow\n",
                "field 'rules[0]': missing 'id'"},
        BadCase{"version: 1\nrules:\n  - {id: a, effect: allow}\n  - {id: a, "
                "effect: deny}\n",
                "bad.yaml:4:10: field 'rules[1].id': duplicate id 'a'"},
        BadCase{"version: 1\nrules:\n  - id: a\n    effect: allow\n    when:\n"
                "      principal.team: x\n",
                "bad.yaml:6:7: field 'rules[0].when.principal.team': unknown "
                "attribute"},
        BadCase{"version: 1\nrules:\n  - id: a\n    effect: allow\n    when:\n"
                "      action: delete\n",
                "bad.yaml:6:15: field 'rules[0].when.action': unknown action "
                "'delete'"},
        BadCase{"version: 1\nrules:\n  - id: a\n    effect: allow\n    when:\n"
                "      principal.country: [IE, cn]\n",
                "bad.yaml:6:31: field 'rules[0].when.principal.country[1]': "
                "'cn' is not an ISO"},
        BadCase{"version: 1\nrules:\n  - id: a\n    effect: allow\n    when:\n"
                "      principal.kind: robot\n",
                "unknown principal kind 'robot'"},
        BadCase{
            "version: 1\nrules:\n  - id: a\n    effect: allow\n    when:\n"
            "      field.restricted: maybe\n",
            "field 'rules[0].when.field.restricted': expected true or false"},
        BadCase{"version: 1\nrules:\n  - id: a\n    effect: allow\n    when:\n"
                "      destination: []\n",
                "an empty list matches nothing"},
        BadCase{"version: 1\nrules:\n  - id: a\n    effect: allow\n    when:\n"
                "      destination: {nope: eu}\n",
                "field 'rules[0].when.destination.nope': unknown key"},
        BadCase{"version: 1\nrules:\n  - id: a\n    effect: allow\n    when:\n"
                "      destination: eu\n      destination: us\n",
                "bad.yaml:7:7: field 'rules[0].when.destination': duplicate"},
        BadCase{"version: 1\nrules:\n  - id: a\n    effect: allow\n    params: "
                "{epsilon: 1}\n",
                "effect 'allow' takes no parameters"},
        BadCase{"version: 1\nrules:\n  - id: a\n    effect: aggregate\n    "
                "params: {epsilon: -1}\n",
                "field 'rules[0].params.epsilon': expected a positive number"},
        BadCase{"version: 1\nrules:\n  - id: a\n    effect: approval\n"
                "    params: {max_duration: forever}\n",
                "field 'rules[0].params.max_duration': expected a positive "
                "duration"},
        BadCase{"version: 1\nrules:\n  - id: 'a b'\n    effect: allow\n",
                "ids are"},
        BadCase{
            "version: 1\ninvariants:\n  - id: i\n    when: {destination: cn}\n",
            "exactly one of 'never' or 'always'"},
        BadCase{"version: 1\ninvariants:\n  - id: i\n    never: []\n",
                "needs at least one effect"},
        BadCase{"version: 1\nrules: [\n", "bad.yaml:3:1: invalid YAML"},
        BadCase{"version: 1\nrules:\n  - id: a\n   effect: allow\n",
                "bad.yaml:4:"},
        BadCase{"- 1\n", "a policy bundle is a map"}));

TEST(BundleTest, InvariantRawMeansAllowAndApproval) {
  auto b = ParseBundle(R"(version: 1
invariants:
  - id: a
    never: raw
  - id: b
    never: [raw, generalize]
  - id: c
    never: [allow, approval]
)",
                       "t.yaml");
  ASSERT_TRUE(b.ok()) << b.status();
  EffectSet raw;
  raw.Add(Effect::kAllow);
  raw.Add(Effect::kApproval);
  EXPECT_EQ(b->invariants[0].effects, raw);
  EXPECT_EQ(b->invariants[2].effects, raw);
  EffectSet with_generalize = raw;
  with_generalize.Add(Effect::kGeneralize);
  EXPECT_EQ(b->invariants[1].effects, with_generalize);
  EXPECT_FALSE(ParseBundle("version: 1\ninvariants:\n  - id: a\n    never: "
                           "rawish\n",
                           "t.yaml")
                   .ok());
}

TEST(BundleTest, LoadBundleReportsMissingFile) {
  absl::StatusOr<Bundle> b = LoadBundle("/nonexistent/policy.yaml");
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(b.status().message()),
              HasSubstr("/nonexistent/policy.yaml"));
}

TEST(BundleTest, ExampleBundleParses) {
  absl::StatusOr<Bundle> b = LoadBundle("examples/policy.yaml");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_GE(b->rules.size(), 10u);
  EXPECT_GE(b->invariants.size(), 2u);
}

TEST(EffectTest, RoundTripsAndOrders) {
  for (int i = 0; i < kEffectCount; ++i) {
    const Effect e = static_cast<Effect>(i);
    EXPECT_EQ(ParseEffect(ToString(e)), e);
  }
  EXPECT_EQ(ParseEffect("Allow"), std::nullopt);
  EXPECT_LT(Effect::kAllow, Effect::kGeneralize);
  EXPECT_LT(Effect::kGeneralize, Effect::kPseudonymize);
  EXPECT_LT(Effect::kPseudonymize, Effect::kAggregate);
  EXPECT_LT(Effect::kAggregate, Effect::kApproval);
  EXPECT_LT(Effect::kApproval, Effect::kDeny);
  EffectSet s;
  s.Add(Effect::kDeny);
  s.Add(Effect::kAllow);
  EXPECT_EQ(s.ToString(), "[allow, deny]");
}

}  // namespace
}  // namespace clover::policy
