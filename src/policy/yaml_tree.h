// The YAML tree the bundle parser reads: plain data with 1-based source
// positions.
//
// ParseYamlTree reads a document with yaml-cpp, the one YAML parser of policy
// bundles, and converts it to this tree (bounded in size and depth), so the
// bundle grammar never sees yaml-cpp's types or exceptions. A hand-written
// parser of the bundle subset used to sit in front of it; loading a
// 10,000-rule bundle with yaml-cpp alone takes well under a second
// (docs/policy.md), so a second parser for security-critical input had no
// measured need and was removed (issue 18).
#ifndef CLOVER_POLICY_YAML_TREE_H_
#define CLOVER_POLICY_YAML_TREE_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace clover::policy {

class YNode {
 public:
  enum class Kind { kUndefined, kNull, kScalar, kSequence, kMap };

  YNode() = default;
  explicit YNode(Kind kind, int line = 0, int column = 0)
      : kind_(kind), line_(line), column_(column) {}

  Kind kind() const { return kind_; }
  explicit operator bool() const { return kind_ != Kind::kUndefined; }
  bool IsNull() const { return kind_ == Kind::kNull; }
  bool IsScalar() const { return kind_ == Kind::kScalar; }
  bool IsSequence() const { return kind_ == Kind::kSequence; }
  bool IsMap() const { return kind_ == Kind::kMap; }
  int line() const {
    return line_;
  }  // 1-based; 0 when unknown (undefined nodes)
  int column() const { return column_; }  // 1-based

  const std::string& Scalar() const { return scalar_; }
  // Sequence items.
  size_t size() const {
    return kind_ == Kind::kMap ? entries_.size() : items_.size();
  }
  const YNode& operator[](size_t i) const { return items_[i]; }
  const std::vector<YNode>& items() const { return items_; }
  // Map entries in document order (duplicates kept); lookup returns the first
  // match or an undefined node.
  const std::vector<std::pair<YNode, YNode>>& entries() const {
    return entries_;
  }
  const YNode& operator[](absl::string_view key) const;

  // Construction (parsers only).
  void set_scalar(std::string s) { scalar_ = std::move(s); }
  std::vector<YNode>& mutable_items() { return items_; }
  std::vector<std::pair<YNode, YNode>>& mutable_entries() { return entries_; }

 private:
  Kind kind_ = Kind::kUndefined;
  int line_ = 0;
  int column_ = 0;
  std::string scalar_;
  std::vector<YNode> items_;
  std::vector<std::pair<YNode, YNode>> entries_;
};

// YAML 1.1 booleans as yaml-cpp reads them: true/false, yes/no, on/off, y/n in
// lower, Title or UPPER case. Returns false if `s` is none of them.
bool ParseYamlBool(absl::string_view s, bool* out);

// Parses one YAML document. Errors: InvalidArgument "line:col: message"
// (without a file name) for malformed YAML, or for anchors/aliases expanding
// past 1,000,000 nodes.
[[nodiscard]] absl::StatusOr<YNode> ParseYamlTree(absl::string_view text);

}  // namespace clover::policy

#endif  // CLOVER_POLICY_YAML_TREE_H_
