#include "entry/decide.h"

#include <string>
#include <vector>

#include "entry/decision_record.h"
#include "entry/field_groups.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "policy/bundle.h"

namespace clover::entry {
namespace {

using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

std::shared_ptr<const policy::CompiledPolicy> MustCompile(
    const std::string& text) {
  absl::StatusOr<policy::Bundle> b = policy::ParseBundle(text, "t.yaml");
  EXPECT_TRUE(b.ok()) << b.status();
  absl::StatusOr<std::shared_ptr<const policy::CompiledPolicy>> p =
      policy::CompiledPolicy::Compile(*b);
  EXPECT_TRUE(p.ok()) << p.status();
  return *p;
}

constexpr char kBundle[] = R"(version: 1
rules:
  - id: support-reads-eu
    effect: allow
    when: {principal.role: support, purpose: customer_support, destination: eu}
  - id: no-contact-abroad
    effect: deny
    when: {destination: {not: eu}, field.category: contact}
  - id: pseudonymize-abroad
    effect: pseudonymize
    when: {principal.jurisdiction: {not: eu}, purpose: customer_support}
)";

Principal Support(std::string country, std::string jurisdiction) {
  Principal p;
  p.id = "support-1";
  p.kind = PrincipalKind::kEmployee;
  p.org = "support";
  p.roles = {"support"};
  p.country = std::move(country);
  p.jurisdiction = std::move(jurisdiction);
  return p;
}

// What the gateway logs for `who` reading `fields` (destination: where the
// reader works), through the writer and back through the reader.
DecisionEntry Logged(const policy::CompiledPolicy& policy, const Principal& who,
                     const std::vector<policy::FieldRef>& fields) {
  Verdicts v;
  DecideFields(
      policy,
      RequestOf(who, {"customer_support", "read", "eu", who.jurisdiction, ""}),
      fields, &v);
  DecisionEntry e;
  e.time = absl::FromUnixSeconds(1795910400);
  e.node = "n";
  e.region = "eu";
  e.principal_id = who.id;
  e.principal_kind = std::string(ToString(who.kind));
  e.principal_org = who.org;
  e.principal_roles = who.roles;
  e.principal_country = who.country;
  e.principal_jurisdiction = who.jurisdiction;
  e.purpose = "customer_support";
  e.action = "read";
  e.destination = who.jurisdiction;
  e.subject = "cHNldWRv";
  e.subject_jurisdiction = "eu";
  e.policy = policy.sha256();
  for (size_t i = 0; i < fields.size(); ++i) {
    FieldEntry f;
    f.name = std::string(fields[i].name);
    f.category = std::string(fields[i].category);
    f.restricted = fields[i].restricted;
    f.effect = v.decisions[i].effect;
    f.decided_by = std::string(DecidingRuleId(policy, v.decisions[i]));
    for (absl::string_view id : v.matched[i]) f.rules.emplace_back(id);
    e.fields.push_back(std::move(f));
  }
  LogEntry read;
  absl::Status s = ParseLogEntry(DecisionJson(e), &read);
  EXPECT_TRUE(s.ok()) << s;
  return read.decision;
}

// The gateway's decision, written and read back, is what the auditor's
// replay re-derives: the two sides share one decision function.
TEST(DecideTest, ReplayOfWhatTheGatewayLoggedAgrees) {
  auto policy = MustCompile(kBundle);
  const std::vector<policy::FieldRef> fields = {{"email", "contact", false},
                                                {"name", "identity", false}};
  for (const Principal& who : {Support("IE", "eu"), Support("US", "us")}) {
    DecisionEntry e = Logged(*policy, who, fields);
    Verdicts replay;
    DecideEntry(*policy, &who, e, &replay);
    ASSERT_EQ(replay.decisions.size(), e.fields.size());
    for (size_t i = 0; i < e.fields.size(); ++i) {
      const FieldEntry& f = e.fields[i];
      EXPECT_EQ(replay.decisions[i].effect, f.effect) << who.country << f.name;
      EXPECT_EQ(DecidingRuleId(*policy, replay.decisions[i]), f.decided_by);
      std::vector<std::string> ids(replay.matched[i].begin(),
                                   replay.matched[i].end());
      std::vector<std::string> logged = f.rules;
      std::sort(ids.begin(), ids.end());
      std::sort(logged.begin(), logged.end());
      EXPECT_EQ(ids, logged);
    }
  }
}

// The directory decides who the principal is: an entry claiming EU
// attributes for a US reader is replayed as the US reader it is.
TEST(DecideTest, DirectoryAttributesOverrideWhatTheEntryStates) {
  auto policy = MustCompile(kBundle);
  const std::vector<policy::FieldRef> fields = {{"email", "contact", false}};
  DecisionEntry claimed = Logged(*policy, Support("IE", "eu"), fields);
  ASSERT_EQ(claimed.fields[0].effect, policy::Effect::kAllow);
  const Principal real = Support("US", "us");
  Verdicts v;
  DecideEntry(*policy, &real, claimed, &v);
  // Destination is where the reader really works (us), so contact data is
  // denied, whatever destination the entry states.
  EXPECT_EQ(v.decisions[0].effect, policy::Effect::kDeny);
  EXPECT_EQ(DecidingRuleId(*policy, v.decisions[0]), "no-contact-abroad");
  EXPECT_THAT(v.matched[0],
              UnorderedElementsAre("no-contact-abroad", "pseudonymize-abroad"));
  // Without a directory the entry's own statements are all there is.
  Verdicts stated;
  DecideEntry(*policy, nullptr, claimed, &stated);
  EXPECT_EQ(stated.decisions[0].effect, policy::Effect::kAllow);
}

TEST(DecideTest, InteractiveActions) {
  EXPECT_TRUE(IsInteractive("read"));
  EXPECT_TRUE(IsInteractive("detokenize"));
  EXPECT_FALSE(IsInteractive("export"));
  EXPECT_FALSE(IsInteractive("aggregate"));
  EXPECT_FALSE(IsInteractive("write"));
}

// More matching rules than a decision keeps inline are all listed.
TEST(DecideTest, MatchedRulesAreExpandedPastTheInlineOnes) {
  std::string text = "version: 1\nrules:\n";
  for (int i = 0; i < policy::kMaxInlineMatches + 6; ++i) {
    text += "  - id: r" + std::to_string(i) +
            "\n    effect: pseudonymize\n    when: {purpose: p}\n";
  }
  auto policy = MustCompile(text);
  const std::vector<policy::FieldRef> fields = {{"name", "identity", false}};
  Principal who = Support("IE", "eu");
  Verdicts v;
  DecideFields(*policy, RequestOf(who, {"p", "read", "eu", "eu", ""}), fields,
               &v);
  EXPECT_EQ(v.matched[0].size(), policy::kMaxInlineMatches + 6u);
  EXPECT_EQ(DecidingRuleId(*policy, v.decisions[0]), "r0");
  // A second call reuses the output without leftovers.
  DecideFields(*policy, RequestOf(who, {"q", "read", "eu", "eu", ""}), fields,
               &v);
  EXPECT_THAT(v.matched[0], ElementsAre());
  EXPECT_EQ(DecidingRuleId(*policy, v.decisions[0]), "");
}

}  // namespace
}  // namespace clover::entry
