#include "kv/kv_store.h"

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "rocksdb/write_batch.h"

namespace clover::kv {
namespace {

rocksdb::Slice S(absl::string_view s) {
  return rocksdb::Slice(s.data(), s.size());
}

absl::Status FromRocks(const rocksdb::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  if (s.IsNotFound())
    return absl::NotFoundError(absl::StrCat(what, ": not found"));
  return absl::InternalError(absl::StrCat(what, ": ", s.ToString()));
}

// The embedded store: one RocksDB database. WriteIf holds a mutex that every
// write takes, so the check and the write are one step within the process
// (the database's lock keeps other processes out).
class RocksKvStore final : public KvStore {
 public:
  RocksKvStore(std::unique_ptr<rocksdb::DB> db, bool read_only)
      : db_(std::move(db)), read_only_(read_only) {}

  absl::StatusOr<std::string> Get(absl::string_view key) const override {
    std::string value;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), S(key), &value);
    if (!s.ok()) return FromRocks(s, "auditor store read");
    return value;
  }

  absl::Status Write(const KvBatch& batch) override {
    absl::MutexLock lock(&write_mu_);
    return WriteLocked(batch);
  }

  absl::Status WriteIf(absl::string_view key,
                       const std::optional<std::string>& expected,
                       const KvBatch& batch) override {
    absl::MutexLock lock(&write_mu_);
    absl::StatusOr<std::string> current = Get(key);
    if (!current.ok() && !absl::IsNotFound(current.status()))
      return current.status();
    const bool met = expected.has_value()
                         ? current.ok() && *current == *expected
                         : absl::IsNotFound(current.status());
    if (!met) return absl::FailedPreconditionError(kConditionNotMet);
    return WriteLocked(batch);
  }

  absl::Status Scan(
      absl::string_view prefix, absl::string_view start,
      const std::function<bool(absl::string_view key, absl::string_view value)>&
          fn) const override {
    std::unique_ptr<rocksdb::Iterator> it(
        db_->NewIterator(rocksdb::ReadOptions()));
    for (it->Seek(S(start.empty() ? prefix : start)); it->Valid(); it->Next()) {
      absl::string_view k(it->key().data(), it->key().size());
      if (k.substr(0, prefix.size()) != prefix) break;
      if (!fn(k, absl::string_view(it->value().data(), it->value().size())))
        break;
    }
    return FromRocks(it->status(), "auditor store scan");
  }

 private:
  absl::Status WriteLocked(const KvBatch& batch)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_) {
    if (read_only_)
      return absl::FailedPreconditionError("auditor store is open read-only");
    if (batch.empty()) return absl::OkStatus();
    rocksdb::WriteBatch wb;
    for (const KvBatch::Op& op : batch.ops()) {
      rocksdb::Status s =
          op.del ? wb.Delete(S(op.key)) : wb.Put(S(op.key), S(op.value));
      if (!s.ok()) return FromRocks(s, "auditor store batch");
    }
    rocksdb::WriteOptions wo;
    wo.sync = true;
    return FromRocks(db_->Write(wo, &wb), "auditor store write");
  }

  std::unique_ptr<rocksdb::DB> db_;
  const bool read_only_;
  absl::Mutex write_mu_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<KvStore>> KvStore::Open(const std::string& path,
                                                       bool read_only) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.max_open_files = 256;
  options.keep_log_file_num = 2;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = read_only
                          ? rocksdb::DB::OpenForReadOnly(options, path, &raw)
                          : rocksdb::DB::Open(options, path, &raw);
  if (!s.ok()) {
    return absl::InternalError(
        absl::StrCat("cannot open auditor store '", path, "': ", s.ToString()));
  }
  return std::unique_ptr<KvStore>(
      new RocksKvStore(std::unique_ptr<rocksdb::DB>(raw), read_only));
}

absl::Status KvStore::Put(absl::string_view key, absl::string_view value) {
  KvBatch batch;
  batch.Put(key, value);
  return Write(batch);
}

absl::Status KvStore::Delete(absl::string_view key) {
  KvBatch batch;
  batch.Delete(key);
  return Write(batch);
}

std::string EncodeKeyU64(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return out;
}

bool DecodeKeyU64(absl::string_view s, uint64_t* v) {
  if (s.size() != 8) return false;
  uint64_t r = 0;
  for (char c : s) r = (r << 8) | static_cast<uint8_t>(c);
  *v = r;
  return true;
}

}  // namespace clover::kv
