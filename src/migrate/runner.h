// `clover migrate legacy`: moves each legacy record to its home region
// through that region's gateway (as the migration principal, purpose
// `migration`), reads it back and compares canonical record hashes, deletes
// the batch at the source in the source's own transaction, and has the node
// append the batch's legacy_deletion attestation (docs/operations.md "Legacy
// migration"). Records with no home region are never written nor deleted:
// they go to the quarantine report.
//
// Resumable: the journal (an append-only NDJSON file, each line fsynced)
// records each batch's keys before its first write and each phase after it
// completes (planned, written, verified, deleted, attested). Every phase is
// idempotent (a re-written record is the same record; a repeated delete
// deletes nothing more; the node answers a repeated attestation with the
// first one's index), so a run killed at any point and started again
// finishes each unfinished batch from its last journaled phase and plans new
// batches only from rows no batch holds.
#ifndef CLOVER_MIGRATE_RUNNER_H_
#define CLOVER_MIGRATE_RUNNER_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "config/deployment.h"
#include "migrate/mapping.h"
#include "migrate/source.h"

namespace clover::migrate {

inline constexpr char kMigrationPurpose[] = "migration";

struct RunOptions {
  bool dry_run = false;
  std::string journal;     // "" = clover-legacy-<migration>.journal
  std::string quarantine;  // "" = <journal>.quarantine.ndjson
  std::string api_key;     // the migration principal's
  int workers = 8;         // batches in flight
  // Progress: a bar redrawn on stderr when it is a terminal, else a plain
  // line every `progress_seconds`.
  double progress_seconds = 10;
  bool quiet = false;
};

struct MappingError {
  uint64_t line = 0;  // files; 0 for a database row
  std::string key;
  std::string message;
};

struct RunSummary {
  std::string migration;
  std::string source;
  std::string journal;
  std::string quarantine_file;
  bool dry_run = false;
  bool deletes = false;
  // Per home region: records migrated in this run (dry run: planned), and
  // over the whole migration so far (journaled as finished).
  std::map<std::string, uint64_t> records;
  std::map<std::string, uint64_t> finished_total;
  uint64_t batches = 0;  // finished in this run
  uint64_t deleted = 0;  // source rows deleted in this run
  // No home region, by reason ("no_home_region:<jurisdiction>",
  // "unknown_country", "missing_country"), and mapping errors.
  std::map<std::string, uint64_t> quarantined;
  uint64_t mapping_errors = 0;
  std::vector<MappingError> first_errors;  // up to 20
  std::vector<uint64_t> attestations;      // log indexes, this run
  double seconds = 0;
  double records_per_second = 0;
};

// Runs (or with dry_run plans) the migration. Errors: InvalidArgument for bad
// input (source rows that cannot be read, a journal of another migration);
// Unavailable/Internal/FailedPrecondition for a failure on the way (a node
// refusing a write, a read-back that differs: nothing of that batch is
// deleted).
[[nodiscard]] absl::StatusOr<RunSummary> RunLegacyMigration(
    const Deployment& deployment, const LegacyMapping& mapping,
    LegacySource& source, const RunOptions& options);

// The summary as text (for a terminal) or one JSON object.
[[nodiscard]] std::string SummaryText(const RunSummary& s);
[[nodiscard]] std::string SummaryJson(const RunSummary& s);

}  // namespace clover::migrate

#endif  // CLOVER_MIGRATE_RUNNER_H_
