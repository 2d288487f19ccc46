// The one writer of decision entries: the gateway appends them to the
// transparency log before returning data, and the auditor's tests and
// benchmark write theirs with it too, so what the reader (log_entry.h) is
// tested on is what the gateway writes. Written directly in RFC 8785
// canonical form (members in sorted order, minimal escaping), so the hot path
// builds no DOM (docs/api.md). This writes version 2 entries, whose
// "field_groups" state each group of fields decided alike once; version 1
// entries listed every field with its effect and rules, which made a decision
// on ten fields 2 KB instead of 0.8 KB.
#ifndef CLOVER_ENTRY_DECISION_RECORD_H_
#define CLOVER_ENTRY_DECISION_RECORD_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "config/deployment.h"
#include "core/rfc3339.h"
#include "entry/log_entry.h"

namespace clover::entry {

struct DecisionRecord {
  absl::Time time;
  absl::string_view node;
  absl::string_view region;
  const Principal* principal = nullptr;  // required
  absl::string_view purpose;
  absl::string_view
      action;  // read, export, detokenize, aggregate, write, erase
  absl::string_view destination;  // jurisdiction the data goes to
  absl::string_view
      subject;  // keyed pseudonym of the subject; empty for exports
  absl::string_view
      subject_jurisdiction;    // empty when unknown (exports, erased)
  int64_t subjects = -1;       // exports: number of subjects; -1 = omit
  absl::string_view policy;    // bundle SHA-256 hex
  absl::string_view approval;  // approval id, empty if none
  // The code of the justification an approval was granted for; empty: the
  // member is omitted (the gateway states the approval id only).
  absl::string_view justification;
  // The "field_groups" array, as AppendFieldGroupsJson renders them
  // (the gateway keeps those of recent decisions, which repeat for every
  // subject read alike). Empty means no fields: "[]".
  absl::string_view field_groups_json;
  int64_t records = 0;  // records returned
  int64_t bytes = 0;    // response bytes of transformed data
  // Why a request decided no fields: "not_found" (no such subject), "gone"
  // (erased) or "forbidden" (refused before any field was decided). Empty:
  // the member is omitted.
  absl::string_view outcome;
};

// Appends the canonical JSON of `record` to `out`. Thread-safe (pure).
void AppendDecisionJson(const DecisionRecord& record, std::string* out);

// Appends the canonical JSON of `entry` (a decision as the reader returns it)
// to `out`, through the same writer: its fields become "field_groups"
// (field_groups.h), an empty `subject` writes "subjects": subject_count (an
// export), and empty optional strings are omitted. ParseLogEntry of the output
// gives back `entry` (a version 2 entry's fields come back group by group).
// Thread-safe (pure).
void AppendDecisionJson(const DecisionEntry& entry, std::string* out);
// The same, as a new string.
std::string DecisionJson(const DecisionEntry& entry);

}  // namespace clover::entry

#endif  // CLOVER_ENTRY_DECISION_RECORD_H_
