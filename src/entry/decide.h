// The one place a decision is computed: the gateway decides each request with
// it before acting, and the auditor re-decides each logged decision entry with
// it (DecideEntry) to check what the gateway logged. Filling the policy
// request from a principal and expanding the rules that matched a field are
// written here only, so the two sides cannot drift apart.
//
// Everything is pure and thread-safe; the outputs hold views into the policy
// and the inputs, valid while those live.
#ifndef CLOVER_ENTRY_DECIDE_H_
#define CLOVER_ENTRY_DECIDE_H_

#include <span>
#include <vector>

#include "absl/strings/string_view.h"
#include "config/deployment.h"
#include "entry/log_entry.h"
#include "policy/compiled_policy.h"
#include "policy/decision.h"
#include "policy/request.h"

namespace clover::entry {

// What a request asks for, apart from who asks.
struct Action {
  absl::string_view purpose;
  absl::string_view
      action;  // read, export, detokenize, aggregate, write, erase
  absl::string_view subject_jurisdiction;  // empty when unknown or many
  absl::string_view destination;           // the jurisdiction the data goes to
  absl::string_view justification;  // approval justification code, or empty
};

// Whether `action` is interactive: its data goes to where the principal works,
// so its destination is the principal's jurisdiction (a read by staff in CN
// is a transfer to CN).
bool IsInteractive(absl::string_view action);

// The policy request of `who` (its attributes as the principal directory
// states them) doing `action`. Views into both.
policy::Request RequestOf(const Principal& who, const Action& action);

// Each field's decision and the ids of every rule that matched it (all of
// them, also past the policy's inline matches), index for index.
struct Verdicts {
  std::vector<policy::FieldDecision> decisions;
  std::vector<std::vector<absl::string_view>> matched;  // rule ids
};

// The id of the rule that decided `d`; empty for the default deny.
absl::string_view DecidingRuleId(const policy::CompiledPolicy& policy,
                                 const policy::FieldDecision& d);

// Decides `fields` for `request` under `policy` into `out` (its vectors are
// resized to fields.size(); their capacity is reused across calls).
void DecideFields(const policy::CompiledPolicy& policy,
                  const policy::Request& request,
                  std::span<const policy::FieldRef> fields, Verdicts* out);

// Decides the fields of logged decision `e` as the gateway that logged it had
// to: the principal's attributes come from `who` (the auditor's directory
// entry for e.principal_id), never from what the entry states, and an
// interactive action's destination is who's jurisdiction. With `who` null
// (no directory) the entry's stated attributes are used. Everything else
// (purpose, action, subject jurisdiction, destination, justification, the
// fields and their categories) is the entry's.
void DecideEntry(const policy::CompiledPolicy& policy, const Principal* who,
                 const DecisionEntry& e, Verdicts* out);

}  // namespace clover::entry

#endif  // CLOVER_ENTRY_DECIDE_H_
