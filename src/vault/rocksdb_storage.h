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
  // Append the write-ahead log through a shared mapping rather than one
  // write(2) per put (rocksdb_wal/mapped_wal.h): the same durability for less
  // CPU. Only when `sync` is off: a synced write's fdatasync cleans the log's
  // last page, and the next append must fault it writable again, which costs
  // more than the write(2) saved (gateway writes with synced vault writes:
  // 11,342-11,830/s mapped against 13,892-14,881/s). Turn it off on file
  // systems without shared writable mappings.
  bool mapped_wal = true;
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
