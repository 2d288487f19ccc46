#include "gateway/state_store.h"

#include <openssl/rand.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "core/big_endian.h"
#include "core/status_macros.h"
#include "core/varint.h"
#include "rocksdb/db.h"
#include "rocksdb/memtablerep.h"
#include "rocksdb/options.h"
#include "rocksdb/slice_transform.h"
#include "rocksdb/write_batch.h"

namespace clover::gateway {
namespace {

enum Family { kDefault = 0, kBudget = 1, kAccess = 2 };

absl::Status FromRocks(const rocksdb::Status& s) {
  if (s.ok()) return absl::OkStatus();
  return absl::InternalError(
      absl::StrCat("gateway state store: ", s.ToString()));
}

std::string BigEndian(uint64_t v) {
  std::string out;
  AppendBigEndian64(v, &out);
  return out;
}

// `subject NUL index`, the index big-endian so that a subject's keys sort by
// index.
std::string AccessKey(absl::string_view subject, uint64_t index) {
  std::string key(subject);
  key.push_back('\0');
  AppendBigEndian64(index, &key);
  return key;
}

rocksdb::WriteOptions SyncWrite() {
  rocksdb::WriteOptions w;
  w.sync = true;
  return w;
}

constexpr char kIndexedUpToKey[] = "indexed_up_to";

// An access key is `pseudonym NUL index`: its prefix up to the NUL names the
// subject. The access family's memtable remembers where it last inserted for
// each prefix, so an insert (indexes only grow) is an append there instead of
// a descent through one skiplist of every recent access (random pseudonyms
// made that the index's main cost), and an access report seeks within one
// prefix.
class SubjectPrefix : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "clover.SubjectPrefix"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    const void* nul = std::memchr(key.data(), '\0', key.size());
    return rocksdb::Slice(
        key.data(),
        static_cast<size_t>(static_cast<const char*>(nul) - key.data()) + 1);
  }
  bool InDomain(const rocksdb::Slice& key) const override {
    return std::memchr(key.data(), '\0', key.size()) != nullptr;
  }
};

// ResourceExhausted (naming what is spent) when `epsilon` more would take
// `spent` past the day's budget; the local and the regional spend alike.
absl::Status CheckBudget(absl::string_view requester, absl::string_view purpose,
                         double spent, double epsilon, double daily_budget) {
  if (spent + epsilon <= daily_budget + 1e-9) return absl::OkStatus();
  return absl::ResourceExhaustedError(
      absl::StrCat("privacy budget of '", requester, "' for purpose '", purpose,
                   "' is spent for today (", spent, " of ", daily_budget,
                   " used, query needs ", epsilon, ")"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<StateStore>> StateStore::Open(
    const std::string& dir, kv::KvStore* shared_budget) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  // RocksDB uses memtable insert hints only on its single-writer path.
  options.allow_concurrent_memtable_write = false;
  rocksdb::ColumnFamilyOptions access;
  access.prefix_extractor = std::make_shared<SubjectPrefix>();
  // Each subject's accesses arrive in index order, so the memtable keeps the
  // last insert position per subject and appends there instead of descending
  // the skiplist from the top.
  access.memtable_insert_with_hint_prefix_extractor = access.prefix_extractor;
  std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
      {"budget", rocksdb::ColumnFamilyOptions()},
      {"access", access}};
  auto store = std::unique_ptr<StateStore>(new StateStore());
  rocksdb::DB* db = nullptr;
  auto s = rocksdb::DB::Open(options, dir, families, &store->handles_, &db);
  if (!s.ok()) return FromRocks(s);
  store->db_.reset(db);
  store->shared_budget_ = shared_budget;
  return store;
}

StateStore::~StateStore() {
  if (db_ == nullptr) return;
  for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
  db_->Close();
}

absl::StatusOr<double> StateStore::SpendEpsilon(absl::string_view requester,
                                                absl::string_view purpose,
                                                double epsilon,
                                                double daily_budget,
                                                absl::Time now) {
  if (!(epsilon > 0) || !std::isfinite(epsilon)) {
    return absl::InvalidArgumentError("epsilon must be a positive number");
  }
  // "by/" keeps these keys apart from the earlier per-destination ones (which
  // are left to age out: they are only read for their own day).
  std::string key =
      absl::StrCat(absl::FormatTime("%Y-%m-%d", now, absl::UTCTimeZone()),
                   "/by/", requester, "/", purpose);
  absl::MutexLock lock(&budget_mu_);
  if (shared_budget_ != nullptr) {
    return SpendSharedEpsilon(key, requester, purpose, epsilon, daily_budget);
  }
  std::string value;
  double spent = 0;
  auto s = db_->Get(rocksdb::ReadOptions(), handles_[kBudget], key, &value);
  if (s.ok() && value.size() == sizeof(double)) {
    std::memcpy(&spent, value.data(), sizeof spent);
  } else if (!s.IsNotFound()) {
    return FromRocks(s);
  }
  CLOVER_RETURN_IF_ERROR(
      CheckBudget(requester, purpose, spent, epsilon, daily_budget));
  spent += epsilon;
  value.assign(reinterpret_cast<const char*>(&spent), sizeof spent);
  auto w = db_->Put(SyncWrite(), handles_[kBudget], key, value);
  if (!w.ok()) return FromRocks(w);
  return daily_budget - spent;
}

absl::Status StateStore::IndexAccess(absl::string_view subject,
                                     uint64_t index) {
  return FromRocks(
      db_->Put(SyncWrite(), handles_[kAccess], AccessKey(subject, index), ""));
}

absl::Status StateStore::IndexBatch(
    const std::vector<std::pair<std::string, uint64_t>>& accesses,
    uint64_t indexed_up_to) {
  rocksdb::WriteBatch batch;
  for (const AccessRow& row : GroupAccesses(accesses)) {
    batch.Put(handles_[kAccess], AccessKey(row.subject, row.first), row.deltas);
  }
  batch.Put(handles_[kDefault], kIndexedUpToKey, BigEndian(indexed_up_to));
  // Not synced (see the header): an fdatasync per batch here would queue on
  // the disk in front of the log's, which acknowledged requests wait for.
  return FromRocks(db_->Write(rocksdb::WriteOptions(), &batch));
}

absl::Status StateStore::SetIndexedUpTo(uint64_t size) {
  return FromRocks(db_->Put(SyncWrite(), handles_[kDefault], kIndexedUpToKey,
                            BigEndian(size)));
}

absl::StatusOr<uint64_t> StateStore::IndexedUpTo() const {
  std::string value;
  auto s = db_->Get(rocksdb::ReadOptions(), handles_[kDefault], kIndexedUpToKey,
                    &value);
  if (s.IsNotFound()) return 0;
  if (!s.ok()) return FromRocks(s);
  if (value.size() != 8)
    return absl::DataLossError("gateway state store: bad indexed_up_to");
  return ReadBigEndian64(value.data());
}

absl::StatusOr<std::vector<uint64_t>> StateStore::AccessesOf(
    absl::string_view subject) const {
  std::string prefix(subject);
  prefix.push_back('\0');
  std::vector<uint64_t> out;
  // Prefix mode (the default with a prefix extractor): the iterator stays
  // within this subject's keys.
  rocksdb::ReadOptions read;
  read.prefix_same_as_start = true;
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(read, handles_[kAccess]));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix);
       it->Next()) {
    if (it->key().size() != prefix.size() + 8) continue;
    uint64_t index = ReadBigEndian64(it->key().data() + prefix.size());
    out.push_back(index);
    absl::string_view deltas(it->value().data(), it->value().size());
    while (!deltas.empty()) {
      uint64_t delta = 0;
      if (!ReadVarint64(&deltas, &delta) || delta == 0 ||
          index > UINT64_MAX - delta) {
        return absl::DataLossError(
            "gateway state store: malformed access index entry");
      }
      index += delta;
      out.push_back(index);
    }
  }
  if (!it->status().ok()) return FromRocks(it->status());
  // Groups written again after a crash (the index is rebuilt from the log)
  // may overlap the ones written before it.
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

absl::StatusOr<double> StateStore::SpendSharedEpsilon(
    const std::string& key, absl::string_view requester,
    absl::string_view purpose, double epsilon, double daily_budget) {
  const std::string stored_key = absl::StrCat("budget/", key);
  // Each round loses only to a spend that another node committed meanwhile;
  // budget_mu_ keeps this node's own spends out of the race.
  constexpr int kMaxRounds = 64;
  for (int round = 0; round < kMaxRounds; ++round) {
    absl::StatusOr<std::string> value = shared_budget_->Get(stored_key);
    if (!value.ok() && !absl::IsNotFound(value.status())) {
      return value.status();
    }
    std::optional<std::string> expected;
    double spent = 0;
    if (value.ok()) {
      if (value->size() != sizeof(double)) {
        return absl::DataLossError("stored privacy budget entry is malformed");
      }
      std::memcpy(&spent, value->data(), sizeof spent);
      expected = *value;
    }
    CLOVER_RETURN_IF_ERROR(
        CheckBudget(requester, purpose, spent, epsilon, daily_budget));
    spent += epsilon;
    kv::KvBatch batch;
    batch.Put(
        stored_key,
        absl::string_view(reinterpret_cast<const char*>(&spent), sizeof spent));
    absl::Status w = shared_budget_->WriteIf(stored_key, expected, batch);
    if (w.ok()) return daily_budget - spent;
    if (!absl::IsFailedPrecondition(w)) return w;
  }
  return absl::AbortedError(
      "privacy budget: too many concurrent spends; retry");
}

double LaplaceNoise(double scale) {
  uint64_t bits = 0;
  // RAND_bytes only fails when the CSPRNG cannot be seeded; noise of 0 would
  // then leak the true value, so fall back to failing loudly.
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&bits), sizeof bits) != 1)
    std::abort();
  // u uniform in (-0.5, 0.5), excluding the endpoints.
  double u = (static_cast<double>(bits >> 11) + 0.5) / 9007199254740992.0 - 0.5;
  return -scale * (u < 0 ? -1.0 : 1.0) * std::log(1 - 2 * std::fabs(u));
}

}  // namespace clover::gateway
