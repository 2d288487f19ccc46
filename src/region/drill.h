// The failover drill (`clover region drill`, `clover demo-ha`): realistic
// traffic through every gateway node of the replicated region started by
// `clover region up` (region/region_up.h), then the abrupt loss of the
// leader's whole data centre — its PostgreSQL, Patroni, etcd member and
// gateway node SIGKILLed together — while clients keep writing through the
// surviving DCs; afterwards every acknowledged write must read back, through
// a surviving DC, with its acknowledged content.
//
// Traffic before the loss: writers spread subjects over the region's DCs and
// read each one back through another DC; a legal request filed through one
// DC is approved through a second and used through a third; an aggregate
// through each DC spends the one regional ε budget.
//
// Thread-safety: RunDrill runs its own client threads; call it from one
// thread.
#ifndef CLOVER_REGION_DRILL_H_
#define CLOVER_REGION_DRILL_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "region/region_up.h"

namespace clover::region {

struct DrillOptions {
  // Acknowledged writes in all (before and after the loss).
  int writes = 1000;
  // Of which at least this many after the loss (the survivors must keep
  // taking writes, not just one).
  int writes_after_loss = 100;
  int writers = 4;
  // The DC lost: empty, the leader's.
  std::string kill_dc;
  // From the loss to `writes_after_loss` acknowledged writes, at most.
  absl::Duration failover_bound = absl::Seconds(90);
  std::ostream* progress = nullptr;
};

struct DrillReport {
  std::string region;
  std::vector<std::string> dcs;  // the replicated region's DCs (gateways)
  std::string killed_dc;         // the lost DC (the leader's)
  std::string new_leader;        // after the loss
  int64_t acknowledged_writes = 0;
  int64_t acknowledged_after_loss = 0;
  int64_t lost = 0;  // acknowledged, then not read back as acknowledged
  std::vector<std::string> lost_examples;
  // From the kill to the first write sent after it and acknowledged.
  double failover_seconds = -1;
  // Writes answered 503 with Retry-After (expected during the failover),
  // and answers that were neither 2xx nor such a 503 (must be none).
  int64_t unavailable_503 = 0;
  int64_t unexpected = 0;
  std::vector<std::string> unexpected_examples;
  // Reads through another DC than the write's, before the loss.
  int64_t cross_dc_reads = 0;
  int64_t cross_dc_reads_ok = 0;
  // The grant: filed at approval_dcs[0], approved at [1], used at [2].
  std::vector<std::string> approval_dcs;
  int approval_read_status = 0;  // 200 when the grant works
  bool approval_works_across_dcs = false;
  // budget_left after an aggregate through each DC, in order: strictly
  // decreasing when the budget is the region's.
  std::vector<double> budget_left;
  bool budget_shared = false;
  double traffic_seconds = 0;

  std::string ToText() const;
  // {"failover":{"acknowledged_writes":N,"lost":0,"failover_seconds":S,...},
  //  "traffic":{...}}
  std::string ToJson() const;
  // lost == 0, unexpected == 0, the grant and the budget work across DCs.
  bool Passed() const;
};

// Errors: FailedPrecondition if the state has no replicated region with at
// least three running gateway nodes; DeadlineExceeded if the survivors do
// not take `writes_after_loss` writes within the bound (the report so far in
// the message); Internal when the kill fails.
[[nodiscard]] absl::StatusOr<DrillReport> RunDrill(const RegionState& state,
                                                   const DrillOptions& options);

}  // namespace clover::region

#endif  // CLOVER_REGION_DRILL_H_
