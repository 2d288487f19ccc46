// Rotation of the pseudonym root key: a key ring of root versions, shared by
// every node of a region through the vault's store.
//
// Version 1 is the key file (keys.pseudonym_key_file); every later version is
// a random 32-byte key made by Rotate, stored only KEK-wrapped (like the
// erasure-epoch keys, vault/epoch_keys.h) in the vault store's token table,
// one row per version, so every node of a region (PostgreSQL store) reads the
// same ring. New tokens are made under the newest version (the current one).
// Rotate gives the version it supersedes a retirement deadline: now + the
// overlap window. Until then its tokens still resolve; from then on the ring
// refuses them (TokenExpiredError: the gateway answers 410 token_expired) and
// DestroyRetired deletes its wrapped key from the row (the row stays, so its
// tokens are told apart from forged ones). Deadlines are stored in the rows,
// not taken from each node's config: every node retires a version at the same
// instant.
//
// The key file also keys the subject pseudonyms of the decision log
// (crypto/subject_pseudonym.h) and of the access index; those are not
// versioned: they are recorded in a hash-chained log that an auditor checks
// against the same key, and a subject's access report must find entries
// from before and after a rotation. Retiring version 1 retires its tokens,
// not the file.
//
// Row (token table, key "pseudonym-root/" + 8 decimal digits of the version):
// `01` || version (u32 BE) || created (Unix µs, i64 BE) || retire_at (Unix
// µs, i64 BE; 0: none, the current version) || flags (bit 0: destroyed) ||
// u16 BE len || KEK output of the root key (context
// "clover/pseudonym-root/v<N>"; empty for version 1 and once destroyed).
//
// Thread-safe.
#ifndef CLOVER_VAULT_PSEUDONYM_RING_H_
#define CLOVER_VAULT_PSEUDONYM_RING_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/clock.h"
#include "vault/key_encryption_key.h"
#include "vault/pseudonymizer.h"
#include "vault/storage.h"
#include "vault/token_keys.h"

namespace clover::vault {

inline constexpr absl::string_view kPseudonymRootRowPrefix = "pseudonym-root/";
// The overlap window when neither config nor caller gives one.
inline constexpr absl::Duration kDefaultPseudonymOverlap = absl::Hours(24 * 30);

struct PseudonymRootRow {
  uint32_t version = 0;
  int64_t created_micros = 0;
  int64_t retire_at_micros = 0;  // 0: none
  bool destroyed = false;
  std::string wrapped_key;

  [[nodiscard]] std::string Key() const;
  [[nodiscard]] std::string Encode() const;
  // Errors: DataLoss for a malformed row or one whose key does not match.
  [[nodiscard]] static absl::StatusOr<PseudonymRootRow> Decode(
      absl::string_view key, absl::string_view value);
};

enum class PseudonymKeyState { kCurrent, kOverlap, kRetired };
absl::string_view ToString(PseudonymKeyState state);

struct PseudonymVersionInfo {
  uint32_t version = 0;
  PseudonymKeyState state = PseudonymKeyState::kCurrent;
  absl::Time created = absl::InfinitePast();      // InfinitePast: the file
  absl::Time retire_at = absl::InfiniteFuture();  // InfiniteFuture: none
  bool destroyed = false;                         // key material deleted
};

// FailedPrecondition with a marker payload: a token of a retired root
// version (the gateway answers 410 token_expired).
[[nodiscard]] absl::Status TokenExpiredError(uint32_t version);
[[nodiscard]] bool IsTokenExpired(const absl::Status& status);

class PseudonymRing {
 public:
  // Reads the ring's rows from `storage`, unwraps the root keys of the
  // versions not yet retired through `kek` and hands them to `keys`, whose
  // current version becomes the ring's. `storage`, `kek`, `keys` and `clock`
  // must outlive the ring. `refresh`: where several nodes share the store,
  // how stale this node's view may get before the current version is read
  // again (zero: only this process rotates, never re-read). Errors: those of
  // the storage and the KEK; DataLoss for a malformed row.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<PseudonymRing>> Open(
      StorageDriver& storage, KeyEncryptionKey& kek, TokenKeyRing& keys,
      const Clock& clock, absl::Duration refresh);

  // Keys to make new tokens with: those of the current version.
  [[nodiscard]] absl::StatusOr<std::shared_ptr<const TokenKeys>> Current(
      absl::string_view destination, absl::string_view purpose);
  // Keys to resolve a token of root `version`. Errors: TokenExpiredError if
  // the version is retired; NotFound if the ring has no such version (after
  // re-reading the store once: another node may have just rotated); as
  // TokenKeyRing::GetVersion.
  [[nodiscard]] absl::StatusOr<std::shared_ptr<const TokenKeys>> ForVersion(
      uint32_t version, absl::string_view destination,
      absl::string_view purpose);
  // Versions whose tokens resolve now, newest first. A format-preserving (ff1)
  // token carries no version: it is tried under these in this order.
  [[nodiscard]] std::vector<uint32_t> LiveVersions();

  // Makes version current + 1 the current one and gives the version it
  // supersedes the deadline now + `overlap` (zero: its tokens are refused at
  // once). Two nodes rotating at once: one wins, the other re-reads and
  // returns the winner's version. Errors: those of the storage and the KEK;
  // InvalidArgument for a negative overlap.
  // `announce`, if set, is called with the new version, the superseded one
  // and its retirement deadline (whole milliseconds) before anything is
  // written (the node logs the rotation there); its error stops the rotation.
  [[nodiscard]] absl::StatusOr<uint32_t> Rotate(
      absl::Duration overlap,
      const std::function<absl::Status(uint32_t next, uint32_t superseded,
                                       absl::Time retire_at)>& announce =
          nullptr);
  // Deletes the wrapped key of every retired version from its row (the row
  // stays); returns the versions it destroyed now. Errors: the storage's.
  [[nodiscard]] absl::StatusOr<std::vector<uint32_t>> DestroyRetired();
  // Re-wraps the root keys of versions still held under the KEK's current
  // key (KEK rotation); returns how many rows it rewrote. Errors: the KEK's
  // and the storage's.
  [[nodiscard]] absl::StatusOr<int> Rewrap();

  // Every version, oldest first, with its state now. Errors: the storage's.
  [[nodiscard]] absl::StatusOr<std::vector<PseudonymVersionInfo>> Versions();
  // Re-reads the ring from the store. Errors: as Open.
  [[nodiscard]] absl::Status Reload();

 private:
  PseudonymRing(StorageDriver& storage, KeyEncryptionKey& kek,
                TokenKeyRing& keys, const Clock& clock, absl::Duration refresh)
      : storage_(storage),
        kek_(kek),
        keys_(keys),
        clock_(clock),
        refresh_(refresh) {}
  absl::StatusOr<std::vector<PseudonymRootRow>> ReadRows();
  absl::Status ReloadLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status MaybeRefresh();
  PseudonymKeyState StateOf(const PseudonymRootRow& row, uint32_t current,
                            absl::Time now) const;

  StorageDriver& storage_;
  KeyEncryptionKey& kek_;
  TokenKeyRing& keys_;
  const Clock& clock_;
  const absl::Duration refresh_;
  absl::Mutex mu_;
  std::vector<PseudonymRootRow> rows_ ABSL_GUARDED_BY(mu_);  // by version
  uint32_t current_ ABSL_GUARDED_BY(mu_) = kFileRootVersion;
  // When the ring was last read (Unix µs): checked on every token request
  // without the lock.
  std::atomic<int64_t> loaded_micros_{0};
};

// One reading of an ff1 token.
struct Ff1Candidate {
  uint32_t version = 0;
  std::string value;
};
// Reverses an ff1 token of `field` issued for (destination, purpose) under
// every live version (LiveVersions), newest first. Ambiguity rule: FF1 is an
// unauthenticated permutation with no room for a version tag, so under every
// live version the token reads as some well-formed value and nothing tells
// which version made it; during an overlap there is one candidate per live
// version, and the caller that knows when the token was issued takes the
// version that was current then (PseudonymVersionInfo::created). Outside an
// overlap there is exactly one. (The gateway reverses only siv tokens.)
// Errors: those of Pseudonymizer::ReverseFf1.
[[nodiscard]] absl::StatusOr<std::vector<Ff1Candidate>> ReverseFf1UnderRing(
    const Pseudonymizer& pseudonymizer, PseudonymRing& ring,
    const FieldSpec& field, absl::string_view token,
    absl::string_view destination, absl::string_view purpose);

}  // namespace clover::vault

#endif  // CLOVER_VAULT_PSEUDONYM_RING_H_
