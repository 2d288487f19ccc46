#include "policy/yaml_tree.h"

#include <string>

#include "gtest/gtest.h"

namespace clover::policy {
namespace {

// Bundle errors name file:line:column from these positions (1-based).
TEST(YamlTreeTest, NodesCarryTheirPositions) {
  absl::StatusOr<YNode> root = ParseYamlTree("a: 1\nrules:\n  - id: x\n");
  ASSERT_TRUE(root.ok()) << root.status();
  const YNode& rules = (*root)["rules"];
  ASSERT_TRUE(rules.IsSequence());
  const YNode& id = rules[0]["id"];
  ASSERT_TRUE(id.IsScalar());
  EXPECT_EQ(id.Scalar(), "x");
  EXPECT_EQ(id.line(), 3);
  EXPECT_EQ(id.column(), 9);
  EXPECT_FALSE((*root)["missing"]);
}

TEST(YamlTreeTest, AliasesExpand) {
  absl::StatusOr<YNode> aliased = ParseYamlTree("a: &x [1, 2]\nb: *x\n");
  ASSERT_TRUE(aliased.ok());
  EXPECT_EQ((*aliased)["b"].size(), 2u);
}

TEST(YamlTreeTest, MalformedYamlNamesThePosition) {
  absl::StatusOr<YNode> bad = ParseYamlTree("a: [b\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(bad.status().message()).find("invalid YAML"),
            std::string::npos);
  EXPECT_EQ(std::string(bad.status().message()).rfind("2:1: ", 0), 0u)
      << bad.status();
}

TEST(YamlTreeTest, Bools) {
  bool b = false;
  EXPECT_TRUE(ParseYamlBool("yes", &b) && b);
  EXPECT_TRUE(ParseYamlBool("False", &b) && !b);
  EXPECT_FALSE(ParseYamlBool("maybe", &b));
}

}  // namespace
}  // namespace clover::policy
