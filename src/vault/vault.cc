#include "vault/vault.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/big_endian.h"
#include "core/status_macros.h"
#include "crypto/aead.h"
#include "crypto/constant_time.h"
#include "crypto/hkdf.h"
#include "crypto/random.h"
#include "vault/erased.h"
#include "vault/kek_ring.h"
#include "vault/key_not_cached.h"
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

// Conditional writes of one row before a writer gives up (each failed one
// means another node's write to the row succeeded meanwhile).
constexpr int kMaxWriteAttempts = 16;

absl::Status WriteConflict(absl::string_view subject) {
  return absl::AbortedError(
      absl::StrCat("subject ", std::string(subject),
                   ": its row kept changing under concurrent writes from "
                   "other nodes; retry"));
}

absl::Status SubjectNotFound(absl::string_view subject) {
  return absl::NotFoundError(
      absl::StrCat("subject ", std::string(subject), " not found"));
}

// Calls `fn` with every subject row of `storage`, decoded, until it returns
// an error. Errors: the scan's; DataLoss naming an undecodable row; `fn`'s.
absl::Status ScanSubjectRows(
    StorageDriver& storage,
    const std::function<absl::Status(absl::string_view key,
                                     const SubjectRow& row)>& fn) {
  absl::Status stopped;
  CLOVER_RETURN_IF_ERROR(storage.Scan(
      Table::kSubjects, [&](absl::string_view key, absl::string_view value) {
        absl::StatusOr<SubjectRow> row = SubjectRow::Decode(value);
        stopped = row.ok() ? fn(key, *row)
                           : absl::DataLossError(
                                 absl::StrCat("subject ", std::string(key),
                                              ": ", row.status().message()));
        return stopped.ok();
      }));
  return stopped;
}

}  // namespace

// A live subject as the read path needs it: the unwrapped data key, the
// sealed record and its metadata. Immutable once cached except for the siv
// key memo; a write replaces the whole entry.
struct Vault::SubjectEntry {
  crypto::SecretKey data_key;
  TokenHandle handle;
  std::string wrapped_key;  // as stored when data_key was unwrapped
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
      cache_(options.subject_cache_entries),
      shared_(storage_->shared()) {}

// The KEK goes first, while the rest is intact: a KEK layer's thread (the
// key-release status poll) may call DropKeyCache until it is joined.
Vault::~Vault() { kek_.reset(); }

absl::StatusOr<std::unique_ptr<Vault>> Vault::Open(
    const Deployment& deployment, const VaultOptions& options,
    std::unique_ptr<StorageDriver> storage,
    std::unique_ptr<KeyEncryptionKey> kek,
    const crypto::SecretKey& pseudonym_root) {
  if (storage == nullptr || kek == nullptr) {
    return absl::InvalidArgumentError("vault needs a storage driver and a KEK");
  }
  if (options.kek_layer) {
    CLOVER_ASSIGN_OR_RETURN(kek, options.kek_layer(std::move(kek)));
  }
  CLOVER_ASSIGN_OR_RETURN(ResidencyMap residency,
                          ResidencyMap::Create(deployment, options.region));
  auto vault = std::unique_ptr<Vault>(
      new Vault(deployment, options, std::move(residency), std::move(storage),
                std::move(kek), pseudonym_root));
  // A store without epochs (new, or written before them) gets its initial
  // epoch now: new keys are sealed under it at once, older ones at the first
  // purge.
  // Loading the epoch keys unwraps them with the KEK: this is where a wrong
  // KEK shows, so it stops the start with one clear line rather than failing
  // every read later.
  if (absl::Status s = vault->ReloadEpochs(/*create_if_none=*/true); !s.ok()) {
    if (absl::IsDataLoss(s) &&
        absl::StrContains(s.message(), "belongs to KEK")) {
      return absl::DataLossError(absl::StrCat(
          "wrong KEK: the configured KEK ", vault->kek_id(),
          " does not unwrap the keys stored in the vault (", s.message(),
          "); configure the vault's KEK (keys.kek_file or keys.kek, with "
          "keys.retired_kek_files during a rotation)"));
    }
    return s;
  }
  CLOVER_ASSIGN_OR_RETURN(
      vault->pseudonym_ring_,
      PseudonymRing::Open(
          *vault->storage_, *vault->kek_, vault->token_keys_,
          options.clock != nullptr ? *options.clock : SystemClock(),
          options.epoch_refresh));
  return vault;
}

absl::StatusOr<std::unique_ptr<Vault>> Vault::OpenEmbedded(
    const Deployment& deployment, const VaultOptions& options,
    const std::string& dir, const RocksDbOptions& rocksdb_options) {
  if ((deployment.keys.kek_file.empty() &&
       !deployment.keys.pkcs11_kek.has_value()) ||
      deployment.keys.pseudonym_key_file.empty()) {
    return absl::InvalidArgumentError(
        "keys.kek_file (or keys.kek) and keys.pseudonym_key_file must be set");
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

namespace {
// The ReadScope open on this thread (vault null: none).
struct ScopedRead {
  const Vault* vault = nullptr;
  std::string subject;
  bool fetched = false;
  std::optional<SubjectRow> row;  // as fetched; nullopt: absent
};
thread_local ScopedRead t_scoped_read;
}  // namespace

Vault::ReadScope::ReadScope(Vault& vault, absl::string_view subject) {
  if (!vault.shared_ || t_scoped_read.vault != nullptr) return;
  t_scoped_read.vault = &vault;
  t_scoped_read.subject.assign(subject.data(), subject.size());
  active_ = true;
}

Vault::ReadScope::ReadScope(Vault& vault, absl::string_view subject,
                            FetchedRow fetched)
    : ReadScope(vault, subject) {
  if (!active_ || !fetched.bytes_.ok()) return;
  if (!fetched.bytes_->has_value()) {
    t_scoped_read.row.reset();
    t_scoped_read.fetched = true;
    return;
  }
  absl::StatusOr<SubjectRow> row = SubjectRow::Decode(**fetched.bytes_);
  if (!row.ok()) return;  // the first read reports it
  t_scoped_read.row = *std::move(row);
  t_scoped_read.fetched = true;
}

bool Vault::fetches_rows_async() const {
  return shared_ && storage_->reads_async();
}

void Vault::FetchRow(absl::string_view subject,
                     std::function<void(FetchedRow)> done) {
  storage_->GetAsync(Table::kSubjects, std::string(subject),
                     [done = std::move(done)](
                         absl::StatusOr<std::optional<std::string>> bytes) {
                       FetchedRow row;
                       row.bytes_ = std::move(bytes);
                       done(std::move(row));
                     });
}

Vault::ReadScope::~ReadScope() {
  if (!active_) return;
  t_scoped_read.vault = nullptr;
  t_scoped_read.fetched = false;
  t_scoped_read.row.reset();  // the sealed record leaves with the request
}

absl::StatusOr<std::optional<SubjectRow>> Vault::ReadRowInScope(
    absl::string_view subject) {
  ScopedRead& scope = t_scoped_read;
  if (scope.vault != this || scope.subject != subject) return ReadRow(subject);
  if (!scope.fetched) {
    CLOVER_ASSIGN_OR_RETURN(scope.row, ReadRow(subject));
    scope.fetched = true;
  }
  return scope.row;
}

void Vault::ForgetScopedRow(absl::string_view subject) {
  ScopedRead& scope = t_scoped_read;
  if (scope.vault == this && scope.subject == subject) {
    scope.fetched = false;
    scope.row.reset();
  }
}

size_t Vault::StripeIndex(absl::string_view subject) {
  return absl::Hash<absl::string_view>{}(subject) % kStripes;
}

absl::Mutex& Vault::StripeOf(absl::string_view subject) {
  return stripes_[StripeIndex(subject)];
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
  return Put(subject, record, nullptr);
}

absl::StatusOr<Vault::PutResult> Vault::Put(absl::string_view subject,
                                            const Record& record,
                                            RowSnapshot* snapshot) {
  // Everything that can refuse the write without storage comes first: a refused
  // write must leave the store untouched, byte for byte.
  CLOVER_RETURN_IF_ERROR(ValidateSubjectId(subject));
  CLOVER_RETURN_IF_ERROR(ValidateRecord(schema_, record));
  CLOVER_ASSIGN_OR_RETURN(std::string jurisdiction,
                          residency_.JurisdictionOfCountry(record.country));
  CLOVER_RETURN_IF_ERROR(residency_.CheckStoredHere(jurisdiction));

  ForgetScopedRow(subject);
  absl::MutexLock lock(&StripeOf(subject));
  PendingWrite w;
  // Where other nodes write the same store the write is conditional on the
  // row read (WriteIf); a row that changed meanwhile is read again and the
  // write made anew on top of it (or refused, if it was erased).
  // A snapshot only saves the first read: its attempt does not count. One
  // older than a write of this node to the subject (concurrent requests for
  // one subject) is not used: it would only make the write conflict.
  std::atomic<uint64_t>& stripe_writes = stripe_writes_[StripeIndex(subject)];
  const bool from_snapshot = shared_ && snapshot != nullptr &&
                             snapshot->taken_ &&
                             snapshot->stripe_writes_ == stripe_writes.load();
  for (int attempt = from_snapshot ? -1 : 0;; ++attempt) {
    // Storage, not the cache, decides whether the subject exists: another node
    // sharing this region's storage may have written or erased it.
    std::string stored;
    bool found = false;
    if (attempt < 0) {
      found = snapshot->found_;
      stored = std::move(snapshot->bytes_);
      snapshot->taken_ = false;
    } else {
      CLOVER_ASSIGN_OR_RETURN(
          found, storage_->Get(Table::kSubjects, subject, &stored));
    }
    WriteBatch batch;
    CLOVER_RETURN_IF_ERROR(BuildWrite(subject, record, jurisdiction,
                                      found ? &stored : nullptr, batch, w));
    if (!shared_) {
      CLOVER_RETURN_IF_ERROR(storage_->Write(batch));
      break;
    }
    CLOVER_ASSIGN_OR_RETURN(
        bool written,
        storage_->WriteIf(
            Table::kSubjects, subject,
            found ? std::optional<absl::string_view>(stored) : std::nullopt,
            batch));
    if (written) break;
    if (attempt + 1 == kMaxWriteAttempts) return WriteConflict(subject);
  }
  return FinishWrite(subject, jurisdiction, w);
}

Vault::PendingWrite::~PendingWrite() {
  crypto::SecureWipe(data_key.data(), data_key.size());
}

absl::Status Vault::BuildWrite(absl::string_view subject, const Record& record,
                               const std::string& jurisdiction,
                               const std::string* stored, WriteBatch& batch,
                               PendingWrite& w) {
  crypto::SecretKey& data_key = w.data_key;
  std::shared_ptr<SubjectEntry>& cached = w.cached;
  SubjectRow& row = w.row;
  std::optional<SubjectRow> existing;
  row = SubjectRow();
  cached.reset();
  if (stored != nullptr) {
    CLOVER_ASSIGN_OR_RETURN(existing, SubjectRow::Decode(*stored));
  }
  w.created = !existing.has_value();
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
    // The KEK output under the epoch layer: opened once, for the unwrap and
    // for the check of its KEK.
    CLOVER_ASSIGN_OR_RETURN(std::string inner,
                            InnerWrapped(existing->wrapped_key, subject));
    cached = FreshCachedEntry(subject);
    if (cached != nullptr && cached->handle == existing->handle) {
      data_key = cached->data_key;
    } else {
      UnwrapJustification why{"vault", "write", std::string(subject)};
      CLOVER_ASSIGN_OR_RETURN(data_key, kek_->Unwrap(inner, subject, why));
    }
    row = *existing;
    row.revision += 1;
    // A key under an older epoch or a retired KEK moves to the current ones
    // with the write.
    const bool stale =
        WrappedKeyKekId(row.wrapped_key) != CurrentEpoch()->id() ||
        WrappedKeyKekId(inner) != kek_->id();
    if (stale) {
      CLOVER_ASSIGN_OR_RETURN(row.wrapped_key,
                              WrapDataKey(KeyView(data_key), subject));
    }
  } else {
    CLOVER_RETURN_IF_ERROR(
        crypto::RandomBytes(data_key.data(), data_key.size()));
    row.micros = absl::ToUnixMicros(absl::Now());
    CLOVER_RETURN_IF_ERROR(NewTokenHandle(row.micros, &row.handle));
    CLOVER_ASSIGN_OR_RETURN(row.wrapped_key,
                            WrapDataKey(KeyView(data_key), subject));
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
  w.encoded = row.Encode();
  batch.Put(Table::kSubjects, subject, w.encoded);
  return absl::OkStatus();
}

Vault::PutResult Vault::FinishWrite(absl::string_view subject,
                                    const std::string& jurisdiction,
                                    PendingWrite& w) {
  stripe_writes_[StripeIndex(subject)].fetch_add(1);
  // The cache holds subjects that were read. A write keeps a cached subject
  // current but adds none: creating or updating many subjects (an import)
  // does not push the subjects being read out of the cache, and the data keys
  // of subjects nobody reads are not kept unwrapped in memory. Their first
  // read goes through the KEK, with the reader's justification.
  if (w.cached != nullptr) {
    auto entry = std::make_shared<SubjectEntry>();
    entry->data_key = w.data_key;
    entry->handle = w.row.handle;
    entry->wrapped_key = w.row.wrapped_key;
    entry->revision = w.row.revision;
    entry->jurisdiction = w.row.jurisdiction;
    entry->sealed_record = std::move(w.row.sealed_record);
    entry->loaded = absl::Now();
    cache_.Put(subject, std::move(entry));
  }
  return PutResult{w.created, w.row.revision, jurisdiction};
}

std::vector<absl::StatusOr<Vault::PutResult>> Vault::PutBatch(
    const std::vector<BatchItem>& items, absl::Status* write_status) {
  std::vector<absl::StatusOr<PutResult>> out;
  out.reserve(items.size());
  std::vector<std::string> jurisdictions(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    const BatchItem& item = items[i];
    absl::Status s = ValidateSubjectId(item.subject);
    if (s.ok()) s = ValidateRecord(schema_, *item.record);
    if (s.ok()) {
      auto j = residency_.JurisdictionOfCountry(item.record->country);
      s = j.status();
      if (j.ok()) {
        jurisdictions[i] = *std::move(j);
        s = residency_.CheckStoredHere(jurisdictions[i]);
      }
    }
    if (s.ok()) {
      out.emplace_back(PutResult{});
    } else {
      out.emplace_back(std::move(s));
    }
  }
  *write_status = absl::OkStatus();
  if (shared_) {
    // Other nodes write this store: each row is a conditional write of its
    // own (Put), read and retried on its own.
    for (size_t i = 0; i < items.size(); ++i) {
      if (out[i].ok()) {
        out[i] = Put(items[i].subject, *items[i].record, items[i].snapshot);
      }
    }
    return out;
  }
  // Every stripe of the batch, taken in index order (so two batches, or a
  // batch and a single write, cannot deadlock), held until the one write is
  // done: no other write or cache fill of these subjects comes between a row
  // read here and the write made on top of it.
  std::vector<size_t> stripes;
  for (size_t i = 0; i < items.size(); ++i) {
    if (!out[i].ok()) continue;
    ForgetScopedRow(items[i].subject);
    stripes.push_back(StripeIndex(items[i].subject));
  }
  std::sort(stripes.begin(), stripes.end());
  stripes.erase(std::unique(stripes.begin(), stripes.end()), stripes.end());
  for (size_t s : stripes) stripes_[s].Lock();
  absl::Cleanup unlock = [&] {
    for (auto it = stripes.rbegin(); it != stripes.rend(); ++it) {
      stripes_[*it].Unlock();
    }
  };
  WriteBatch batch;
  std::vector<PendingWrite> pending(items.size());
  // Rows written earlier in this batch: a subject named twice is written on
  // top of its first write, as two Puts in a row would.
  absl::flat_hash_map<std::string, std::string> written;
  for (size_t i = 0; i < items.size(); ++i) {
    if (!out[i].ok()) continue;
    absl::string_view subject = items[i].subject;
    std::string stored;
    bool found = false;
    if (auto it = written.find(subject); it != written.end()) {
      stored = it->second;
      found = true;
    } else {
      auto got = storage_->Get(Table::kSubjects, subject, &stored);
      if (!got.ok()) {
        out[i] = got.status();
        continue;
      }
      found = *got;
    }
    // Built into a batch of its own first: a record refused here adds
    // nothing to the others' write.
    WriteBatch one;
    absl::Status s = BuildWrite(subject, *items[i].record, jurisdictions[i],
                                found ? &stored : nullptr, one, pending[i]);
    if (!s.ok()) {
      out[i] = std::move(s);
      continue;
    }
    for (const WriteBatch::Op& op : one.ops()) {
      if (op.is_delete) {
        batch.Delete(op.table, op.key);
      } else {
        batch.Put(op.table, op.key, op.value);
      }
    }
    written[std::string(subject)] = pending[i].encoded;
  }
  if (batch.ops().empty()) return out;
  if (absl::Status s = storage_->Write(batch); !s.ok()) {
    // Nothing of the batch is written.
    *write_status = s;
    for (auto& r : out) {
      if (r.ok()) r = s;
    }
    return out;
  }
  for (size_t i = 0; i < items.size(); ++i) {
    if (!out[i].ok()) continue;
    out[i] = FinishWrite(items[i].subject, jurisdictions[i], pending[i]);
  }
  return out;
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
  if (shared_) return LoadSharedEntry(subject, context);
  if (std::shared_ptr<SubjectEntry> hit = FreshCachedEntry(subject)) return hit;
  // Misses take the subject's stripe so that a concurrent Put or Erase cannot
  // be overtaken by a stale row read before it, nor an erased key re-cached.
  absl::MutexLock lock(&StripeOf(subject));
  if (std::shared_ptr<SubjectEntry> hit = FreshCachedEntry(subject)) return hit;
  CLOVER_ASSIGN_OR_RETURN(std::optional<SubjectRow> row, ReadRow(subject));
  if (!row.has_value()) return SubjectNotFound(subject);
  if (!row->live()) return ErasedError(subject);
  if (context.cached_only) return KeyNotCachedError();
  auto entry = std::make_shared<SubjectEntry>();
  UnwrapJustification why{context.actor, context.purpose, std::string(subject),
                          context.code, context.decision_index};
  CLOVER_ASSIGN_OR_RETURN(entry->data_key,
                          UnwrapDataKey(row->wrapped_key, subject, why));
  entry->handle = row->handle;
  entry->wrapped_key = std::move(row->wrapped_key);
  entry->revision = row->revision;
  entry->jurisdiction = std::move(row->jurisdiction);
  entry->sealed_record = std::move(row->sealed_record);
  entry->loaded = absl::Now();
  cache_.Put(subject, entry);
  return entry;
}

absl::StatusOr<std::shared_ptr<Vault::SubjectEntry>> Vault::LoadSharedEntry(
    absl::string_view subject, const AccessContext& context) {
  // Other nodes write and erase this store: every read fetches the row (once
  // per ReadScope), so that what an acknowledged write or erasure left is
  // what is served.
  CLOVER_ASSIGN_OR_RETURN(std::optional<SubjectRow> row,
                          ReadRowInScope(subject));
  if (!row.has_value() || !row->live()) {
    cache_.Erase(subject);
    return row.has_value() ? ErasedError(subject) : SubjectNotFound(subject);
  }
  std::shared_ptr<SubjectEntry> cached = FreshCachedEntry(subject);
  // The cached data key serves only the incarnation and wrapped key it was
  // unwrapped from; any other row goes to the KEK.
  if (cached == nullptr || cached->handle != row->handle ||
      cached->wrapped_key != row->wrapped_key) {
    // Under the stripe, as LoadEntry: a local erasure cannot slip between
    // this row and the cache insert.
    absl::MutexLock lock(&StripeOf(subject));
    CLOVER_ASSIGN_OR_RETURN(row, ReadRow(subject));
    if (!row.has_value() || !row->live()) {
      cache_.Erase(subject);
      return row.has_value() ? ErasedError(subject) : SubjectNotFound(subject);
    }
    if (context.cached_only) return KeyNotCachedError();
    auto entry = std::make_shared<SubjectEntry>();
    UnwrapJustification why{context.actor, context.purpose,
                            std::string(subject), context.code,
                            context.decision_index};
    CLOVER_ASSIGN_OR_RETURN(entry->data_key,
                            UnwrapDataKey(row->wrapped_key, subject, why));
    entry->handle = row->handle;
    entry->wrapped_key = std::move(row->wrapped_key);
    entry->revision = row->revision;
    entry->jurisdiction = std::move(row->jurisdiction);
    entry->sealed_record = std::move(row->sealed_record);
    entry->loaded = absl::Now();
    cache_.Put(subject, entry);
    return entry;
  }
  if (cached->revision == row->revision &&
      cached->sealed_record == row->sealed_record) {
    return cached;
  }
  // Another record under the same key (a write, here or elsewhere): a new
  // entry, keeping the unwrap's time (the TTL bounds how long a key goes
  // without asking the KEK) and the siv keys (derived from key and handle).
  auto entry = std::make_shared<SubjectEntry>();
  entry->data_key = cached->data_key;
  entry->handle = cached->handle;
  entry->wrapped_key = cached->wrapped_key;
  entry->revision = row->revision;
  entry->jurisdiction = std::move(row->jurisdiction);
  entry->sealed_record = std::move(row->sealed_record);
  entry->loaded = cached->loaded;
  {
    absl::MutexLock lock(&cached->mu);
    entry->siv_keys = cached->siv_keys;
  }
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
  // A shared store's row may have been erased by another node since it was
  // cached: asked of storage.
  if (std::shared_ptr<SubjectEntry> hit =
          shared_ ? nullptr : FreshCachedEntry(subject)) {
    return hit->jurisdiction;
  }
  CLOVER_ASSIGN_OR_RETURN(std::optional<SubjectRow> row,
                          ReadRowInScope(subject));
  if (!row.has_value()) return SubjectNotFound(subject);
  if (!row->live()) return ErasedError(subject);
  return std::move(row->jurisdiction);
}

absl::StatusOr<std::string> Vault::HomeJurisdiction(absl::string_view subject,
                                                    RowSnapshot* snapshot) {
  if (snapshot == nullptr || !shared_) return HomeJurisdiction(subject);
  CLOVER_RETURN_IF_ERROR(ValidateSubjectId(subject));
  snapshot->taken_ = false;
  // Before the read: a write of this node counted after it may have changed
  // the row since.
  snapshot->stripe_writes_ = stripe_writes_[StripeIndex(subject)].load();
  std::string bytes;
  CLOVER_ASSIGN_OR_RETURN(bool found,
                          storage_->Get(Table::kSubjects, subject, &bytes));
  if (!found) {
    snapshot->taken_ = true;
    snapshot->found_ = false;
    snapshot->bytes_.clear();
    return SubjectNotFound(subject);
  }
  CLOVER_ASSIGN_OR_RETURN(SubjectRow row, SubjectRow::Decode(bytes));
  if (!row.live()) return ErasedError(subject);
  snapshot->taken_ = true;
  snapshot->found_ = true;
  snapshot->bytes_ = std::move(bytes);
  return std::move(row.jurisdiction);
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
  ForgetScopedRow(subject);
  absl::MutexLock lock(&StripeOf(subject));
  // Where other nodes write the store, conditional on the row being live
  // (not on its bytes): writes racing the erasure cannot starve it, and the
  // one that lands first is erased with the rest (a subject's handle, all the
  // tombstone needs of it besides its jurisdiction, never changes).
  for (int attempt = 0;; ++attempt) {
    std::string stored;
    CLOVER_ASSIGN_OR_RETURN(bool found,
                            storage_->Get(Table::kSubjects, subject, &stored));
    if (!found) return SubjectNotFound(subject);
    CLOVER_ASSIGN_OR_RETURN(SubjectRow row, SubjectRow::Decode(stored));
    if (!row.live()) break;
    WriteBatch batch;
    batch.Delete(Table::kTokens, HandleView(row.handle));
    SubjectRow tombstone;
    tombstone.state = SubjectRow::State::kErased;
    tombstone.revision = row.revision;
    tombstone.micros = absl::ToUnixMicros(absl::Now());
    tombstone.jurisdiction = std::move(row.jurisdiction);
    batch.Put(Table::kSubjects, subject, tombstone.Encode());
    if (!shared_) {
      CLOVER_RETURN_IF_ERROR(storage_->Write(batch));
      break;
    }
    CLOVER_ASSIGN_OR_RETURN(bool written, storage_->WriteIfPrefixed(
                                              Table::kSubjects, subject,
                                              SubjectRow::LivePrefix(), batch));
    if (written) break;
    if (attempt + 1 == kMaxWriteAttempts) return WriteConflict(subject);
  }
  cache_.Erase(subject);
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const TokenKeys>> Vault::TokenKeysFor(
    absl::string_view destination, absl::string_view purpose) {
  return pseudonym_ring_->Current(destination, purpose);
}

absl::StatusOr<std::shared_ptr<const SubjectTokenKeys>> Vault::SubjectKeys(
    absl::string_view subject, absl::string_view destination,
    absl::string_view purpose, const AccessContext& context) {
  CLOVER_RETURN_IF_ERROR(ValidateSubjectId(subject));
  CLOVER_ASSIGN_OR_RETURN(std::shared_ptr<const TokenKeys> keys,
                          pseudonym_ring_->Current(destination, purpose));
  return SubjectKeysUnder(std::move(keys), subject, context);
}

absl::StatusOr<std::shared_ptr<const SubjectTokenKeys>> Vault::SubjectKeysUnder(
    std::shared_ptr<const TokenKeys> keys, absl::string_view subject,
    const AccessContext& context) {
  CLOVER_ASSIGN_OR_RETURN(std::shared_ptr<SubjectEntry> entry,
                          LoadEntry(subject, context));
  std::string id = crypto::HkdfInfo(
      {keys->destination(), keys->purpose(), absl::StrCat(keys->version())});
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
  CLOVER_ASSIGN_OR_RETURN(
      std::shared_ptr<const TokenKeys> keys,
      pseudonym_ring_->ForVersion(parts.version, destination, purpose));
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
  CLOVER_RETURN_IF_ERROR(ValidateSubjectId(subject));
  CLOVER_ASSIGN_OR_RETURN(std::shared_ptr<const SubjectTokenKeys> subject_keys,
                          SubjectKeysUnder(std::move(keys), subject, context));
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
  // Epoch keys first: a store whose epoch keys a retired KEK wrapped would
  // not open once that KEK is gone.
  CLOVER_RETURN_IF_ERROR(ReloadEpochs(false));
  std::vector<std::shared_ptr<EpochKey>> epochs;
  {
    absl::ReaderMutexLock lock(&epochs_mu_);
    epochs = epochs_;
  }
  for (const auto& e : epochs) {
    std::string bytes;
    CLOVER_ASSIGN_OR_RETURN(bool found,
                            storage_->Get(Table::kEpochs, e->id(), &bytes));
    if (!found) continue;  // destroyed by a purge meanwhile
    CLOVER_ASSIGN_OR_RETURN(EpochRow stored, EpochRow::Decode(e->id(), bytes));
    if (e->held() || WrappedKeyKekId(stored.wrapped_key) == kek_->id()) {
      continue;  // a held epoch key is in the token, not KEK-wrapped
    }
    CLOVER_ASSIGN_OR_RETURN(EpochRow rewrapped, e->RewrappedRow(*kek_));
    CLOVER_ASSIGN_OR_RETURN(
        bool swapped, storage_->CompareAndPut(Table::kEpochs, e->id(), bytes,
                                              rewrapped.Encode()));
    if (!swapped) {
      return absl::AbortedError(absl::StrCat("epoch ", std::string(e->id()),
                                             " changed while re-wrapping"));
    }
  }
  CLOVER_RETURN_IF_ERROR(pseudonym_ring_->Rewrap().status());
  // The scan only finds candidates: each is re-read under its stripe, since
  // a write or an erasure may have come in between.
  std::vector<std::string> stale;
  CLOVER_RETURN_IF_ERROR(ScanSubjectRows(
      *storage_,
      [&](absl::string_view key, const SubjectRow& row) -> absl::Status {
        if (!row.live()) {
          ++report.erased;
          return absl::OkStatus();
        }
        absl::StatusOr<std::string> inner = InnerWrapped(row.wrapped_key, key);
        if (!inner.ok()) {
          return absl::Status(inner.status().code(),
                              absl::StrCat("subject ", std::string(key), ": ",
                                           inner.status().message()));
        }
        if (WrappedKeyKekId(*inner) == kek_->id()) {
          ++report.current;
        } else {
          stale.emplace_back(key);
        }
        return absl::OkStatus();
      }));
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
      CLOVER_ASSIGN_OR_RETURN(std::string inner,
                              InnerWrapped(row.wrapped_key, subject));
      if (WrappedKeyKekId(inner) == kek_->id()) {
        ++report.current;
        break;
      }
      if (attempt == 8) {
        return absl::AbortedError(absl::StrCat(
            "subject ", subject, ": its row kept changing while re-wrapping"));
      }
      UnwrapJustification why{"vault", "kek-rotation", subject};
      absl::StatusOr<crypto::SecretKey> key =
          UnwrapDataKey(row.wrapped_key, subject, why);
      if (!key.ok()) {
        return absl::Status(
            key.status().code(),
            absl::StrCat("subject ", subject, ": ", key.status().message()));
      }
      absl::StatusOr<std::string> wrapped = WrapDataKey(KeyView(*key), subject);
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

std::shared_ptr<EpochKey> Vault::CurrentEpoch() {
  if (options_.epoch_refresh > absl::ZeroDuration()) {
    bool stale;
    {
      absl::ReaderMutexLock lock(&epochs_mu_);
      stale = absl::Now() - epochs_loaded_ >= options_.epoch_refresh;
    }
    // On a storage error the epoch held is used: a purge elsewhere waits for
    // the refresh interval, and a key sealed under an epoch it then destroys
    // is found by its second pass.
    if (stale) ReloadEpochs(false).IgnoreError();
  }
  absl::ReaderMutexLock lock(&epochs_mu_);
  return current_epoch_;
}

absl::StatusOr<std::shared_ptr<EpochKey>> Vault::EpochById(
    absl::string_view id) {
  for (int pass = 0; pass < 2; ++pass) {
    {
      absl::ReaderMutexLock lock(&epochs_mu_);
      if (current_epoch_ != nullptr && current_epoch_->id() == id) {
        return current_epoch_;
      }
      for (const auto& e : epochs_) {
        if (e->id() == id) return e;
      }
    }
    // Another node sharing the store may have made it.
    if (pass == 0) CLOVER_RETURN_IF_ERROR(ReloadEpochs(false));
  }
  return absl::DataLossError(
      absl::StrCat("wrapped data key is sealed under epoch ", std::string(id),
                   ", which no longer exists (a purge destroyed it)"));
}

absl::Status Vault::ReloadEpochs(bool create_if_none) {
  std::vector<EpochRow> rows;
  absl::Status bad;
  CLOVER_RETURN_IF_ERROR(storage_->Scan(
      Table::kEpochs, [&](absl::string_view key, absl::string_view value) {
        absl::StatusOr<EpochRow> row = EpochRow::Decode(key, value);
        if (!row.ok()) {
          bad = row.status();
          return false;
        }
        rows.push_back(*std::move(row));
        return true;
      }));
  CLOVER_RETURN_IF_ERROR(bad);
  std::vector<std::shared_ptr<EpochKey>> loaded;
  {
    absl::ReaderMutexLock lock(&epochs_mu_);
    for (const EpochRow& row : rows) {
      for (const auto& e : epochs_) {
        if (e->id() == row.id) loaded.push_back(e);
      }
    }
  }
  int64_t newest = std::numeric_limits<int64_t>::min();
  for (const EpochRow& row : rows)
    newest = std::max(newest, row.created_micros);
  WriteBatch gone;
  for (const EpochRow& row : rows) {
    bool held = false;
    for (const auto& e : loaded) held = held || e->id() == row.id;
    if (held) continue;
    absl::StatusOr<std::shared_ptr<EpochKey>> e = EpochKey::Load(*kek_, row);
    // An old epoch whose key a purge destroyed in the token before it could
    // delete the row: nothing is sealed under it any more (the purge had
    // re-wrapped every live key), so the row goes too.
    if (absl::IsDataLoss(e.status()) && row.wrapped_key == kHeldEpochMarker &&
        row.created_micros < newest) {
      gone.Delete(Table::kEpochs, row.id);
      continue;
    }
    if (!e.ok()) return e.status();
    loaded.push_back(*std::move(e));
  }
  if (!gone.empty()) CLOVER_RETURN_IF_ERROR(storage_->Write(gone));
  if (loaded.empty()) {
    if (!create_if_none) {
      return absl::DataLossError("the vault store holds no epoch key");
    }
    CLOVER_ASSIGN_OR_RETURN(
        std::shared_ptr<EpochKey> e,
        EpochKey::Create(*kek_, absl::ToUnixMicros(absl::Now()),
                         /*initial=*/true, 0));
    WriteBatch batch;
    batch.Put(Table::kEpochs, e->id(), e->row().Encode());
    CLOVER_RETURN_IF_ERROR(storage_->Write(batch));
    loaded.push_back(std::move(e));
  }
  std::sort(loaded.begin(), loaded.end(), [](const auto& a, const auto& b) {
    return a->row().created_micros < b->row().created_micros;
  });
  absl::MutexLock lock(&epochs_mu_);
  epochs_ = loaded;
  current_epoch_ = loaded.back();
  epochs_loaded_ = absl::Now();
  return absl::OkStatus();
}

absl::StatusOr<std::string> Vault::InnerWrapped(absl::string_view wrapped,
                                                absl::string_view subject) {
  if (!IsEpochSealed(wrapped)) return std::string(wrapped);
  CLOVER_ASSIGN_OR_RETURN(std::shared_ptr<EpochKey> epoch,
                          EpochById(WrappedKeyKekId(wrapped)));
  return epoch->Open(wrapped, subject);
}

absl::StatusOr<crypto::SecretKey> Vault::UnwrapDataKey(
    absl::string_view wrapped, absl::string_view subject,
    const UnwrapJustification& why) {
  CLOVER_ASSIGN_OR_RETURN(std::string inner, InnerWrapped(wrapped, subject));
  return kek_->Unwrap(inner, subject, why);
}

absl::Status Vault::ProbeKek() {
  const crypto::SecretKey probe{};  // all zero: nothing is protected by it
  return kek_
      ->Wrap(absl::string_view(reinterpret_cast<const char*>(probe.data()),
                               probe.size()),
             "readyz-probe")
      .status();
}

absl::StatusOr<std::string> Vault::WrapDataKey(absl::string_view data_key,
                                               absl::string_view subject) {
  CLOVER_ASSIGN_OR_RETURN(std::string inner, kek_->Wrap(data_key, subject));
  return CurrentEpoch()->Seal(inner, subject);
}

std::shared_ptr<void> Vault::BeginErasure() {
  // Never waits: the gateway calls this on the pool that runs the effects
  // the cut waits for.
  absl::MutexLock lock(&gate_mu_);
  ++erasures_in_flight_;
  return std::shared_ptr<void>(nullptr, [this](void*) {
    absl::MutexLock lock(&gate_mu_);
    --erasures_in_flight_;
  });
}

uint64_t Vault::AtErasureCut(const std::function<uint64_t()>& fn) {
  absl::MutexLock gate(&gate_mu_);
  gate_mu_.Await(absl::Condition(
      +[](int* n) { return *n == 0; }, &erasures_in_flight_));
  return fn();
}

absl::StatusOr<Vault::EpochState> Vault::Epochs() {
  CLOVER_RETURN_IF_ERROR(ReloadEpochs(false));
  absl::ReaderMutexLock lock(&epochs_mu_);
  EpochState state;
  state.current = std::string(current_epoch_->id());
  state.current_created =
      absl::FromUnixMicros(current_epoch_->row().created_micros);
  state.current_initial = current_epoch_->row().initial;
  state.stored = epochs_.size();
  return state;
}

absl::StatusOr<Vault::PurgeReport> Vault::Purge(const PurgeHooks& hooks) {
  absl::MutexLock purge_lock(&purge_mu_);
  CLOVER_RETURN_IF_ERROR(ReloadEpochs(true));
  PurgeReport report;
  std::shared_ptr<EpochKey> next;
  std::vector<std::shared_ptr<EpochKey>> old;
  {
    absl::ReaderMutexLock lock(&epochs_mu_);
    old = epochs_;
  }
  if (old.size() >= 2) {
    // An earlier purge stopped before destroying the old epochs: its cut and
    // tag stand, so its attestation covers the same erasures.
    next = old.back();
    old.pop_back();
    report.resumed = true;
  } else {
    // The cut. No logged erasure may be between its log entry and its
    // tombstone, and no write or erasure may straddle the switch of epochs:
    // wait for a moment with no erasure in flight and hold the gate (an
    // erasure that begins later is logged after the tag is taken), then
    // every stripe.
    absl::MutexLock gate(&gate_mu_);
    gate_mu_.Await(absl::Condition(
        +[](int* n) { return *n == 0; }, &erasures_in_flight_));
    absl::Status made;
    {
      for (absl::Mutex& m : stripes_) m.Lock();
      absl::Cleanup unlock = [this] {
        for (auto it = stripes_.rbegin(); it != stripes_.rend(); ++it) {
          it->Unlock();
        }
      };
      const uint64_t tag = hooks.tag_at_cut ? hooks.tag_at_cut() : 0;
      absl::StatusOr<std::shared_ptr<EpochKey>> e = EpochKey::Create(
          *kek_, absl::ToUnixMicros(absl::Now()), /*initial=*/false, tag);
      made = e.status();
      if (made.ok()) {
        WriteBatch batch;
        batch.Put(Table::kEpochs, (*e)->id(), (*e)->row().Encode());
        made = storage_->Write(batch);
      }
      if (made.ok()) {
        next = *std::move(e);
        absl::MutexLock lock(&epochs_mu_);
        epochs_.push_back(next);
        current_epoch_ = next;
      }
    }
    CLOVER_RETURN_IF_ERROR(made);
  }
  const int64_t cut = next->row().created_micros;
  int64_t since = std::numeric_limits<int64_t>::min();
  bool legacy_store = false;
  for (const auto& e : old) {
    if (e->row().initial) {
      legacy_store = true;
    } else {
      since = std::max(since, e->row().created_micros);
    }
  }
  report.new_epoch = std::string(next->id());
  report.cut = absl::FromUnixMicros(cut);
  report.tag = next->row().tag;
  for (const auto& e : old) report.destroyed_epochs.emplace_back(e->id());

  // Other processes sharing the store switch to the new epoch within
  // epoch_refresh; a key one of them sealed under an old epoch before that
  // is found by the second pass.
  if (options_.epoch_refresh > absl::ZeroDuration()) {
    absl::SleepFor(2 * options_.epoch_refresh);
  }
  for (int pass = 0; pass < 2; ++pass) {
    report.erased.clear();
    // Candidates from a scan; each is re-read under its stripe.
    std::vector<std::string> stale;
    CLOVER_RETURN_IF_ERROR(ScanSubjectRows(
        *storage_, [&](absl::string_view key, const SubjectRow& row) {
          if (!row.live()) {
            if (row.micros >= since && row.micros < cut) {
              report.erased.emplace_back(key);
            }
          } else if (WrappedKeyKekId(row.wrapped_key) != next->id()) {
            stale.emplace_back(key);
          }
          return absl::OkStatus();
        }));
    std::sort(report.erased.begin(), report.erased.end());
    for (const std::string& subject : stale) {
      absl::MutexLock lock(&StripeOf(subject));
      for (int attempt = 0;; ++attempt) {
        std::string bytes;
        CLOVER_ASSIGN_OR_RETURN(
            bool found, storage_->Get(Table::kSubjects, subject, &bytes));
        if (!found) break;
        absl::StatusOr<SubjectRow> row = SubjectRow::Decode(bytes);
        if (!row.ok()) {
          return absl::DataLossError(
              absl::StrCat("subject ", subject, ": ", row.status().message()));
        }
        // Erased meanwhile (after the cut: the next purge counts it), or
        // already moved by a write.
        if (!row->live() || WrappedKeyKekId(row->wrapped_key) == next->id()) {
          break;
        }
        if (attempt == 8) {
          return absl::AbortedError(absl::StrCat(
              "subject ", subject, ": its row kept changing while purging"));
        }
        absl::StatusOr<std::string> inner =
            InnerWrapped(row->wrapped_key, subject);
        if (!inner.ok()) {
          return absl::Status(inner.status().code(),
                              absl::StrCat("subject ", subject, ": ",
                                           inner.status().message()));
        }
        CLOVER_ASSIGN_OR_RETURN(row->wrapped_key, next->Seal(*inner, subject));
        CLOVER_ASSIGN_OR_RETURN(
            bool swapped, storage_->CompareAndPut(Table::kSubjects, subject,
                                                  bytes, row->Encode()));
        if (swapped) {
          ++report.rewrapped;
          break;
        }
      }
    }
  }
  CLOVER_RETURN_IF_ERROR(
      ListSubjects(std::numeric_limits<size_t>::max(),
                   [&report](absl::string_view) { ++report.live; }));
  if (hooks.before_destroy)
    CLOVER_RETURN_IF_ERROR(hooks.before_destroy(report));
  if (!old.empty()) {
    // Held in a token: destroyed there before its row goes. A destroy that
    // fails leaves the old epoch's row (a marker, no key) in the store: the
    // destroy stays pending there, and the next purge — the node's at once
    // on its next start or a minute later (two epochs stored) — resumes and
    // retries it. A row whose key is already gone is dropped on load
    // (ReloadEpochs), so a crash between the two never blocks opening.
    for (const auto& e : old) CLOVER_RETURN_IF_ERROR(e->Destroy());
    WriteBatch batch;
    for (const auto& e : old) batch.Delete(Table::kEpochs, e->id());
    CLOVER_RETURN_IF_ERROR(storage_->Write(batch));
    {
      absl::MutexLock lock(&epochs_mu_);
      epochs_.erase(
          std::remove_if(epochs_.begin(), epochs_.end(),
                         [&next](const auto& e) { return e != next; }),
          epochs_.end());
    }
  }
  old.clear();  // the last references: the keys are wiped
  CLOVER_RETURN_IF_ERROR(storage_->Purge(Table::kEpochs));
  // Retired pseudonym key versions lose their key material on the same
  // cadence (vault/pseudonym_ring.h); their rows live in the token table.
  CLOVER_ASSIGN_OR_RETURN(report.destroyed_pseudonym_versions,
                          pseudonym_ring_->DestroyRetired());
  // Keys stored before epochs (wrapped by the KEK alone) are only gone once
  // the files that held them are: purge the other tables too, once.
  if (legacy_store) {
    CLOVER_RETURN_IF_ERROR(storage_->Purge(Table::kSubjects));
  }
  if (legacy_store || !report.destroyed_pseudonym_versions.empty()) {
    CLOVER_RETURN_IF_ERROR(storage_->Purge(Table::kTokens));
  }
  return report;
}

absl::StatusOr<std::string> Vault::WrappingKekId(absl::string_view subject) {
  CLOVER_RETURN_IF_ERROR(ValidateSubjectId(subject));
  CLOVER_ASSIGN_OR_RETURN(std::optional<SubjectRow> row, ReadRow(subject));
  if (!row.has_value()) return SubjectNotFound(subject);
  if (!row->live()) return ErasedError(subject);
  CLOVER_ASSIGN_OR_RETURN(std::string inner,
                          InnerWrapped(row->wrapped_key, subject));
  return std::string(WrappedKeyKekId(inner));
}

absl::Status Vault::PurgeErased() { return Purge().status(); }

void Vault::DropKeyCache() { cache_.Clear(); }

}  // namespace clover::vault
