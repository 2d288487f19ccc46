// One subject's stored state, as a single row of the `subjects` table: its
// metadata (state, revision, home jurisdiction, time), and while it is live its
// token handle, its data key wrapped by the region KEK and its record sealed
// under that data key. One row per subject means one storage lookup per read
// and one memtable insert per write, and a subject's key and record can never
// be found out of step. An erased subject's row is a tombstone: metadata only,
// no key and no record (crypto-shredding).
//
// Thread-compatible value type; Encode/Decode are pure.
#ifndef CLOVER_VAULT_SUBJECT_ROW_H_
#define CLOVER_VAULT_SUBJECT_ROW_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "vault/token_keys.h"

namespace clover::vault {

struct SubjectRow {
  enum class State : uint8_t { kLive = 1, kErased = 2 };

  State state = State::kLive;
  uint64_t revision = 0;  // of the record; 1 for the first write
  int64_t micros = 0;     // Unix µs the subject was created (erased, if so)
  std::string jurisdiction;
  // Live rows only.
  TokenHandle handle{};
  std::string wrapped_key;    // KeyEncryptionKey::Wrap output
  std::string sealed_record;  // AES-256-GCM: nonce || ciphertext || tag

  bool live() const { return state == State::kLive; }

  // `02` || state || revision (u64 BE) || micros (i64 BE) || u8 len ||
  // jurisdiction, then for a live row: handle (16) || u16 BE len || wrapped key
  // || sealed record (the rest).
  [[nodiscard]] std::string Encode() const;
  // Errors: DataLoss if `in` is not a row this version wrote (truncated,
  // unknown format or state, trailing bytes on a tombstone).
  [[nodiscard]] static absl::StatusOr<SubjectRow> Decode(absl::string_view in);
  // The first bytes of every encoded live row (format and state), for writes
  // conditional on a row being live (StorageDriver::WriteIfPrefixed).
  [[nodiscard]] static std::string LivePrefix();
  // The state of an encoded row without decoding the rest (for scans that
  // only tell live subjects from tombstones). Errors: DataLoss as Decode for
  // an unknown format or state.
  [[nodiscard]] static absl::StatusOr<State> PeekState(absl::string_view in);
};

}  // namespace clover::vault

#endif  // CLOVER_VAULT_SUBJECT_ROW_H_
