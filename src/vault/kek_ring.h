// KEK rotation: a current key-encryption key plus the retired ones whose
// wrapped data keys may still be in storage.
//
// New data keys are wrapped by the current KEK; a wrapped key is unwrapped by
// the KEK whose id it carries (see KeyEncryptionKey: every wrapped key starts
// with the id of the KEK that wrapped it). The vault re-wraps a subject's key
// under the current KEK whenever it writes the subject, and Vault::RewrapKeys
// (`clover keys rewrap`) re-wraps the rest, after which the retired KEKs can
// be destroyed.
#ifndef CLOVER_VAULT_KEK_RING_H_
#define CLOVER_VAULT_KEK_RING_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "config/deployment.h"
#include "vault/key_encryption_key.h"

namespace clover::vault {

// Thread-safe if its KEKs are.
class KekRing : public KeyEncryptionKey {
 public:
  // Errors: InvalidArgument if `current` is null or two KEKs share an id (the
  // message names the id).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<KekRing>> Create(
      std::unique_ptr<KeyEncryptionKey> current,
      std::vector<std::unique_ptr<KeyEncryptionKey>> retired);

  // The current KEK's id.
  absl::string_view id() const override { return current_->id(); }
  // Wraps with the current KEK.
  absl::StatusOr<std::string> Wrap(absl::string_view data_key,
                                   absl::string_view context) override;
  // Unwraps with the KEK named in `wrapped`. Errors: those of that KEK;
  // DataLoss if no KEK of the ring has that id (the message names the ids).
  absl::StatusOr<crypto::SecretKey> Unwrap(
      absl::string_view wrapped, absl::string_view context,
      const UnwrapJustification& justification) override;
  // The current KEK's custodian, else the first retired KEK's: epochs held
  // in a token stay usable while moving off it.
  EpochKeyCustodian* epoch_custodian() override;

 private:
  KekRing(std::unique_ptr<KeyEncryptionKey> current,
          std::vector<std::unique_ptr<KeyEncryptionKey>> retired);

  std::unique_ptr<KeyEncryptionKey> current_;
  std::vector<std::unique_ptr<KeyEncryptionKey>> retired_;
};

// The KEK of a deployment's `keys` section: the file KEK of `kek_file`, or the
// token KEK of `pkcs11_kek` (vault/pkcs11_kek.h), in a ring with the retired
// ones (`retired_kek_files`, `pkcs11_kek.retired_labels`) if there are any.
// Errors: those of the key files, of Pkcs11Token::Open and
// Pkcs11KeyEncryptionKey::Open (each message names the config key), and of
// KekRing::Create.
[[nodiscard]] absl::StatusOr<std::unique_ptr<KeyEncryptionKey>>
OpenConfiguredKek(const KeysConfig& keys);

}  // namespace clover::vault

#endif  // CLOVER_VAULT_KEK_RING_H_
