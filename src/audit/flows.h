// Data-flow totals: per origin region x destination x field category x
// purpose x effect x hour, how many field decisions were made and how many
// field values they covered; and per origin region x destination x purpose x
// action x hour, how many requests, records and bytes left.
//
// The origin region of a decision is the region of the node that made it:
// the region the auditor's config gives its log (`logs[].region`), else the
// region the node's signed entry states. A destination is a jurisdiction;
// its region is the one `flows.regions` lists it under, else the destination
// itself (in the demo, jurisdiction "us" is stored in region "us"). A flow
// leaves its region when the two differ (docs/audit.md, "Flows").
//
// Stored rows ("flow/" and "xfer/" <hour, 8 bytes> then the key's strings
// joined by 0x1f) lead with the origin region; rows written before flows had
// a region (one string fewer) load with region "" (unknown), and so do
// entries that name no region; a row with region "" is stored in that old
// form, so old and new rows never hold the same key twice.
//
// Not thread-safe: the auditor's pipeline thread owns it; readers take
// snapshots through the Auditor, which serialises access.
#ifndef CLOVER_AUDIT_FLOWS_H_
#define CLOVER_AUDIT_FLOWS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "entry/log_entry.h"
#include "kv/kv_store.h"
#include "server/metrics.h"

namespace clover::audit {

struct FlowKey {
  int64_t hour = 0;    // Unix hours
  std::string region;  // origin region; "" unknown (rows of old auditors)
  std::string destination;
  std::string category;
  std::string purpose;
  policy::Effect effect = policy::Effect::kDeny;
  auto Tie() const {
    return std::tie(hour, region, destination, category, purpose, effect);
  }
  bool operator<(const FlowKey& o) const { return Tie() < o.Tie(); }
};
struct FlowTotals {
  uint64_t decisions = 0;  // field decisions
  uint64_t values = 0;     // field values (records x fields)
};

struct TransferKey {
  int64_t hour = 0;
  std::string region;  // origin region, as FlowKey::region
  std::string destination;
  std::string purpose;
  std::string action;
  auto Tie() const {
    return std::tie(hour, region, destination, purpose, action);
  }
  bool operator<(const TransferKey& o) const { return Tie() < o.Tie(); }
};
struct TransferTotals {
  uint64_t requests = 0;
  uint64_t records = 0;
  uint64_t bytes = 0;
};

// `flows:` of the auditor config.
struct FlowOptions {
  // Jurisdiction -> the region that stores it (`flows.regions`, listed as
  // region: [jurisdictions]). A destination not listed is its own region.
  std::map<std::string, std::string, std::less<>> destination_regions;
  // Totals older than this are pruned (`flows.retention`).
  absl::Duration retention = absl::Hours(24 * 400);
  // Rows of the per-entry index ("flowent/") older than this are pruned
  // (`flows.entry_retention`).
  absl::Duration entry_retention = absl::Hours(24 * 90);
  // At most this many rows of each kind deleted per polling round, so that
  // pruning a large backlog never stalls the pipeline.
  size_t prune_rows_per_pass = 2000;
};

// The region of `destination` under `options`.
[[nodiscard]] std::string DestinationRegion(const FlowOptions& options,
                                            absl::string_view destination);
// `,"destination_region":"..","out_of_region":true|false|null`: whether a
// flow from origin region `region` to `destination` leaves the region (null:
// origin unknown).
[[nodiscard]] std::string RegionMembers(const FlowOptions& options,
                                        absl::string_view region,
                                        absl::string_view destination);

class FlowStats {
 public:
  void set_options(FlowOptions options) { options_ = std::move(options); }
  const FlowOptions& options() const { return options_; }

  // Adds a decision made in `origin_region` (the overload without one takes
  // the region the entry states).
  void Add(const entry::DecisionEntry& e, absl::string_view origin_region);
  void Add(const entry::DecisionEntry& e) { Add(e, e.region); }

  // Removes at most options().prune_rows_per_pass rows of each kind (totals
  // and transfers) whose hour ended more than options().retention before
  // `now`, adding their deletes to `batch`. Returns how many were removed.
  size_t Prune(absl::Time now, kv::KvBatch& batch);

  // Restores the totals persisted by Flush. Errors: Internal, DataLoss.
  [[nodiscard]] absl::Status Load(const kv::KvStore& kv);
  // Adds the rows changed since the last Flush to `batch` (keys "flow/..." and
  // "xfer/...").
  void Flush(kv::KvBatch& batch);
  // Increments Prometheus counters by what was added since the last
  // PublishMetrics:
  //   clover_audit_flow_field_decisions_total{region,destination,category,
  //                                           purpose,effect}
  //   clover_audit_flow_bytes_total{region,destination,purpose,action}
  void PublishMetrics(server::CounterFamily& decisions,
                      server::CounterFamily& bytes);

  // {"from":..,"to":..,"flows":[{"hour":"2026-11-28T23:00:00.000Z","region",
  //  "destination","category","purpose","effect","decisions","values",
  //  "destination_region","out_of_region"}],"transfers":[{"hour","region",
  //  "destination","purpose","action","requests","records","bytes",
  //  "destination_region","out_of_region"}]} over the hours intersecting
  //  [from, to).
  [[nodiscard]] std::string ToJson(absl::Time from, absl::Time to) const;
  // One page of ToJson: at most `limit` rows of each array, each resuming
  // after the cursor in `after` ({flows, transfers} as a previous page's
  // `next` gave them; empty: from the start). `next` is empty on the last
  // page. Errors: InvalidArgument for a cursor that is not one of ours.
  struct Page {
    std::string json;
    std::vector<std::string> next;
  };
  [[nodiscard]] absl::StatusOr<Page> ToJsonPage(
      absl::Time from, absl::Time to, size_t limit,
      const std::vector<std::string>& after) const;

  const std::map<FlowKey, FlowTotals>& flows() const { return flows_; }
  const std::map<TransferKey, TransferTotals>& transfers() const {
    return transfers_;
  }

 private:
  FlowOptions options_;
  std::map<FlowKey, FlowTotals> flows_;
  std::map<TransferKey, TransferTotals> transfers_;
  std::map<FlowKey, FlowTotals> dirty_flows_;  // totals to persist
  std::map<TransferKey, TransferTotals> dirty_xfers_;
  std::map<FlowKey, FlowTotals> metric_flows_;  // deltas to publish
  std::map<TransferKey, TransferTotals> metric_xfers_;
};

int64_t UnixHour(absl::Time t);

}  // namespace clover::audit

#endif  // CLOVER_AUDIT_FLOWS_H_
