// C2SP tlog-checkpoint note bodies: origin, tree size, base64 root hash,
// extension lines.
#ifndef CLOVER_LOG_CHECKPOINT_H_
#define CLOVER_LOG_CHECKPOINT_H_

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "log/merkle.h"
#include "log/note.h"

namespace clover::log {

struct Checkpoint {
  std::string origin;
  uint64_t size = 0;
  Hash root{};
  std::vector<std::string> extensions;  // opaque, non-empty lines

  bool operator==(const Checkpoint&) const = default;
};

// The note text ("origin\nsize\nbase64(root)\n[ext\n...]").
[[nodiscard]] std::string FormatCheckpoint(const Checkpoint& checkpoint);

// Parses a note text. Errors: InvalidArgument naming the bad line (size with
// leading zeros or out of range, root not canonical base64 of 32 bytes, empty
// lines, ...).
[[nodiscard]] absl::StatusOr<Checkpoint> ParseCheckpoint(
    absl::string_view text);

// Opens a signed checkpoint note with `verifiers` and parses it; requires the
// origin to equal `origin` when `origin` is non-empty. Errors: those of
// OpenNote and ParseCheckpoint, Unauthenticated for an origin mismatch.
[[nodiscard]] absl::StatusOr<Checkpoint> OpenCheckpoint(
    absl::string_view note, absl::string_view origin,
    std::span<const NoteVerifier* const> verifiers);

}  // namespace clover::log

#endif  // CLOVER_LOG_CHECKPOINT_H_
