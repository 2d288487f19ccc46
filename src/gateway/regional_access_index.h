// The access index of a region on its shared database (storage.driver:
// postgres): every node indexes its own log (gateway/access_index.h) into the
// region's KvStore under its own DC, so that a subject's access report,
// asked through any node, finds the decisions of every node of the region.
//
// Keys (NUL-separated, so that no pseudonym or DC can run into the next part):
//   "access/" region NUL pseudonym NUL dc NUL <8-byte big-endian index>
//       value: further indices of the same batch as ascending varint deltas
//   "access-indexed/" region NUL dc
//       value: 8-byte big-endian count of the DC's log entries indexed
// A batch of entries and its marker are one transaction (KvStore::Write),
// sent without waiting per key, off the request path (the index tails the
// log). Only the node of a DC writes that DC's keys; any node reads them all.
#ifndef CLOVER_GATEWAY_REGIONAL_ACCESS_INDEX_H_
#define CLOVER_GATEWAY_REGIONAL_ACCESS_INDEX_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "gateway/access_index_store.h"
#include "kv/kv_store.h"

namespace clover::gateway {

// Thread-safe if the KvStore is. As an AccessIndexStore it is the index of
// the node's own DC; the *Of methods read any DC's.
class RegionalAccessIndexStore : public AccessIndexStore {
 public:
  // `kv` (the region's shared store) must outlive this.
  RegionalAccessIndexStore(kv::KvStore& kv, std::string region, std::string dc)
      : kv_(kv), region_(std::move(region)), dc_(std::move(dc)) {}

  absl::Status IndexBatch(
      const std::vector<std::pair<std::string, uint64_t>>& accesses,
      uint64_t indexed_up_to) override;
  absl::StatusOr<uint64_t> IndexedUpTo() const override {
    return IndexedUpToOf(dc_);
  }
  absl::StatusOr<std::vector<uint64_t>> AccessesOf(
      absl::string_view subject) const override;

  // How far `dc`'s node has indexed its log (0 if it never has).
  [[nodiscard]] absl::StatusOr<uint64_t> IndexedUpToOf(
      absl::string_view dc) const;
  // Every DC's recorded entries naming `subject`: DC -> indices, ascending,
  // each once. Errors: DataLoss for a malformed stored entry; the store's.
  [[nodiscard]] absl::StatusOr<std::map<std::string, std::vector<uint64_t>>>
  AllAccessesOf(absl::string_view subject) const;

  const std::string& dc() const { return dc_; }

 private:
  kv::KvStore& kv_;
  const std::string region_;
  const std::string dc_;
};

}  // namespace clover::gateway

#endif  // CLOVER_GATEWAY_REGIONAL_ACCESS_INDEX_H_
