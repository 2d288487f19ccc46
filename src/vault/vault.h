// The vault: residency-pinned, encrypted subject records with envelope keys,
// tokens and crypto-shredding erasure. See docs/vault.md for the key hierarchy
// and formats.
//
// Thread-safety: all methods are thread-safe. Writes to one subject are
// serialised by a striped lock; reads take no lock on the hot path (cached data
// key). Where other processes write the same store (StorageDriver::shared():
// the nodes of a region on PostgreSQL), a subject's writes are also
// conditional on its row in the store (WriteIf / WriteIfPrefixed), so writes
// from different nodes serialise too: Put retries on top of a row that
// changed (Aborted after 16 lost races), and never writes over a tombstone.
#ifndef CLOVER_VAULT_VAULT_H_
#define CLOVER_VAULT_VAULT_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "config/deployment.h"
#include "core/clock.h"
#include "crypto/secret_key_file.h"
#include "vault/clock_cache.h"
#include "vault/epoch_keys.h"
#include "vault/key_encryption_key.h"
#include "vault/pseudonym_ring.h"
#include "vault/pseudonymizer.h"
#include "vault/record.h"
#include "vault/residency.h"
#include "vault/rocksdb_storage.h"
#include "vault/storage.h"
#include "vault/subject_row.h"
#include "vault/token_keys.h"

namespace clover::vault {

struct VaultOptions {
  std::string region;  // the region this node belongs to
  // Live subjects kept in memory: the unwrapped data key and the sealed (still
  // encrypted) record, about 300 bytes plus the record each, so hot reads cost
  // one AES-GCM open and no storage lookup. Filled by reads (a write replaces
  // a cached subject's entry but caches no other), under the subject's write
  // stripe; erasure evicts. A cached key is used without asking
  // the KEK again, so a KEK refusal or revocation takes effect here only
  // after the entry is evicted or `subject_cache_ttl` has passed (or at once
  // with DropKeyCache). Where several nodes share the region's storage
  // (StorageDriver::shared()), every read still fetches the subject's row
  // (once per ReadScope) and serves that: the cache then only saves the KEK
  // unwrap, reused while the row's handle and wrapped key are unchanged, so
  // another node's write or erasure shows at once. 0 disables the cache:
  // every read goes to storage and unwraps through the KEK.
  size_t subject_cache_entries = 100'000;
  absl::Duration subject_cache_ttl = absl::Minutes(5);
  // Where several processes share the store (PostgreSQL): how often a vault
  // re-reads the stored epochs before sealing a key, so that another node's
  // purge, which waits twice this long after its cut before re-sealing, finds
  // no key sealed under the epoch it destroys. Zero: one process owns the
  // store (embedded RocksDB), never re-read.
  absl::Duration epoch_refresh = absl::ZeroDuration();
  // If set, Open hands it the KEK and uses what it returns instead: a layer
  // every wrap and unwrap goes through (e.g. external key release,
  // release/released_kek.h). Its errors fail Open.
  std::function<absl::StatusOr<std::unique_ptr<KeyEncryptionKey>>(
      std::unique_ptr<KeyEncryptionKey>)>
      kek_layer = nullptr;
  // Decides when a superseded pseudonym key version retires
  // (vault/pseudonym_ring.h); nullptr: the system clock.
  const Clock* clock = nullptr;
};

// Who reads and why; passed to the KEK on every unwrap.
struct AccessContext {
  std::string actor;    // principal id
  std::string purpose;  // declared purpose of the request
  // Carried to the KEK with each unwrap (UnwrapJustification): why the
  // access happens (e.g. "read") and where the decision is in the node's log.
  std::string code = {};
  std::optional<uint64_t> decision_index = std::nullopt;
  // Serve only from the subject cache: a miss fails with KeyNotCachedError
  // (vault/key_not_cached.h) instead of unwrapping through the KEK.
  bool cached_only = false;
};

class Vault {
 public:
  // `deployment` supplies the schema, jurisdictions and regions (copied).
  // Errors: InvalidArgument if options.region is not in the deployment.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Vault>> Open(
      const Deployment& deployment, const VaultOptions& options,
      std::unique_ptr<StorageDriver> storage,
      std::unique_ptr<KeyEncryptionKey> kek,
      const crypto::SecretKey& pseudonym_root);

  // The embedded default: RocksDB in `dir`, KEK and pseudonym root from the key
  // files named in deployment.keys. Errors: those of Open, OpenRocksDbStorage
  // and the key files.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Vault>> OpenEmbedded(
      const Deployment& deployment, const VaultOptions& options,
      const std::string& dir, const RocksDbOptions& rocksdb_options = {});

  ~Vault();

  struct PutResult {
    bool created = false;
    uint64_t revision = 0;
    std::string jurisdiction;
  };
  // Stores `record` as the whole record of `subject` (replacing any previous
  // one). Checked before anything touches storage: the subject id, the schema,
  // and residency — a subject whose home jurisdiction is stored in another
  // region gets a MisdirectedError (GetResidencyRedirect gives region and
  // endpoint), one whose jurisdiction has no home region gets
  // FailedPrecondition. Then: FailedPrecondition if the subject exists with a
  // different home jurisdiction ("never changes silently") or was erased (ids
  // are not reused) — on a shared store, also when another node's erasure
  // lands between this write's read and its commit. Aborted if, on a shared
  // store, other nodes' writes kept changing the row (nothing written).
  // InvalidArgument for bad ids/records; Internal/Unavailable on storage
  // errors.
  [[nodiscard]] absl::StatusOr<PutResult> Put(absl::string_view subject,
                                              const Record& record);

  // A subject's row as a check before a write read it, kept by the caller
  // until the write (the gateway checks the home jurisdiction, logs its
  // decision, then writes): the write starts from it instead of reading the
  // row again. Only filled on a shared store; opaque (the row is sealed).
  class RowSnapshot {
   private:
    friend class Vault;
    bool taken_ = false;
    bool found_ = false;
    std::string bytes_;
    uint64_t stripe_writes_ = 0;  // this node's writes to the stripe before
  };
  // HomeJurisdiction that also keeps the row it read in `*snapshot` (when the
  // store is shared and the row is absent or live).
  [[nodiscard]] absl::StatusOr<std::string> HomeJurisdiction(
      absl::string_view subject, RowSnapshot* snapshot);
  // Put starting from `*snapshot` (consumed) if HomeJurisdiction filled it:
  // the write is conditional on the row being exactly as read, so a row
  // changed since (another node's write or erasure) is read again and the
  // write made on top of it, or refused, as Put. Same errors as Put.
  [[nodiscard]] absl::StatusOr<PutResult> Put(absl::string_view subject,
                                              const Record& record,
                                              RowSnapshot* snapshot);

  // Several Puts made durable by ONE storage write (one WAL sync on RocksDB)
  // instead of one each. Measured need (bench/migrate.sh, 2-core VM): the
  // legacy migration's batches of 500 records made 500 synced writes each,
  // and the RocksDB group commit, fsync submissions and thread hand-offs
  // were about half of the node's CPU per migrated record.
  // Each item is checked as Put checks it; an item refused (its slot holds
  // Put's error) adds nothing to the write, the others are written together
  // or, if the write fails, none of them (every slot then holds the write's
  // error, also set in `*write_status`). A subject named twice is written
  // on top of its first write. On a shared store each item is a Put of its
  // own (conditional on its row; `snapshot` used as Put uses it).
  struct BatchItem {
    absl::string_view subject;
    const Record* record = nullptr;
    RowSnapshot* snapshot = nullptr;  // may be null
  };
  [[nodiscard]] std::vector<absl::StatusOr<PutResult>> PutBatch(
      const std::vector<BatchItem>& items, absl::Status* write_status);

  // The decrypted record of `subject`, restricted to `fields` (all fields if
  // empty; fields the record does not have are left out). Errors:
  // InvalidArgument for a bad id or a field not in the schema; NotFound if no
  // such subject; IsErased(status) if it was erased; PermissionDenied if the
  // KEK refuses; DataLoss if stored data fail authentication.
  [[nodiscard]] absl::StatusOr<Record> Get(
      absl::string_view subject, const std::vector<std::string>& fields,
      const AccessContext& context);

  // The stored home jurisdiction (no decryption, no KEK). Errors: as Get.
  [[nodiscard]] absl::StatusOr<std::string> HomeJurisdiction(
      absl::string_view subject);

  // Crypto-shredding: replaces the subject's row (wrapped data key, sealed
  // record) by a tombstone and deletes its token-index entry. Idempotent on an
  // erased subject. Old siv tokens of the subject no longer resolve. Errors:
  // NotFound if the subject never existed.
  [[nodiscard]] absl::Status Erase(absl::string_view subject);

  // Calls `fn` with the id of every live subject in storage, in key order,
  // stopping after `limit`. For aggregates and maintenance: it scans the
  // whole table. Errors: those of the storage driver; DataLoss for a malformed
  // row.
  [[nodiscard]] absl::Status ListSubjects(
      size_t limit, const std::function<void(absl::string_view)>& fn);
  // Token keys for one (destination, purpose) under the current pseudonym
  // key version, cached.
  [[nodiscard]] absl::StatusOr<std::shared_ptr<const TokenKeys>> TokenKeysFor(
      absl::string_view destination, absl::string_view purpose);
  // The subject's siv keys for one (destination, purpose), cached with its data
  // key. Errors: as Get.
  [[nodiscard]] absl::StatusOr<std::shared_ptr<const SubjectTokenKeys>>
  SubjectKeys(absl::string_view subject, absl::string_view destination,
              absl::string_view purpose, const AccessContext& context);

  struct Detokenized {
    std::string subject;
    std::string value;
  };
  // Reverses a siv token of field `field` issued for (destination, purpose).
  // Only this vault can: it needs the token index, the subject's data key and
  // the pseudonym root. Errors: InvalidArgument for a malformed token or one
  // that does not verify under these keys; FieldMismatchError (an
  // InvalidArgument) when it verifies as another siv field of the schema
  // (nothing of its value is returned); NotFound if it resolves to no live
  // subject (unknown, or erased); PermissionDenied if the KEK refuses;
  // TokenExpiredError (vault/pseudonym_ring.h) if the token's pseudonym key
  // version is retired.
  [[nodiscard]] absl::StatusOr<Detokenized> Detokenize(
      absl::string_view token, absl::string_view field,
      absl::string_view destination, absl::string_view purpose,
      const AccessContext& context);

  struct RewrapReport {
    uint64_t rewrapped = 0;  // live subjects whose key moved to the current KEK
    uint64_t current = 0;    // live subjects already under the current KEK
    uint64_t erased = 0;     // tombstones (no key left to re-wrap)
  };
  // KEK rotation: re-wraps every live subject's data key that an earlier KEK
  // wrapped under the current one (Put does the same for the subject it
  // writes), so that the retired KEKs can be destroyed. Records are not
  // re-encrypted: their data keys do not change. Each unwrap is justified as
  // ("vault", "kek-rotation", subject). Safe beside live traffic: each row is
  // replaced only if unchanged since it was read (StorageDriver::
  // CompareAndPut), so a concurrent write, here or on another node sharing
  // the storage, is never overwritten. `keep_going`, if set, is asked before
  // each key; false stops with Cancelled. Errors: those of the storage
  // driver; the KEK's (e.g. DataLoss for a key wrapped by a KEK the ring does
  // not hold, PermissionDenied) with the subject named; Aborted if a row
  // keeps changing. Keys re-wrapped before an error stay re-wrapped.
  // (The epoch keys' and pseudonym root keys' rows are re-wrapped under the
  // current KEK first.)
  [[nodiscard]] absl::StatusOr<RewrapReport> RewrapKeys(
      const std::function<bool()>& keep_going = nullptr);

  struct PurgeReport {
    uint64_t rewrapped = 0;  // live keys moved to the new epoch
    uint64_t live = 0;       // live subjects (all under the new epoch now)
    // Subjects erased since the previous purge (tombstones with an erasure
    // time in [previous cut, this cut)), sorted; a store's first purge
    // counts every erasure before its cut.
    std::vector<std::string> erased;
    std::vector<std::string> destroyed_epochs;  // ids, oldest first
    std::string new_epoch;
    absl::Time cut;        // the new epoch's creation: erasures before it
    uint64_t tag = 0;      // PurgeHooks::tag_at_cut's value at the cut
    bool resumed = false;  // finished a purge an earlier process began
    // Retired pseudonym key versions whose wrapped keys this purge deleted.
    std::vector<uint32_t> destroyed_pseudonym_versions;
  };
  struct PurgeHooks {
    // Called once at the cut, while no erasure is in flight (see
    // BeginErasure); its value is stored with the new epoch (the node stores
    // its log size, so that the attestation says which logged erasures it
    // covers, even when a restart finishes the purge).
    std::function<uint64_t()> tag_at_cut;
    // Called after every live key is under the new epoch and before the old
    // epochs are destroyed (the node appends its attestation here); an error
    // stops the purge, which the next one finishes.
    std::function<absl::Status(const PurgeReport&)> before_destroy;
  };
  // Makes erasures final (docs/vault.md, "Erasure epochs"): creates a new
  // epoch key, re-seals every live subject's wrapped key under it with
  // conditional writes (records untouched), then deletes the older epochs'
  // rows and purges the epochs table from storage files (RocksDB: flush and
  // compaction, so the WAL and SST files that held them are deleted;
  // PostgreSQL: VACUUM FULL). If the store holds two or more epochs (a purge
  // was interrupted) it finishes that purge instead of starting a new one.
  // Serialised with other purges; safe beside reads, writes and erasures.
  // Errors: storage and KEK errors; Aborted if a row keeps changing; those of
  // the hooks. An interrupted purge loses nothing: every key is readable
  // under the old or the new epoch until the old one is deleted.
  [[nodiscard]] absl::StatusOr<PurgeReport> Purge(const PurgeHooks& hooks = {});
  // Purge without hooks (tests and maintenance).
  [[nodiscard]] absl::Status PurgeErased();

  // The id of the KEK under the epoch layer of a live subject's stored key
  // (for rotation tools and tests). Errors: as Get.
  [[nodiscard]] absl::StatusOr<std::string> WrappingKekId(
      absl::string_view subject);

  struct EpochState {
    std::string current;           // the epoch new keys are sealed under
    absl::Time current_created;    // when it was made (the last purge's cut)
    bool current_initial = false;  // made at open, no purge since
    size_t stored = 0;  // epochs in storage; more than one: purge unfinished
  };
  // The epochs as stored now. Errors: storage and KEK errors.
  [[nodiscard]] absl::StatusOr<EpochState> Epochs();

  // An erasure in flight, from before the gateway logs it until the vault
  // has erased it: a purge's cut happens at a moment when none is in flight,
  // so a logged erasure is either wholly
  // before the cut (logged before PurgeHooks::tag_at_cut ran, tombstone older
  // than the new epoch) or wholly after it. Waits only while a cut itself
  // runs (milliseconds), never for a purge. Release by dropping
  // the returned pointer (from any thread).
  [[nodiscard]] std::shared_ptr<void> BeginErasure();
  // Runs `fn` at a moment when no erasure is in flight (holding off new ones
  // while it runs, so keep it short) and returns its value: a node of a
  // region takes its log size here as its cut for a region-wide purge
  // (gateway/regional_purge.h), so that every erasure it logged before that
  // size has its tombstone stored.
  uint64_t AtErasureCut(const std::function<uint64_t()>& fn);
  // Forgets every cached data key and siv key.
  void DropKeyCache();

  // One request's reads of one subject. Where the store is shared (every
  // read fetches the subject's row, see VaultOptions), while a scope lives
  // the row is fetched once, by the first read that needs it, and this
  // thread's later reads of `subject` through this vault (HomeJurisdiction,
  // Get, SubjectKeys, Detokenize's keys) answer from that row: the request
  // sees the subject as it was at that moment, which is after the request
  // began, so an erasure or write acknowledged before it is always seen. A
  // Put or Erase of the subject on this thread ends the reuse. One scope per
  // thread at a time (a nested one does nothing); no effect on an embedded
  // store. Construct and destroy on the same thread (a local variable).
  // A subject's row read ahead of a request's work by FetchRow (opaque: the
  // row is sealed), for the request's ReadScope to start from.
  class FetchedRow {
   private:
    friend class Vault;
    absl::StatusOr<std::optional<std::string>> bytes_ =
        absl::UnknownError("not fetched");
  };
  // Whether FetchRow returns before the row is read (a shared store whose
  // driver reads asynchronously, batching concurrent reads): then a request
  // can fetch its subject's row without holding a thread while it waits.
  [[nodiscard]] bool fetches_rows_async() const;
  // Reads `subject`'s row; `done` runs with it, on a storage thread if
  // fetches_rows_async() (then it may do a request's work, which delays only
  // that thread's next batch, but must not wait for another FetchRow), else
  // on this one. The row is read after this call began.
  void FetchRow(absl::string_view subject,
                std::function<void(FetchedRow)> done);

  class ReadScope {
   public:
    ReadScope(Vault& vault, absl::string_view subject);
    // A scope whose row is the one `fetched` holds (FetchRow, called after
    // the request began): its reads need no further round trip. A failed
    // fetch leaves the row to the scope's first read, as above.
    ReadScope(Vault& vault, absl::string_view subject, FetchedRow fetched);
    ~ReadScope();
    ReadScope(const ReadScope&) = delete;
    ReadScope& operator=(const ReadScope&) = delete;

   private:
    bool active_ = false;
  };

  const Schema& schema() const { return schema_; }
  const Pseudonymizer& pseudonymizer() const { return pseudonymizer_; }
  // The versions of the pseudonym root key (rotation, retirement).
  PseudonymRing& pseudonym_ring() { return *pseudonym_ring_; }
  const ResidencyMap& residency() const { return residency_; }
  // The current KEK's id (public: a fingerprint, not key material).
  absl::string_view kek_id() const { return kek_->id(); }
  // Wraps a throwaway key with the KEK (a token operation for a PKCS#11 KEK;
  // local for a release layer, which reaches its service only to unwrap):
  // whether the key path can work now, for /readyz. The KEK's error if not.
  [[nodiscard]] absl::Status ProbeKek();
  StorageDriver& storage() { return *storage_; }

 private:
  struct SubjectEntry;
  Vault(const Deployment& deployment, const VaultOptions& options,
        ResidencyMap residency, std::unique_ptr<StorageDriver> storage,
        std::unique_ptr<KeyEncryptionKey> kek,
        const crypto::SecretKey& pseudonym_root);

  static size_t StripeIndex(absl::string_view subject);
  absl::Mutex& StripeOf(absl::string_view subject);
  // The subject's row, or nullopt if it never existed.
  absl::StatusOr<std::optional<SubjectRow>> ReadRow(absl::string_view subject);
  // ReadRow, answered from this thread's ReadScope of `subject` if any (its
  // first call fetches). For reads only.
  absl::StatusOr<std::optional<SubjectRow>> ReadRowInScope(
      absl::string_view subject);
  // Ends this thread's ReadScope reuse of `subject` (after a write to it).
  void ForgetScopedRow(absl::string_view subject);
  // A write built on top of a row read, not yet stored (Put, PutBatch).
  struct PendingWrite {
    ~PendingWrite();
    crypto::SecretKey data_key{};
    std::shared_ptr<SubjectEntry> cached;  // the subject's fresh cache entry
    SubjectRow row;
    std::string encoded;  // row, as stored
    bool created = false;
  };
  // Builds the write of `record` on top of `*stored` (nullptr: no row) into
  // `batch` and `w`, or refuses it (erased, another home jurisdiction, KEK
  // errors) adding nothing. Under the subject's stripe.
  absl::Status BuildWrite(absl::string_view subject, const Record& record,
                          const std::string& jurisdiction,
                          const std::string* stored, WriteBatch& batch,
                          PendingWrite& w);
  // After the write of `w` is stored: counts it and refreshes the cache.
  PutResult FinishWrite(absl::string_view subject,
                        const std::string& jurisdiction, PendingWrite& w);
  // The cached entry of `subject` if it is younger than the TTL, else null.
  std::shared_ptr<SubjectEntry> FreshCachedEntry(absl::string_view subject);
  // The live subject's entry (cache, else storage and a KEK unwrap). Errors:
  // NotFound, erased, PermissionDenied (KEK), DataLoss, storage errors.
  absl::StatusOr<std::shared_ptr<SubjectEntry>> LoadEntry(
      absl::string_view subject, const AccessContext& context);
  // LoadEntry on a shared store: the row is read on every call, the cached
  // data key reused only for the same handle and wrapped key.
  absl::StatusOr<std::shared_ptr<SubjectEntry>> LoadSharedEntry(
      absl::string_view subject, const AccessContext& context);

  // Epochs: the current one, and any epoch by id (reloading the stored
  // epochs once for an id not held, e.g. made by another node).
  std::shared_ptr<EpochKey> CurrentEpoch();
  absl::StatusOr<std::shared_ptr<EpochKey>> EpochById(absl::string_view id);
  // Reads the stored epochs, unwrapping those not held; with
  // `create_if_none`, creates the initial epoch of a store that has none.
  absl::Status ReloadEpochs(bool create_if_none);
  // SubjectKeys under the given (destination, purpose, version) keys.
  absl::StatusOr<std::shared_ptr<const SubjectTokenKeys>> SubjectKeysUnder(
      std::shared_ptr<const TokenKeys> keys, absl::string_view subject,
      const AccessContext& context);
  // The KEK output inside a stored wrapped key (itself for a key stored
  // before epochs).
  absl::StatusOr<std::string> InnerWrapped(absl::string_view wrapped,
                                           absl::string_view subject);
  absl::StatusOr<crypto::SecretKey> UnwrapDataKey(
      absl::string_view wrapped, absl::string_view subject,
      const UnwrapJustification& why);
  // KEK wrap, then the current epoch's seal.
  absl::StatusOr<std::string> WrapDataKey(absl::string_view data_key,
                                          absl::string_view subject);

  const Schema schema_;
  const VaultOptions options_;
  const ResidencyMap residency_;
  const Pseudonymizer pseudonymizer_;
  std::unique_ptr<StorageDriver> storage_;
  std::unique_ptr<KeyEncryptionKey> kek_;
  TokenKeyRing token_keys_;
  std::unique_ptr<PseudonymRing> pseudonym_ring_;  // over token_keys_
  ClockCache<std::shared_ptr<SubjectEntry>> cache_;
  // StorageDriver::shared(): reads revalidate, writes are conditional.
  const bool shared_;
  static constexpr size_t kStripes = 256;
  std::array<absl::Mutex, kStripes> stripes_;
  // Puts done per stripe (counted under its lock): a RowSnapshot older than
  // one of them is not used (it would only make the write conflict).
  std::array<std::atomic<uint64_t>, kStripes> stripe_writes_{};

  absl::Mutex epochs_mu_;
  std::shared_ptr<EpochKey> current_epoch_ ABSL_GUARDED_BY(epochs_mu_);
  absl::Time epochs_loaded_ ABSL_GUARDED_BY(epochs_mu_);
  std::vector<std::shared_ptr<EpochKey>> epochs_ ABSL_GUARDED_BY(epochs_mu_);
  absl::Mutex purge_mu_;  // one purge at a time
  absl::Mutex gate_mu_;
  int erasures_in_flight_ ABSL_GUARDED_BY(gate_mu_) = 0;
};

}  // namespace clover::vault

#endif  // CLOVER_VAULT_VAULT_H_
