#include "log/rocksdb_storage.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "rocksdb/cache.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "rocksdb/table.h"
#include "rocksdb/write_batch.h"

namespace clover::log {
namespace {

// Keys: "t" level(1) index(8 BE) | "b" index(8 BE) | "c" | "m". Big-endian
// indexes keep each kind ordered for range scans.
std::string TileKey(int level, uint64_t index) {
  std::string k(10, '\0');
  k[0] = 't';
  k[1] = static_cast<char>(level);
  for (int i = 0; i < 8; ++i)
    k[2 + i] = static_cast<char>(index >> (56 - 8 * i));
  return k;
}

std::string BundleKey(uint64_t index) {
  std::string k(9, '\0');
  k[0] = 'b';
  for (int i = 0; i < 8; ++i)
    k[1 + i] = static_cast<char>(index >> (56 - 8 * i));
  return k;
}

constexpr char kCheckpointKey[] = "c";
constexpr char kMetadataKey[] = "m";

absl::Status FromRocks(const rocksdb::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  if (s.IsNotFound())
    return absl::NotFoundError(absl::StrCat(what, ": not found"));
  if (s.IsCorruption())
    return absl::DataLossError(absl::StrCat(what, ": ", s.ToString()));
  if (s.IsIOError() && s.ToString().find("lock") != std::string::npos) {
    return absl::UnavailableError(absl::StrCat(what, ": ", s.ToString()));
  }
  return absl::InternalError(absl::StrCat(what, ": ", s.ToString()));
}

class RocksDbStorage final : public LogStorage {
 public:
  RocksDbStorage(std::unique_ptr<rocksdb::DB> db, bool read_only)
      : db_(std::move(db)), read_only_(read_only) {}

  absl::StatusOr<std::string> ReadTile(int level, uint64_t index) override {
    return Get(TileKey(level, index), "tile");
  }
  absl::StatusOr<std::string> ReadEntryBundle(uint64_t index) override {
    return Get(BundleKey(index), "entry bundle");
  }
  absl::StatusOr<std::string> ReadCheckpoint() override {
    return Get(std::string(kCheckpointKey), "checkpoint");
  }
  absl::StatusOr<std::string> ReadMetadata() override {
    return Get(std::string(kMetadataKey), "log metadata");
  }

  absl::Status Write(const LogWriteBatch& batch) override {
    if (read_only_)
      return absl::FailedPreconditionError("log storage is open read-only");
    rocksdb::WriteBatch wb;
    for (const auto& [id, data] : batch.tiles) {
      wb.Put(TileKey(id.level, id.index), data);
    }
    for (const auto& [index, data] : batch.bundles)
      wb.Put(BundleKey(index), data);
    if (!batch.checkpoint.empty()) wb.Put(kCheckpointKey, batch.checkpoint);
    if (!batch.metadata.empty()) wb.Put(kMetadataKey, batch.metadata);
    rocksdb::WriteOptions wo;
    wo.sync = true;  // durable before any append of this batch is acknowledged
    return FromRocks(db_->Write(wo, &wb), "log storage write");
  }

 private:
  absl::StatusOr<std::string> Get(const std::string& key,
                                  absl::string_view what) {
    std::string value;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), key, &value);
    if (!s.ok()) return FromRocks(s, what);
    return value;
  }

  std::unique_ptr<rocksdb::DB> db_;
  const bool read_only_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<LogStorage>> OpenRocksDbStorage(
    const std::string& dir, const RocksDbStorageOptions& options) {
  rocksdb::Options o;
  o.create_if_missing = options.create_if_missing && !options.read_only;
  if (!o.create_if_missing &&
      !std::filesystem::exists(std::filesystem::path(dir) / "CURRENT")) {
    return absl::NotFoundError(absl::StrCat(dir, ": no log database here"));
  }
  o.compression =
      rocksdb::kNoCompression;  // hashes do not compress; entries are small
  o.max_background_jobs = 2;
  o.write_buffer_size = 64 << 20;
  // Bounds WAL replay at open, which keeps restart fast.
  o.max_total_wal_size = 128 << 20;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  table.block_size = 16 << 10;
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = options.read_only
                          ? rocksdb::DB::OpenForReadOnly(o, dir, &raw)
                          : rocksdb::DB::Open(o, dir, &raw);
  if (!s.ok()) return FromRocks(s, absl::StrCat("open log database ", dir));
  return std::make_unique<RocksDbStorage>(std::unique_ptr<rocksdb::DB>(raw),
                                          options.read_only);
}

}  // namespace clover::log
