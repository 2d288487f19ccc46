// A durable key-value store with atomic batches, prefix scans and one
// conditional write. Two implementations: the embedded RocksDB store (Open,
// below) and a table in the region's PostgreSQL database
// (kv/postgres_kv_store.h), which several nodes share. Its own module because
// two siblings use it: the auditor keeps incidents, the webhook outbox,
// follower state, flow totals, the incident log and its approval ledger in one
// store (related updates commit in one batch), and a node keeps its approvals
// (approvals/approvals.h) in another. Below both, it depends on neither; it is
// not part of approvals/ because most of its users have nothing to do with
// approvals.
#ifndef CLOVER_KV_KV_STORE_H_
#define CLOVER_KV_KV_STORE_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

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

// Thread-safe. Every write is durable before it returns (RocksDB: synced to
// disk; PostgreSQL: committed), so a record a caller was told about survives
// SIGKILL and power loss.
class KvStore {
 public:
  // Opens (creating if missing) the embedded RocksDB store in directory
  // `path`. With `read_only`, opens without taking the lock so that a report
  // can be made while the auditor runs; writes then fail with
  // FailedPrecondition. Errors: Internal naming the path and RocksDB's reason.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<KvStore>> Open(
      const std::string& path, bool read_only = false);
  virtual ~KvStore() = default;
  KvStore(const KvStore&) = delete;
  KvStore& operator=(const KvStore&) = delete;

  // Errors: NotFound if absent; Internal on I/O failure (Unavailable when a
  // shared database cannot be reached).
  [[nodiscard]] virtual absl::StatusOr<std::string> Get(
      absl::string_view key) const = 0;
  [[nodiscard]] absl::Status Put(absl::string_view key,
                                 absl::string_view value);
  [[nodiscard]] absl::Status Delete(absl::string_view key);
  // All or nothing, durable on return.
  [[nodiscard]] virtual absl::Status Write(const KvBatch& batch) = 0;

  // Applies `batch` (all or nothing) only if `key` holds `expected` at that
  // moment (`expected` nullopt: only if `key` is absent), atomically with
  // respect to every other WriteIf on the same key, from any process sharing
  // the store. Errors: FailedPrecondition "condition not met" (nothing
  // written); the errors of Write. Keys written with WriteIf must only be
  // written with WriteIf.
  [[nodiscard]] virtual absl::Status WriteIf(
      absl::string_view key, const std::optional<std::string>& expected,
      const KvBatch& batch) = 0;

  // Calls `fn(key, value)` for every key starting with `prefix`, in byte order,
  // from `start` (inclusive; must start with `prefix`, or be empty for the
  // whole prefix) until `fn` returns false. Errors: Internal on I/O failure.
  [[nodiscard]] virtual absl::Status Scan(
      absl::string_view prefix, absl::string_view start,
      const std::function<bool(absl::string_view key, absl::string_view value)>&
          fn) const = 0;
  [[nodiscard]] absl::Status Scan(
      absl::string_view prefix,
      const std::function<bool(absl::string_view key, absl::string_view value)>&
          fn) const {
    return Scan(prefix, "", fn);
  }

 protected:
  KvStore() = default;
};

// The message of WriteIf's FailedPrecondition.
inline constexpr absl::string_view kConditionNotMet = "condition not met";

// Big-endian fixed-width encoding so that byte order is numeric order in keys.
std::string EncodeKeyU64(uint64_t v);
// Inverse; false if `s` is not 8 bytes.
bool DecodeKeyU64(absl::string_view s, uint64_t* v);

}  // namespace clover::kv

#endif  // CLOVER_KV_KV_STORE_H_
