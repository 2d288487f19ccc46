// The "field_groups" member of a version 2 decision entry (log_entry.h): the
// fields of a decision grouped by how they were decided, so that a decision
// on ten fields states its effect and rules once rather than ten times. The
// decision writer (decision_record.h) puts it in every decision entry.
#ifndef CLOVER_ENTRY_FIELD_GROUPS_H_
#define CLOVER_ENTRY_FIELD_GROUPS_H_

#include <span>
#include <string>

#include "absl/strings/string_view.h"

namespace clover::entry {

// How one field of a decision was decided. The views must outlive the call.
struct FieldOutcome {
  absl::string_view name;
  absl::string_view category;
  bool restricted = false;
  absl::string_view effect;      // "allow", "pseudonymize", ...
  absl::string_view decided_by;  // rule id, empty for the default deny
  std::span<const absl::string_view> rules;  // ids of every matching rule
};

// Appends the canonical JSON (RFC 8785) array of `fields` to `out`: fields
// with the same effect, deciding rule and matching rules form one group
//   {"decided_by":R (absent for the default deny),"effect":E,
//    "fields":{CATEGORY:[NAME,...],...},"restricted":[NAME,...],"rules":[...]}
// in the order of each group's first field; a category's names keep their
// order in `fields`, and "restricted" lists the group's restricted fields in
// the order "fields" names them. Names must be distinct (the auditor refuses
// an entry naming a field twice). Thread-safe (pure).
void AppendFieldGroupsJson(std::span<const FieldOutcome> fields,
                           std::string* out);

}  // namespace clover::entry

#endif  // CLOVER_ENTRY_FIELD_GROUPS_H_
