// Migration of a vault store from the first layout (v1:
// tables `records`, `wrapped_keys`, `token_index`, `meta`, one value each per
// subject) to the current one (`subjects`, one SubjectRow per subject, and the
// unchanged `token_index`). Nothing is decrypted: sealed records and wrapped
// keys move as they are, so the migration needs no keys.
//
// Restartable: every subject row is written (and synced) before the v1 tables
// are dropped, and a marker in the default table records that point, so a run
// killed at any moment can simply be run again. Not thread-safe with other
// users of the directory (RocksDB's lock refuses a second opener).
#ifndef CLOVER_VAULT_LAYOUT_MIGRATION_H_
#define CLOVER_VAULT_LAYOUT_MIGRATION_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "vault/subject_row.h"

namespace clover::vault {

struct MigrationReport {
  bool already_current = false;  // nothing to do
  uint64_t live = 0;             // subjects migrated with key and record
  uint64_t erased = 0;           // tombstones migrated
};

// Migrates the store in `dir` in place. Errors: NotFound if `dir` holds no
// RocksDB database; Unavailable if another process has it open; DataLoss,
// naming the subject, if a v1 row is malformed or a live subject lacks its
// wrapped key or record (then nothing is dropped); Internal on I/O.
[[nodiscard]] absl::StatusOr<MigrationReport> MigrateVaultStoreToV2(
    const std::string& dir);

// The same for a PostgreSQL vault (schema clover_vault_<region>): one
// transaction reads every v1 row, writes the subject rows and drops the v1
// tables, so a failure or crash leaves the schema as it was. Errors: as above;
// Unavailable if the server cannot be reached.
[[nodiscard]] absl::StatusOr<MigrationReport> MigratePostgresVaultToV2(
    const std::string& dsn, const std::string& region);

// The current row of one v1 subject from its v1 values (`key_entry` and
// `record` absent where the v1 tables had none). Errors: DataLoss naming the
// subject if a value is malformed or a live subject lacks one.
[[nodiscard]] absl::StatusOr<SubjectRow> SubjectRowFromV1(
    absl::string_view subject, absl::string_view meta,
    std::optional<absl::string_view> key_entry,
    std::optional<absl::string_view> record);

}  // namespace clover::vault

#endif  // CLOVER_VAULT_LAYOUT_MIGRATION_H_
