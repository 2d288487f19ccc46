// The pseudonym-key check: a region's pseudonym root key changes only as its
// nodes' logs announce (entry/pseudonym_key_entry.h), and the announcements
// tell one history. Per region (the ring is the region's; the entries are in
// the log of whichever node rotated), it raises `pseudonym_key_history`
// (high) for:
// - a rotation to version N that does not supersede N-1;
// - two announcements of one version that disagree (another predecessor, or
//   another retirement deadline): two histories, or a retirement moved;
// - a retirement of a version no announced rotation superseded, or whose
//   deadline is not the one its rotation announced.
// A repeated identical announcement is not counted twice.
// Not thread-safe: owned by the auditor's pipeline thread.
#ifndef CLOVER_AUDIT_PSEUDONYM_KEY_CHECK_H_
#define CLOVER_AUDIT_PSEUDONYM_KEY_CHECK_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "audit/incident.h"
#include "entry/pseudonym_key_entry.h"

namespace clover::audit {

inline constexpr absl::string_view kDetectorPseudonymKey =
    "pseudonym_key_history";

class PseudonymKeyCheck {
 public:
  // Feeds the entry at `index` of log `origin`; appends findings to `out`.
  void Observe(absl::string_view origin, uint64_t index,
               const entry::PseudonymKeyEvent& e, std::vector<Finding>* out);

 private:
  struct Region {
    // Rotations by new version: the version superseded and its deadline.
    absl::flat_hash_map<uint32_t, std::pair<uint32_t, absl::Time>> rotations;
    // Superseded version -> the deadline its rotation announced.
    absl::flat_hash_map<uint32_t, absl::Time> superseded;
    absl::flat_hash_map<uint32_t, absl::Time> retired;
  };
  absl::flat_hash_map<std::string, Region> regions_;
};

}  // namespace clover::audit

#endif  // CLOVER_AUDIT_PSEUDONYM_KEY_CHECK_H_
