// The vault's storage-driver interface: two key-value tables, point reads,
// atomic batches. The embedded default is RocksDB (rocksdb_storage.h); a
// PostgreSQL driver implements the same interface (one table per Table, `Write`
// as one transaction) for multi-DC regions. Drivers only do I/O: everything
// they see is already encrypted or non-personal.
#ifndef CLOVER_VAULT_STORAGE_H_
#define CLOVER_VAULT_STORAGE_H_

#include <functional>
#include <optional>
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
  // A read's outcome for GetAsync: the value, nullopt if absent, or an error
  // as Get's.
  using GetDone =
      std::function<void(absl::StatusOr<std::optional<std::string>>)>;
  // Get without blocking the caller where the driver can (reads_async()):
  // `done` runs later on a thread of the driver (it may do a request's work,
  // delaying that thread's next batch, but must not wait for another
  // GetAsync); concurrent reads may share one round trip. The read
  // happens after this call, so it sees every write acknowledged before it.
  // This default calls Get, then `done`, on the calling thread.
  virtual void GetAsync(Table table, std::string key, GetDone done) {
    std::string value;
    absl::StatusOr<bool> found = Get(table, key, &value);
    if (!found.ok()) return done(found.status());
    done(*found ? std::optional<std::string>(std::move(value)) : std::nullopt);
  }
  // Whether GetAsync returns before the read is done.
  [[nodiscard]] virtual bool reads_async() const { return false; }
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
  // A conditional batch: applies `batch`, which must put `key` in `table`,
  // atomically and only if the value of `key` is still exactly `*expected`
  // (absent if `expected` is nullopt) when it commits; returns whether it
  // did. Where several processes share the store (shared()), this is the
  // compare-and-set that serialises their writes to one subject row (the
  // driver checks and writes in one transaction, e.g. PostgreSQL: a
  // conditional UPDATE or INSERT ... ON CONFLICT DO NOTHING in the batch's
  // transaction). This default reads, compares and writes: atomic only
  // within one process whose callers serialise writes to `key` (the vault's
  // stripes). Errors: InvalidArgument if `batch` does not put `key`; as
  // Write.
  [[nodiscard]] virtual absl::StatusOr<bool> WriteIf(
      Table table, absl::string_view key,
      std::optional<absl::string_view> expected, const WriteBatch& batch) {
    bool puts_key = false;
    for (const WriteBatch::Op& op : batch.ops()) {
      puts_key =
          puts_key || (!op.is_delete && op.table == table && op.key == key);
    }
    if (!puts_key) {
      return absl::InvalidArgumentError("conditional batch must put its key");
    }
    std::string current;
    absl::StatusOr<bool> found = Get(table, key, &current);
    if (!found.ok()) return found.status();
    if (*found != expected.has_value() || (*found && current != *expected)) {
      return false;
    }
    absl::Status written = Write(batch);
    if (!written.ok()) return written;
    return true;
  }
  // As WriteIf, conditional on the value of `key` being present and starting
  // with `prefix` (e.g. a subject row's "live" header: an erasure applies to
  // whatever live row it finds, so that writers cannot starve it).
  [[nodiscard]] virtual absl::StatusOr<bool> WriteIfPrefixed(
      Table table, absl::string_view key, absl::string_view prefix,
      const WriteBatch& batch) {
    std::string current;
    absl::StatusOr<bool> found = Get(table, key, &current);
    if (!found.ok()) return found.status();
    if (!*found ||
        absl::string_view(current).substr(0, prefix.size()) != prefix) {
      return false;
    }
    return WriteIf(table, key, current, batch);
  }
  // Whether other processes (the other nodes of a region) write this store
  // concurrently: then a process's cache can be stale at any moment, and its
  // writes must be conditional (WriteIf). False for embedded stores, which
  // one process holds.
  [[nodiscard]] virtual bool shared() const { return false; }
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
