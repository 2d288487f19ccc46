// The erasure attestation: the log entry a node appends for each purge of its
// vault's erasure epochs (vault/vault.h, Vault::Purge), which the auditor
// checks against the erasures it saw logged (audit/erasure_check.h):
//   {"v":1,"type":"erasure_purge","time":"<RFC 3339>","node","region",
//    "cut_log_size":N,"erased":N,"erased_root":"<hex>","rewrapped":N,
//    "live":N,"destroyed_epochs":["epoch:…"],"new_epoch":"epoch:…"}
// "erased" subjects are those whose erasure the purge made final: every
// subject erased between the previous purge's cut and this one's. They are
// named by their log pseudonyms (as the gateway's decision entries name
// them); "erased_root" is the RFC 6962 Merkle tree hash over those
// pseudonyms, sorted bytewise and without duplicates, each a leaf. Every
// allowed erasure logged before index "cut_log_size" and not attested by an
// earlier purge is covered, and none logged at or after it.
//
// In a region whose nodes share one PostgreSQL store, a purge is the
// region's (gateway/regional_purge.h): one node coordinates it and every node
// appends its own attestation to its own log, with "purge":"<region>/<n>"
// (the region-wide purge's id; the member is absent for an embedded store's
// purge) and the same "new_epoch" and "destroyed_epochs". Each node's
// "erased"/"erased_root" then cover exactly the allowed erasures its own log
// holds before its own "cut_log_size" (taken before the region's new epoch
// was made) and after its previous attestation's; "rewrapped" and "live" are
// the region's.
#ifndef CLOVER_ENTRY_ERASURE_ATTESTATION_H_
#define CLOVER_ENTRY_ERASURE_ATTESTATION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace clover::entry {

inline constexpr absl::string_view kErasurePurgeType = "erasure_purge";

struct ErasurePurge {
  absl::Time time;
  std::string node;
  std::string region;
  uint64_t cut_log_size = 0;
  uint64_t erased = 0;
  std::string erased_root;  // hex
  uint64_t rewrapped = 0;
  uint64_t live = 0;
  std::vector<std::string> destroyed_epochs;
  std::string new_epoch;
  std::string purge;  // region-wide purge id; empty for an embedded store
};

// Hex RFC 6962 root over `pseudonyms` (sorted and deduplicated here).
[[nodiscard]] std::string ErasedSubjectsRoot(
    std::vector<std::string> pseudonyms);
// The entry's canonical JSON.
[[nodiscard]] std::string ErasurePurgeJson(const ErasurePurge& a);
// Errors: InvalidArgument naming the member that is missing or mistyped.
[[nodiscard]] absl::StatusOr<ErasurePurge> ParseErasurePurge(
    absl::string_view json);

}  // namespace clover::entry

#endif  // CLOVER_ENTRY_ERASURE_ATTESTATION_H_
