// Requests written as text, for `clover policy explain` and policy test cases:
//
//   principal: eu-support-1            # a deployment principal, or a map:
//   # principal: {id: x, kind: employee, org: o, roles: [a], country: CN}
//   purpose: customer_support
//   action: read
//   subject: {jurisdiction: eu}        # or {country: IE} with a deployment
//   destination: eu                    # default: the principal's jurisdiction
//   justification: LEGAL-1234          # optional
//   fields: [email, phone]             # schema names, or maps {name, category,
//   restricted}
//
// JSON is accepted too (it is YAML).
#ifndef CLOVER_POLICY_REQUEST_SPEC_H_
#define CLOVER_POLICY_REQUEST_SPEC_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "config/deployment.h"
#include "policy/request_data.h"
#include "yaml-cpp/yaml.h"

namespace clover::policy {

struct RequestSpec {
  RequestData request;
  std::vector<FieldData> fields;
};

// Reads a request from `node`. `deployment` (may be null) resolves principal
// ids, field names and countries; without one, principals and fields must be
// spelled out. When `fields_required` is false a missing `fields` key yields no
// fields. Errors: InvalidArgument "file:line:col: field 'x': message". Never
// throws.
// Every key a request description may hold, as dotted paths
// ("principal.country", "fields[].name"): the parser refuses any other.
std::vector<std::string> RequestSpecKeys();

[[nodiscard]] absl::StatusOr<RequestSpec> ParseRequestSpec(
    const YAML::Node& node, const std::string& filename,
    const Deployment* deployment, bool fields_required);

// Same, from YAML or JSON text.
[[nodiscard]] absl::StatusOr<RequestSpec> ParseRequestText(
    absl::string_view text, const std::string& filename,
    const Deployment* deployment);

// A schema field by name. Errors: InvalidArgument if the schema has no such
// field.
[[nodiscard]] absl::StatusOr<FieldData> ResolveField(
    absl::string_view name, const Deployment& deployment);

}  // namespace clover::policy

#endif  // CLOVER_POLICY_REQUEST_SPEC_H_
