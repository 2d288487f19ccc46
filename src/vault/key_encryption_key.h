// The region key-encryption key (KEK): wraps and unwraps subject data keys.
//
// The interface is deliberately small so that the KEK can live outside the
// vault process: an external key manager held by the auditor implements Unwrap
// by checking the justification against its own policy, logging it, and
// refusing when it disagrees. A refusal makes every record whose data key is
// not already cached unreadable, which is the control the auditor holds over
// the operator.
#ifndef CLOVER_VAULT_KEY_ENCRYPTION_KEY_H_
#define CLOVER_VAULT_KEY_ENCRYPTION_KEY_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crypto/aead.h"
#include "crypto/secret_key_file.h"
#include "vault/object_pool.h"

namespace clover::vault {

// Why a data key is being unwrapped. Carried to the KEK on every unwrap.
struct UnwrapJustification {
  std::string
      actor;  // principal id, or "vault" for the vault's own maintenance
  std::string purpose;  // e.g. "customer_support", "detokenize", "write"
  std::string subject;  // the subject whose key is unwrapped
  // Why, as a short code ("read", "export"; empty: the vault's own
  // maintenance), and the index of the node's log entry of the decision
  // that caused the access, when the caller knows it.
  std::string code = {};
  std::optional<uint64_t> decision_index = std::nullopt;
};

// An AES-256-GCM key held in a key manager (a PKCS#11 token): sealing and
// opening run there and the key never leaves it. Thread-safe.
class HeldKey {
 public:
  virtual ~HeldKey() = default;
  // Appends nonce (12) || ciphertext || tag (16) of `plaintext` bound to `aad`
  // (crypto::Aes256Gcm's format). Errors: Unavailable from the key manager.
  [[nodiscard]] virtual absl::Status Seal(absl::string_view plaintext,
                                          absl::string_view aad,
                                          std::string* out) = 0;
  // Appends the plaintext of a Seal output. Errors: DataLoss if it fails
  // authentication; Unavailable.
  [[nodiscard]] virtual absl::Status Open(absl::string_view sealed,
                                          absl::string_view aad,
                                          std::string* out) = 0;
  // Destroys the key in the key manager; Seal and Open fail afterwards.
  // Errors: Unavailable.
  [[nodiscard]] virtual absl::Status Destroy() = 0;
};

// A key manager that keeps the vault's erasure epoch keys itself
// (vault/epoch_keys.h), so that a purge destroys them there. Thread-safe.
class EpochKeyCustodian {
 public:
  virtual ~EpochKeyCustodian() = default;
  // Creates a new non-extractable key named `name`. Errors: AlreadyExists;
  // Unavailable.
  [[nodiscard]] virtual absl::StatusOr<std::unique_ptr<HeldKey>> CreateHeldKey(
      absl::string_view name) = 0;
  // The key named `name`. Errors: NotFound if there is none (destroyed);
  // Unavailable.
  [[nodiscard]] virtual absl::StatusOr<std::unique_ptr<HeldKey>> FindHeldKey(
      absl::string_view name) = 0;
};

// Implementations are thread-safe.
class KeyEncryptionKey {
 public:
  virtual ~KeyEncryptionKey() = default;

  // A stable, non-secret identifier of the key (at most 255 bytes), stored
  // with every wrapped key.
  virtual absl::string_view id() const = 0;

  // Wraps a 32-byte data key, bound to `context` (the subject id): a wrapped
  // key moved to another subject does not unwrap. The result starts with
  // u8 length || id() (WrappedKeyKekId reads it back), which is how rotation
  // finds the KEK of each stored key. Errors: InvalidArgument for a wrong key
  // size; Internal / Unavailable from the key manager.
  [[nodiscard]] virtual absl::StatusOr<std::string> Wrap(
      absl::string_view data_key, absl::string_view context) = 0;

  // Unwraps a key produced by Wrap with the same `context`. Errors:
  // PermissionDenied if the key manager refuses the justification; DataLoss if
  // `wrapped` was altered, belongs to another context, or to another KEK
  // (message names the KEK ids, never key bytes); InvalidArgument if the
  // justification is incomplete; Unavailable if unreachable.
  [[nodiscard]] virtual absl::StatusOr<crypto::SecretKey> Unwrap(
      absl::string_view wrapped, absl::string_view context,
      const UnwrapJustification& justification) = 0;

  // Where the vault keeps its epoch keys: null (the default) for KEK-wrapped
  // rows in the vault's own storage; a key manager's custodian to hold them
  // there (a PKCS#11 KEK does). A KEK that decorates another forwards it.
  virtual EpochKeyCustodian* epoch_custodian() { return nullptr; }
};

// The embedded default: a 32-byte AES-256-GCM key read from a CLOVER-SECRET-V1
// key file
// (`clover keys generate --type secret`). Accepts every complete justification.
// Wrapped format: u8 id length || id || nonce || ciphertext || tag, with AAD
// "clover/dek/v1" || context.
class FileKeyEncryptionKey : public KeyEncryptionKey {
 public:
  // Errors: those of crypto::ReadSecretKeyFile.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<FileKeyEncryptionKey>>
  Open(const std::string& path);
  [[nodiscard]] static std::unique_ptr<FileKeyEncryptionKey> FromKey(
      const crypto::SecretKey& key);
  ~FileKeyEncryptionKey() override;

  absl::string_view id() const override { return id_; }
  absl::StatusOr<std::string> Wrap(absl::string_view data_key,
                                   absl::string_view context) override;
  absl::StatusOr<crypto::SecretKey> Unwrap(
      absl::string_view wrapped, absl::string_view context,
      const UnwrapJustification& justification) override;

 private:
  explicit FileKeyEncryptionKey(const crypto::SecretKey& key);
  // Keyed AES-256-GCM contexts, so a wrap or unwrap does not redo the key
  // schedule; each holds the key, shared with the factory until destruction.
  std::shared_ptr<crypto::SecretKey> key_;
  ObjectPool<crypto::Aes256Gcm> contexts_;
  std::string id_;
};

// The id a KEK stored in `wrapped` (for diagnostics and KEK rotation), or
// empty; a view into `wrapped`.
absl::string_view WrappedKeyKekId(absl::string_view wrapped);

}  // namespace clover::vault

#endif  // CLOVER_VAULT_KEY_ENCRYPTION_KEY_H_
