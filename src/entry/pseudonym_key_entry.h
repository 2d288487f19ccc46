// The pseudonym-key entry: a node appends one to its log before a change of
// the region's pseudonym root key ring (vault/pseudonym_ring.h) takes effect:
//   {"v":1,"type":"pseudonym_key","event":"rotate"|"retire","key":"v<N>",
//    "supersedes":"v<M>","overlap_end":"<RFC 3339>","time":"<RFC 3339>",
//    "node","region"}
// "rotate": version N becomes current (new tokens are made under it);
// "supersedes" names the version it replaces, whose tokens resolve until
// "overlap_end". "retire": version N's tokens are refused from "overlap_end"
// on ("supersedes" absent). A rotation appends both, rotate first. Key ids
// only, never key material. The auditor checks the sequence region by region
// (audit/pseudonym_key_check.h).
#ifndef CLOVER_ENTRY_PSEUDONYM_KEY_ENTRY_H_
#define CLOVER_ENTRY_PSEUDONYM_KEY_ENTRY_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace clover::entry {

inline constexpr absl::string_view kPseudonymKeyType = "pseudonym_key";

struct PseudonymKeyEvent {
  absl::Time time;
  std::string node;
  std::string region;
  std::string event;       // "rotate" or "retire"
  std::string key;         // "v<N>"
  std::string supersedes;  // rotate only
  absl::Time overlap_end;
};

// "v<N>"; and back (0 if `id` is not one).
[[nodiscard]] std::string PseudonymKeyId(uint32_t version);
[[nodiscard]] uint32_t PseudonymKeyVersion(absl::string_view id);
// The entry's canonical JSON.
[[nodiscard]] std::string PseudonymKeyJson(const PseudonymKeyEvent& e);
// Errors: InvalidArgument naming the member missing, mistyped or invalid.
[[nodiscard]] absl::StatusOr<PseudonymKeyEvent> ParsePseudonymKey(
    absl::string_view json);

}  // namespace clover::entry

#endif  // CLOVER_ENTRY_PSEUDONYM_KEY_ENTRY_H_
