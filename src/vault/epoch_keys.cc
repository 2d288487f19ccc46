#include "vault/epoch_keys.h"

#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/big_endian.h"
#include "crypto/constant_time.h"
#include "crypto/random.h"

namespace clover::vault {
namespace {

constexpr uint8_t kRowFormat = 1;
constexpr size_t kRowFixed = 1 + 8 + 1 + 8 + 2;
constexpr absl::string_view kSealLabel = "clover/dek-epoch/v1";

std::string Aad(absl::string_view subject) {
  std::string aad(kSealLabel);
  aad.append(subject.data(), subject.size());
  return aad;
}

absl::Status Malformed(absl::string_view id) {
  return absl::DataLossError(
      absl::StrCat("epoch row ", std::string(id), " is malformed"));
}

}  // namespace

bool IsEpochSealed(absl::string_view wrapped) {
  return absl::StartsWith(WrappedKeyKekId(wrapped), kEpochIdPrefix);
}

std::string EpochRow::Encode() const {
  std::string out;
  out.push_back(static_cast<char>(kRowFormat));
  AppendBigEndian64(static_cast<uint64_t>(created_micros), &out);
  out.push_back(initial ? 1 : 0);
  AppendBigEndian64(tag, &out);
  out.push_back(static_cast<char>(wrapped_key.size() >> 8));
  out.push_back(static_cast<char>(wrapped_key.size() & 0xff));
  out.append(wrapped_key);
  return out;
}

absl::StatusOr<EpochRow> EpochRow::Decode(absl::string_view id,
                                          absl::string_view in) {
  if (!absl::StartsWith(id, kEpochIdPrefix) || in.size() < kRowFixed ||
      static_cast<uint8_t>(in[0]) != kRowFormat) {
    return Malformed(id);
  }
  EpochRow row;
  row.id = std::string(id);
  row.created_micros = static_cast<int64_t>(ReadBigEndian64(in.data() + 1));
  row.initial = (static_cast<uint8_t>(in[9]) & 1) != 0;
  row.tag = ReadBigEndian64(in.data() + 10);
  const size_t len = (static_cast<size_t>(static_cast<uint8_t>(in[18])) << 8) |
                     static_cast<uint8_t>(in[19]);
  in.remove_prefix(kRowFixed);
  if (in.size() != len || len == 0) return Malformed(id);
  row.wrapped_key = std::string(in);
  return row;
}

EpochKey::EpochKey(EpochRow row, const crypto::SecretKey& key)
    : row_(std::move(row)),
      key_(std::make_shared<crypto::SecretKey>(key)),
      contexts_([k = key_] {
        return crypto::Aes256Gcm::Create(absl::string_view(
            reinterpret_cast<const char*>(k->data()), k->size()));
      }) {}

EpochKey::EpochKey(EpochRow row, std::unique_ptr<HeldKey> held)
    : row_(std::move(row)),
      held_(std::move(held)),
      key_(std::make_shared<crypto::SecretKey>()),
      contexts_([] {
        return absl::StatusOr<std::unique_ptr<crypto::Aes256Gcm>>(
            absl::InternalError("a held epoch key has no local context"));
      }) {}

EpochKey::~EpochKey() { crypto::SecureWipe(key_->data(), key_->size()); }

absl::Status EpochKey::Destroy() {
  if (held_ == nullptr || destroyed_.load()) return absl::OkStatus();
  absl::Status s = held_->Destroy();
  if (!s.ok()) {
    return absl::Status(s.code(),
                        absl::StrCat("epoch key ", row_.id, ": ", s.message()));
  }
  destroyed_.store(true);
  return s;
}

absl::StatusOr<std::shared_ptr<EpochKey>> EpochKey::Create(
    KeyEncryptionKey& kek, int64_t created_micros, bool initial, uint64_t tag) {
  if (EpochKeyCustodian* custodian = kek.epoch_custodian()) {
    uint8_t id_bytes[8];
    if (absl::Status s = crypto::RandomBytes(id_bytes, sizeof(id_bytes));
        !s.ok()) {
      return s;
    }
    EpochRow row;
    row.id = absl::StrCat(
        kEpochIdPrefix,
        absl::BytesToHexString(absl::string_view(
            reinterpret_cast<const char*>(id_bytes), sizeof(id_bytes))));
    row.created_micros = created_micros;
    row.initial = initial;
    row.tag = tag;
    row.wrapped_key = std::string(kHeldEpochMarker);
    absl::StatusOr<std::unique_ptr<HeldKey>> held =
        custodian->CreateHeldKey(row.id);
    if (!held.ok()) {
      return absl::Status(
          held.status().code(),
          absl::StrCat("epoch key ", row.id, ": ", held.status().message()));
    }
    return std::shared_ptr<EpochKey>(
        new EpochKey(std::move(row), *std::move(held)));
  }
  crypto::SecretKey key;
  if (absl::Status s = crypto::RandomBytes(key.data(), key.size()); !s.ok()) {
    return s;
  }
  uint8_t id_bytes[8];
  if (absl::Status s = crypto::RandomBytes(id_bytes, sizeof(id_bytes));
      !s.ok()) {
    return s;
  }
  EpochRow row;
  row.id = absl::StrCat(
      kEpochIdPrefix,
      absl::BytesToHexString(absl::string_view(
          reinterpret_cast<const char*>(id_bytes), sizeof(id_bytes))));
  row.created_micros = created_micros;
  row.initial = initial;
  row.tag = tag;
  absl::StatusOr<std::string> wrapped = kek.Wrap(
      absl::string_view(reinterpret_cast<const char*>(key.data()), key.size()),
      row.id);
  if (!wrapped.ok()) {
    crypto::SecureWipe(key.data(), key.size());
    return wrapped.status();
  }
  row.wrapped_key = *std::move(wrapped);
  auto epoch = std::shared_ptr<EpochKey>(new EpochKey(std::move(row), key));
  crypto::SecureWipe(key.data(), key.size());
  return epoch;
}

absl::StatusOr<std::shared_ptr<EpochKey>> EpochKey::Load(KeyEncryptionKey& kek,
                                                         const EpochRow& row) {
  if (row.wrapped_key == kHeldEpochMarker) {
    EpochKeyCustodian* custodian = kek.epoch_custodian();
    if (custodian == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat(
          "epoch key ", row.id,
          " is held in a PKCS#11 token, and the configured KEK has none "
          "(keys.kek.pkcs11)"));
    }
    absl::StatusOr<std::unique_ptr<HeldKey>> held =
        custodian->FindHeldKey(row.id);
    if (absl::IsNotFound(held.status())) {
      return absl::DataLossError(absl::StrCat(
          "epoch key ", row.id,
          " no longer exists in the token: ", held.status().message()));
    }
    if (!held.ok()) {
      return absl::Status(
          held.status().code(),
          absl::StrCat("epoch key ", row.id, ": ", held.status().message()));
    }
    return std::shared_ptr<EpochKey>(new EpochKey(row, *std::move(held)));
  }
  UnwrapJustification why{"vault", "epoch-key", row.id};
  absl::StatusOr<crypto::SecretKey> key =
      kek.Unwrap(row.wrapped_key, row.id, why);
  if (!key.ok()) {
    return absl::Status(
        key.status().code(),
        absl::StrCat("epoch key ", row.id, ": ", key.status().message()));
  }
  auto epoch = std::shared_ptr<EpochKey>(new EpochKey(row, *key));
  crypto::SecureWipe(key->data(), key->size());
  return epoch;
}

absl::StatusOr<EpochRow> EpochKey::RewrappedRow(KeyEncryptionKey& kek) const {
  EpochRow row = row_;
  if (held_ != nullptr) return row;
  absl::StatusOr<std::string> wrapped =
      kek.Wrap(absl::string_view(reinterpret_cast<const char*>(key_->data()),
                                 key_->size()),
               row.id);
  if (!wrapped.ok()) return wrapped.status();
  row.wrapped_key = *std::move(wrapped);
  return row;
}

absl::StatusOr<std::string> EpochKey::Seal(absl::string_view inner,
                                           absl::string_view subject) {
  std::string out;
  out.reserve(1 + row_.id.size() + inner.size() + crypto::kAeadOverhead);
  out.push_back(static_cast<char>(row_.id.size()));
  out.append(row_.id);
  if (held_ != nullptr) {
    if (absl::Status s = held_->Seal(inner, Aad(subject), &out); !s.ok()) {
      return s;
    }
    return out;
  }
  auto gcm = contexts_.Acquire();
  if (!gcm.ok()) return gcm.status();
  if (absl::Status s = (*gcm)->Seal(inner, Aad(subject), &out); !s.ok()) {
    return s;
  }
  return out;
}

absl::StatusOr<std::string> EpochKey::Open(absl::string_view sealed,
                                           absl::string_view subject) {
  const absl::string_view id = WrappedKeyKekId(sealed);
  if (id != row_.id) {
    return absl::DataLossError(absl::StrCat(
        "wrapped data key belongs to ", std::string(id), ", not ", row_.id));
  }
  std::string inner;
  if (held_ != nullptr) {
    absl::Status s =
        held_->Open(sealed.substr(1 + id.size()), Aad(subject), &inner);
    if (absl::IsDataLoss(s)) {
      return absl::DataLossError("wrapped data key failed authentication");
    }
    if (!s.ok()) return s;
    return inner;
  }
  auto gcm = contexts_.Acquire();
  if (!gcm.ok()) return gcm.status();
  if (!(*gcm)->Open(sealed.substr(1 + id.size()), Aad(subject), &inner).ok()) {
    return absl::DataLossError("wrapped data key failed authentication");
  }
  return inner;
}

}  // namespace clover::vault
