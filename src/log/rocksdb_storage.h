// The embedded default storage driver: one RocksDB database, one synchronous
// WriteBatch (WAL fsync) per sequencer batch. A PostgreSQL driver implements
// the same LogStorage. Full entry bundles have their own column family
// ("bundles", created on the first writable open; bundles stored before it
// existed are still read from the default one).
#ifndef CLOVER_LOG_ROCKSDB_STORAGE_H_
#define CLOVER_LOG_ROCKSDB_STORAGE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "log/storage.h"

namespace clover::log {

struct RocksDbStorageOptions {
  bool create_if_missing = true;
  // Opens without taking the write lock; Write then fails with
  // FailedPrecondition. The view is the state at open time.
  bool read_only = false;
  size_t block_cache_bytes = 64 << 20;
};

// Errors: NotFound if the directory has no database and create_if_missing is
// false (or read_only), Unavailable if another process holds the write lock,
// Internal otherwise.
[[nodiscard]] absl::StatusOr<std::unique_ptr<LogStorage>> OpenRocksDbStorage(
    const std::string& dir, const RocksDbStorageOptions& options = {});

}  // namespace clover::log

#endif  // CLOVER_LOG_ROCKSDB_STORAGE_H_
