// A durable key-value store: a thin RocksDB wrapper with atomic batches and
// prefix scans. Its own module because two siblings use it: the auditor keeps
// incidents, the webhook outbox, follower state, flow totals, the incident log
// and its approval ledger in one store (related updates commit in one batch),
// and a node keeps its approvals (approvals/approvals.h) in another. Below
// both, it depends on neither; it is not part of approvals/ because most of
// its users have nothing to do with approvals.
#ifndef CLOVER_KV_KV_STORE_H_
#define CLOVER_KV_KV_STORE_H_

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace rocksdb {
class DB;
}

namespace clover::kv {

// A set of puts and deletes applied atomically by KvStore::Write.
class KvBatch {
 public:
  void Put(absl::string_view key, absl::string_view value) {
    ops_.push_back({std::string(key), std::string(value), false});
  }
  void Delete(absl::string_view key) {
    ops_.push_back({std::string(key), "", true});
  }
  bool empty() const { return ops_.empty(); }
  size_t size() const { return ops_.size(); }

  struct Op {
    std::string key;
    std::string value;
    bool del;
  };
  const std::vector<Op>& ops() const { return ops_; }

 private:
  std::vector<Op> ops_;
};

// Thread-safe (RocksDB is). Every write is synced to disk before it returns, so
// a record a caller was told about survives SIGKILL and power loss.
class KvStore {
 public:
  // Opens (creating if missing) the store in directory `path`. With
  // `read_only`, opens without taking the lock so that a report can be made
  // while the auditor runs; writes then fail with FailedPrecondition. Errors:
  // Internal naming the path and RocksDB's reason.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<KvStore>> Open(
      const std::string& path, bool read_only = false);
  ~KvStore();
  KvStore(const KvStore&) = delete;
  KvStore& operator=(const KvStore&) = delete;

  // Errors: NotFound if absent; Internal on I/O failure.
  [[nodiscard]] absl::StatusOr<std::string> Get(absl::string_view key) const;
  [[nodiscard]] absl::Status Put(absl::string_view key,
                                 absl::string_view value);
  [[nodiscard]] absl::Status Delete(absl::string_view key);
  // All or nothing, durable on return.
  [[nodiscard]] absl::Status Write(const KvBatch& batch);

  // Calls `fn(key, value)` for every key starting with `prefix`, in byte order,
  // from `start` (inclusive; must start with `prefix`, or be empty for the
  // whole prefix) until `fn` returns false. Errors: Internal on I/O failure.
  [[nodiscard]] absl::Status Scan(
      absl::string_view prefix, absl::string_view start,
      const std::function<bool(absl::string_view key, absl::string_view value)>&
          fn) const;
  [[nodiscard]] absl::Status Scan(
      absl::string_view prefix,
      const std::function<bool(absl::string_view key, absl::string_view value)>&
          fn) const {
    return Scan(prefix, "", fn);
  }

 private:
  KvStore(std::unique_ptr<rocksdb::DB> db, bool read_only);
  std::unique_ptr<rocksdb::DB> db_;
  bool read_only_;
};

// Big-endian fixed-width encoding so that byte order is numeric order in keys.
std::string EncodeKeyU64(uint64_t v);
// Inverse; false if `s` is not 8 bytes.
bool DecodeKeyU64(absl::string_view s, uint64_t* v);

}  // namespace clover::kv

#endif  // CLOVER_KV_KV_STORE_H_
