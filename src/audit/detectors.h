// Behavioural detectors over the decision stream, with configurable thresholds.
// Time is the entries' own "time" (the gateway's clock), so replaying a log
// gives the same findings.
//
// Not thread-safe: owned by the auditor's pipeline thread.
#ifndef CLOVER_AUDIT_DETECTORS_H_
#define CLOVER_AUDIT_DETECTORS_H_

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "audit/incident.h"
#include "entry/log_entry.h"

namespace clover::audit {

struct DetectorOptions {
  // Bulk access: more than `bulk_subjects` distinct subjects read, written or
  // erased by one principal within `bulk_window` (an export of N subjects
  // counts N).
  uint64_t bulk_subjects = 50;
  absl::Duration bulk_window = absl::Minutes(10);
  // Which requests count: access by people, reads and changes alike. Services'
  // bulk flows (exports, account writes, aggregates) are watched by the flow
  // statistics instead.
  std::vector<std::string> bulk_actions = {"read", "export", "detokenize",
                                           "write", "erase"};
  std::vector<std::string> bulk_principal_kinds = {"employee", "admin",
                                                   "auditor"};
  // Bulk erasure: more than `bulk_erase_subjects` distinct subjects erased (or
  // erasures attempted) by one principal of any kind within
  // `bulk_erase_window`. Lower than the access threshold: crypto-shredding
  // cannot be undone.
  uint64_t bulk_erase_subjects = 10;
  absl::Duration bulk_erase_window = absl::Minutes(10);
  // Denial burst: more than `denial_burst` requests with a denied field by one
  // principal within `denial_window`.
  uint64_t denial_burst = 20;
  absl::Duration denial_window = absl::Minutes(1);
  // A restricted field revealed raw to a jurisdiction other than the
  // subject's home: by effect allow, or by effect approval under a grant (the
  // entry names the approval it used), on any action that returns values
  // (read, export, detokenize, ...; writes and erasures reveal nothing).
  bool restricted_transfer = true;
  // Pseudonyms of canary subjects (as the gateway logs them).
  std::vector<std::string> canary_pseudonyms;
  // Principals that plant and maintain the canaries: their writes of a canary
  // are not touches (any other action of theirs still is).
  std::vector<std::string> canary_planters;
  // Evidence indices kept per finding.
  size_t max_indices = 8;
};

class Detectors {
 public:
  explicit Detectors(DetectorOptions options);

  // Whether `e` revealed field `fe` raw to its destination: effect allow, or
  // effect approval in an entry that names the grant it used (the entry does
  // not say which approval-effect fields the grant covered, so all count).
  static bool RevealedRaw(const entry::DecisionEntry& e,
                          const entry::FieldEntry& fe);

  // Feeds one decision at log `index` of log `origin`; appends findings to
  // `out`.
  void Observe(absl::string_view origin, uint64_t index,
               const entry::DecisionEntry& e, std::vector<Finding>* out);

 private:
  struct BulkState {
    std::deque<std::tuple<absl::Time, std::string, uint64_t, uint64_t>>
        window;  // subj, n, idx
    absl::flat_hash_map<std::string, uint64_t>
        counts;  // subject -> occurrences in window
    uint64_t distinct = 0;
  };
  // Distinct subjects per principal in a sliding window; returns the count
  // after adding this entry.
  static uint64_t Slide(BulkState& b, absl::Duration window,
                        const entry::DecisionEntry& e, uint64_t index);
  struct DenialState {
    std::deque<std::pair<absl::Time, uint64_t>> window;
  };

  const DetectorOptions options_;
  absl::flat_hash_set<std::string> canaries_;
  absl::flat_hash_set<std::string> canary_planters_;
  absl::flat_hash_map<std::string, BulkState> bulk_;
  absl::flat_hash_map<std::string, BulkState> erasures_;
  absl::flat_hash_map<std::string, DenialState> denials_;
};

// Log stalled: the tree has not grown for `after` while traffic flows (the
// traffic counter, e.g. the gateways' decision counter scraped from their
// /metrics, increased).
class StallDetector {
 public:
  explicit StallDetector(absl::Duration after) : after_(after) {}
  // `traffic` is a monotonically increasing counter, or -1 when unknown (then
  // only a tree that stopped growing after having grown counts... never: no
  // traffic evidence, no finding). Returns true when the log is stalled at
  // `now`.
  bool Observe(absl::Time now, uint64_t tree_size, int64_t traffic);

 private:
  const absl::Duration after_;
  bool started_ = false;
  uint64_t size_ = 0;
  absl::Time grown_at_;
  int64_t traffic_at_growth_ = -1;
};

}  // namespace clover::audit

#endif  // CLOVER_AUDIT_DETECTORS_H_
