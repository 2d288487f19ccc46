// The deletion attestation of a legacy migration (`clover migrate legacy`,
// issue 23): the log entry a node appends, at the migration tool's request,
// after a batch of legacy records was written to their home region through
// that node, read back and verified there, and deleted at the legacy source
// in the source's own transaction. The auditor, given read-only access to the
// source, checks it (audit/): the attested rows are gone from the source and
// stay gone, and the batch's writes are in this node's log.
//   {"v":1,"type":"legacy_deletion","time":"<RFC 3339>","node","region",
//    "migration":"<id>","source":"<source identity>","batch":N,
//    "records":N,"subjects_root":"<hex>","key_hashes":["<hex>",…],
//    "write_indexes":[N,…]}
// - "migration" names the run (stable across resumes of the same run);
//   "source" names the legacy store (e.g. "postgres:<host>:<port>/<db>/<table>"
//   or "ndjson:<sha256 of the file>"), the same string the auditor is given.
// - "batch" numbers the run's batches from 0; (migration, batch) is appended
//   at most once per log.
// - "records" rows were deleted at the source. "key_hashes" has one member
//   per row: LegacyKeyHash(source, key) of its source key, sorted bytewise,
//   no duplicates. A hash, not the key: log entries carry no raw identifiers.
//   The key space of a legacy table may be small enough to enumerate, so the
//   hash hides keys from a casual reader, not from a determined one.
// - "subjects_root" is the RFC 6962 Merkle tree hash over the migrated
//   subjects' log pseudonyms (as the node's write entries name them), sorted
//   bytewise and without duplicates, each a leaf (ErasedSubjectsRoot's rule).
// - "write_indexes" are the indexes, in the attesting node's own log, of the
//   batch's write entries, ascending, one per record.
#ifndef CLOVER_ENTRY_LEGACY_DELETION_H_
#define CLOVER_ENTRY_LEGACY_DELETION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace clover::entry {

inline constexpr absl::string_view kLegacyDeletionType = "legacy_deletion";

struct LegacyDeletion {
  absl::Time time;
  std::string node;
  std::string region;
  std::string migration;
  std::string source;
  uint64_t batch = 0;
  uint64_t records = 0;
  std::string subjects_root;            // hex
  std::vector<std::string> key_hashes;  // hex, sorted, unique
  std::vector<uint64_t> write_indexes;  // ascending
};

// Hex SHA-256 of "clover-legacy-key/v1", NUL, `source`, NUL, `key`.
[[nodiscard]] std::string LegacyKeyHash(absl::string_view source,
                                        absl::string_view key);
// Hex RFC 6962 root over `pseudonyms` (sorted and deduplicated here).
[[nodiscard]] std::string MigratedSubjectsRoot(
    std::vector<std::string> pseudonyms);
// The entry's canonical JSON (key_hashes sorted and deduplicated,
// write_indexes sorted, here).
[[nodiscard]] std::string LegacyDeletionJson(LegacyDeletion a);
// Errors: InvalidArgument naming the member that is missing or mistyped, or
// when "records" differs from the number of key hashes or write indexes, the
// hashes are not sorted and unique, or the indexes not ascending.
[[nodiscard]] absl::StatusOr<LegacyDeletion> ParseLegacyDeletion(
    absl::string_view json);

}  // namespace clover::entry

#endif  // CLOVER_ENTRY_LEGACY_DELETION_H_
