#include "policy/analyzer.h"

#include <random>
#include <string>
#include <vector>

#include "config/deployment.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "policy/reference_evaluator.h"

namespace clover::policy {
namespace {

using ::testing::HasSubstr;

Bundle MustParse(const std::string& text) {
  absl::StatusOr<Bundle> b = ParseBundle(text, "t.yaml");
  EXPECT_TRUE(b.ok()) << b.status();
  return b.ok() ? *b : Bundle{};
}

// A small hand-built deployment (independent of the config loader).
Deployment TestDeployment() {
  Deployment d;
  d.jurisdictions = {{"eu", "EU", {"IE", "DE", "NO"}},
                     {"us", "US", {"US"}},
                     {"cn", "CN", {"CN"}}};
  d.schema.fields = {{"email", "contact", true},
                     {"ip_address", "network", true},
                     {"name", "identity", false},
                     {"watch_history", "behavior", false}};
  Principal support;
  support.id = "eu-support-1";
  support.kind = PrincipalKind::kEmployee;
  support.org = "support-org";
  support.roles = {"support"};
  support.country = "IE";
  support.jurisdiction = "eu";
  Principal engineer;
  engineer.id = "cn-engineer-1";
  engineer.kind = PrincipalKind::kEmployee;
  engineer.org = "platform";
  engineer.roles = {"engineer"};
  engineer.country = "CN";
  engineer.jurisdiction = "cn";
  d.principals = {support, engineer};
  return d;
}

constexpr char kGood[] = R"(version: 1
rules:
  - id: support-reads-eu
    effect: allow
    when: {principal.role: support, principal.jurisdiction: eu, purpose: customer_support,
           subject.jurisdiction: eu, destination: eu}
  - id: engineers-pseudonymized
    effect: pseudonymize
    when: {principal.role: engineer, purpose: service_operation}
  - id: no-contact-to-cn
    effect: deny
    when: {destination: cn, field.category: [contact, network]}
invariants:
  - id: nothing-raw-to-cn
    always: [pseudonymize, aggregate, deny]
    when: {destination: cn}
  - id: no-contact-to-cn
    always: deny
    when: {destination: cn, field.category: contact}
)";

TEST(AnalyzerTest, ProvesInvariantsOfAGoodBundle) {
  const Bundle b = MustParse(kGood);
  const Deployment d = TestDeployment();
  for (const Deployment* dep : {static_cast<const Deployment*>(nullptr), &d}) {
    AnalysisOptions options;
    options.deployment = dep;
    const AnalysisReport report = Analyze(b, options);
    EXPECT_TRUE(report.ok()) << report.Format(b);
    EXPECT_TRUE(report.findings.empty()) << report.Format(b);
    EXPECT_GT(report.states_visited, 0u);
    EXPECT_TRUE(ProveInvariants(b, dep).ok());
  }
}

TEST(AnalyzerTest, FindsAPlantedViolationWithACounterexample) {
  // The planted bug: a raw-access rule that forgets to pin the destination.
  std::string text = kGood;
  text.replace(text.find("subject.jurisdiction: eu, destination: eu"),
               std::string("subject.jurisdiction: eu, destination: eu").size(),
               "subject.jurisdiction: eu");
  const Bundle b = MustParse(text);
  const Deployment d = TestDeployment();
  AnalysisOptions options;
  options.deployment = &d;
  const AnalysisReport report = Analyze(b, options);
  ASSERT_FALSE(report.ok());
  const Finding* violation = nullptr;
  for (const Finding& f : report.findings) {
    if (f.kind == Finding::Kind::kInvariantViolated) violation = &f;
  }
  ASSERT_NE(violation, nullptr) << report.Format(b);
  EXPECT_THAT(violation->message,
              HasSubstr("invariant 'nothing-raw-to-cn' is violated"));
  EXPECT_EQ(violation->pos.line, 14);
  ASSERT_TRUE(violation->counterexample.has_value());
  const Counterexample& cx = *violation->counterexample;
  // The counterexample is real: replaying it gives the forbidden effect.
  EXPECT_EQ(cx.request.destination, "cn");
  EXPECT_EQ(cx.effect, Effect::kAllow);
  EXPECT_EQ(b.rules[cx.deciding_rule].id, "support-reads-eu");
  const ReferenceDecision replay =
      EvaluateReference(b, cx.request.View(), cx.field.View());
  EXPECT_EQ(replay.effect, Effect::kAllow);
  const std::string printed = report.Format(b);
  EXPECT_THAT(printed,
              HasSubstr("t.yaml:14:5: error: invariant 'nothing-raw-to-cn'"));
  EXPECT_THAT(printed, HasSubstr("counterexample:"));
  EXPECT_THAT(printed, HasSubstr("destination: cn"));
  EXPECT_THAT(printed, HasSubstr("decision: allow by rule 'support-reads-eu'"));

  const absl::Status proven = ProveInvariants(b, &d);
  EXPECT_EQ(proven.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(proven.message()), HasSubstr("counterexample"));
}

// A granted approval returns the raw value: an invariant forbidding raw
// reveal must catch an approval rule as surely as an allow rule.
constexpr char kLegalApproval[] = R"(version: 1
rules:
  - id: legal-needs-approval
    effect: approval
    params: {approver_role: approver, max_duration: 1h}
    when: {principal.role: legal, purpose: legal_request, action: read}
  - id: support-reads-eu
    effect: allow
    when: {principal.role: support, subject.jurisdiction: eu, destination: eu}
invariants:
  - id: no-raw-restricted-data-leaves-eu
    never: NEVER
    when: {subject.jurisdiction: eu, field.restricted: true, destination: {not: eu}}
)";

TEST(AnalyzerTest, RawInvariantCatchesApprovalReachingRestrictedData) {
  for (const std::string never : {"raw", "[allow, approval]"}) {
    std::string text = kLegalApproval;
    text.replace(text.find("NEVER"), 5, never);
    const Bundle b = MustParse(text);
    const AnalysisReport report = Analyze(b, {});
    ASSERT_FALSE(report.ok()) << never;
    const Finding* violation = nullptr;
    for (const Finding& f : report.findings) {
      if (f.kind == Finding::Kind::kInvariantViolated) violation = &f;
    }
    ASSERT_NE(violation, nullptr) << report.Format(b);
    EXPECT_THAT(violation->message,
                HasSubstr("'no-raw-restricted-data-leaves-eu' is violated"));
    ASSERT_TRUE(violation->counterexample.has_value());
    const Counterexample& cx = *violation->counterexample;
    EXPECT_EQ(cx.effect, Effect::kApproval);
    EXPECT_EQ(b.rules[cx.deciding_rule].id, "legal-needs-approval");
    EXPECT_NE(cx.request.destination, "eu");
    EXPECT_TRUE(cx.field.restricted);
    EXPECT_EQ(EvaluateReference(b, cx.request.View(), cx.field.View()).effect,
              Effect::kApproval);
  }
  // Denying the restricted fields to legal requests outside the EU mends it.
  std::string text = kLegalApproval;
  text.replace(text.find("NEVER"), 5, "raw");
  text.replace(text.find("invariants:"), 11,
               "  - id: legal-never-gets-restricted-eu-data\n"
               "    effect: deny\n"
               "    when: {purpose: legal_request, subject.jurisdiction: eu,\n"
               "           field.restricted: true, destination: {not: eu}}\n"
               "invariants:");
  const Bundle mended = MustParse(text);
  EXPECT_TRUE(Analyze(mended, {}).ok()) << Analyze(mended, {}).Format(mended);
}

TEST(AnalyzerTest, ExampleInvariantForbidsEveryRawReveal) {
  // The example's residency invariant must forbid approval too: with a grant,
  // a legal request outside the EU would otherwise read restricted EU fields.
  absl::StatusOr<Bundle> b = LoadBundle("examples/policy.yaml");
  ASSERT_TRUE(b.ok()) << b.status();
  const Invariant* inv = nullptr;
  for (const Invariant& i : b->invariants) {
    if (i.id == "no-raw-restricted-data-leaves-eu") inv = &i;
  }
  ASSERT_NE(inv, nullptr);
  EXPECT_TRUE(inv->Forbidden().Contains(Effect::kAllow));
  EXPECT_TRUE(inv->Forbidden().Contains(Effect::kApproval));
}

TEST(AnalyzerTest, DeploymentPrincipalsKeepTheirAttributes) {
  // Only cn-engineer-1 is in cn; with the deployment, a support principal
  // cannot be in cn and the jurisdiction follows from the country.
  const Bundle b = MustParse(R"(version: 1
rules:
  - id: by-id
    effect: allow
    when: {principal.id: eu-support-1}
invariants:
  - id: support-never-in-cn
    never: allow
    when: {principal.jurisdiction: cn}
  - id: ie-is-eu
    never: allow
    when: {principal.country: IE, principal.jurisdiction: {not: eu}}
)");
  const Deployment d = TestDeployment();
  AnalysisOptions options;
  options.deployment = &d;
  EXPECT_TRUE(Analyze(b, options).ok()) << Analyze(b, options).Format(b);
  // Without the deployment, attributes are independent: principal.id
  // eu-support-1 may sit anywhere.
  const AnalysisReport free = Analyze(b, AnalysisOptions{});
  EXPECT_FALSE(free.ok());
}

TEST(AnalyzerTest, ReportsShadowedRules) {
  const Bundle b = MustParse(R"(version: 1
rules:
  - id: deny-cn
    effect: deny
    when: {destination: cn}
  - id: allow-cn-contact
    effect: allow
    when: {destination: cn, field.category: contact}
  - id: first
    effect: pseudonymize
    when: {purpose: support}
  - id: same-effect-later
    effect: pseudonymize
    when: {purpose: support, action: read}
  - id: contradictory
    effect: deny
    when: {principal.id: eu-support-1, principal.country: CN}
  - id: live
    effect: allow
    when: {purpose: analytics}
)");
  const Deployment d = TestDeployment();
  AnalysisOptions options;
  options.deployment = &d;
  const AnalysisReport report = Analyze(b, options);
  EXPECT_TRUE(report.ok());  // shadowing is a warning
  std::vector<std::string> shadowed;
  for (const Finding& f : report.findings) {
    if (f.kind == Finding::Kind::kShadowedRule) {
      EXPECT_EQ(f.severity, Finding::Severity::kWarning);
      shadowed.push_back(f.message.substr(0, f.message.find("' ") + 1));
    }
  }
  EXPECT_EQ(shadowed, (std::vector<std::string>{"rule 'allow-cn-contact'",
                                                "rule 'same-effect-later'",
                                                "rule 'contradictory'"}));
}

TEST(AnalyzerTest, ReportsUnknownNames) {
  const Bundle b = MustParse(R"(version: 1
rules:
  - id: r
    effect: allow
    when:
      principal.id: [eu-support-1, ghost]
      principal.role: janitor
      principal.org: support-org
      principal.country: FR
      destination: [eu, mars]
      field.name: emial
      field.category: contcat
invariants:
  - id: i
    never: allow
    when: {subject.jurisdiction: atlantis}
)");
  const Deployment d = TestDeployment();
  AnalysisOptions options;
  options.deployment = &d;
  options.check_shadowed = false;
  const AnalysisReport report = Analyze(b, options);
  EXPECT_FALSE(report.ok());
  const std::string text = report.Format(b);
  EXPECT_THAT(text, HasSubstr("t.yaml:6:7: error: rule 'r': principal.id: "
                              "unknown principal 'ghost'"));
  EXPECT_THAT(text, HasSubstr("unknown role (no principal has it) 'janitor'"));
  EXPECT_THAT(
      text,
      HasSubstr("unknown country (in no jurisdiction of the deployment) 'FR'"));
  EXPECT_THAT(text, HasSubstr("destination: unknown jurisdiction 'mars'"));
  EXPECT_THAT(text, HasSubstr("unknown field (not in the schema) 'emial'"));
  EXPECT_THAT(text,
              HasSubstr("unknown category (no schema field has it) 'contcat'"));
  EXPECT_THAT(text, HasSubstr("invariant 'i': subject.jurisdiction: unknown "
                              "jurisdiction 'atlantis'"));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("'support-org'")));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("'eu-support-1'")));
}

TEST(AnalyzerTest, SearchBudgetIsAnErrorNotAHang) {
  const Bundle b = MustParse(kGood);
  AnalysisOptions options;
  options.max_states = 3;
  const AnalysisReport report = Analyze(b, options);
  EXPECT_FALSE(report.ok());
  EXPECT_THAT(report.Format(b), HasSubstr("gave up after 3 states"));
}

TEST(AnalyzerTest, ExampleBundleProvesOverExampleDeployment) {
  absl::StatusOr<Deployment> d = LoadDeployment("examples/deployment.yaml");
  ASSERT_TRUE(d.ok()) << d.status();
  absl::StatusOr<Bundle> b = LoadBundle("examples/policy.yaml");
  ASSERT_TRUE(b.ok()) << b.status();
  AnalysisOptions options;
  options.deployment = &*d;
  const AnalysisReport report = Analyze(*b, options);
  EXPECT_TRUE(report.findings.empty()) << report.Format(*b);
}

// Cross-checks the pruned search against brute-force enumeration on small
// random bundles whose conditions use a few attributes, so that the whole
// product can be enumerated.
TEST(AnalyzerTest, AgreesWithBruteForce) {
  const std::vector<std::pair<Attribute, std::vector<std::string>>> vocab = {
      {Attribute::kPrincipalRole, {"a", "b"}},
      {Attribute::kPurpose, {"p", "q"}},
      {Attribute::kDestination, {"eu", "cn"}},
      {Attribute::kFieldCategory, {"contact", "content"}},
      {Attribute::kFieldRestricted, {"true", "false"}},
      {Attribute::kAction, {"read", "export"}}};
  std::mt19937_64 rng(7);
  auto uniform = [&](int n) {
    return std::uniform_int_distribution<int>(0, n - 1)(rng);
  };
  auto conditions = [&](int max_conditions) {
    std::string out = "{";
    const int n = uniform(max_conditions + 1);
    std::vector<int> used;
    for (int k = 0; k < n; ++k) {
      const int a = uniform(static_cast<int>(vocab.size()));
      if (std::find(used.begin(), used.end(), a) != used.end()) continue;
      used.push_back(a);
      const auto& [attr, values] = vocab[a];
      std::string v = values[uniform(2)];
      if (uniform(3) == 0 && attr != Attribute::kFieldRestricted)
        v += ", " + values[1 - uniform(2)];
      if (out.size() > 1) out += ", ";
      out += std::string(ToString(attr)) + ": " +
             (uniform(3) == 0 ? "{not: [" + v + "]}" : "[" + v + "]");
    }
    return out + "}";
  };

  int violations = 0, proofs = 0, shadowed = 0;
  for (int iter = 0; iter < 60; ++iter) {
    std::string text = "version: 1\nrules:\n";
    const int rules = 1 + uniform(6);
    for (int i = 0; i < rules; ++i) {
      text +=
          "  - {id: r" + std::to_string(i) + ", effect: " +
          std::string(ToString(static_cast<Effect>(uniform(kEffectCount)))) +
          ", when: " + conditions(3) + "}\n";
    }
    text += "invariants:\n";
    for (int i = 0; i < 3; ++i) {
      text +=
          "  - {id: i" + std::to_string(i) + ", " +
          (uniform(2) ? "never" : "always") + ": " +
          std::string(ToString(static_cast<Effect>(uniform(kEffectCount)))) +
          ", when: " + conditions(2) + "}\n";
    }
    const Bundle b = MustParse(text);
    const AnalysisReport report = Analyze(b, AnalysisOptions{});

    // Brute force: every combination of the vocabulary plus one unnamed value
    // each, and every subset of roles.
    std::vector<bool> violated(b.invariants.size(), false);
    std::vector<bool> decides(b.rules.size(), false);
    RequestData r;
    r.principal_id = r.principal_kind = r.principal_org = r.principal_country =
        "x";
    r.principal_jurisdiction = r.subject_jurisdiction = "x";
    FieldData f{"n", "", false};
    const std::vector<std::string> purposes = {"p", "q", "zz"},
                                   dests = {"eu", "cn", "zz"},
                                   cats = {"contact", "content", "zz"},
                                   actions = {"read", "export", "erase"};
    for (int roles = 0; roles < 8; ++roles) {
      r.principal_roles.clear();
      if (roles & 1) r.principal_roles.push_back("a");
      if (roles & 2) r.principal_roles.push_back("b");
      if (roles & 4) r.principal_roles.push_back("zz");
      for (const auto& purpose : purposes)
        for (const auto& dest : dests)
          for (const auto& cat : cats)
            for (int restricted = 0; restricted < 2; ++restricted)
              for (const auto& action : actions) {
                r.purpose = purpose;
                r.destination = dest;
                r.action = action;
                f.category = cat;
                f.restricted = restricted;
                const ReferenceDecision d =
                    EvaluateReference(b, r.View(), f.View());
                if (d.deciding_rule >= 0) decides[d.deciding_rule] = true;
                for (size_t i = 0; i < b.invariants.size(); ++i) {
                  const Invariant& inv = b.invariants[i];
                  if (AllHold(inv.when, r.View(), f.View()) &&
                      inv.Forbidden().Contains(d.effect)) {
                    violated[i] = true;
                  }
                }
              }
    }
    std::vector<bool> reported_violation(b.invariants.size(), false);
    std::vector<bool> reported_shadow(b.rules.size(), false);
    for (const Finding& f : report.findings) {
      ASSERT_NE(f.kind, Finding::Kind::kSearchLimit);
      for (size_t i = 0; i < b.invariants.size(); ++i) {
        if (f.kind == Finding::Kind::kInvariantViolated &&
            f.message.find("'" + b.invariants[i].id + "'") !=
                std::string::npos) {
          reported_violation[i] = true;
          // The counterexample really violates the invariant.
          ASSERT_TRUE(f.counterexample.has_value());
          EXPECT_TRUE(AllHold(b.invariants[i].when,
                              f.counterexample->request.View(),
                              f.counterexample->field.View()));
          EXPECT_TRUE(
              b.invariants[i].Forbidden().Contains(f.counterexample->effect));
        }
      }
      for (size_t i = 0; i < b.rules.size(); ++i) {
        if (f.kind == Finding::Kind::kShadowedRule &&
            f.message.find("'" + b.rules[i].id + "'") != std::string::npos) {
          reported_shadow[i] = true;
        }
      }
    }
    for (size_t i = 0; i < b.invariants.size(); ++i) {
      EXPECT_EQ(reported_violation[i], violated[i]) << text << report.Format(b);
      (violated[i] ? violations : proofs)++;
    }
    for (size_t i = 0; i < b.rules.size(); ++i) {
      EXPECT_EQ(reported_shadow[i], !decides[i]) << text << report.Format(b);
      shadowed += !decides[i];
    }
  }
  // The generator must produce both outcomes.
  EXPECT_GT(violations, 10);
  EXPECT_GT(proofs, 10);
  EXPECT_GT(shadowed, 5);
}

}  // namespace
}  // namespace clover::policy
