#include "vault/pkcs11_kek.h"

#include <cstring>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "crypto/aead.h"
#include "crypto/constant_time.h"
#include "crypto/random.h"

namespace clover::vault {
namespace {

constexpr absl::string_view kWrapLabel = "clover/dek/v1";
constexpr absl::string_view kFingerprintAad = "clover/kek-id/v1";

std::string Aad(absl::string_view context) {
  std::string aad(kWrapLabel);
  aad.append(context.data(), context.size());
  return aad;
}

class Pkcs11HeldKey : public HeldKey {
 public:
  Pkcs11HeldKey(std::shared_ptr<Pkcs11Token> token,
                Pkcs11Token::ObjectHandle key)
      : token_(std::move(token)), key_(key) {}

  absl::Status Seal(absl::string_view plaintext, absl::string_view aad,
                    std::string* out) override {
    uint8_t nonce[crypto::kAeadNonceSize];
    if (absl::Status s = crypto::RandomBytes(nonce, sizeof(nonce)); !s.ok()) {
      return s;
    }
    const absl::string_view n(reinterpret_cast<const char*>(nonce),
                              sizeof(nonce));
    const size_t at = out->size();
    out->append(n.data(), n.size());
    absl::Status s = token_->GcmEncrypt(key_, n, aad, plaintext, out);
    if (!s.ok()) out->resize(at);
    return s;
  }

  absl::Status Open(absl::string_view sealed, absl::string_view aad,
                    std::string* out) override {
    if (sealed.size() < crypto::kAeadOverhead) {
      return absl::DataLossError("sealed value is too short");
    }
    return token_->GcmDecrypt(key_, sealed.substr(0, crypto::kAeadNonceSize),
                              aad, sealed.substr(crypto::kAeadNonceSize), out);
  }

  absl::Status Destroy() override { return token_->DestroyObject(key_); }

 private:
  const std::shared_ptr<Pkcs11Token> token_;
  const Pkcs11Token::ObjectHandle key_;
};

class Pkcs11EpochCustodian : public EpochKeyCustodian {
 public:
  explicit Pkcs11EpochCustodian(std::shared_ptr<Pkcs11Token> token)
      : token_(std::move(token)) {}

  absl::StatusOr<std::unique_ptr<HeldKey>> CreateHeldKey(
      absl::string_view name) override {
    absl::StatusOr<Pkcs11Token::ObjectHandle> key = token_->GenerateKey(name);
    if (!key.ok()) return key.status();
    return std::unique_ptr<HeldKey>(new Pkcs11HeldKey(token_, *key));
  }

  absl::StatusOr<std::unique_ptr<HeldKey>> FindHeldKey(
      absl::string_view name) override {
    absl::StatusOr<Pkcs11Token::ObjectHandle> key = token_->FindKey(name);
    if (!key.ok()) return key.status();
    return std::unique_ptr<HeldKey>(new Pkcs11HeldKey(token_, *key));
  }

 private:
  const std::shared_ptr<Pkcs11Token> token_;
};

}  // namespace

std::unique_ptr<EpochKeyCustodian> NewPkcs11EpochCustodian(
    std::shared_ptr<Pkcs11Token> token) {
  return std::make_unique<Pkcs11EpochCustodian>(std::move(token));
}

Pkcs11KeyEncryptionKey::Pkcs11KeyEncryptionKey(
    std::shared_ptr<Pkcs11Token> token, Pkcs11Token::ObjectHandle key,
    std::string id)
    : token_(token),
      key_(key),
      id_(std::move(id)),
      custodian_(NewPkcs11EpochCustodian(std::move(token))) {}

absl::StatusOr<std::unique_ptr<Pkcs11KeyEncryptionKey>>
Pkcs11KeyEncryptionKey::Open(std::shared_ptr<Pkcs11Token> token,
                             const std::string& label) {
  if (token == nullptr) return absl::InvalidArgumentError("no PKCS#11 token");
  if (label.empty() || label.size() > 200 ||
      absl::StartsWith(label, kEpochKeyLabelPrefix)) {
    return absl::InvalidArgumentError(
        absl::StrCat("PKCS#11 KEK label '", label,
                     "' must be 1 to 200 bytes and not start with 'epoch:'"));
  }
  absl::StatusOr<Pkcs11Token::ObjectHandle> key = token->FindKey(label);
  if (!key.ok()) return key.status();
  // The fingerprint: public, and computed by the token since the key never
  // leaves it. A fixed nonce is safe here: it only ever seals this one empty
  // message, and Wrap's nonces are random.
  const std::string zero_nonce(crypto::kAeadNonceSize, '\0');
  std::string tag;
  absl::Status s =
      token->GcmEncrypt(*key, zero_nonce, kFingerprintAad, "", &tag);
  if (!s.ok()) {
    return absl::Status(
        s.code(), absl::StrCat("PKCS#11 KEK '", label, "': ", s.message()));
  }
  std::string id = absl::StrCat("pkcs11:", label, ":",
                                absl::BytesToHexString(tag.substr(0, 8)));
  return std::unique_ptr<Pkcs11KeyEncryptionKey>(
      new Pkcs11KeyEncryptionKey(std::move(token), *key, std::move(id)));
}

absl::StatusOr<std::string> Pkcs11KeyEncryptionKey::Wrap(
    absl::string_view data_key, absl::string_view context) {
  if (data_key.size() != crypto::kSecretKeySize) {
    return absl::InvalidArgumentError("data key must be 32 bytes");
  }
  uint8_t nonce[crypto::kAeadNonceSize];
  if (absl::Status s = crypto::RandomBytes(nonce, sizeof(nonce)); !s.ok()) {
    return s;
  }
  const absl::string_view n(reinterpret_cast<const char*>(nonce),
                            sizeof(nonce));
  std::string out;
  out.reserve(1 + id_.size() + crypto::kAeadOverhead + data_key.size());
  out.push_back(static_cast<char>(id_.size()));
  out.append(id_);
  out.append(n.data(), n.size());
  absl::Status s = token_->GcmEncrypt(key_, n, Aad(context), data_key, &out);
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<crypto::SecretKey> Pkcs11KeyEncryptionKey::Unwrap(
    absl::string_view wrapped, absl::string_view context,
    const UnwrapJustification& why) {
  if (why.actor.empty() || why.purpose.empty()) {
    return absl::InvalidArgumentError(
        "key unwrap needs an actor and a purpose");
  }
  const absl::string_view stored_id = WrappedKeyKekId(wrapped);
  if (stored_id.empty())
    return absl::DataLossError("wrapped data key is malformed");
  if (stored_id != id_) {
    return absl::DataLossError(absl::StrCat("wrapped data key belongs to KEK ",
                                            std::string(stored_id), ", not ",
                                            id_));
  }
  absl::string_view body = wrapped.substr(1 + stored_id.size());
  if (body.size() != crypto::kAeadOverhead + crypto::kSecretKeySize) {
    return absl::DataLossError("wrapped data key has the wrong size");
  }
  std::string plain;
  absl::Status s = token_->GcmDecrypt(
      key_, body.substr(0, crypto::kAeadNonceSize), Aad(context),
      body.substr(crypto::kAeadNonceSize), &plain);
  if (absl::IsDataLoss(s)) {
    return absl::DataLossError("wrapped data key failed authentication");
  }
  if (!s.ok()) return s;
  if (plain.size() != crypto::kSecretKeySize) {
    crypto::SecureWipe(plain.data(), plain.size());
    return absl::DataLossError("wrapped data key has the wrong size");
  }
  crypto::SecretKey key;
  std::memcpy(key.data(), plain.data(), key.size());
  crypto::SecureWipe(plain.data(), plain.size());
  return key;
}

}  // namespace clover::vault
