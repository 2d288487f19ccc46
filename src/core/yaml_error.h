// The one way Clover reports a fault in a YAML file it reads (deployment and
// auditor configurations, policy requests and test cases): "file:line:col:
// field 'a.b': message", so that an operator can jump to the place.
#ifndef CLOVER_CORE_YAML_ERROR_H_
#define CLOVER_CORE_YAML_ERROR_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "yaml-cpp/yaml.h"

namespace clover {

// InvalidArgument "file:line:col: field 'field': message" (1-based line and
// column; without them when `mark` is null; without the field part when
// `field` is empty).
[[nodiscard]] absl::Status YamlError(absl::string_view file,
                                     const YAML::Mark& mark,
                                     absl::string_view field,
                                     absl::string_view message);
[[nodiscard]] absl::Status YamlError(absl::string_view file,
                                     const YAML::Node& node,
                                     absl::string_view field,
                                     absl::string_view message);

// InvalidArgument "file:line:col: <what>yaml-cpp's message" for a document
// yaml-cpp could not read (`what` e.g. "invalid YAML: ", may be empty).
[[nodiscard]] absl::Status YamlSyntaxError(absl::string_view file,
                                           const YAML::Exception& e,
                                           absl::string_view what = {});

// Reads and parses the YAML file `path`. Errors: NotFound "cannot read
// <what> 'path'"; InvalidArgument "path:line:col: yaml-cpp's message".
[[nodiscard]] absl::StatusOr<YAML::Node> LoadYamlFile(const std::string& path,
                                                      absl::string_view what);

}  // namespace clover

#endif  // CLOVER_CORE_YAML_ERROR_H_
