// The YAML tree the bundle parser reads: plain data with 1-based source
// positions.
//
// ParseYamlTree reads the subset of YAML that policy bundles are written in
// (block maps and sequences, flow maps and sequences, plain and quoted scalars,
// folded and literal block scalars, comments) with a small hand-written parser,
// about thirty times faster than yaml-cpp's (a 10,000-rule bundle in tens of
// milliseconds). Anything outside that subset (anchors, tags, multi-line plain
// scalars, ...) falls back to yaml-cpp, so every YAML document is read exactly
// as yaml-cpp reads it; the fuzzer checks the two agree.
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

  // Structural equality (kinds, scalars, children), positions ignored.
  bool SameAs(const YNode& other) const;

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

// The two halves, exposed for the differential fuzzer: the fast parser
// (nullopt-like Unimplemented status when the text leaves its subset) and
// yaml-cpp.
[[nodiscard]] absl::StatusOr<YNode> ParseYamlTreeFast(absl::string_view text);
[[nodiscard]] absl::StatusOr<YNode> ParseYamlTreeWithYamlCpp(
    absl::string_view text);

}  // namespace clover::policy

#endif  // CLOVER_POLICY_YAML_TREE_H_
