#include "vault/key_encryption_key.h"

#include <cstring>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "crypto/aead.h"
#include "crypto/constant_time.h"
#include "crypto/sha256.h"

namespace clover::vault {
namespace {

constexpr absl::string_view kWrapLabel = "clover/dek/v1";

std::string Aad(absl::string_view context) {
  std::string aad(kWrapLabel);
  aad.append(context.data(), context.size());
  return aad;
}

}  // namespace

absl::string_view WrappedKeyKekId(absl::string_view wrapped) {
  if (wrapped.empty()) return {};
  size_t len = static_cast<uint8_t>(wrapped[0]);
  if (wrapped.size() < 1 + len) return {};
  return wrapped.substr(1, len);
}

FileKeyEncryptionKey::FileKeyEncryptionKey(const crypto::SecretKey& key)
    : key_(std::make_shared<crypto::SecretKey>(key)), contexts_([k = key_] {
        return crypto::Aes256Gcm::Create(absl::string_view(
            reinterpret_cast<const char*>(k->data()), k->size()));
      }) {
  // The id is a fingerprint under a distinct label, so it reveals nothing
  // usable.
  std::string material("clover/kek-id/v1");
  material.append(reinterpret_cast<const char*>(key.data()), key.size());
  crypto::Sha256Digest digest = crypto::Sha256(material);
  crypto::SecureWipe(material.data(), material.size());
  id_ = "file:" + absl::BytesToHexString(absl::string_view(
                      reinterpret_cast<const char*>(digest.data()), 8));
}

FileKeyEncryptionKey::~FileKeyEncryptionKey() {
  crypto::SecureWipe(key_->data(), key_->size());
}

absl::StatusOr<std::unique_ptr<FileKeyEncryptionKey>>
FileKeyEncryptionKey::Open(const std::string& path) {
  absl::StatusOr<crypto::SecretKey> key = crypto::ReadSecretKeyFile(path);
  if (!key.ok()) return key.status();
  auto kek = FromKey(*key);
  crypto::SecureWipe(key->data(), key->size());
  return kek;
}

std::unique_ptr<FileKeyEncryptionKey> FileKeyEncryptionKey::FromKey(
    const crypto::SecretKey& key) {
  return std::unique_ptr<FileKeyEncryptionKey>(new FileKeyEncryptionKey(key));
}

absl::StatusOr<std::string> FileKeyEncryptionKey::Wrap(
    absl::string_view data_key, absl::string_view context) {
  if (data_key.size() != crypto::kSecretKeySize) {
    return absl::InvalidArgumentError("data key must be 32 bytes");
  }
  std::string out;
  out.push_back(static_cast<char>(id_.size()));
  out.append(id_);
  auto gcm = contexts_.Acquire();
  if (!gcm.ok()) return gcm.status();
  absl::Status s = (*gcm)->Seal(data_key, Aad(context), &out);
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<crypto::SecretKey> FileKeyEncryptionKey::Unwrap(
    absl::string_view wrapped, absl::string_view context,
    const UnwrapJustification& why) {
  if (why.actor.empty() || why.purpose.empty()) {
    return absl::InvalidArgumentError(
        "key unwrap needs an actor and a purpose");
  }
  const std::string stored_id(WrappedKeyKekId(wrapped));
  if (stored_id.empty())
    return absl::DataLossError("wrapped data key is malformed");
  if (!crypto::ConstantTimeEquals(stored_id, id_)) {
    return absl::DataLossError(absl::StrCat("wrapped data key belongs to KEK ",
                                            stored_id, ", not ", id_));
  }
  std::string plain;
  auto gcm = contexts_.Acquire();
  if (!gcm.ok()) return gcm.status();
  absl::Status s =
      (*gcm)->Open(wrapped.substr(1 + stored_id.size()), Aad(context), &plain);
  if (!s.ok())
    return absl::DataLossError("wrapped data key failed authentication");
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
