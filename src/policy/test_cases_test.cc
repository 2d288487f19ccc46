#include "policy/test_cases.h"

#include <string>

#include "config/deployment.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace clover::policy {
namespace {

using ::testing::HasSubstr;

TEST(TestCasesTest, ExampleCasesPassAndCoverEveryPrincipal) {
  absl::StatusOr<std::string> text =
      ReadFileToString("examples/policy-cases.yaml");
  ASSERT_TRUE(text.ok()) << text.status();
  absl::StatusOr<std::string> dep_path =
      CasesDeploymentPath(*text, "examples/policy-cases.yaml");
  ASSERT_TRUE(dep_path.ok());
  EXPECT_EQ(*dep_path, "examples/deployment.yaml");
  absl::StatusOr<Deployment> d = LoadDeployment(*dep_path);
  ASSERT_TRUE(d.ok()) << d.status();
  absl::StatusOr<std::vector<PolicyCase>> cases =
      ParseCases(*text, "examples/policy-cases.yaml", &*d);
  ASSERT_TRUE(cases.ok()) << cases.status();
  EXPECT_GE(cases->size(), 25u);
  for (const Principal& p : d->principals) {
    EXPECT_TRUE(std::any_of(cases->begin(), cases->end(),
                            [&](const PolicyCase& c) {
                              return c.spec.request.principal_id == p.id;
                            }))
        << "no case for principal " << p.id;
  }
  absl::StatusOr<Bundle> b = LoadBundle("examples/policy.yaml");
  ASSERT_TRUE(b.ok()) << b.status();
  auto policy = CompiledPolicy::Compile(*b);
  ASSERT_TRUE(policy.ok());
  const CaseReport report =
      RunCases(**policy, *cases, "examples/policy-cases.yaml");
  EXPECT_EQ(report.failed, 0) << report.output;
  EXPECT_EQ(report.passed, static_cast<int>(cases->size()));
}

Deployment SmallDeployment() {
  Deployment d;
  d.jurisdictions = {{"eu", "EU", {"IE"}}, {"us", "US", {"US"}}};
  d.schema.fields = {{"email", "contact", true}, {"name", "identity", false}};
  Principal p;
  p.id = "agent";
  p.kind = PrincipalKind::kEmployee;
  p.org = "o";
  p.roles = {"support"};
  p.country = "IE";
  p.jurisdiction = "eu";
  d.principals = {p};
  return d;
}

TEST(TestCasesTest, MismatchIsReportedAsADiff) {
  const Deployment d = SmallDeployment();
  absl::StatusOr<Bundle> b = ParseBundle(
      "version: 1\nrules:\n  - {id: r, effect: allow, when: {field.name: "
      "name}}\n",
      "p.yaml");
  ASSERT_TRUE(b.ok());
  const std::string cases_text = R"(cases:
  - name: reads
    request: {principal: agent, purpose: x, action: read, subject: {jurisdiction: eu}}
    expect: {name: allow, email: allow}
)";
  absl::StatusOr<std::vector<PolicyCase>> cases =
      ParseCases(cases_text, "c.yaml", &d);
  ASSERT_TRUE(cases.ok()) << cases.status();
  ASSERT_EQ(cases->size(), 1u);
  EXPECT_EQ((*cases)[0].spec.request.destination,
            "eu");  // the principal's jurisdiction
  auto policy = CompiledPolicy::Compile(*b);
  ASSERT_TRUE(policy.ok());
  const CaseReport report = RunCases(**policy, *cases, "c.yaml");
  EXPECT_EQ(report.failed, 1);
  EXPECT_THAT(report.output, HasSubstr("FAIL  reads (c.yaml:2)"));
  EXPECT_THAT(report.output, HasSubstr("email"));
  EXPECT_THAT(report.output, HasSubstr("expected allow"));
  EXPECT_THAT(report.output, HasSubstr("got deny"));
  EXPECT_THAT(report.output, HasSubstr("default deny"));
  EXPECT_THAT(report.output, ::testing::Not(HasSubstr("name  ")));
}

TEST(TestCasesTest, BadCasesNameTheLine) {
  const Deployment d = SmallDeployment();
  struct Bad {
    const char* text;
    const char* expect;
  };
  for (const Bad& bad : std::vector<Bad>{
           {"cases:\n  - request: {principal: nobody, purpose: x, action: read,"
            " subject: {jurisdiction: eu}}\n    expect: {name: allow}\n",
            "c.yaml:2:26: field 'principal': no principal 'nobody'"},
           {"cases:\n  - request: {principal: agent, purpose: x, action: read,"
            " subject: {jurisdiction: eu}}\n    expect: {name: permit}\n",
            "c.yaml:3:20: field 'cases[0].expect.name': expected an effect"},
           {"cases:\n  - request: {principal: agent, purpose: x, action: read,"
            " subject: {jurisdiction: eu}}\n    expect: {nmae: allow}\n",
            "c.yaml:3:14: field 'cases[0].expect.nmae': no field 'nmae'"},
           {"cases:\n  - request: {principal: agent, purpose: x, action: fly,"
            " subject: {jurisdiction: eu}}\n    expect: {name: allow}\n",
            "unknown action 'fly'"},
           {"cases: [\n", "c.yaml:2:1: invalid YAML"},
           {"tests: []\n", "field 'tests': unknown key"},
       }) {
    absl::StatusOr<std::vector<PolicyCase>> cases =
        ParseCases(bad.text, "c.yaml", &d);
    ASSERT_FALSE(cases.ok()) << bad.text;
    EXPECT_THAT(std::string(cases.status().message()), HasSubstr(bad.expect));
  }
}

TEST(RequestSpecTest, ParsesJsonWithExplicitPrincipalAndFields) {
  absl::StatusOr<RequestSpec> spec = ParseRequestText(
      R"({"principal": {"id": "p", "kind": "service", "org": "o", "roles": ["a", "b"],
          "country": "US", "jurisdiction": "us"},
          "purpose": "recommendation", "action": "export", "destination": "us",
          "subject": {"jurisdiction": "eu"}, "justification": "J-1",
          "fields": [{"name": "f", "category": "behavior", "restricted": false}]})",
      "req.json", nullptr);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->request.principal_roles,
            (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(spec->request.destination, "us");
  EXPECT_EQ(spec->request.approval_justification, "J-1");
  ASSERT_EQ(spec->fields.size(), 1u);
  EXPECT_EQ(spec->fields[0].category, "behavior");
  absl::StatusOr<RequestSpec> bad =
      ParseRequestText("{\"principal\": ", "req.json", nullptr);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("req.json:1:"));
}

}  // namespace
}  // namespace clover::policy
