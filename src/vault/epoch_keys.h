// Erasure epochs: the layer of the key hierarchy that makes crypto-shredding
// final on disk.
//
// Every stored data key is wrapped twice: first by the region KEK (so every
// unwrap still goes to the KEK, with its justification), then that KEK output
// is sealed under the region's current epoch key. An epoch key is a random
// 32-byte AES-256-GCM key; it is stored only KEK-wrapped, in the vault's
// `epochs` table, one row per epoch. Erasure deletes a subject's wrapped key
// at once; a purge (Vault::Purge) makes a new epoch, moves every live key to it
// and destroys the old epoch's row. From then on, a copy of an erased
// subject's row anywhere (an old WAL, SST file, dead tuple or backup) is
// sealed under a key that no longer exists: the KEK alone does not open it.
//
// Sealed format: u8 id length || id ("epoch:" + 16 hex) || nonce || GCM(KEK
// output, AAD "clover/dek-epoch/v1" || subject) || tag. A key stored before
// epochs existed starts with its KEK's id instead (never "epoch:"); Vault
// unwraps such a key through the KEK alone and the next purge seals it.
//
// Epoch row (table `epochs`, key = epoch id): `01` || created (Unix µs, i64
// BE) || flags (bit 0: initial — made when the store was opened, not by a
// purge) || tag (u64 BE, the caller's mark at the purge's cut; the node stores
// its log size there) || u16 BE len || KEK output (context = epoch id).
//
// Held epochs: when the KEK has an epoch custodian (a PKCS#11 token,
// KeyEncryptionKey::epoch_custodian), the epoch key is made in the token as a
// non-extractable key named by the epoch id, sealing and opening run there,
// and the row's KEK output is the marker kHeldEpochMarker instead of a wrapped
// key. Destroy() destroys such a key in the token (a purge calls it).
//
// Thread-safety: EpochKey is immutable and thread-safe.
#ifndef CLOVER_VAULT_EPOCH_KEYS_H_
#define CLOVER_VAULT_EPOCH_KEYS_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crypto/aead.h"
#include "crypto/secret_key_file.h"
#include "vault/key_encryption_key.h"
#include "vault/object_pool.h"

namespace clover::vault {

inline constexpr absl::string_view kEpochIdPrefix = "epoch:";

// The `wrapped_key` of a held epoch's row: u8 length || "held".
inline constexpr absl::string_view kHeldEpochMarker = "\x04held";

// Whether `wrapped` (a stored wrapped key) is sealed under an epoch key.
bool IsEpochSealed(absl::string_view wrapped);

// One epoch's stored row, decoded.
struct EpochRow {
  std::string id;
  int64_t created_micros = 0;
  bool initial = false;
  uint64_t tag = 0;
  std::string wrapped_key;  // KEK output

  [[nodiscard]] std::string Encode() const;
  // Errors: DataLoss for a malformed row.
  [[nodiscard]] static absl::StatusOr<EpochRow> Decode(absl::string_view id,
                                                       absl::string_view in);
};

class EpochKey {
 public:
  // A new random epoch key, its row wrapped by `kek`; made in the key
  // manager instead if `kek` has an epoch custodian. Errors: the KEK's or
  // the custodian's.
  [[nodiscard]] static absl::StatusOr<std::shared_ptr<EpochKey>> Create(
      KeyEncryptionKey& kek, int64_t created_micros, bool initial,
      uint64_t tag);
  // The epoch key of a stored row, unwrapped through `kek` (justified as
  // ("vault", "epoch-key", id)), or found in the KEK's custodian for a held
  // epoch. Errors: the KEK's; DataLoss (also: a held key that no longer
  // exists); FailedPrecondition for a held epoch and a KEK without a
  // custodian.
  [[nodiscard]] static absl::StatusOr<std::shared_ptr<EpochKey>> Load(
      KeyEncryptionKey& kek, const EpochRow& row);
  ~EpochKey();

  const EpochRow& row() const { return row_; }
  absl::string_view id() const { return row_.id; }
  // Whether the key is held in a key manager (see above).
  bool held() const { return held_ != nullptr; }
  // Destroys a held key in its key manager (an in-memory key is wiped when
  // the last reference goes). Once it succeeded, later calls do nothing (a
  // resumed purge calls it again for every old epoch). Errors: the key
  // manager's.
  [[nodiscard]] absl::Status Destroy();

  // This epoch's row with its key wrapped again by `kek` (KEK rotation);
  // the row itself for a held epoch. Errors: the KEK's.
  [[nodiscard]] absl::StatusOr<EpochRow> RewrappedRow(
      KeyEncryptionKey& kek) const;

  // Seals `inner` (a KEK output) for `subject`.
  [[nodiscard]] absl::StatusOr<std::string> Seal(absl::string_view inner,
                                                 absl::string_view subject);
  // Opens a value Seal made under this epoch. Errors: DataLoss if it is
  // malformed, of another epoch or subject, or altered.
  [[nodiscard]] absl::StatusOr<std::string> Open(absl::string_view sealed,
                                                 absl::string_view subject);

 private:
  EpochKey(EpochRow row, const crypto::SecretKey& key);
  EpochKey(EpochRow row, std::unique_ptr<HeldKey> held);
  EpochRow row_;
  std::unique_ptr<HeldKey> held_;
  std::atomic<bool> destroyed_{false};
  std::shared_ptr<crypto::SecretKey> key_;
  ObjectPool<crypto::Aes256Gcm> contexts_;
};

}  // namespace clover::vault

#endif  // CLOVER_VAULT_EPOCH_KEYS_H_
