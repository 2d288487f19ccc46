#include "policy/yaml_tree.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "yaml-cpp/yaml.h"

namespace clover::policy {
namespace {

constexpr size_t kMaxNodes = 1'000'000;

absl::Status Convert(const YAML::Node& in, YNode& out, size_t& budget,
                     int depth) {
  if (budget == 0 || --budget == 0 || depth > 1000) {
    return absl::InvalidArgumentError("document too large or too deep");
  }
  const YAML::Mark m = in.Mark();
  const int line = m.is_null() ? 0 : m.line + 1;
  const int column = m.is_null() ? 0 : m.column + 1;
  switch (in.Type()) {
    case YAML::NodeType::Undefined:
      out = YNode();
      return absl::OkStatus();
    case YAML::NodeType::Null:
      out = YNode(YNode::Kind::kNull, line, column);
      return absl::OkStatus();
    case YAML::NodeType::Scalar:
      out = YNode(YNode::Kind::kScalar, line, column);
      out.set_scalar(in.Scalar());
      return absl::OkStatus();
    case YAML::NodeType::Sequence:
      out = YNode(YNode::Kind::kSequence, line, column);
      for (const YAML::Node& item : in) {
        out.mutable_items().emplace_back();
        if (absl::Status s =
                Convert(item, out.mutable_items().back(), budget, depth + 1);
            !s.ok()) {
          return s;
        }
      }
      return absl::OkStatus();
    case YAML::NodeType::Map:
      out = YNode(YNode::Kind::kMap, line, column);
      for (const auto& kv : in) {
        out.mutable_entries().emplace_back();
        auto& [k, v] = out.mutable_entries().back();
        if (absl::Status s = Convert(kv.first, k, budget, depth + 1); !s.ok())
          return s;
        if (absl::Status s = Convert(kv.second, v, budget, depth + 1); !s.ok())
          return s;
      }
      return absl::OkStatus();
  }
  return absl::OkStatus();
}

}  // namespace

const YNode& YNode::operator[](absl::string_view key) const {
  static const YNode* const kUndefined = new YNode();
  for (const auto& [k, v] : entries_) {
    if (k.IsScalar() && k.Scalar() == key) return v;
  }
  return *kUndefined;
}

bool ParseYamlBool(absl::string_view s, bool* out) {
  static constexpr absl::string_view kTrue[] = {
      "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"};
  static constexpr absl::string_view kFalse[] = {
      "n",     "N",     "no",  "No",  "NO", "false",
      "False", "FALSE", "off", "Off", "OFF"};
  for (absl::string_view t : kTrue) {
    if (s == t) return *out = true, true;
  }
  for (absl::string_view f : kFalse) {
    if (s == f) return *out = false, true;
  }
  return false;
}

absl::StatusOr<YNode> ParseYamlTree(absl::string_view text) {
  YAML::Node root;
  // yaml-cpp reports errors by exception; this is the third-party boundary.
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    std::string where;
    if (!e.mark.is_null())
      where = absl::StrCat(e.mark.line + 1, ":", e.mark.column + 1, ": ");
    return absl::InvalidArgumentError(
        absl::StrCat(where, "invalid YAML: ", e.msg));
  }
  YNode out;
  size_t budget = kMaxNodes;
  if (absl::Status s = Convert(root, out, budget, 0); !s.ok()) return s;
  return out;
}

}  // namespace clover::policy
