#include "entry/field_groups.h"

#include <string>

#include "core/canonical_json.h"
#include "gtest/gtest.h"

namespace clover::entry {
namespace {

// Fields decided alike share one group; categories are sorted as canonical
// JSON sorts member names, and names keep their order within a category.
TEST(FieldGroupsTest, GroupsFieldsDecidedAlike) {
  absl::string_view allow_rules[] = {"support-reads"};
  absl::string_view deny_rules[] = {"support-reads", "no-payment"};
  FieldOutcome fields[] = {
      {"phone", "contact", true, "allow", "support-reads", allow_rules},
      {"name", "identity", false, "allow", "support-reads", allow_rules},
      {"card", "financial", true, "deny", "no-payment", deny_rules},
      {"email", "contact", true, "allow", "support-reads", allow_rules},
      {"bio", "b\"io\u00e9", false, "allow", "support-reads", allow_rules},
  };
  std::string json;
  AppendFieldGroupsJson(fields, &json);
  EXPECT_EQ(json, R"([{"decided_by":"support-reads","effect":"allow",)"
                  R"("fields":{"b\"ioé":["bio"],"contact":["phone","email"],)"
                  R"("identity":["name"]},"restricted":["phone","email"],)"
                  R"("rules":["support-reads"]},)"
                  R"({"decided_by":"no-payment","effect":"deny",)"
                  R"("fields":{"financial":["card"]},"restricted":["card"],)"
                  R"("rules":["support-reads","no-payment"]}])");
  auto canonical = CanonicalizeJson(json);
  ASSERT_TRUE(canonical.ok()) << canonical.status();
  EXPECT_EQ(*canonical, json);
}

// No fields, no groups.
TEST(FieldGroupsTest, Empty) {
  std::string json;
  AppendFieldGroupsJson({}, &json);
  EXPECT_EQ(json, "[]");
}

}  // namespace
}  // namespace clover::entry
