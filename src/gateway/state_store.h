// The gateway's own durable state beside the vault and the log: the
// differential-privacy budget ledger (per requester and purpose) and the index
// from subject pseudonym to the log entries that concern it. Backed by one
// RocksDB database; every write is synchronous (WAL fsync) so that an
// acknowledged spend or index entry survives kill -9.
//
// With a shared budget store (a KvStore every node of the region uses,
// kv/postgres_kv_store.h), the budget ledger lives there instead, so the nodes
// of a region spend one budget: each spend is a compare-and-set of the day's
// total (KvStore::WriteIf), retried while other nodes spend concurrently, so
// the total never exceeds the budget however many nodes spend at once. With
// the region's database the access index moves there too
// (gateway/regional_access_index.h); this store's index is then unused.
#ifndef CLOVER_GATEWAY_STATE_STORE_H_
#define CLOVER_GATEWAY_STATE_STORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gateway/access_index_store.h"
#include "kv/kv_store.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
}  // namespace rocksdb

namespace clover::gateway {

class StateStore : public AccessIndexStore {
 public:
  // Opens (creating if needed) the store in `dir`. Errors: Internal with the
  // RocksDB message.
  // With `shared_budget` (which must outlive the store), privacy budgets are
  // kept there under keys "budget/...".
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<StateStore>> Open(
      const std::string& dir, kv::KvStore* shared_budget = nullptr);
  ~StateStore() override;

  // Spends `epsilon` from the budget of (requester, purpose) for the UTC day
  // of `now`. The requester is who asks (the gateway passes the principal's
  // org, or its id), never anything the request itself chooses, such as a
  // destination. Returns the budget left afterwards. ResourceExhausted (and
  // nothing spent) when the spend would exceed `daily_budget`. Thread-safe;
  // durable before it returns. With a shared budget store: Unavailable when
  // it cannot be reached, Aborted if concurrent spends kept winning the race
  // (nothing spent either way, except after a commit in doubt, which may
  // count a spend that was refused: never more than the budget is given).
  [[nodiscard]] absl::StatusOr<double> SpendEpsilon(absl::string_view requester,
                                                    absl::string_view purpose,
                                                    double epsilon,
                                                    double daily_budget,
                                                    absl::Time now);

  // Records that log entry `index` concerns the subject with pseudonym
  // `subject`, and that every entry below `indexed_up_to` has been indexed.
  // Thread-safe.
  [[nodiscard]] absl::Status IndexAccess(absl::string_view subject,
                                         uint64_t index);
  [[nodiscard]] absl::Status SetIndexedUpTo(uint64_t size);
  // Both at once, in one atomic write that is not synced: the index is
  // derived from the log, and a crash can only lose a suffix of such writes,
  // marker included, which the next CatchUp rebuilds from the log. A
  // subject's accesses in one batch are stored under one key (the first
  // index; the others as ascending deltas in its value).
  [[nodiscard]] absl::Status IndexBatch(
      const std::vector<std::pair<std::string, uint64_t>>& accesses,
      uint64_t indexed_up_to) override;
  [[nodiscard]] absl::StatusOr<uint64_t> IndexedUpTo() const override;

  // Log indices of every entry recorded for `subject`, ascending, each once.
  // Errors: DataLoss for a malformed stored entry, Internal for I/O.
  // Thread-safe.
  [[nodiscard]] absl::StatusOr<std::vector<uint64_t>> AccessesOf(
      absl::string_view subject) const override;

 private:
  StateStore() = default;
  absl::StatusOr<double> SpendSharedEpsilon(const std::string& key,
                                            absl::string_view requester,
                                            absl::string_view purpose,
                                            double epsilon,
                                            double daily_budget);
  kv::KvStore* shared_budget_ = nullptr;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*>
      handles_;            // owned by db_; closed in ~StateStore
  absl::Mutex budget_mu_;  // serialises read-modify-write of budget entries
};

// Laplace(0, scale) noise from the CSPRNG. Thread-safe.
double LaplaceNoise(double scale);

}  // namespace clover::gateway

#endif  // CLOVER_GATEWAY_STATE_STORE_H_
