// The region KEK held in a PKCS#11 token (`keys.kek.pkcs11`): data keys are
// wrapped and unwrapped by AES-256-GCM inside the token (CKM_AES_GCM), and the
// KEK never leaves it. The token also keeps the vault's erasure epoch keys
// (epoch_custodian()): each is a non-extractable AES-256 key labelled with its
// epoch id, and a purge destroys it there (C_DestroyObject).
//
// Wrapped format (as FileKeyEncryptionKey's): u8 id length || id || nonce ||
// ciphertext || tag, AAD "clover/dek/v1" || context. The id is
// "pkcs11:" + label + ":" + 16 hex digits of a fingerprint computed in the
// token (the GCM tag of an empty message under a fixed nonce and a distinct
// AAD), so a different key under the same label is told apart.
//
// Rotation: a new label is the current KEK and the old ones are retired labels
// of the same token (KekRing; `clover keys rewrap` or the node re-wraps).
#ifndef CLOVER_VAULT_PKCS11_KEK_H_
#define CLOVER_VAULT_PKCS11_KEK_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "vault/key_encryption_key.h"
#include "vault/pkcs11_token.h"

namespace clover::vault {

// Labels of epoch keys in the token start with this (the epoch id's prefix).
inline constexpr absl::string_view kEpochKeyLabelPrefix = "epoch:";

// Thread-safe (the token's session pool).
class Pkcs11KeyEncryptionKey : public KeyEncryptionKey {
 public:
  // The key labelled `label` in `token`. Errors: InvalidArgument for an
  // empty label, one over 200 bytes or one starting with "epoch:"; those
  // of Pkcs11Token::FindKey (NotFound: create it with `clover keys
  // pkcs11-create`) and of the fingerprint's encryption.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Pkcs11KeyEncryptionKey>>
  Open(std::shared_ptr<Pkcs11Token> token, const std::string& label);

  absl::string_view id() const override { return id_; }
  absl::StatusOr<std::string> Wrap(absl::string_view data_key,
                                   absl::string_view context) override;
  absl::StatusOr<crypto::SecretKey> Unwrap(
      absl::string_view wrapped, absl::string_view context,
      const UnwrapJustification& justification) override;
  EpochKeyCustodian* epoch_custodian() override { return custodian_.get(); }

  const std::shared_ptr<Pkcs11Token>& token() const { return token_; }
  Pkcs11Token::ObjectHandle handle() const { return key_; }

 private:
  Pkcs11KeyEncryptionKey(std::shared_ptr<Pkcs11Token> token,
                         Pkcs11Token::ObjectHandle key, std::string id);

  const std::shared_ptr<Pkcs11Token> token_;
  const Pkcs11Token::ObjectHandle key_;
  const std::string id_;
  const std::unique_ptr<EpochKeyCustodian> custodian_;
};

// Epoch keys in `token` (what Pkcs11KeyEncryptionKey::epoch_custodian
// returns).
[[nodiscard]] std::unique_ptr<EpochKeyCustodian> NewPkcs11EpochCustodian(
    std::shared_ptr<Pkcs11Token> token);

}  // namespace clover::vault

#endif  // CLOVER_VAULT_PKCS11_KEK_H_
