#include "policy/yaml_tree.h"

#include <functional>
#include <string>

#include "gtest/gtest.h"
#include "policy/bundle.h"

namespace clover::policy {
namespace {

// Positions must agree too: bundle errors name them.
void ExpectSamePositions(const YNode& a, const YNode& b,
                         const std::string& path) {
  if (a.IsMap() || a.IsSequence() || a.IsScalar()) {
    EXPECT_EQ(a.line(), b.line()) << path;
    EXPECT_EQ(a.column(), b.column()) << path;
  }
  for (size_t i = 0; i < a.items().size() && i < b.items().size(); ++i) {
    ExpectSamePositions(a.items()[i], b.items()[i],
                        path + "[" + std::to_string(i) + "]");
  }
  for (size_t i = 0; i < a.entries().size() && i < b.entries().size(); ++i) {
    ExpectSamePositions(a.entries()[i].first, b.entries()[i].first,
                        path + ".key");
    ExpectSamePositions(a.entries()[i].second, b.entries()[i].second,
                        path + "." + a.entries()[i].first.Scalar());
  }
}

void ExpectFastAgrees(const std::string& text) {
  absl::StatusOr<YNode> fast = ParseYamlTreeFast(text);
  ASSERT_TRUE(fast.ok()) << "fast parser refused:\n" << text;
  absl::StatusOr<YNode> slow = ParseYamlTreeWithYamlCpp(text);
  ASSERT_TRUE(slow.ok()) << slow.status();
  EXPECT_TRUE(fast->SameAs(*slow)) << text;
  ExpectSamePositions(*fast, *slow, "");
}

TEST(YamlTreeTest, FastParserReadsTheExamplesLikeYamlCpp) {
  for (const char* file :
       {"examples/policy.yaml", "examples/policy-cases.yaml"}) {
    SCOPED_TRACE(file);
    absl::StatusOr<std::string> text = ReadFileToString(file);
    ASSERT_TRUE(text.ok());
    ExpectFastAgrees(*text);
  }
}

TEST(YamlTreeTest, FastParserSubset) {
  for (const char* text : {
           "",
           "# only a comment\n",
           "a: 1\nb: two words  # comment\nc:\nd: ~\ne: null\n",
           "list:\n- a\n- b\nafter: x\n",
           "list:\n  - a\n  -   b\n  -\n    nested: map\n",
           "rules:\n  - id: r\n    when:\n      x: [a, b]\n      y: {not: [c, "
           "'d e']}\n",
           "flow: {a: [1, 2, {b: c}], d: \"q\\\"uote\", e: 'it''s'}\n",
           "multi: {a: b,\n        c: [d,\n            e]}\nnext: 1\n",
           "folded: >-\n  one\n  two\n\n  three\nnext: x\n",
           "literal: |\n  one\n  two\n\nnext: x\n",
           "clip: >\n  a\n  b\n",
           "url: http://example.com/a#b\n",
           "empty: []\nalso: {}\n",
           "- a\n- b: c\n  d: e\n- [x]\n",
       }) {
    SCOPED_TRACE(text);
    ExpectFastAgrees(text);
  }
}

TEST(YamlTreeTest, OutsideTheSubsetFallsBackToYamlCpp) {
  for (const char* text : {
           "a: &x 1\nb: *x\n",
           "a: !!str 1\n",
           "a: b\n  c\n",  // multi-line plain scalar
           "a:\tb\n",
           "--- \na: 1\n",
           // Document markers after the first line (found by
           // fuzz_policy_bundle).
           "a:\n  - b: c\n... d: e\n",
           "a: 1\n...\n",
           "a: 1\n---\nb: 2\n",
           "a: 1\n---x: 2\n",
           "a: [b, ]\n",
           "a: \"\\u00e9\"\n",
           "a: caf\xc3\xa9\n",
       }) {
    SCOPED_TRACE(text);
    EXPECT_EQ(ParseYamlTreeFast(text).status().code(),
              absl::StatusCode::kUnimplemented);
    absl::StatusOr<YNode> slow = ParseYamlTreeWithYamlCpp(text);
    absl::StatusOr<YNode> both = ParseYamlTree(text);
    ASSERT_EQ(slow.ok(), both.ok());
    if (slow.ok()) {
      EXPECT_TRUE(slow->SameAs(*both));
    }
  }
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
}

TEST(YamlTreeTest, Bools) {
  bool b = false;
  EXPECT_TRUE(ParseYamlBool("yes", &b) && b);
  EXPECT_TRUE(ParseYamlBool("False", &b) && !b);
  EXPECT_FALSE(ParseYamlBool("maybe", &b));
}

}  // namespace
}  // namespace clover::policy
