// Where the access index (gateway/access_index.h) keeps what it derived from
// one node's log: for each subject pseudonym the indices of the entries that
// name it, and how far the log has been indexed. Two implementations: the
// node's embedded state store (gateway/state_store.h, the default) and the
// region's shared database (gateway/regional_access_index.h), where every
// node of the region indexes its own log under its own DC.
#ifndef CLOVER_GATEWAY_ACCESS_INDEX_STORE_H_
#define CLOVER_GATEWAY_ACCESS_INDEX_STORE_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace clover::gateway {

// One stored row of the index: a subject's first access in a batch, the
// further ones as ascending varint deltas (AppendVarint64) in `deltas`.
struct AccessRow {
  absl::string_view subject;  // points into the accesses grouped
  uint64_t first = 0;
  std::string deltas;
};

// Groups one batch's accesses into rows, so that a subject read many times
// between two catch-ups (a popular one, an insider's bulk read) costs one row,
// not one per read. An index out of order within its subject (not a repeat of
// its row's ends) gets a row of its own (no deltas); readers de-duplicate.
[[nodiscard]] std::vector<AccessRow> GroupAccesses(
    const std::vector<std::pair<std::string, uint64_t>>& accesses);

// Thread-safe. The index is derived from the log: a write may be lost in a
// crash (the next catch-up rebuilds it), and readers de-duplicate.
class AccessIndexStore {
 public:
  virtual ~AccessIndexStore() = default;

  // Records `accesses` (pseudonym, log index) and that every entry below
  // `indexed_up_to` has been indexed, in one atomic write.
  [[nodiscard]] virtual absl::Status IndexBatch(
      const std::vector<std::pair<std::string, uint64_t>>& accesses,
      uint64_t indexed_up_to) = 0;
  // How far the log has been indexed (0 for a new index).
  [[nodiscard]] virtual absl::StatusOr<uint64_t> IndexedUpTo() const = 0;
  // Log indices of every entry recorded for `subject`, ascending, each once.
  // Errors: DataLoss for a malformed stored entry, Internal or Unavailable
  // for I/O.
  [[nodiscard]] virtual absl::StatusOr<std::vector<uint64_t>> AccessesOf(
      absl::string_view subject) const = 0;
};

}  // namespace clover::gateway

#endif  // CLOVER_GATEWAY_ACCESS_INDEX_STORE_H_
