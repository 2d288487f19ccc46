#include "vault/vault.h"

#include <cstring>
#include <utility>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "crypto/aead.h"
#include "crypto/constant_time.h"
#include "crypto/hkdf.h"
#include "crypto/random.h"
#include "vault/erased.h"
#include "vault/record_parser.h"
#include "vault/subject_id.h"

namespace clover::vault {
namespace {

constexpr uint8_t kFormatV1 = 1;
constexpr uint8_t kStateLive = 1;
constexpr uint8_t kStateErased = 2;
constexpr std::string_view kRecordLabel = "clover/record/v1";

void PutU64(uint64_t v, std::string* out) {
  for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>(v >> (8 * i)));
}

uint64_t GetU64(std::string_view in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

std::string RecordAad(std::string_view subject, uint64_t revision) {
  std::string aad(kRecordLabel);
  aad.push_back(static_cast<char>(subject.size()));
  aad.append(subject);
  PutU64(revision, &aad);
  return aad;
}

std::string_view KeyView(const crypto::SecretKey& k) {
  return std::string_view(reinterpret_cast<const char*>(k.data()), k.size());
}

std::string_view HandleView(const TokenHandle& h) {
  return std::string_view(reinterpret_cast<const char*>(h.data()), h.size());
}

// kKeys value: u8 format || handle (16) || KEK-wrapped data key.
std::string EncodeKeyEntry(const TokenHandle& handle,
                           std::string_view wrapped) {
  std::string out;
  out.push_back(static_cast<char>(kFormatV1));
  out.append(HandleView(handle));
  out.append(wrapped);
  return out;
}

}  // namespace

// kMeta value: u8 format || u8 state || u64 revision || i64 unix micros
// (created or erased) || u8 len || jurisdiction.
struct Vault::Meta {
  uint8_t state = kStateLive;
  uint64_t revision = 0;
  int64_t micros = 0;
  std::string jurisdiction;

  std::string Encode() const {
    std::string out;
    out.push_back(static_cast<char>(kFormatV1));
    out.push_back(static_cast<char>(state));
    PutU64(revision, &out);
    PutU64(static_cast<uint64_t>(micros), &out);
    out.push_back(static_cast<char>(jurisdiction.size()));
    out.append(jurisdiction);
    return out;
  }
  static absl::StatusOr<Meta> Decode(std::string_view in) {
    if (in.size() < 19 || static_cast<uint8_t>(in[0]) != kFormatV1) {
      return absl::DataLossError("subject metadata is malformed");
    }
    Meta m;
    m.state = static_cast<uint8_t>(in[1]);
    m.revision = GetU64(in.substr(2));
    m.micros = static_cast<int64_t>(GetU64(in.substr(10)));
    size_t len = static_cast<uint8_t>(in[18]);
    if (in.size() != 19 + len ||
        (m.state != kStateLive && m.state != kStateErased)) {
      return absl::DataLossError("subject metadata is malformed");
    }
    m.jurisdiction = std::string(in.substr(19));
    return m;
  }
};

struct Vault::SubjectEntry {
  crypto::SecretKey data_key;
  TokenHandle handle;
  absl::Time loaded;
  absl::Mutex mu;
  absl::flat_hash_map<std::string, std::shared_ptr<const SubjectTokenKeys>>
      siv_keys ABSL_GUARDED_BY(mu);
  ~SubjectEntry() { crypto::SecureWipe(data_key.data(), data_key.size()); }
};

Vault::Vault(const Deployment& deployment, const VaultOptions& options,
             ResidencyMap residency, std::unique_ptr<StorageDriver> storage,
             std::unique_ptr<KeyEncryptionKey> kek,
             const crypto::SecretKey& pseudonym_root)
    : schema_(deployment.schema),
      options_(options),
      residency_(std::move(residency)),
      pseudonymizer_(deployment),
      storage_(std::move(storage)),
      kek_(std::move(kek)),
      token_keys_(pseudonym_root),
      cache_(options.key_cache_entries),
      records_(options.record_cache_entries) {}

Vault::~Vault() = default;

absl::StatusOr<std::unique_ptr<Vault>> Vault::Open(
    const Deployment& deployment, const VaultOptions& options,
    std::unique_ptr<StorageDriver> storage,
    std::unique_ptr<KeyEncryptionKey> kek,
    const crypto::SecretKey& pseudonym_root) {
  if (storage == nullptr || kek == nullptr) {
    return absl::InvalidArgumentError("vault needs a storage driver and a KEK");
  }
  CLOVER_ASSIGN_OR_RETURN(ResidencyMap residency,
                          ResidencyMap::Create(deployment, options.region));
  return std::unique_ptr<Vault>(
      new Vault(deployment, options, std::move(residency), std::move(storage),
                std::move(kek), pseudonym_root));
}

absl::StatusOr<std::unique_ptr<Vault>> Vault::OpenEmbedded(
    const Deployment& deployment, const VaultOptions& options,
    const std::string& dir, const RocksDbOptions& rocksdb_options) {
  if (deployment.keys.kek_file.empty() ||
      deployment.keys.pseudonym_key_file.empty()) {
    return absl::InvalidArgumentError(
        "keys.kek_file and keys.pseudonym_key_file must be set");
  }
  CLOVER_ASSIGN_OR_RETURN(std::unique_ptr<FileKeyEncryptionKey> kek,
                          FileKeyEncryptionKey::Open(deployment.keys.kek_file));
  CLOVER_ASSIGN_OR_RETURN(
      crypto::SecretKey root,
      crypto::ReadSecretKeyFile(deployment.keys.pseudonym_key_file));
  CLOVER_ASSIGN_OR_RETURN(std::unique_ptr<StorageDriver> storage,
                          OpenRocksDbStorage(dir, rocksdb_options));
  auto vault =
      Open(deployment, options, std::move(storage), std::move(kek), root);
  crypto::SecureWipe(root.data(), root.size());
  return vault;
}

absl::Mutex& Vault::StripeOf(std::string_view subject) {
  return stripes_[absl::Hash<std::string_view>{}(subject) % kStripes];
}

absl::Status Vault::NotFoundOrErased(std::string_view subject) {
  std::string meta_bytes;
  CLOVER_ASSIGN_OR_RETURN(bool found,
                          storage_->Get(Table::kMeta, subject, &meta_bytes));
  if (found) {
    CLOVER_ASSIGN_OR_RETURN(Meta meta, Meta::Decode(meta_bytes));
    if (meta.state == kStateErased) return ErasedError(subject);
  }
  return absl::NotFoundError(
      absl::StrCat("subject ", std::string(subject), " not found"));
}

absl::StatusOr<Vault::PutResult> Vault::Put(std::string_view subject,
                                            const Record& record) {
  // Everything that can refuse the write without storage comes first: a refused
  // write must leave the store untouched, byte for byte.
  CLOVER_RETURN_IF_ERROR(ValidateSubjectId(subject));
  CLOVER_RETURN_IF_ERROR(ValidateRecord(schema_, record));
  CLOVER_ASSIGN_OR_RETURN(std::string jurisdiction,
                          residency_.JurisdictionOfCountry(record.country));
  CLOVER_RETURN_IF_ERROR(residency_.CheckStoredHere(jurisdiction));

  absl::MutexLock lock(&StripeOf(subject));
  std::string meta_bytes;
  CLOVER_ASSIGN_OR_RETURN(bool exists,
                          storage_->Get(Table::kMeta, subject, &meta_bytes));
  Meta meta;
  std::shared_ptr<SubjectEntry> entry;
  WriteBatch batch;
  const int64_t now = absl::ToUnixMicros(absl::Now());
  if (exists) {
    CLOVER_ASSIGN_OR_RETURN(meta, Meta::Decode(meta_bytes));
    if (meta.state == kStateErased) {
      return absl::FailedPreconditionError(
          absl::StrCat("subject ", std::string(subject),
                       " was erased; its id cannot be reused"));
    }
    if (meta.jurisdiction != jurisdiction) {
      return absl::FailedPreconditionError(absl::StrCat(
          "subject ", std::string(subject), " has home jurisdiction ",
          meta.jurisdiction, "; country ", record.country, " (", jurisdiction,
          ") would change it"));
    }
    CLOVER_ASSIGN_OR_RETURN(entry,
                            LoadEntryLocked(subject, {"vault", "write"}));
    meta.revision += 1;
  } else {
    entry = std::make_shared<SubjectEntry>();
    CLOVER_RETURN_IF_ERROR(
        crypto::RandomBytes(entry->data_key.data(), entry->data_key.size()));
    CLOVER_RETURN_IF_ERROR(
        crypto::RandomBytes(entry->handle.data(), entry->handle.size()));
    entry->loaded = absl::Now();
    CLOVER_ASSIGN_OR_RETURN(std::string wrapped,
                            kek_->Wrap(KeyView(entry->data_key), subject));
    batch.Put(Table::kKeys, subject, EncodeKeyEntry(entry->handle, wrapped));
    batch.Put(Table::kTokens, HandleView(entry->handle), subject);
    meta.state = kStateLive;
    meta.revision = 1;
    meta.micros = now;
    meta.jurisdiction = jurisdiction;
  }
  std::string value;
  value.push_back(static_cast<char>(kFormatV1));
  PutU64(meta.revision, &value);
  std::string plain = EncodeRecord(record);
  absl::Status sealed =
      crypto::AeadSeal(KeyView(entry->data_key), plain,
                       RecordAad(subject, meta.revision), &value);
  crypto::SecureWipe(plain.data(), plain.size());
  CLOVER_RETURN_IF_ERROR(sealed);
  batch.Put(Table::kRecords, subject, value);
  batch.Put(Table::kMeta, subject, meta.Encode());
  CLOVER_RETURN_IF_ERROR(storage_->Write(batch));
  if (!exists) cache_.Put(subject, entry);
  records_.Put(subject, std::make_shared<const std::string>(std::move(value)));
  return PutResult{!exists, meta.revision, jurisdiction};
}

absl::StatusOr<std::shared_ptr<Vault::SubjectEntry>> Vault::LoadEntry(
    std::string_view subject, const AccessContext& context) {
  std::optional<std::shared_ptr<SubjectEntry>> cached = cache_.Get(subject);
  if (cached.has_value() &&
      absl::Now() - (*cached)->loaded < options_.key_cache_ttl) {
    return *cached;
  }
  // Misses take the subject's stripe so that a concurrent Erase cannot be
  // followed by a re-insertion of the key it just shredded.
  absl::MutexLock lock(&StripeOf(subject));
  return LoadEntryLocked(subject, context);
}

absl::StatusOr<std::shared_ptr<Vault::SubjectEntry>> Vault::LoadEntryLocked(
    std::string_view subject, const AccessContext& context) {
  std::optional<std::shared_ptr<SubjectEntry>> cached = cache_.Get(subject);
  if (cached.has_value() &&
      absl::Now() - (*cached)->loaded < options_.key_cache_ttl) {
    return *cached;
  }
  std::string key_entry;
  CLOVER_ASSIGN_OR_RETURN(bool found,
                          storage_->Get(Table::kKeys, subject, &key_entry));
  if (!found) return NotFoundOrErased(subject);
  if (key_entry.size() < 1 + kHandleSize ||
      static_cast<uint8_t>(key_entry[0]) != kFormatV1) {
    return absl::DataLossError("wrapped key entry is malformed");
  }
  auto entry = std::make_shared<SubjectEntry>();
  std::memcpy(entry->handle.data(), key_entry.data() + 1, kHandleSize);
  UnwrapJustification why{context.actor, context.purpose, std::string(subject)};
  CLOVER_ASSIGN_OR_RETURN(
      entry->data_key,
      kek_->Unwrap(std::string_view(key_entry).substr(1 + kHandleSize), subject,
                   why));
  entry->loaded = absl::Now();
  cache_.Put(subject, entry);
  return entry;
}

absl::StatusOr<Record> Vault::Get(std::string_view subject,
                                  const std::vector<std::string>& fields,
                                  const AccessContext& context) {
  CLOVER_RETURN_IF_ERROR(ValidateSubjectId(subject));
  for (const std::string& f : fields) {
    if (FindField(schema_, f) == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("field '", f, "': not in the schema"));
    }
  }
  CLOVER_ASSIGN_OR_RETURN(std::shared_ptr<const std::string> sealed,
                          SealedRecord(subject));
  const std::string& value = *sealed;
  if (value.size() < 9 || static_cast<uint8_t>(value[0]) != kFormatV1) {
    return absl::DataLossError("sealed record is malformed");
  }
  const uint64_t revision = GetU64(std::string_view(value).substr(1));
  CLOVER_ASSIGN_OR_RETURN(std::shared_ptr<SubjectEntry> entry,
                          LoadEntry(subject, context));
  std::string plain;
  absl::Status opened = crypto::AeadOpen(KeyView(entry->data_key),
                                         std::string_view(value).substr(9),
                                         RecordAad(subject, revision), &plain);
  if (!opened.ok()) {
    return absl::DataLossError(absl::StrCat(
        "record of subject ", std::string(subject), " failed authentication"));
  }
  absl::StatusOr<Record> record = DecodeRecord(plain);
  crypto::SecureWipe(plain.data(), plain.size());
  if (!record.ok() || fields.empty()) return record;
  Record selected;
  selected.country = std::move(record->country);
  for (const std::string& f : fields) {
    for (FieldValue& v : record->fields) {
      if (v.name == f) {
        selected.fields.push_back(std::move(v));
        break;
      }
    }
  }
  return selected;
}

absl::StatusOr<std::shared_ptr<const std::string>> Vault::SealedRecord(
    std::string_view subject) {
  if (auto hit = records_.Get(subject); hit.has_value()) return *hit;
  // Filled under the write stripe so that a concurrent Put or Erase cannot be
  // overtaken by a stale value read before it.
  absl::MutexLock lock(&StripeOf(subject));
  if (auto hit = records_.Get(subject); hit.has_value()) return *hit;
  auto value = std::make_shared<std::string>();
  CLOVER_ASSIGN_OR_RETURN(bool found,
                          storage_->Get(Table::kRecords, subject, value.get()));
  if (!found) return NotFoundOrErased(subject);
  std::shared_ptr<const std::string> shared = std::move(value);
  records_.Put(subject, shared);
  return shared;
}

absl::StatusOr<std::string> Vault::HomeJurisdiction(std::string_view subject) {
  CLOVER_RETURN_IF_ERROR(ValidateSubjectId(subject));
  std::string meta_bytes;
  CLOVER_ASSIGN_OR_RETURN(bool found,
                          storage_->Get(Table::kMeta, subject, &meta_bytes));
  if (!found)
    return absl::NotFoundError(
        absl::StrCat("subject ", std::string(subject), " not found"));
  CLOVER_ASSIGN_OR_RETURN(Meta meta, Meta::Decode(meta_bytes));
  if (meta.state == kStateErased) return ErasedError(subject);
  return meta.jurisdiction;
}

absl::Status Vault::Erase(std::string_view subject) {
  CLOVER_RETURN_IF_ERROR(ValidateSubjectId(subject));
  absl::MutexLock lock(&StripeOf(subject));
  std::string meta_bytes;
  CLOVER_ASSIGN_OR_RETURN(bool found,
                          storage_->Get(Table::kMeta, subject, &meta_bytes));
  if (!found)
    return absl::NotFoundError(
        absl::StrCat("subject ", std::string(subject), " not found"));
  CLOVER_ASSIGN_OR_RETURN(Meta meta, Meta::Decode(meta_bytes));
  if (meta.state == kStateErased) return absl::OkStatus();
  WriteBatch batch;
  std::string key_entry;
  CLOVER_ASSIGN_OR_RETURN(bool have_key,
                          storage_->Get(Table::kKeys, subject, &key_entry));
  if (have_key && key_entry.size() >= 1 + kHandleSize) {
    batch.Delete(Table::kTokens,
                 std::string_view(key_entry).substr(1, kHandleSize));
  }
  batch.Delete(Table::kKeys, subject);
  batch.Delete(Table::kRecords, subject);
  meta.state = kStateErased;
  meta.micros = absl::ToUnixMicros(absl::Now());
  batch.Put(Table::kMeta, subject, meta.Encode());
  CLOVER_RETURN_IF_ERROR(storage_->Write(batch));
  cache_.Erase(subject);
  records_.Erase(subject);
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const TokenKeys>> Vault::TokenKeysFor(
    std::string_view destination, std::string_view purpose) {
  return token_keys_.Get(destination, purpose);
}

absl::StatusOr<std::shared_ptr<const SubjectTokenKeys>> Vault::SubjectKeys(
    std::string_view subject, std::string_view destination,
    std::string_view purpose, const AccessContext& context) {
  CLOVER_RETURN_IF_ERROR(ValidateSubjectId(subject));
  CLOVER_ASSIGN_OR_RETURN(std::shared_ptr<const TokenKeys> keys,
                          token_keys_.Get(destination, purpose));
  CLOVER_ASSIGN_OR_RETURN(std::shared_ptr<SubjectEntry> entry,
                          LoadEntry(subject, context));
  std::string id = crypto::HkdfInfo({destination, purpose});
  {
    absl::MutexLock lock(&entry->mu);
    auto it = entry->siv_keys.find(id);
    if (it != entry->siv_keys.end()) return it->second;
  }
  CLOVER_ASSIGN_OR_RETURN(std::unique_ptr<SubjectTokenKeys> derived,
                          keys->ForSubject(entry->data_key, entry->handle));
  std::shared_ptr<const SubjectTokenKeys> shared = std::move(derived);
  absl::MutexLock lock(&entry->mu);
  return entry->siv_keys.emplace(id, shared).first->second;
}

absl::StatusOr<Vault::Detokenized> Vault::Detokenize(
    std::string_view token, std::string_view destination,
    std::string_view purpose, const AccessContext& context) {
  CLOVER_ASSIGN_OR_RETURN(SivTokenParts parts, ParseSivToken(token));
  CLOVER_ASSIGN_OR_RETURN(std::shared_ptr<const TokenKeys> keys,
                          token_keys_.Get(destination, purpose));
  CLOVER_ASSIGN_OR_RETURN(TokenHandle handle,
                          keys->HandleOfLocator(parts.locator));
  std::string subject;
  CLOVER_ASSIGN_OR_RETURN(
      bool found, storage_->Get(Table::kTokens, HandleView(handle), &subject));
  if (!found) {
    return absl::NotFoundError(
        "token does not resolve to a live subject (unknown token, other "
        "destination or "
        "purpose, or the subject was erased)");
  }
  CLOVER_ASSIGN_OR_RETURN(std::shared_ptr<const SubjectTokenKeys> subject_keys,
                          SubjectKeys(subject, destination, purpose, context));
  absl::StatusOr<std::string> value = subject_keys->OpenSiv(parts.sealed);
  if (!value.ok()) {
    return absl::InvalidArgumentError(
        "token does not verify under this destination and purpose");
  }
  return Detokenized{std::move(subject), std::move(*value)};
}

absl::Status Vault::PurgeErased() {
  for (Table t : {Table::kKeys, Table::kTokens, Table::kRecords}) {
    CLOVER_RETURN_IF_ERROR(storage_->Purge(t));
  }
  return absl::OkStatus();
}

void Vault::DropKeyCache() { cache_.Clear(); }

}  // namespace clover::vault
