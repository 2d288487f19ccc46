#include "vault/vault.h"

#include <cstring>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "core/big_endian.h"
#include "core/status_macros.h"
#include "crypto/aead.h"
#include "crypto/constant_time.h"
#include "crypto/hkdf.h"
#include "crypto/random.h"
#include "vault/erased.h"
#include "vault/kek_ring.h"
#include "vault/record_parser.h"
#include "vault/subject_id.h"
#include "vault/subject_row.h"

namespace clover::vault {
namespace {

constexpr absl::string_view kRecordLabel = "clover/record/v1";

std::string RecordAad(absl::string_view subject, uint64_t revision) {
  std::string aad(kRecordLabel);
  aad.push_back(static_cast<char>(subject.size()));
  aad.append(subject.data(), subject.size());
  AppendBigEndian64(revision, &aad);
  return aad;
}

absl::string_view KeyView(const crypto::SecretKey& k) {
  return absl::string_view(reinterpret_cast<const char*>(k.data()), k.size());
}

absl::string_view HandleView(const TokenHandle& h) {
  return absl::string_view(reinterpret_cast<const char*>(h.data()), h.size());
}

// A new subject's token handle: its creation time (µs, big-endian) then 64
// random bits. Handles only ever leave the vault encrypted (the token locator
// is AES under the destination's key), so their order reveals nothing outside;
// inside, time order makes token-index inserts append-like, which keeps
// RocksDB's memtable inserts and compactions cheap. 64 random bits per
// microsecond keep handles unique across the nodes sharing a region's store.
absl::Status NewTokenHandle(int64_t micros, TokenHandle* handle) {
  StoreBigEndian64(static_cast<uint64_t>(micros), handle->data());
  return crypto::RandomBytes(handle->data() + 8, handle->size() - 8);
}

absl::Status SubjectNotFound(absl::string_view subject) {
  return absl::NotFoundError(
      absl::StrCat("subject ", std::string(subject), " not found"));
}

}  // namespace

// A live subject as the read path needs it: the unwrapped data key, the
// sealed record and its metadata. Immutable once cached except for the siv
// key memo; a write replaces the whole entry.
struct Vault::SubjectEntry {
  crypto::SecretKey data_key;
  TokenHandle handle;
  uint64_t revision = 0;
  std::string jurisdiction;
  std::string sealed_record;
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
      cache_(options.subject_cache_entries) {}

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
  CLOVER_ASSIGN_OR_RETURN(std::unique_ptr<KeyEncryptionKey> kek,
                          OpenConfiguredKek(deployment.keys));
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

absl::Mutex& Vault::StripeOf(absl::string_view subject) {
  return stripes_[absl::Hash<absl::string_view>{}(subject) % kStripes];
}

absl::StatusOr<std::optional<SubjectRow>> Vault::ReadRow(
    absl::string_view subject) {
  std::string bytes;
  CLOVER_ASSIGN_OR_RETURN(bool found,
                          storage_->Get(Table::kSubjects, subject, &bytes));
  if (!found) return std::nullopt;
  return SubjectRow::Decode(bytes);
}

absl::StatusOr<Vault::PutResult> Vault::Put(absl::string_view subject,
                                            const Record& record) {
  // Everything that can refuse the write without storage comes first: a refused
  // write must leave the store untouched, byte for byte.
  CLOVER_RETURN_IF_ERROR(ValidateSubjectId(subject));
  CLOVER_RETURN_IF_ERROR(ValidateRecord(schema_, record));
  CLOVER_ASSIGN_OR_RETURN(std::string jurisdiction,
                          residency_.JurisdictionOfCountry(record.country));
  CLOVER_RETURN_IF_ERROR(residency_.CheckStoredHere(jurisdiction));

  absl::MutexLock lock(&StripeOf(subject));
  // Storage, not the cache, decides whether the subject exists: another node
  // sharing this region's storage may have written or erased it.
  CLOVER_ASSIGN_OR_RETURN(std::optional<SubjectRow> existing, ReadRow(subject));
  crypto::SecretKey data_key;
  absl::Cleanup wipe_key = [&data_key] {
    crypto::SecureWipe(data_key.data(), data_key.size());
  };
  std::shared_ptr<SubjectEntry> cached;  // the subject's fresh cache entry
  SubjectRow row;
  WriteBatch batch;
  if (existing.has_value()) {
    if (!existing->live()) {
      return absl::FailedPreconditionError(
          absl::StrCat("subject ", std::string(subject),
                       " was erased; its id cannot be reused"));
    }
    if (existing->jurisdiction != jurisdiction) {
      return absl::FailedPreconditionError(absl::StrCat(
          "subject ", std::string(subject), " has home jurisdiction ",
          existing->jurisdiction, "; country ", record.country, " (",
          jurisdiction, ") would change it"));
    }
    cached = FreshCachedEntry(subject);
    if (cached != nullptr && cached->handle == existing->handle) {
      data_key = cached->data_key;
    } else {
      UnwrapJustification why{"vault", "write", std::string(subject)};
      CLOVER_ASSIGN_OR_RETURN(
          data_key, kek_->Unwrap(existing->wrapped_key, subject, why));
    }
    row = *std::move(existing);
    row.revision += 1;
    // A key wrapped by a retired KEK moves to the current one with the write.
    if (WrappedKeyKekId(row.wrapped_key) != kek_->id()) {
      CLOVER_ASSIGN_OR_RETURN(row.wrapped_key,
                              kek_->Wrap(KeyView(data_key), subject));
    }
  } else {
    CLOVER_RETURN_IF_ERROR(
        crypto::RandomBytes(data_key.data(), data_key.size()));
    row.micros = absl::ToUnixMicros(absl::Now());
    CLOVER_RETURN_IF_ERROR(NewTokenHandle(row.micros, &row.handle));
    CLOVER_ASSIGN_OR_RETURN(row.wrapped_key,
                            kek_->Wrap(KeyView(data_key), subject));
    row.state = SubjectRow::State::kLive;
    row.revision = 1;
    row.jurisdiction = jurisdiction;
    batch.Put(Table::kTokens, HandleView(row.handle), subject);
  }
  std::string plain = EncodeRecord(record);
  row.sealed_record.clear();
  absl::Status sealed =
      crypto::AeadSeal(KeyView(data_key), plain,
                       RecordAad(subject, row.revision), &row.sealed_record);
  crypto::SecureWipe(plain.data(), plain.size());
  CLOVER_RETURN_IF_ERROR(sealed);
  batch.Put(Table::kSubjects, subject, row.Encode());
  CLOVER_RETURN_IF_ERROR(storage_->Write(batch));
  // The cache holds subjects that were read. A write keeps a cached subject
  // current but adds none: creating or updating many subjects (an import)
  // does not push the subjects being read out of the cache, and the data keys
  // of subjects nobody reads are not kept unwrapped in memory. Their first
  // read goes through the KEK, with the reader's justification.
  if (cached != nullptr) {
    auto entry = std::make_shared<SubjectEntry>();
    entry->data_key = data_key;
    entry->handle = row.handle;
    entry->revision = row.revision;
    entry->jurisdiction = row.jurisdiction;
    entry->sealed_record = std::move(row.sealed_record);
    entry->loaded = absl::Now();
    cache_.Put(subject, std::move(entry));
  }
  return PutResult{!existing.has_value(), row.revision, jurisdiction};
}

std::shared_ptr<Vault::SubjectEntry> Vault::FreshCachedEntry(
    absl::string_view subject) {
  std::optional<std::shared_ptr<SubjectEntry>> cached = cache_.Get(subject);
  if (!cached.has_value() ||
      absl::Now() - (*cached)->loaded >= options_.subject_cache_ttl) {
    return nullptr;
  }
  return *std::move(cached);
}

absl::StatusOr<std::shared_ptr<Vault::SubjectEntry>> Vault::LoadEntry(
    absl::string_view subject, const AccessContext& context) {
  if (std::shared_ptr<SubjectEntry> hit = FreshCachedEntry(subject)) return hit;
  // Misses take the subject's stripe so that a concurrent Put or Erase cannot
  // be overtaken by a stale row read before it, nor an erased key re-cached.
  absl::MutexLock lock(&StripeOf(subject));
  if (std::shared_ptr<SubjectEntry> hit = FreshCachedEntry(subject)) return hit;
  CLOVER_ASSIGN_OR_RETURN(std::optional<SubjectRow> row, ReadRow(subject));
  if (!row.has_value()) return SubjectNotFound(subject);
  if (!row->live()) return ErasedError(subject);
  auto entry = std::make_shared<SubjectEntry>();
  UnwrapJustification why{context.actor, context.purpose, std::string(subject)};
  CLOVER_ASSIGN_OR_RETURN(entry->data_key,
                          kek_->Unwrap(row->wrapped_key, subject, why));
  entry->handle = row->handle;
  entry->revision = row->revision;
  entry->jurisdiction = std::move(row->jurisdiction);
  entry->sealed_record = std::move(row->sealed_record);
  entry->loaded = absl::Now();
  cache_.Put(subject, entry);
  return entry;
}

absl::StatusOr<Record> Vault::Get(absl::string_view subject,
                                  const std::vector<std::string>& fields,
                                  const AccessContext& context) {
  CLOVER_RETURN_IF_ERROR(ValidateSubjectId(subject));
  for (const std::string& f : fields) {
    if (FindField(schema_, f) == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("field '", f, "': not in the schema"));
    }
  }
  CLOVER_ASSIGN_OR_RETURN(std::shared_ptr<SubjectEntry> entry,
                          LoadEntry(subject, context));
  std::string plain;
  absl::Status opened =
      crypto::AeadOpen(KeyView(entry->data_key), entry->sealed_record,
                       RecordAad(subject, entry->revision), &plain);
  if (!opened.ok()) {
    return absl::DataLossError(absl::StrCat(
        "record of subject ", std::string(subject), " failed authentication"));
  }
  absl::StatusOr<Record> record = DecodeRecord(plain);
  crypto::SecureWipe(plain.data(), plain.size());
  if (!record.ok() || fields.empty()) return record;
  Record selected;
  selected.country = std::move(record->country);
  selected.fields.reserve(fields.size());
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

absl::StatusOr<std::string> Vault::HomeJurisdiction(absl::string_view subject) {
  CLOVER_RETURN_IF_ERROR(ValidateSubjectId(subject));
  if (std::shared_ptr<SubjectEntry> hit = FreshCachedEntry(subject)) {
    return hit->jurisdiction;
  }
  CLOVER_ASSIGN_OR_RETURN(std::optional<SubjectRow> row, ReadRow(subject));
  if (!row.has_value()) return SubjectNotFound(subject);
  if (!row->live()) return ErasedError(subject);
  return std::move(row->jurisdiction);
}

absl::Status Vault::ListSubjects(
    size_t limit, const std::function<void(absl::string_view)>& fn) {
  size_t listed = 0;
  absl::Status bad_row;
  CLOVER_RETURN_IF_ERROR(storage_->Scan(
      Table::kSubjects, [&](absl::string_view key, absl::string_view value) {
        if (listed >= limit) return false;
        absl::StatusOr<SubjectRow::State> state = SubjectRow::PeekState(value);
        if (!state.ok()) {
          bad_row = state.status();
          return false;
        }
        if (*state == SubjectRow::State::kLive) {
          fn(key);
          ++listed;
        }
        return true;
      }));
  return bad_row;
}

absl::Status Vault::Erase(absl::string_view subject) {
  CLOVER_RETURN_IF_ERROR(ValidateSubjectId(subject));
  absl::MutexLock lock(&StripeOf(subject));
  CLOVER_ASSIGN_OR_RETURN(std::optional<SubjectRow> row, ReadRow(subject));
  if (!row.has_value()) return SubjectNotFound(subject);
  if (!row->live()) return absl::OkStatus();
  WriteBatch batch;
  batch.Delete(Table::kTokens, HandleView(row->handle));
  SubjectRow tombstone;
  tombstone.state = SubjectRow::State::kErased;
  tombstone.revision = row->revision;
  tombstone.micros = absl::ToUnixMicros(absl::Now());
  tombstone.jurisdiction = std::move(row->jurisdiction);
  batch.Put(Table::kSubjects, subject, tombstone.Encode());
  CLOVER_RETURN_IF_ERROR(storage_->Write(batch));
  cache_.Erase(subject);
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const TokenKeys>> Vault::TokenKeysFor(
    absl::string_view destination, absl::string_view purpose) {
  return token_keys_.Get(destination, purpose);
}

absl::StatusOr<std::shared_ptr<const SubjectTokenKeys>> Vault::SubjectKeys(
    absl::string_view subject, absl::string_view destination,
    absl::string_view purpose, const AccessContext& context) {
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
    absl::string_view token, absl::string_view field,
    absl::string_view destination, absl::string_view purpose,
    const AccessContext& context) {
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
  absl::StatusOr<std::string> value =
      subject_keys->OpenSiv(field, parts.sealed);
  if (!value.ok()) {
    // Tell a token of another field apart from a bad one, so the caller
    // learns why; its value is dropped here.
    for (const FieldSpec& other : schema().fields) {
      if (other.method != PseudonymMethod::kSiv || other.name == field)
        continue;
      if (subject_keys->OpenSiv(other.name, parts.sealed).ok())
        return FieldMismatchError();
    }
    return absl::InvalidArgumentError(
        "token does not verify under this destination and purpose");
  }
  return Detokenized{std::move(subject), std::move(*value)};
}

absl::StatusOr<Vault::RewrapReport> Vault::RewrapKeys(
    const std::function<bool()>& keep_going) {
  RewrapReport report;
  // The scan only finds candidates: each is re-read under its stripe, since
  // a write or an erasure may have come in between.
  std::vector<std::string> stale;
  absl::Status bad_row;
  CLOVER_RETURN_IF_ERROR(storage_->Scan(
      Table::kSubjects, [&](absl::string_view key, absl::string_view value) {
        absl::StatusOr<SubjectRow> row = SubjectRow::Decode(value);
        if (!row.ok()) {
          bad_row = absl::DataLossError(absl::StrCat(
              "subject ", std::string(key), ": ", row.status().message()));
          return false;
        }
        if (!row->live()) {
          ++report.erased;
        } else if (WrappedKeyKekId(row->wrapped_key) == kek_->id()) {
          ++report.current;
        } else {
          stale.emplace_back(key);
        }
        return true;
      }));
  CLOVER_RETURN_IF_ERROR(bad_row);
  for (const std::string& subject : stale) {
    if (keep_going && !keep_going()) {
      return absl::CancelledError(absl::StrCat("KEK re-wrapping stopped after ",
                                               report.rewrapped, " keys"));
    }
    absl::MutexLock lock(&StripeOf(subject));
    // Another node sharing the storage may write the row meanwhile; the
    // conditional write then fails and the row is looked at again.
    for (int attempt = 0;; ++attempt) {
      std::string bytes;
      CLOVER_ASSIGN_OR_RETURN(bool found,
                              storage_->Get(Table::kSubjects, subject, &bytes));
      if (!found) break;  // rows are never deleted; nothing to count
      absl::StatusOr<SubjectRow> decoded = SubjectRow::Decode(bytes);
      if (!decoded.ok()) {
        return absl::DataLossError(absl::StrCat("subject ", subject, ": ",
                                                decoded.status().message()));
      }
      SubjectRow& row = *decoded;
      if (!row.live()) {
        ++report.erased;
        break;
      }
      if (WrappedKeyKekId(row.wrapped_key) == kek_->id()) {
        ++report.current;
        break;
      }
      if (attempt == 8) {
        return absl::AbortedError(absl::StrCat(
            "subject ", subject, ": its row kept changing while re-wrapping"));
      }
      UnwrapJustification why{"vault", "kek-rotation", subject};
      absl::StatusOr<crypto::SecretKey> key =
          kek_->Unwrap(row.wrapped_key, subject, why);
      if (!key.ok()) {
        return absl::Status(
            key.status().code(),
            absl::StrCat("subject ", subject, ": ", key.status().message()));
      }
      absl::StatusOr<std::string> wrapped = kek_->Wrap(KeyView(*key), subject);
      crypto::SecureWipe(key->data(), key->size());
      if (!wrapped.ok()) return wrapped.status();
      row.wrapped_key = *std::move(wrapped);
      CLOVER_ASSIGN_OR_RETURN(bool swapped,
                              storage_->CompareAndPut(Table::kSubjects, subject,
                                                      bytes, row.Encode()));
      if (swapped) {
        ++report.rewrapped;
        break;
      }
    }
  }
  return report;
}

absl::Status Vault::PurgeErased() {
  for (Table t : kAllTables) CLOVER_RETURN_IF_ERROR(storage_->Purge(t));
  return absl::OkStatus();
}

void Vault::DropKeyCache() { cache_.Clear(); }

}  // namespace clover::vault
