// The gateway's log entries as the auditor reads them: canonical JSON objects
// with a version "v" and a "type" of "decision", "approval", "erasure" or
// "write". A decision entry is
//   {"v":2,"type":"decision","time":"2026-11-28T23:50:00.123Z","node":"ie-dub-1-a",
//    "region":"eu","principal":{"id","kind","org","roles":[...],"country","jurisdiction"},
//    "purpose","action","destination","subject":"<pseudonym>" (reads) or
//    "subjects":N (exports),"subject_jurisdiction","policy":"<bundle
//    sha256>","approval":"<id>"?, "justification":"<code>"?,
//    "field_groups":[{"decided_by"?,"effect","fields":{CATEGORY:[NAME,...]},
//                     "restricted":[NAME,...],"rules":[...]}],
//    "records":N,"bytes":N}
// with "v":2. Version 1 entries (older logs) carry instead
//    "fields":[{"name","category","restricted","effect","rules":[...],"decided_by"?}].
#ifndef CLOVER_ENTRY_LOG_ENTRY_H_
#define CLOVER_ENTRY_LOG_ENTRY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "policy/effect.h"

namespace clover::entry {

enum class EntryType {
  kDecision,
  kApproval,
  kErasure,
  kWrite,
  kErasurePurge,    // entry/erasure_attestation.h
  kLegacyDeletion,  // entry/legacy_deletion.h
  kPseudonymKey,    // entry/pseudonym_key_entry.h
  kOther
};

struct FieldEntry {
  std::string name;
  std::string category;
  bool restricted = false;
  policy::Effect effect = policy::Effect::kDeny;
  std::vector<std::string> rules;  // matching rule ids as logged
  std::string decided_by;          // empty: default deny
};

struct DecisionEntry {
  absl::Time time;
  std::string node;
  std::string region;
  std::string principal_id;
  std::string principal_kind;
  std::string principal_org;
  std::vector<std::string> principal_roles;
  std::string principal_country;
  std::string principal_jurisdiction;
  std::string purpose;
  std::string action;
  std::string destination;
  std::string subject;         // pseudonym; empty for exports
  uint64_t subject_count = 1;  // "subjects" for exports
  std::string subject_jurisdiction;
  std::string policy;  // bundle sha256 hex
  std::string approval;
  std::string justification;
  std::vector<FieldEntry> fields;
  uint64_t records = 0;
  uint64_t bytes = 0;
};

// One parsed entry. Only the members for `type` are meaningful. Reusing one
// LogEntry across calls reuses its string capacity.
struct LogEntry {
  EntryType type = EntryType::kOther;
  DecisionEntry decision;
  std::string id;     // approval id
  std::string state;  // approval state
  absl::Time time;    // every typed entry with a "time"
};

// Parses one entry. Unknown "type" values yield kOther (forward compatible); a
// decision entry of a version other than 1 or 2, missing a required member,
// with a wrong type or unknown effect, or (version 2) naming a field twice or
// marking restricted a field outside its group, is InvalidArgument naming the
// member. A version 2 entry's fields come out group by group, each group's by
// category. Entries are gateway output, so
// errors are a finding.
[[nodiscard]] absl::Status ParseLogEntry(absl::string_view json, LogEntry* out);

}  // namespace clover::entry

#endif  // CLOVER_ENTRY_LOG_ENTRY_H_
