// Static analysis of a bundle: invariant proofs with counterexamples, shadowed
// rules, and names the deployment does not define.
//
// The proof domain is finite: every value the bundle or the deployment names,
// plus one "any other value" per attribute (written "<other>" in
// counterexamples). With a deployment, principals are each configured principal
// (with its real kind, org, roles, country and jurisdiction) plus any other
// principal whose jurisdiction follows from its country; fields are each schema
// field (with its real category and restricted flag) plus any other field. The
// search assigns one attribute group at a time and prunes every branch in which
// the rules still able to match cannot produce the effect being looked for, so
// it visits far fewer states than the product of the domains.
#ifndef CLOVER_POLICY_ANALYZER_H_
#define CLOVER_POLICY_ANALYZER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "config/deployment.h"
#include "policy/bundle.h"
#include "policy/request_data.h"

namespace clover::policy {

// A concrete request (one field) and what the bundle decides for it.
struct Counterexample {
  RequestData request;
  FieldData field;
  Effect effect = Effect::kDeny;
  int deciding_rule = -1;  // kDefaultDeny if none
  std::vector<int> matched;
  // Multi-line, indented description naming the rules by id.
  std::string Describe(const Bundle& bundle) const;
};

struct Finding {
  enum class Severity { kError, kWarning };
  enum class Kind {
    kInvariantViolated,
    kShadowedRule,
    kUnknownName,
    kSearchLimit
  };
  Severity severity = Severity::kError;
  Kind kind = Kind::kUnknownName;
  SourcePos pos;
  std::string message;  // one line, without the position
  std::optional<Counterexample> counterexample;
};

struct AnalysisOptions {
  const Deployment* deployment =
      nullptr;  // enables unknown-name checks and real entities
  bool check_shadowed = true;
  // Upper bound on search states per proof; exceeding it is an error finding,
  // never a hang.
  uint64_t max_states = 20'000'000;
};

struct AnalysisReport {
  std::vector<Finding> findings;
  uint64_t states_visited = 0;
  bool ok() const;  // no error findings
  // "file:line:col: error: message" lines, counterexamples indented below their
  // finding.
  std::string Format(const Bundle& bundle) const;
};

// Runs every check. Thread-safe (pure function of its arguments).
AnalysisReport Analyze(const Bundle& bundle, const AnalysisOptions& options);

// Proves only the invariants (what a node does before it starts deciding with a
// bundle). Errors: FailedPrecondition with the first violated invariant and its
// counterexample.
[[nodiscard]] absl::Status ProveInvariants(const Bundle& bundle,
                                           const Deployment* deployment);

}  // namespace clover::policy

#endif  // CLOVER_POLICY_ANALYZER_H_
