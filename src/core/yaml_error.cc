#include "core/yaml_error.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace clover {
namespace {

std::string Where(absl::string_view file, const YAML::Mark& mark) {
  std::string where(file);
  if (!mark.is_null())
    absl::StrAppend(&where, ":", mark.line + 1, ":", mark.column + 1);
  return where;
}

}  // namespace

absl::Status YamlError(absl::string_view file, const YAML::Mark& mark,
                       absl::string_view field, absl::string_view message) {
  if (field.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(Where(file, mark), ": ", message));
  }
  return absl::InvalidArgumentError(
      absl::StrCat(Where(file, mark), ": field '", field, "': ", message));
}

absl::Status YamlError(absl::string_view file, const YAML::Node& node,
                       absl::string_view field, absl::string_view message) {
  return YamlError(file, node.Mark(), field, message);
}

absl::Status YamlSyntaxError(absl::string_view file, const YAML::Exception& e,
                             absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat(Where(file, e.mark), ": ", what, e.msg));
}

absl::StatusOr<YAML::Node> LoadYamlFile(const std::string& path,
                                        absl::string_view what) {
  try {
    return YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    return absl::NotFoundError(
        absl::StrCat("cannot read ", what, " '", path, "'"));
  } catch (const YAML::Exception& e) {
    return YamlSyntaxError(path, e);
  }
}

}  // namespace clover
