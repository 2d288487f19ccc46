#include "policy/compiled_policy.h"

#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "policy/reference_evaluator.h"
#include "policy/request_data.h"

namespace clover::policy {
namespace {

using ::testing::ElementsAre;

std::shared_ptr<const CompiledPolicy> MustCompile(const std::string& text) {
  absl::StatusOr<Bundle> b = ParseBundle(text, "t.yaml");
  EXPECT_TRUE(b.ok()) << b.status();
  absl::StatusOr<std::shared_ptr<const CompiledPolicy>> p =
      CompiledPolicy::Compile(*b);
  EXPECT_TRUE(p.ok()) << p.status();
  return *p;
}

// A bundle exercising every semantic rule: defaults, ordering, ties, negation,
// roles.
constexpr char kBundle[] = R"(version: 1
rules:
  - id: support-reads-eu
    effect: allow
    when: {principal.role: support, purpose: customer_support, subject.jurisdiction: eu,
           destination: eu}
  - id: no-contact-abroad
    effect: deny
    when: {destination: {not: eu}, field.category: contact}
  - id: pseudonymize-non-eu-staff
    effect: pseudonymize
    when: {principal.jurisdiction: {not: eu}, purpose: customer_support}
  - id: generalize-network
    effect: generalize
    when: {field.category: network, purpose: customer_support}
  - id: generalize-network-again
    effect: generalize
    when: {field.name: ip_address}
  - id: restricted-needs-approval
    effect: approval
    params: {approver_role: approver, max_duration: 1h}
    when: {field.restricted: true, approval.justification: {not: [LEGAL-1]},
           purpose: legal_request}
  - id: non-staff-roles
    effect: aggregate
    params: {epsilon: 0.1}
    when: {principal.role: {not: [support, engineer]}, action: aggregate}
)";

struct Row {
  const char* name;
  RequestData request;
  FieldData field;
  Effect effect;
  const char* decider;  // nullptr: default deny
  std::vector<const char*> matched;
};

RequestData Req(std::vector<std::string> roles, std::string jurisdiction,
                std::string purpose, std::string action, std::string subject,
                std::string destination, std::string justification = "") {
  RequestData r;
  r.principal_id = "p";
  r.principal_kind = "employee";
  r.principal_org = "org";
  r.principal_roles = std::move(roles);
  r.principal_country = "XX";
  r.principal_jurisdiction = std::move(jurisdiction);
  r.purpose = std::move(purpose);
  r.action = std::move(action);
  r.subject_jurisdiction = std::move(subject);
  r.destination = std::move(destination);
  r.approval_justification = std::move(justification);
  return r;
}

const FieldData kName{"name", "identity", false};
const FieldData kEmail{"email", "contact", true};
const FieldData kIp{"ip_address", "network", true};

TEST(SemanticsTest, Table) {
  const std::vector<Row> rows = {
      {"nothing matches: default deny",
       Req({"support"}, "eu", "analytics", "read", "eu", "eu"),
       kName,
       Effect::kDeny,
       nullptr,
       {}},
      {"a single allow",
       Req({"support"}, "eu", "customer_support", "read", "eu", "eu"),
       kName,
       Effect::kAllow,
       "support-reads-eu",
       {"support-reads-eu"}},
      {"most restrictive wins over allow",
       Req({"support"}, "eu", "customer_support", "read", "eu", "eu"),
       kIp,
       Effect::kGeneralize,
       "generalize-network",
       {"support-reads-eu", "generalize-network", "generalize-network-again"}},
      {"negated destination",
       Req({"support"}, "us", "customer_support", "read", "eu", "us"),
       kEmail,
       Effect::kDeny,
       "no-contact-abroad",
       {"no-contact-abroad", "pseudonymize-non-eu-staff"}},
      {"negated jurisdiction",
       Req({"support"}, "us", "customer_support", "read", "eu", "eu"),
       kName,
       Effect::kPseudonymize,
       "pseudonymize-non-eu-staff",
       {"support-reads-eu", "pseudonymize-non-eu-staff"}},
      {"roles: any of the list",
       Req({"x", "support"}, "eu", "customer_support", "read", "eu", "eu"),
       kName,
       Effect::kAllow,
       "support-reads-eu",
       {"support-reads-eu"}},
      {"roles: none held",
       Req({}, "eu", "customer_support", "read", "eu", "eu"),
       kName,
       Effect::kDeny,
       nullptr,
       {}},
      {"negated roles: no listed role held",
       Req({"analyst"}, "eu", "x", "aggregate", "eu", "eu"),
       kName,
       Effect::kAggregate,
       "non-staff-roles",
       {"non-staff-roles"}},
      {"negated roles: no roles at all",
       Req({}, "eu", "x", "aggregate", "eu", "eu"),
       kName,
       Effect::kAggregate,
       "non-staff-roles",
       {"non-staff-roles"}},
      {"negated roles: one listed role held",
       Req({"analyst", "engineer"}, "eu", "x", "aggregate", "eu", "eu"),
       kName,
       Effect::kDeny,
       nullptr,
       {}},
      {"restricted + missing justification",
       Req({"legal"}, "eu", "legal_request", "read", "eu", "eu"),
       kEmail,
       Effect::kApproval,
       "restricted-needs-approval",
       {"restricted-needs-approval"}},
      {"listed justification excluded",
       Req({"legal"}, "eu", "legal_request", "read", "eu", "eu", "LEGAL-1"),
       kEmail,
       Effect::kDeny,
       nullptr,
       {}},
      {"unrestricted field",
       Req({"legal"}, "eu", "legal_request", "read", "eu", "eu"),
       kName,
       Effect::kDeny,
       nullptr,
       {}},
      {"tie: first rule in file order decides",
       Req({"support"}, "eu", "analytics", "read", "eu", "eu"),
       kIp,
       Effect::kGeneralize,
       "generalize-network-again",
       {"generalize-network-again"}},
  };
  const auto policy = MustCompile(kBundle);
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    const FieldRef field = row.field.View();
    FieldDecision d;
    policy->Decide(row.request.View(), std::span(&field, 1), std::span(&d, 1));
    EXPECT_EQ(d.effect, row.effect);
    if (row.decider == nullptr) {
      EXPECT_EQ(d.deciding_rule, kDefaultDeny);
    } else {
      ASSERT_NE(d.deciding_rule, kDefaultDeny);
      EXPECT_EQ(policy->rule(d.deciding_rule).id, row.decider);
    }
    std::vector<std::string> matched;
    for (uint32_t i = 0; i < d.matched_count; ++i)
      matched.push_back(policy->rule(d.matched[i]).id);
    EXPECT_EQ(matched,
              std::vector<std::string>(row.matched.begin(), row.matched.end()));
    const ReferenceDecision ref =
        EvaluateReference(policy->bundle(), row.request.View(), field);
    EXPECT_EQ(ref.effect, d.effect);
    EXPECT_EQ(ref.deciding_rule, d.deciding_rule);
  }
}

TEST(SemanticsTest, DecidesEveryFieldOfARequest) {
  const auto policy = MustCompile(kBundle);
  const RequestData r =
      Req({"support"}, "eu", "customer_support", "read", "eu", "eu");
  const std::vector<FieldRef> fields = {kName.View(), kEmail.View(),
                                        kIp.View()};
  std::vector<FieldDecision> out(3);
  policy->Decide(r.View(), fields, out);
  EXPECT_EQ(out[0].effect, Effect::kAllow);
  EXPECT_EQ(out[1].effect, Effect::kAllow);
  EXPECT_EQ(out[2].effect, Effect::kGeneralize);
  EXPECT_EQ(policy->rule(out[2].deciding_rule).approval.max_duration,
            absl::Hours(8));
  EXPECT_EQ(policy->bundle().rules[5].approval.max_duration, absl::Hours(1));
  EXPECT_DOUBLE_EQ(policy->bundle().rules[6].aggregate.epsilon, 0.1);
}

TEST(SemanticsTest, EmptyBundleDeniesEverything) {
  const auto policy = MustCompile("version: 1\n");
  const RequestData r =
      Req({"support"}, "eu", "customer_support", "read", "eu", "eu");
  FieldDecision d;
  const FieldRef f = kName.View();
  policy->Decide(r.View(), std::span(&f, 1), std::span(&d, 1));
  EXPECT_EQ(d.effect, Effect::kDeny);
  EXPECT_EQ(d.deciding_rule, kDefaultDeny);
  EXPECT_EQ(d.matched_count, 0u);
}

TEST(SemanticsTest,
     ManyMatchesKeepTheMostRestrictiveInlineAndAllInMatchedRules) {
  std::string text = "version: 1\nrules:\n";
  for (int i = 0; i < 40; ++i) {
    const char* effect = i == 30 ? "deny" : (i % 2 ? "allow" : "pseudonymize");
    text += "  - {id: r" + std::to_string(i) + ", effect: " + effect + "}\n";
  }
  const auto policy = MustCompile(text);
  const RequestData r = Req({}, "eu", "x", "read", "eu", "eu");
  FieldDecision d;
  const FieldRef f = kName.View();
  policy->Decide(r.View(), std::span(&f, 1), std::span(&d, 1));
  EXPECT_EQ(d.effect, Effect::kDeny);
  EXPECT_EQ(policy->rule(d.deciding_rule).id, "r30");
  EXPECT_EQ(d.matched_count, 40u);
  EXPECT_FALSE(d.matched_complete());
  // The deny, then the 13 first pseudonymize rules, ascending.
  EXPECT_THAT(std::vector<uint32_t>(d.matched.begin(), d.matched.end()),
              ElementsAre(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 30));
  std::vector<int> all = policy->MatchedRules(r.View(), f);
  ASSERT_EQ(all.size(), 40u);
  for (int i = 0; i < 40; ++i) EXPECT_EQ(all[i], i);
}

// Random bundles over small vocabularies, so that conditions often overlap.
class RandomPolicy {
 public:
  explicit RandomPolicy(uint64_t seed) : rng_(seed) {}

  std::string Bundle(int rules) {
    std::string out = "version: 1\nrules:\n";
    for (int i = 0; i < rules; ++i) {
      out += "  - id: r" + std::to_string(i) + "\n    effect: " +
             std::string(ToString(static_cast<Effect>(Uniform(kEffectCount)))) +
             "\n    when:\n";
      for (int a = 0; a < kAttributeCount; ++a) {
        if (Uniform(100) >= 30) continue;
        const Attribute attr = static_cast<Attribute>(a);
        std::string list = "[";
        const int n = 1 + Uniform(3);
        for (int k = 0; k < n; ++k) {
          if (k) list += ", ";
          list += Value(attr);
        }
        list += "]";
        out += "      " + std::string(ToString(attr)) + ": ";
        out += Uniform(4) == 0 ? "{not: " + list + "}\n" : list + "\n";
      }
    }
    return out;
  }

  std::string Value(Attribute a) {
    switch (a) {
      case Attribute::kAction:
        return std::string(KnownActions()[Uniform(3)]);
      case Attribute::kPrincipalKind:
        return std::string(KnownPrincipalKinds()[Uniform(3)]);
      case Attribute::kPrincipalCountry:
        return std::vector<std::string>{"IE", "CN", "US", "DE"}[Uniform(4)];
      case Attribute::kFieldRestricted:
        return Uniform(2) ? "true" : "false";
      default:
        // Five named values per attribute; requests also use a sixth nobody
        // names.
        return "v" + std::to_string(Uniform(5));
    }
  }

  RequestData Request() {
    RequestData r;
    r.principal_id = RequestValue(Attribute::kPrincipalId);
    r.principal_kind = RequestValue(Attribute::kPrincipalKind);
    r.principal_org = RequestValue(Attribute::kPrincipalOrg);
    const int roles = Uniform(4);
    for (int i = 0; i < roles; ++i)
      r.principal_roles.push_back(RequestValue(Attribute::kPrincipalRole));
    r.principal_country = RequestValue(Attribute::kPrincipalCountry);
    r.principal_jurisdiction = RequestValue(Attribute::kPrincipalJurisdiction);
    r.purpose = RequestValue(Attribute::kPurpose);
    r.action = RequestValue(Attribute::kAction);
    r.subject_jurisdiction = RequestValue(Attribute::kSubjectJurisdiction);
    r.destination = RequestValue(Attribute::kDestination);
    r.approval_justification =
        Uniform(3) ? RequestValue(Attribute::kApprovalJustification) : "";
    return r;
  }

  FieldData Field() {
    return {RequestValue(Attribute::kFieldName),
            RequestValue(Attribute::kFieldCategory), Uniform(2) == 1};
  }

 private:
  int Uniform(int n) {
    return std::uniform_int_distribution<int>(0, n - 1)(rng_);
  }
  std::string RequestValue(Attribute a) {
    return Uniform(6) == 0 ? "unnamed" : Value(a);
  }
  std::mt19937_64 rng_;
};

// Compiled vs reference on >= 100,000 random requests over random policies.
TEST(DifferentialTest, CompiledMatchesReference) {
  constexpr int kPolicies = 200;
  constexpr int kRequestsPerPolicy = 500;
  int requests = 0;
  int decided_by_rule = 0;
  for (int p = 0; p < kPolicies; ++p) {
    RandomPolicy gen(1000 + p);
    const int rule_count =
        1 + (p * 7) % 120;  // spans single- and multi-word bitsets
    const auto policy = MustCompile(gen.Bundle(rule_count));
    ASSERT_NE(policy, nullptr);
    for (int q = 0; q < kRequestsPerPolicy; ++q) {
      const RequestData r = gen.Request();
      std::vector<FieldData> data = {gen.Field(), gen.Field(), gen.Field()};
      std::vector<FieldRef> fields;
      for (const FieldData& f : data) fields.push_back(f.View());
      std::vector<FieldDecision> out(fields.size());
      policy->Decide(r.View(), fields, out);
      std::vector<FieldDecision> prepared_out(fields.size());
      policy->Decide(r.View(), policy->Prepare(fields), prepared_out);
      ASSERT_EQ(prepared_out, out);
      ++requests;
      for (size_t i = 0; i < fields.size(); ++i) {
        const ReferenceDecision ref =
            EvaluateReference(policy->bundle(), r.View(), fields[i]);
        ASSERT_EQ(out[i].effect, ref.effect)
            << "policy " << p << " request " << q;
        ASSERT_EQ(out[i].deciding_rule, ref.deciding_rule)
            << "policy " << p << " request " << q;
        ASSERT_EQ(out[i].matched_count, ref.matched.size());
        if (out[i].matched_complete()) {
          ASSERT_TRUE(std::equal(ref.matched.begin(), ref.matched.end(),
                                 out[i].matched.begin()));
        }
        ASSERT_EQ(policy->MatchedRules(r.View(), fields[i]), ref.matched);
        if (ref.deciding_rule != kDefaultDeny) ++decided_by_rule;
      }
    }
  }
  EXPECT_GE(requests, 100000);
  // The generator must exercise both rule decisions and the default deny.
  EXPECT_GT(decided_by_rule, requests / 10);
  EXPECT_LT(decided_by_rule, requests * 3 - requests / 10);
}

}  // namespace
}  // namespace clover::policy
