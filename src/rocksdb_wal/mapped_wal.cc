#include "rocksdb_wal/mapped_wal.h"

#include <rocksdb/file_system.h>
#include <rocksdb/options.h>

#include <memory>

namespace clover::rocksdb_wal {
namespace {

class MappedWalFileSystem final : public rocksdb::FileSystemWrapper {
 public:
  using rocksdb::FileSystemWrapper::FileSystemWrapper;

  const char* Name() const override { return "CloverMappedWalFileSystem"; }

  // RocksDB takes a log's file options from here whenever it creates a WAL or
  // reopens one (recovery reopens the last log to trim its preallocated tail;
  // a mapped file ignores the trim, so its zeros stay until the log is
  // deleted). The POSIX file system answers with mmap writes off.
  rocksdb::FileOptions OptimizeForLogWrite(
      const rocksdb::FileOptions& file_options,
      const rocksdb::DBOptions& db_options) const override {
    rocksdb::FileOptions log_options =
        target()->OptimizeForLogWrite(file_options, db_options);
    log_options.use_mmap_writes = true;
    log_options.use_direct_writes = false;  // the two exclude each other
    return log_options;
  }
};

}  // namespace

rocksdb::Env* MappedWalEnv() {
  // Leaked on purpose, like Env::Default(): databases closed during static
  // destruction may still use it.
  static rocksdb::Env* const env =
      rocksdb::NewCompositeEnv(
          std::make_shared<MappedWalFileSystem>(rocksdb::FileSystem::Default()))
          .release();
  return env;
}

}  // namespace clover::rocksdb_wal
