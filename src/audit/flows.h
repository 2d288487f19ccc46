// Data-flow totals: per destination x field category x purpose x effect x hour,
// how many field decisions were made and how many field values they covered;
// and per destination x purpose x action x hour, how many requests, records and
// bytes left.
//
// Not thread-safe: the auditor's pipeline thread owns it; readers take
// snapshots through the Auditor, which serialises access.
#ifndef CLOVER_AUDIT_FLOWS_H_
#define CLOVER_AUDIT_FLOWS_H_

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "entry/log_entry.h"
#include "kv/kv_store.h"
#include "server/metrics.h"

namespace clover::audit {

struct FlowKey {
  int64_t hour = 0;  // Unix hours
  std::string destination;
  std::string category;
  std::string purpose;
  policy::Effect effect = policy::Effect::kDeny;
  auto Tie() const {
    return std::tie(hour, destination, category, purpose, effect);
  }
  bool operator<(const FlowKey& o) const { return Tie() < o.Tie(); }
};
struct FlowTotals {
  uint64_t decisions = 0;  // field decisions
  uint64_t values = 0;     // field values (records x fields)
};

struct TransferKey {
  int64_t hour = 0;
  std::string destination;
  std::string purpose;
  std::string action;
  auto Tie() const { return std::tie(hour, destination, purpose, action); }
  bool operator<(const TransferKey& o) const { return Tie() < o.Tie(); }
};
struct TransferTotals {
  uint64_t requests = 0;
  uint64_t records = 0;
  uint64_t bytes = 0;
};

class FlowStats {
 public:
  void Add(const entry::DecisionEntry& e);

  // Restores the totals persisted by Flush. Errors: Internal, DataLoss.
  [[nodiscard]] absl::Status Load(const kv::KvStore& kv);
  // Adds the rows changed since the last Flush to `batch` (keys "flow/..." and
  // "xfer/...").
  void Flush(kv::KvBatch& batch);
  // Increments Prometheus counters by what was added since the last
  // PublishMetrics:
  //   clover_audit_flow_field_decisions_total{destination,category,purpose,effect}
  //   clover_audit_flow_bytes_total{destination,purpose,action}
  void PublishMetrics(server::CounterFamily& decisions,
                      server::CounterFamily& bytes);

  // {"from":..,"to":..,"flows":[{"hour":"2026-11-28T23:00:00.000Z","destination",
  //  "category","purpose","effect","decisions","values"}],"transfers":[...]}
  // over the hours intersecting [from, to).
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
