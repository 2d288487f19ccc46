#include "vault/kek_ring.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "vault/pkcs11_kek.h"

namespace clover::vault {

KekRing::KekRing(std::unique_ptr<KeyEncryptionKey> current,
                 std::vector<std::unique_ptr<KeyEncryptionKey>> retired)
    : current_(std::move(current)), retired_(std::move(retired)) {}

absl::StatusOr<std::unique_ptr<KekRing>> KekRing::Create(
    std::unique_ptr<KeyEncryptionKey> current,
    std::vector<std::unique_ptr<KeyEncryptionKey>> retired) {
  if (current == nullptr)
    return absl::InvalidArgumentError("a KEK ring needs a current KEK");
  std::vector<absl::string_view> ids = {current->id()};
  for (const auto& kek : retired) {
    if (kek == nullptr)
      return absl::InvalidArgumentError("a retired KEK is missing");
    for (absl::string_view seen : ids) {
      if (seen == kek->id()) {
        return absl::InvalidArgumentError(
            absl::StrCat("KEK ", std::string(kek->id()),
                         " is given twice (as current or retired key)"));
      }
    }
    ids.push_back(kek->id());
  }
  return std::unique_ptr<KekRing>(
      new KekRing(std::move(current), std::move(retired)));
}

absl::StatusOr<std::string> KekRing::Wrap(absl::string_view data_key,
                                          absl::string_view context) {
  return current_->Wrap(data_key, context);
}

absl::StatusOr<crypto::SecretKey> KekRing::Unwrap(
    absl::string_view wrapped, absl::string_view context,
    const UnwrapJustification& justification) {
  const absl::string_view id = WrappedKeyKekId(wrapped);
  // Key ids are public fingerprints, so comparing them need not be
  // constant-time.
  if (id == current_->id())
    return current_->Unwrap(wrapped, context, justification);
  for (const auto& kek : retired_) {
    if (id == kek->id()) return kek->Unwrap(wrapped, context, justification);
  }
  if (id.empty()) return absl::DataLossError("wrapped data key is malformed");
  std::vector<std::string> retired_ids;
  for (const auto& kek : retired_) retired_ids.emplace_back(kek->id());
  return absl::DataLossError(absl::StrCat(
      "wrapped data key belongs to KEK ", std::string(id),
      ", which is neither the current ", std::string(current_->id()),
      " nor a retired one [", absl::StrJoin(retired_ids, ", "), "]"));
}

EpochKeyCustodian* KekRing::epoch_custodian() {
  if (EpochKeyCustodian* c = current_->epoch_custodian()) return c;
  for (const auto& kek : retired_) {
    if (EpochKeyCustodian* c = kek->epoch_custodian()) return c;
  }
  return nullptr;
}

namespace {

absl::Status InConfig(absl::string_view key, const absl::Status& s) {
  return absl::Status(s.code(), absl::StrCat(key, ": ", s.message()));
}

}  // namespace

absl::StatusOr<std::unique_ptr<KeyEncryptionKey>> OpenConfiguredKek(
    const KeysConfig& keys) {
  std::unique_ptr<KeyEncryptionKey> current;
  std::vector<std::unique_ptr<KeyEncryptionKey>> retired;
  if (keys.pkcs11_kek.has_value()) {
    const Pkcs11KekConfig& c = *keys.pkcs11_kek;
    absl::StatusOr<std::shared_ptr<Pkcs11Token>> token =
        Pkcs11Token::Open(c.module, c.token, c.pin_file);
    if (!token.ok()) return InConfig("keys.kek.pkcs11", token.status());
    absl::StatusOr<std::unique_ptr<Pkcs11KeyEncryptionKey>> kek =
        Pkcs11KeyEncryptionKey::Open(*token, c.label);
    if (!kek.ok()) return InConfig("keys.kek.pkcs11.label", kek.status());
    current = *std::move(kek);
    for (const std::string& label : c.retired_labels) {
      kek = Pkcs11KeyEncryptionKey::Open(*token, label);
      if (!kek.ok()) {
        return InConfig("keys.kek.pkcs11.retired_labels", kek.status());
      }
      retired.push_back(*std::move(kek));
    }
  } else {
    absl::StatusOr<std::unique_ptr<FileKeyEncryptionKey>> file =
        FileKeyEncryptionKey::Open(keys.kek_file);
    if (!file.ok()) return file.status();
    current = *std::move(file);
  }
  if (keys.retired_kek_files.empty() && retired.empty()) return current;
  for (const std::string& path : keys.retired_kek_files) {
    absl::StatusOr<std::unique_ptr<FileKeyEncryptionKey>> kek =
        FileKeyEncryptionKey::Open(path);
    if (!kek.ok()) return kek.status();
    retired.push_back(*std::move(kek));
  }
  absl::StatusOr<std::unique_ptr<KekRing>> ring =
      KekRing::Create(std::move(current), std::move(retired));
  if (!ring.ok()) return ring.status();
  return std::unique_ptr<KeyEncryptionKey>(*std::move(ring));
}

}  // namespace clover::vault
