// The decision entry the gateway appends to the transparency log before
// returning data. Written directly in RFC 8785 canonical form (members in
// sorted order, minimal escaping), so the hot path builds no DOM. The auditor
// parses the same format (docs/api.md). This writes version 2 entries, whose
// "field_groups" state each group of fields decided alike once; version 1
// entries listed every field with its effect and rules, which made a decision
// on ten fields 2 KB instead of 0.8 KB.
#ifndef CLOVER_GATEWAY_DECISION_RECORD_H_
#define CLOVER_GATEWAY_DECISION_RECORD_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/config.h"

namespace clover::gateway {

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
  // The "field_groups" array, as audit::AppendFieldGroupsJson renders them
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

// RFC 3339 UTC with milliseconds, e.g. "2026-11-28T23:50:00.123Z".
std::string FormatRfc3339Millis(absl::Time t);

}  // namespace clover::gateway

#endif  // CLOVER_GATEWAY_DECISION_RECORD_H_
