// Policy test cases: requests with the effect expected for each field.
//
//   deployment: deployment.yaml     # optional; relative to this file
//   cases:
//     - name: EU support reads an EU subject
//       request: {principal: eu-support-1, purpose: customer_support, action:
//       read,
//                 subject: {jurisdiction: eu}}
//       expect: {name: allow, email: allow, ip_address: pseudonymize}
//
// The request is a request spec (request_spec.h) whose fields default to the
// keys of `expect`.
#ifndef CLOVER_POLICY_TEST_CASES_H_
#define CLOVER_POLICY_TEST_CASES_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "config/deployment.h"
#include "policy/bundle.h"
#include "policy/compiled_policy.h"
#include "policy/request_spec.h"

namespace clover::policy {

struct PolicyCase {
  std::string name;
  SourcePos pos;
  RequestSpec spec;
  std::vector<Effect> expected;  // one per spec.fields
};

// The `deployment:` path named by a cases file, resolved against the file's
// directory; empty if it names none. Errors: InvalidArgument for malformed
// YAML.
[[nodiscard]] absl::StatusOr<std::string> CasesDeploymentPath(
    absl::string_view text, const std::string& filename);

// Every key a cases file may hold, as dotted paths ("cases[].expect",
// "cases[].request.principal.id"): the parser refuses any other.
std::vector<std::string> PolicyCaseKeys();

// Errors: InvalidArgument "file:line:col: field 'cases[3].expect.email':
// message".
[[nodiscard]] absl::StatusOr<std::vector<PolicyCase>> ParseCases(
    absl::string_view text, const std::string& filename,
    const Deployment* deployment);

struct CaseReport {
  int passed = 0;
  int failed = 0;
  std::string
      output;  // one line per case; failing cases followed by a per-field diff
};

// Runs every case through the compiled policy (and checks the reference
// evaluator agrees).
CaseReport RunCases(const CompiledPolicy& policy,
                    const std::vector<PolicyCase>& cases,
                    const std::string& cases_filename);

}  // namespace clover::policy

#endif  // CLOVER_POLICY_TEST_CASES_H_
