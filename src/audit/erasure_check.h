// The erasure-attestation check: every erasure a node logs must be made final
// by a purge of its vault's erasure epochs, attested in the same log
// (entry/erasure_attestation.h), within the node's purge window.
//
// Per log, it keeps the pseudonyms of allowed erasures ("erase" decisions
// with records >= 1) not yet attested. An attestation covers those logged
// before its "cut_log_size": their sorted, deduplicated pseudonyms must give
// exactly its "erased" count and "erased_root", else `erasure_attestation_
// mismatch` (critical). An erasure still unattested `window + slack` after
// its entry's time is `erasure_unpurged` (high). An attestation repeated for
// the same new epoch (a purge finished after a restart) is not counted twice.
// A region's purge (gateway/regional_purge.h) gives every node's log its own
// attestation of that log's erasures, so the check stays per log.
//
// Time is the entries' own, and the auditor's clock for overdue erasures.
// Not thread-safe: owned by the auditor's pipeline thread.
#ifndef CLOVER_AUDIT_ERASURE_CHECK_H_
#define CLOVER_AUDIT_ERASURE_CHECK_H_

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "audit/incident.h"
#include "entry/erasure_attestation.h"
#include "entry/log_entry.h"

namespace clover::audit {

inline constexpr absl::string_view kDetectorErasureUnpurged =
    "erasure_unpurged";
inline constexpr absl::string_view kDetectorErasureMismatch =
    "erasure_attestation_mismatch";

struct ErasureCheckOptions {
  // The nodes' keys.purge_interval_s (24 h by default) and the slack given
  // for a purge to run and its entry to reach the auditor.
  absl::Duration window = absl::Hours(24);
  absl::Duration slack = absl::Hours(1);
  size_t max_indices = 8;  // evidence indices per finding
};

// The auditor's store key of log `origin`'s erasure-check state.
[[nodiscard]] std::string ErasureCheckKey(absl::string_view origin);

class ErasureCheck {
 public:
  explicit ErasureCheck(ErasureCheckOptions options);

  // Called before the entries of `origin` from `first_index` on are fed. The
  // first call in a process decides whether the check saw the log from its
  // start: if not (an auditor resuming), erasures logged before were not seen,
  // so the first attestation is taken as the new starting point rather than
  // compared.
  void Begin(absl::string_view origin, uint64_t first_index);
  // Feeds a decision entry at `index` of log `origin` (only allowed erasures
  // count).
  void ObserveDecision(absl::string_view origin, uint64_t index,
                       const entry::DecisionEntry& e);
  // Feeds an attestation at `index`; appends a mismatch finding to `out`.
  void ObserveAttestation(absl::string_view origin, uint64_t index,
                          const entry::ErasurePurge& a,
                          std::vector<Finding>* out);
  // Appends a finding for erasures of `origin` unattested at `now` beyond
  // window + slack (each erasure is reported once).
  void CheckOverdue(absl::string_view origin, absl::Time now,
                    std::vector<Finding>* out);

  // Erasures of `origin` awaiting an attestation.
  size_t pending(absl::string_view origin) const;

  // The check's state for `origin` (erasures awaiting an attestation, the
  // epochs already attested, whether it saw every erasure since the last
  // attestation), for the auditor to store in the same batch as the log
  // position it reflects, so that a restarted auditor does not forget an
  // erasure it saw. Text, one item per line.
  [[nodiscard]] std::string Encode(absl::string_view origin) const;
  // Restores what Encode gave, before the first Begin for `origin` (which
  // then keeps it). Errors: DataLoss for a malformed state.
  [[nodiscard]] absl::Status Restore(absl::string_view origin,
                                     absl::string_view state);

 private:
  struct Pending {
    uint64_t index;
    std::string pseudonym;
    absl::Time time;
    bool reported = false;
  };
  struct PerLog {
    std::deque<Pending> pending;  // in log order
    absl::flat_hash_set<std::string> attested_epochs;
    bool started = false;
    bool armed = true;  // every erasure since the last attestation was seen
  };
  ErasureCheckOptions options_;
  absl::flat_hash_map<std::string, PerLog> logs_;
};

}  // namespace clover::audit

#endif  // CLOVER_AUDIT_ERASURE_CHECK_H_
