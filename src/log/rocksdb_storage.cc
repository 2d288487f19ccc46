#include "log/rocksdb_storage.h"

#include <algorithm>
#include <filesystem>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "core/status_macros.h"
#include "rocksdb/cache.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "rocksdb/rate_limiter.h"
#include "rocksdb/table.h"
#include "rocksdb/write_batch.h"

namespace clover::log {
namespace {

// Keys: "t" level(1) index(8 BE) | "b" index(8 BE) | "f" index(8 BE)
// offset(1) | "c" | "m". Big-endian indexes keep each kind ordered for range
// scans. Entry-bundle fragments (nearly all the bytes) live in their own
// column family: appended in key order, its SST files never overlap, so
// compaction moves them down the levels without rewriting them. Whole bundles,
// which earlier versions stored once a bundle was full, are there too, or, in
// stores written before the split, in the default column family with
// everything else. Fragments that an earlier version left in the default
// column family are moved at the first writable open.
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

std::string FragmentKey(const FragmentId& id) {
  std::string k(10, '\0');
  k[0] = 'f';
  for (int i = 0; i < 8; ++i)
    k[1 + i] = static_cast<char>(id.bundle >> (56 - 8 * i));
  k[9] = static_cast<char>(id.offset);
  return k;
}

constexpr char kBundlesFamily[] = "bundles";
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
  // `bundles` is null only for a read-only open of a store that predates the
  // bundles column family.
  RocksDbStorage(std::unique_ptr<rocksdb::DB> db,
                 std::vector<rocksdb::ColumnFamilyHandle*> handles,
                 rocksdb::ColumnFamilyHandle* bundles, bool read_only)
      : db_(std::move(db)),
        handles_(std::move(handles)),
        bundles_(bundles),
        read_only_(read_only) {}
  ~RocksDbStorage() override {
    // A clean close flushes the memtables, so that the next open replays no
    // write-ahead log (up to max_total_wal_size of it otherwise): restart
    // after a graceful stop costs what reading the metadata costs. Best
    // effort: the WAL still holds everything if this fails.
    if (!read_only_) {
      rocksdb::FlushOptions flush;
      db_->Flush(flush, handles_).PermitUncheckedError();
    }
    // Handles must go before the database closes.
    for (rocksdb::ColumnFamilyHandle* h : handles_) {
      db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
    }
  }

  absl::StatusOr<std::string> ReadTile(int level, uint64_t index) override {
    return Get(TileKey(level, index), "tile");
  }
  absl::StatusOr<std::string> ReadEntryBundle(uint64_t index) override {
    // Fragments first: a store of the first format kept its partial bundle
    // whole under the bundle's index, and that copy is stale once the bundle
    // has fragments.
    auto fragments = ConcatenatedFragments(index);
    if (!absl::IsNotFound(fragments.status())) return fragments;
    const std::string key = BundleKey(index);
    if (bundles_ != nullptr) {
      auto bundle = Get(key, "entry bundle", bundles_);
      if (!absl::IsNotFound(bundle.status())) return bundle;
    }
    return Get(key, "entry bundle");  // stored before the column family split
  }
  absl::StatusOr<std::string> ReadBundleFragment(
      const FragmentId& id) override {
    if (id.offset < 0 || id.offset > 255) {
      return absl::InvalidArgumentError(
          absl::StrCat("bundle fragment offset ", id.offset, " out of range"));
    }
    auto fragment =
        Get(FragmentKey(id), "entry bundle fragment", fragments_family());
    if (!absl::IsNotFound(fragment.status()) || bundles_ == nullptr) {
      return fragment;
    }
    // Left in the default column family by an earlier version (read-only
    // opens do not move them).
    return Get(FragmentKey(id), "entry bundle fragment");
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
    for (const FragmentId& id : batch.deleted_fragments) {
      if (id.offset < 0 || id.offset > 255) {
        return absl::InvalidArgumentError(absl::StrCat(
            "bundle fragment offset ", id.offset, " out of range"));
      }
      // Point deletes, not DeleteRange: range tombstones slow every read of
      // the memtable in this RocksDB version.
      wb.Delete(fragments_family(), FragmentKey(id));
    }
    for (const auto& [id, data] : batch.fragments) {
      if (id.offset < 0 || id.offset > 255) {
        return absl::InvalidArgumentError(absl::StrCat(
            "bundle fragment offset ", id.offset, " out of range"));
      }
      wb.Put(fragments_family(), FragmentKey(id), data);
    }
    for (const auto& [id, data] : batch.tiles) {
      wb.Put(TileKey(id.level, id.index), data);
    }
    for (const auto& [index, data] : batch.bundles) {
      wb.Put(bundles_, BundleKey(index), data);
    }
    if (!batch.checkpoint.empty()) wb.Put(kCheckpointKey, batch.checkpoint);
    if (!batch.metadata.empty()) wb.Put(kMetadataKey, batch.metadata);
    rocksdb::WriteOptions wo;
    wo.sync = true;  // durable before any append of this batch is acknowledged
    return FromRocks(db_->Write(wo, &wb), "log storage write");
  }

  // Moves fragments an earlier version stored in the default column family
  // into the bundles family, in one atomic, synced write.
  absl::Status MoveLegacyFragments() {
    if (read_only_ || bundles_ == nullptr) return absl::OkStatus();
    rocksdb::WriteBatch wb;
    std::unique_ptr<rocksdb::Iterator> it(
        db_->NewIterator(rocksdb::ReadOptions(), db_->DefaultColumnFamily()));
    for (it->Seek("f"); it->Valid() && it->key().starts_with("f"); it->Next()) {
      wb.Put(bundles_, it->key(), it->value());
      wb.Delete(db_->DefaultColumnFamily(), it->key());
    }
    CLOVER_RETURN_IF_ERROR(FromRocks(it->status(), "scan fragments"));
    if (wb.Count() == 0) return absl::OkStatus();
    rocksdb::WriteOptions wo;
    wo.sync = true;
    return FromRocks(db_->Write(wo, &wb), "move fragments");
  }

 private:
  rocksdb::ColumnFamilyHandle* fragments_family() const {
    return bundles_ != nullptr ? bundles_ : db_->DefaultColumnFamily();
  }

  // A full bundle stored as the fragments its batches wrote, concatenated in
  // offset order. Errors: NotFound if the bundle has no fragments.
  absl::StatusOr<std::string> ConcatenatedFragments(uint64_t index) {
    const std::string first = FragmentKey(FragmentId{index, 0});
    const rocksdb::Slice prefix(first.data(), first.size() - 1);
    std::unique_ptr<rocksdb::Iterator> it(
        db_->NewIterator(rocksdb::ReadOptions(), fragments_family()));
    std::string bundle;
    bool found = false;
    for (it->Seek(first); it->Valid() && it->key().starts_with(prefix);
         it->Next()) {
      bundle.append(it->value().data(), it->value().size());
      found = true;
    }
    CLOVER_RETURN_IF_ERROR(FromRocks(it->status(), "entry bundle fragments"));
    if (!found) return absl::NotFoundError("entry bundle: not found");
    return bundle;
  }

  absl::StatusOr<std::string> Get(
      const std::string& key, absl::string_view what,
      rocksdb::ColumnFamilyHandle* family = nullptr) {
    std::string value;
    rocksdb::Status s = db_->Get(
        rocksdb::ReadOptions(),
        family != nullptr ? family : db_->DefaultColumnFamily(), key, &value);
    if (!s.ok()) return FromRocks(s, what);
    return value;
  }

  std::unique_ptr<rocksdb::DB> db_;
  const std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  rocksdb::ColumnFamilyHandle* const bundles_;
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
  // Hashes do not compress, and the gateway's entries are sealed records.
  o.compression = rocksdb::kNoCompression;
  o.max_background_jobs = 2;
  o.write_buffer_size = 64 << 20;
  // A flush must not stall the synchronous writer while the next memtable
  // fills (bounded: at most 3 x 64 MiB of memtables).
  o.max_write_buffer_number = 3;
  // Bounds WAL replay at open, which keeps restart fast.
  o.max_total_wal_size = 128 << 20;
  // Not recycle_log_file_num: RocksDB 7.8 silently disables WAL recycling
  // under the point-in-time WAL recovery that durability requires.
  // Keys are appended in order; sizing levels from the bottom keeps write
  // amplification near the level fan-out as the log grows.
  o.level_compaction_dynamic_level_bytes = true;
  // The WAL's fdatasync, which every acknowledged append waits for, queues
  // behind whatever SST data flushes and compactions left dirty. Writing that
  // back in small steps, waiting for each (strict), and capping the rate of
  // flush and compaction writes keeps the queue short: at 100,000 appends/s on
  // a 2-core VM this took p99 append-to-durable from ~12 ms to ~5 ms
  // (bench_log). 128 MiB/s is several times the SST bandwidth that rate needs.
  o.bytes_per_sync = 256 << 10;
  o.strict_bytes_per_sync = true;
  o.rate_limiter.reset(rocksdb::NewGenericRateLimiter(
      128 << 20, /*refill_period_us=*/10 * 1000, /*fairness=*/10,
      rocksdb::RateLimiter::Mode::kWritesOnly, /*auto_tuned=*/false));
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  table.block_size = 16 << 10;
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  o.create_missing_column_families = !options.read_only;
  std::vector<std::string> names;
  if (!rocksdb::DB::ListColumnFamilies(o, dir, &names).ok()) {
    names = {rocksdb::kDefaultColumnFamilyName};  // a new database
  }
  const bool has_bundles =
      std::find(names.begin(), names.end(), kBundlesFamily) != names.end();
  if (!has_bundles && !options.read_only) names.push_back(kBundlesFamily);
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (const std::string& name : names) {
    families.emplace_back(name, rocksdb::ColumnFamilyOptions(o));
  }
  rocksdb::DB* raw = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::Status s =
      options.read_only
          ? rocksdb::DB::OpenForReadOnly(o, dir, families, &handles, &raw)
          : rocksdb::DB::Open(o, dir, families, &handles, &raw);
  if (!s.ok()) return FromRocks(s, absl::StrCat("open log database ", dir));
  rocksdb::ColumnFamilyHandle* bundles = nullptr;
  for (rocksdb::ColumnFamilyHandle* h : handles) {
    if (h->GetName() == kBundlesFamily) bundles = h;
  }
  auto storage = std::make_unique<RocksDbStorage>(
      std::unique_ptr<rocksdb::DB>(raw), std::move(handles), bundles,
      options.read_only);
  CLOVER_RETURN_IF_ERROR(storage->MoveLegacyFragments());
  return storage;
}

}  // namespace clover::log
