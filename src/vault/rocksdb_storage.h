// The embedded default storage driver: one RocksDB database, one column family
// per Table.
#ifndef CLOVER_VAULT_ROCKSDB_STORAGE_H_
#define CLOVER_VAULT_ROCKSDB_STORAGE_H_

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "vault/storage.h"

namespace clover::vault {

struct RocksDbOptions {
  // fsync the write-ahead log on every Write. Without it an acknowledged write
  // survives a process crash (the WAL is in the OS page cache) but not a power
  // loss.
  bool sync = false;
  size_t block_cache_bytes = size_t{256} << 20;
  size_t write_buffer_bytes = size_t{64} << 20;
};

// Opens (creating if needed) the database in directory `dir`.
// Errors: Unavailable if another process holds the database lock;
// FailedPrecondition for a store of the first (v1, four-table) layout;
// Internal otherwise.
[[nodiscard]] absl::StatusOr<std::unique_ptr<StorageDriver>> OpenRocksDbStorage(
    const std::string& dir, const RocksDbOptions& options = {});

}  // namespace clover::vault

#endif  // CLOVER_VAULT_ROCKSDB_STORAGE_H_
