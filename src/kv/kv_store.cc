#include "kv/kv_store.h"

#include "absl/strings/str_cat.h"
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

}  // namespace

KvStore::KvStore(std::unique_ptr<rocksdb::DB> db, bool read_only)
    : db_(std::move(db)), read_only_(read_only) {}

KvStore::~KvStore() = default;

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
      new KvStore(std::unique_ptr<rocksdb::DB>(raw), read_only));
}

absl::StatusOr<std::string> KvStore::Get(absl::string_view key) const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), S(key), &value);
  if (!s.ok()) return FromRocks(s, "auditor store read");
  return value;
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

absl::Status KvStore::Write(const KvBatch& batch) {
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

absl::Status KvStore::Scan(
    absl::string_view prefix, absl::string_view start,
    const std::function<bool(absl::string_view key, absl::string_view value)>&
        fn) const {
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(S(start.empty() ? prefix : start)); it->Valid(); it->Next()) {
    absl::string_view key(it->key().data(), it->key().size());
    if (key.substr(0, prefix.size()) != prefix) break;
    if (!fn(key, absl::string_view(it->value().data(), it->value().size())))
      break;
  }
  return FromRocks(it->status(), "auditor store scan");
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
