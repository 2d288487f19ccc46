#include "vault/rocksdb_storage.h"

#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/slice.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <iterator>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "rocksdb_memtable/hash_memtable.h"

namespace clover::vault {

absl::string_view TableName(Table table) {
  switch (table) {
    case Table::kSubjects:
      return "subjects";
    case Table::kTokens:
      return "token_index";
    case Table::kEpochs:
      return "epochs";
  }
  return "unknown";
}

namespace {

absl::Status FromRocks(const rocksdb::Status& s, absl::string_view what) {
  std::string msg =
      absl::StrCat("rocksdb ", std::string(what), ": ", s.ToString());
  if (s.IsIOError() && s.ToString().find("lock") != std::string::npos) {
    return absl::UnavailableError(msg);
  }
  if (s.IsBusy() || s.IsTimedOut() || s.IsTryAgain())
    return absl::UnavailableError(msg);
  if (s.IsCorruption()) return absl::DataLossError(msg);
  return absl::InternalError(msg);
}

rocksdb::Slice ToSlice(absl::string_view s) {
  return rocksdb::Slice(s.data(), s.size());
}

class RocksDbStorage : public StorageDriver {
 public:
  RocksDbStorage(std::unique_ptr<rocksdb::DB> db,
                 std::vector<rocksdb::ColumnFamilyHandle*> cfs, bool sync)
      : db_(std::move(db)), cfs_(std::move(cfs)) {
    write_options_.sync = sync;
  }

  ~RocksDbStorage() override {
    for (auto* cf : cfs_)
      db_->DestroyColumnFamilyHandle(cf).PermitUncheckedError();
    db_->Close().PermitUncheckedError();
  }

  absl::StatusOr<bool> Get(Table table, absl::string_view key,
                           std::string* value) override {
    rocksdb::PinnableSlice slice;
    rocksdb::Status s =
        db_->Get(read_options_, cf(table), ToSlice(key), &slice);
    if (s.IsNotFound()) return false;
    if (!s.ok()) return FromRocks(s, "get");
    value->assign(slice.data(), slice.size());
    return true;
  }

  absl::Status Write(const WriteBatch& batch) override {
    rocksdb::WriteBatch wb;
    for (const WriteBatch::Op& op : batch.ops()) {
      rocksdb::Status s =
          op.is_delete
              ? wb.Delete(cf(op.table), ToSlice(op.key))
              : wb.Put(cf(op.table), ToSlice(op.key), ToSlice(op.value));
      if (!s.ok()) return FromRocks(s, "batch");
    }
    rocksdb::Status s = db_->Write(write_options_, &wb);
    if (!s.ok()) return FromRocks(s, "write");
    return absl::OkStatus();
  }

  // One process holds the database (RocksDB's lock), and the caller
  // serialises writes to `key` within it, so read-compare-write is atomic.
  absl::StatusOr<bool> CompareAndPut(Table table, absl::string_view key,
                                     absl::string_view expected,
                                     absl::string_view desired) override {
    std::string current;
    CLOVER_ASSIGN_OR_RETURN(bool found, Get(table, key, &current));
    if (!found || current != expected) return false;
    rocksdb::Status s =
        db_->Put(write_options_, cf(table), ToSlice(key), ToSlice(desired));
    if (!s.ok()) return FromRocks(s, "write");
    return true;
  }

  absl::Status Scan(Table table,
                    const std::function<bool(absl::string_view,
                                             absl::string_view)>& fn) override {
    std::unique_ptr<rocksdb::Iterator> it(
        db_->NewIterator(read_options_, cf(table)));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      if (!fn(absl::string_view(it->key().data(), it->key().size()),
              absl::string_view(it->value().data(), it->value().size()))) {
        break;
      }
    }
    if (!it->status().ok()) return FromRocks(it->status(), "scan");
    return absl::OkStatus();
  }

  absl::Status Purge(Table table) override {
    // Every table is flushed, not only `table`: a write-ahead log file is
    // deleted only once no memtable holds data it logged, and the WAL file
    // that logged a deleted entry (e.g. an old epoch key) must go too.
    rocksdb::FlushOptions flush;
    std::vector<rocksdb::ColumnFamilyHandle*> all(cfs_.begin(), cfs_.end());
    rocksdb::Status s = db_->Flush(flush, all);
    if (!s.ok()) return FromRocks(s, "flush");
    rocksdb::CompactRangeOptions compact;
    compact.bottommost_level_compaction =
        rocksdb::BottommostLevelCompaction::kForce;
    s = db_->CompactRange(compact, cf(table), nullptr, nullptr);
    if (!s.ok()) return FromRocks(s, "compact");
    return absl::OkStatus();
  }

 private:
  rocksdb::ColumnFamilyHandle* cf(Table t) const {
    return cfs_[static_cast<size_t>(t) + 1];
  }

  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> cfs_;  // [0] is "default"
  rocksdb::ReadOptions read_options_;
  rocksdb::WriteOptions write_options_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<StorageDriver>> OpenRocksDbStorage(
    const std::string& dir, const RocksDbOptions& options) {
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10, false));
  // Index and filter blocks stay resident in the table readers (about 1.3 MB
  // per million keys) instead of competing with data blocks in the cache: every
  // point lookup needs them.
  table.cache_index_and_filter_blocks = false;
  table.whole_key_filtering = true;
  table.data_block_index_type =
      rocksdb::BlockBasedTableOptions::kDataBlockBinaryAndHash;

  rocksdb::ColumnFamilyOptions cf_options;
  cf_options.write_buffer_size = options.write_buffer_bytes;
  cf_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  // Values are AES-GCM ciphertexts, wrapped keys and random handles: nothing
  // compresses.
  cf_options.compression = rocksdb::kNoCompression;
  cf_options.bottommost_compression = rocksdb::kNoCompression;
  cf_options.level_compaction_dynamic_level_bytes = true;

  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.max_background_jobs = 2;
  db_options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  db_options.keep_log_file_num = 2;
  // The hashed memtables take one writer at a time (RocksDB refuses them
  // otherwise); writers of a group are applied by its leader.
  db_options.allow_concurrent_memtable_write = false;
  // No row cache: the vault caches live subjects itself, and RocksDB looks a
  // row cache up before each table's bloom filter, so every probe of a key a
  // table does not hold (every new subject's existence check) paid for it.
  // Without it, bench_vault measured cold reads +10-15% and updates +10%.

  // A store of the first layout (one table each for metadata, wrapped keys and
  // records) is refused by name rather than by RocksDB's complaint about
  // unopened column families.
  std::vector<std::string> existing;
  if (rocksdb::DB::ListColumnFamilies(db_options, dir, &existing).ok()) {
    for (const std::string& name : existing) {
      if (std::find(std::begin(kV1OnlyTables), std::end(kV1OnlyTables), name) !=
          std::end(kV1OnlyTables)) {
        return absl::FailedPreconditionError(absl::StrCat(
            "vault store ", dir,
            " has the v1 layout (tables records, wrapped_keys, meta); this "
            "version reads one row per subject and cannot open it"));
      }
    }
  }
  // Both tables are written in no useful order (subject ids as clients choose
  // them; token handles are random after their time prefix) and read by point
  // lookups, or scanned whole, which sorts a memtable once: hashed memtables
  // instead of skiplists (rocksdb_memtable/hash_memtable.h). About one bucket
  // per row: subject rows take ~300 bytes of a memtable, token rows ~80. No
  // memtable bloom filter: a bucket answers a lookup of an absent key as
  // cheaply as the filter would, and every insert would also set its bits.
  rocksdb::ColumnFamilyOptions subject_options = cf_options;
  subject_options.memtable_factory = rocksdb_memtable::NewHashMemTableFactory(
      options.write_buffer_bytes / 256);
  rocksdb::ColumnFamilyOptions token_options = cf_options;
  token_options.memtable_factory =
      rocksdb_memtable::NewHashMemTableFactory(options.write_buffer_bytes / 64);
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName, cf_options);
  for (Table t : kAllTables) {
    // The epochs table holds a row or two: the default (skiplist) memtable.
    descriptors.emplace_back(std::string(TableName(t)),
                             t == Table::kTokens   ? token_options
                             : t == Table::kEpochs ? cf_options
                                                   : subject_options);
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s =
      rocksdb::DB::Open(db_options, dir, descriptors, &handles, &raw);
  if (!s.ok()) return FromRocks(s, absl::StrCat("open ", dir));
  return std::unique_ptr<StorageDriver>(new RocksDbStorage(
      std::unique_ptr<rocksdb::DB>(raw), std::move(handles), options.sync));
}

}  // namespace clover::vault
