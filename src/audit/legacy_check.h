// The auditor's check of legacy-migration deletion attestations
// (entry/legacy_deletion.h, issue 23). For each `legacy_deletion` entry of a
// followed log it verifies:
//  (a) every write index is, in the same log, before the attestation, an
//      allowed `decision` entry with action "write" and purpose "migration"
//      (records >= 1, a subject), and is claimed by no other attestation;
//  (b) the number of such writes equals "records", and the Merkle root of the
//      pseudonyms they name (MigratedSubjectsRoot) equals "subjects_root";
//  (c) when the auditor has read-only access to the source (`migration.
//      sources`), the source holds no row whose LegacyKeyHash(source, key) is
//      one of "key_hashes" -- checked when the attestation arrives and again
//      every `interval`, so a row that re-appears later is found too.
// Any failure is a `deletion_unverified` finding (high): a malformed
// attestation, a (migration, batch) attested twice in one log, a write that
// is not a migration write, a count or root that does not match, rows still
// (or again) at the source. Each is reported once per episode: a row found
// again after it had gone is a new episode.
//
// The key of a PostgreSQL source row is its key column's text form
// (`key_column::text`), as the migration tool hashes it. A file source
// (NDJSON, CSV) is named by its content hash and cannot be re-read: its
// attestations get checks (a) and (b) only, and stay "source not checked".
//
// State: one store item per attestation ("legacycheck/<origin>/<index>": the
// entry itself and what was found), written in the same batch as the log
// position that delivered it, then updated as checks complete, so a restarted
// auditor neither forgets an attestation nor reports a finding again.
//
// Not thread-safe: owned by the auditor's polling thread (under its poll
// mutex).
#ifndef CLOVER_AUDIT_LEGACY_CHECK_H_
#define CLOVER_AUDIT_LEGACY_CHECK_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "audit/incident.h"
#include "entry/legacy_deletion.h"
#include "kv/kv_store.h"

namespace clover::audit {

inline constexpr absl::string_view kDetectorDeletionUnverified =
    "deletion_unverified";
// The purpose every migration write must be logged with.
inline constexpr absl::string_view kMigrationPurpose = "migration";

// A legacy store the auditor may read (`migration.sources[]`).
struct MigrationSource {
  std::string source;  // the identity the attestations name
  std::string dsn;     // libpq conninfo of a read-only role (from dsn_file)
  std::string table;   // "table" or "schema.table"
  std::string key_column;
};

struct LegacyCheckOptions {
  std::vector<MigrationSource> sources;
  // How often every configured source is read again.
  absl::Duration interval = absl::Minutes(10);
};

// Calls `each(key)` for every row's key at `source`. Errors: the source's
// (Unavailable when it cannot be reached).
using SourceKeysFn = std::function<absl::Status(
    const MigrationSource& source,
    const std::function<void(absl::string_view key)>& each)>;

// The default SourceKeysFn: `SELECT key_column::text FROM table` in a
// read-only transaction, streamed row by row. Errors never quote the DSN.
[[nodiscard]] absl::Status ReadPostgresSourceKeys(
    const MigrationSource& source,
    const std::function<void(absl::string_view key)>& each);

// Whether `ident` is a plain SQL identifier ([A-Za-z_][A-Za-z0-9_]*), or two
// joined by a dot when `dotted` (schema.table).
[[nodiscard]] bool IsPlainSqlIdentifier(absl::string_view ident, bool dotted);

// The report's migration section: per (migration, source).
struct MigrationSummary {
  std::string migration;
  std::string source;
  uint64_t batches = 0;
  uint64_t records = 0;     // attested
  uint64_t verified = 0;    // batches: writes match and rows gone
  uint64_t unverified = 0;  // batches with a failed check
  uint64_t unchecked = 0;   // batches not (yet) fully checked
  bool source_configured = false;
  absl::Time last_check = absl::InfinitePast();  // of the source
};

// The summaries from the check's stored state (a read-only store will do).
[[nodiscard]] absl::StatusOr<std::vector<MigrationSummary>>
LoadMigrationSummaries(const kv::KvStore& kv,
                       const std::vector<MigrationSource>& sources);
// JSON array of `summaries` (the report's "migrations").
[[nodiscard]] std::string MigrationSummariesJson(
    const std::vector<MigrationSummary>& summaries);

class LegacyCheck {
 public:
  LegacyCheck(LegacyCheckOptions options, SourceKeysFn read_keys = nullptr);

  // Restores every stored attestation. Errors: DataLoss for a malformed item;
  // the store's.
  [[nodiscard]] absl::Status Load(const kv::KvStore& kv);

  // A finding for the auditor to raise, with the entries to show as
  // evidence (by index; the attestation's own among them).
  struct Found {
    Finding finding;
    absl::flat_hash_map<uint64_t, std::string> entries;
  };

  // Feeds the `legacy_deletion` entry `raw` at `index` of log `origin`
  // (first seen at `now`); its state goes into `batch`.
  void Observe(absl::string_view origin, uint64_t index, const std::string& raw,
               absl::Time now, kv::KvBatch& batch, std::vector<Found>* out);

  // Checks (a) and (b) for the attestations of `origin` not yet checked,
  // reading their writes with `entry_at` (the verified entry at an index);
  // one whose writes cannot be read now stays pending. Stores what changed.
  using EntryAt = std::function<absl::StatusOr<std::string>(uint64_t index)>;
  void VerifyWrites(absl::string_view origin, const EntryAt& entry_at,
                    kv::KvStore& kv, std::vector<Found>* out);

  // Checks (c) for every configured source due at `now` (all when `force`):
  // a source is due when `interval` passed since its last read, or it has an
  // attestation it was not read for yet. Stores what changed. A source that
  // cannot be read is logged and retried at the next round.
  void CheckSources(absl::Time now, bool force, kv::KvStore& kv,
                    std::vector<Found>* out);

  // Attestations whose writes are not checked yet, over every log.
  size_t pending_writes() const;
  std::vector<MigrationSummary> Summaries() const;

 private:
  enum class Writes { kPending, kOk, kBad };
  enum class AtSource { kUnchecked, kGone, kPresent };
  struct Attestation {
    std::string origin;
    uint64_t index = 0;
    std::string raw;
    entry::LegacyDeletion a;
    absl::Time seen;
    Writes writes = Writes::kPending;
    AtSource at_source = AtSource::kUnchecked;
    uint64_t present = 0;  // rows found at the last check
    std::string why;       // of a failed write check (one line)
    absl::Time checked = absl::InfinitePast();
  };
  static std::string Key(absl::string_view origin, uint64_t index);
  static std::string Encode(const Attestation& t);
  static absl::StatusOr<Attestation> Decode(absl::string_view key,
                                            absl::string_view value);
  friend absl::StatusOr<std::vector<MigrationSummary>> LoadMigrationSummaries(
      const kv::KvStore& kv, const std::vector<MigrationSource>& sources);
  static std::vector<MigrationSummary> Summarise(
      const std::map<std::pair<std::string, uint64_t>, Attestation>& all,
      const std::vector<MigrationSource>& sources);
  void Adopt(Attestation t);
  Found Make(const Attestation& t, std::string key_suffix, std::string why,
             absl::Time when) const;

  LegacyCheckOptions options_;
  SourceKeysFn read_keys_;
  // By (origin, index): log order within a log.
  std::map<std::pair<std::string, uint64_t>, Attestation> all_;
  // Per origin: (migration, batch) attested, and write indexes claimed.
  absl::flat_hash_map<std::string,
                      absl::flat_hash_set<std::pair<std::string, uint64_t>>>
      batches_;
  absl::flat_hash_map<std::string, absl::flat_hash_set<uint64_t>> claimed_;
  // Per source: when it was last read in full.
  absl::flat_hash_map<std::string, absl::Time> last_read_;
};

}  // namespace clover::audit

#endif  // CLOVER_AUDIT_LEGACY_CHECK_H_
