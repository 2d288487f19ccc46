// The vault's storage-driver interface: two key-value tables, point reads,
// atomic batches. The embedded default is RocksDB (rocksdb_storage.h); a
// PostgreSQL driver implements the same interface (one table per Table, `Write`
// as one transaction) for multi-DC regions. Drivers only do I/O: everything
// they see is already encrypted or non-personal.
#ifndef CLOVER_VAULT_STORAGE_H_
#define CLOVER_VAULT_STORAGE_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace clover::vault {

enum class Table {
  kSubjects,  // subject id -> SubjectRow (vault/subject_row.h): metadata, the
              // KEK-wrapped data key and the sealed record; a tombstone once
              // erased
  kTokens,    // token handle -> subject id (resolves siv tokens; deleted on
              // erasure)
  kEpochs,    // epoch id -> EpochRow (vault/epoch_keys.h): the KEK-wrapped
              // erasure-epoch keys; a purge deletes the old one
};
inline constexpr Table kAllTables[] = {Table::kSubjects, Table::kTokens,
                                       Table::kEpochs};
// Tables only the first (v1) layout had: their presence marks a store to
// migrate (vault/layout_migration.h).
inline constexpr absl::string_view kV1OnlyTables[] = {"records", "wrapped_keys",
                                                      "meta"};
absl::string_view TableName(Table table);

// A set of puts and deletes applied atomically by StorageDriver::Write.
class WriteBatch {
 public:
  struct Op {
    Table table;
    bool is_delete;
    std::string key;
    std::string value;
  };
  void Put(Table table, absl::string_view key, absl::string_view value) {
    ops_.push_back({table, false, std::string(key), std::string(value)});
  }
  void Delete(Table table, absl::string_view key) {
    ops_.push_back({table, true, std::string(key), {}});
  }
  const std::vector<Op>& ops() const { return ops_; }
  bool empty() const { return ops_.empty(); }

 private:
  std::vector<Op> ops_;
};

// Implementations are thread-safe.
class StorageDriver {
 public:
  virtual ~StorageDriver() = default;

  // Reads `key` into `*value`. Returns false if absent. Errors:
  // Unavailable/Internal on I/O.
  [[nodiscard]] virtual absl::StatusOr<bool> Get(Table table,
                                                 absl::string_view key,
                                                 std::string* value) = 0;
  // Applies `batch` atomically. Once it returns OK the batch survives a crash
  // of the process (and of the machine if the driver syncs; see the driver's
  // options).
  [[nodiscard]] virtual absl::Status Write(const WriteBatch& batch) = 0;
  // Replaces the value of `key` in `table` by `desired` only if it is still
  // exactly `expected`, durably as Write; returns whether it did. Atomic
  // against writes of other processes sharing the store (PostgreSQL: one
  // conditional UPDATE); within one process, callers serialise writes to a
  // key (the vault's stripes). For maintenance that rewrites rows beside live
  // nodes and must not overwrite their writes, such as KEK re-wrapping.
  // Errors: as Write.
  [[nodiscard]] virtual absl::StatusOr<bool> CompareAndPut(
      Table table, absl::string_view key, absl::string_view expected,
      absl::string_view desired) = 0;
  // Calls `fn` for every entry of `table` in key order until it returns false.
  // For audits, tests and maintenance, not for request paths.
  [[nodiscard]] virtual absl::Status Scan(
      Table table,
      const std::function<bool(absl::string_view, absl::string_view)>& fn) = 0;
  // Physically removes deleted entries of `table` from durable storage
  // (compaction or VACUUM), so crypto-shredded wrapped keys do not linger in
  // old files. RocksDB also flushes every table first, so that no write-ahead
  // log file that held a deleted entry is kept (docs/vault.md says what
  // remains, e.g. PostgreSQL's WAL segments).
  [[nodiscard]] virtual absl::Status Purge(Table table) = 0;
  // Whether the store can serve requests now, for readiness probes: cheap
  // (one round trip at most) and without retries. Embedded stores are always
  // ready. Errors: Unavailable with the reason.
  [[nodiscard]] virtual absl::Status Ping() { return absl::OkStatus(); }
};

}  // namespace clover::vault

#endif  // CLOVER_VAULT_STORAGE_H_
