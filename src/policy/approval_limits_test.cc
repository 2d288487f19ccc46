#include "policy/approval_limits.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace clover::policy {
namespace {

using ::testing::ElementsAre;

constexpr char kBundle[] = R"(version: 1
rules:
  - id: legal-needs-approval
    effect: approval
    params: {approver_role: approver, max_duration: 8h}
    when: {principal.role: legal, purpose: legal_request, action: [read, export]}
  - id: contact-needs-dpo
    effect: approval
    params: {approver_role: dpo, max_duration: 1h}
    when: {principal.role: legal, field.category: contact, subject.jurisdiction: eu}
  - id: support-needs-lead
    effect: approval
    params: {approver_role: lead, max_duration: 30m}
    when: {principal.role: support}
  - id: allow-legal
    effect: allow
    when: {principal.role: legal, destination: us}
)";

Request Legal(absl::string_view subject_jurisdiction) {
  static const std::vector<std::string> roles = {"legal"};
  Request r;
  r.principal_id = "us-legal-1";
  r.principal_kind = "employee";
  r.principal_roles = roles;
  r.principal_country = "US";
  r.principal_jurisdiction = "us";
  r.subject_jurisdiction = subject_jurisdiction;
  return r;
}

TEST(ApprovalLimitsTest, TakesEveryApprovalRuleThatMayDecide) {
  absl::StatusOr<Bundle> b = ParseBundle(kBundle, "t.yaml");
  ASSERT_TRUE(b.ok()) << b.status();
  const std::vector<FieldRef> name = {{"name", "identity", false}};
  const std::vector<FieldRef> email = {{"email", "contact", true},
                                       {"name", "identity", false}};

  ApprovalLimits limits;
  AddApprovalLimits(*b, Legal("eu"), name, limits);
  // Purpose and action are open: the 8h rule is concerned; the contact rule
  // is not (no contact field), nor the support rule (role).
  EXPECT_THAT(limits.rules, ElementsAre(0));
  EXPECT_THAT(limits.approver_roles, ElementsAre("approver"));
  EXPECT_EQ(limits.max_duration, absl::Hours(8));
  EXPECT_EQ(limits.max_duration_rule, "legal-needs-approval");

  ApprovalLimits contact;
  AddApprovalLimits(*b, Legal("eu"), email, contact);
  EXPECT_THAT(contact.rules, ElementsAre(0, 1));
  EXPECT_THAT(contact.approver_roles, ElementsAre("approver", "dpo"));
  EXPECT_EQ(contact.max_duration, absl::Hours(1));
  EXPECT_EQ(contact.max_duration_rule, "contact-needs-dpo");

  // A US subject is outside the contact rule; an unknown one is not.
  ApprovalLimits us;
  AddApprovalLimits(*b, Legal("us"), email, us);
  EXPECT_EQ(us.max_duration, absl::Hours(8));
  ApprovalLimits unknown;
  AddApprovalLimits(*b, Legal(""), email, unknown);
  EXPECT_EQ(unknown.max_duration, absl::Hours(1));

  // Merging over jurisdictions keeps each rule once.
  AddApprovalLimits(*b, Legal("us"), email, contact);
  EXPECT_THAT(contact.rules, ElementsAre(0, 1));

  ApprovalLimits none;
  Request nobody = Legal("eu");
  const std::vector<std::string> other = {"analytics"};
  nobody.principal_roles = other;
  AddApprovalLimits(*b, nobody, email, none);
  EXPECT_TRUE(none.rules.empty());
  EXPECT_EQ(none.max_duration, absl::InfiniteDuration());
}

}  // namespace
}  // namespace clover::policy
