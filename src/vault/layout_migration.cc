#include "vault/layout_migration.h"

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/big_endian.h"
#include "vault/storage.h"
#include "vault/subject_row.h"

namespace clover::vault {
namespace {

constexpr uint8_t kV1Format = 1;
constexpr char kRowsWrittenMarker[] = "clover.migration.v2.rows_written";

absl::Status FromRocks(const rocksdb::Status& s, absl::string_view what) {
  std::string msg =
      absl::StrCat("vault migration: ", std::string(what), ": ", s.ToString());
  if (s.IsIOError() && s.ToString().find("lock") != std::string::npos)
    return absl::UnavailableError(msg);
  return absl::InternalError(msg);
}

absl::Status Malformed(absl::string_view subject, absl::string_view what) {
  return absl::DataLossError(absl::StrCat("vault migration: subject ",
                                          std::string(subject), ": ",
                                          std::string(what)));
}

class Store {
 public:
  ~Store() {
    if (db_ == nullptr) return;
    for (auto* h : handles_)
      db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
    db_->Close().PermitUncheckedError();
  }

  absl::Status Open(const std::string& dir,
                    const std::vector<std::string>& families) {
    rocksdb::DBOptions options;
    options.create_missing_column_families = true;
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    for (const std::string& name : families)
      descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
    rocksdb::DB* raw = nullptr;
    rocksdb::Status s =
        rocksdb::DB::Open(options, dir, descriptors, &handles_, &raw);
    if (!s.ok()) return FromRocks(s, absl::StrCat("open ", dir));
    db_.reset(raw);
    names_ = families;
    return absl::OkStatus();
  }

  rocksdb::DB& db() { return *db_; }
  rocksdb::ColumnFamilyHandle* Family(absl::string_view name) {
    for (size_t i = 0; i < names_.size(); ++i)
      if (names_[i] == name) return handles_[i];
    return nullptr;
  }

 private:
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::vector<std::string> names_;
};

absl::StatusOr<bool> Read(Store& store, absl::string_view family,
                          absl::string_view key, std::string* value) {
  rocksdb::ColumnFamilyHandle* h = store.Family(family);
  if (h == nullptr) return false;
  rocksdb::Status s = store.db().Get(
      rocksdb::ReadOptions(), h, rocksdb::Slice(key.data(), key.size()), value);
  if (s.IsNotFound()) return false;
  if (!s.ok()) return FromRocks(s, "read");
  return true;
}

// Writes a SubjectRow for every v1 subject; returns the counts.
absl::StatusOr<MigrationReport> WriteRows(Store& store) {
  MigrationReport report;
  rocksdb::ColumnFamilyHandle* meta = store.Family("meta");
  rocksdb::ColumnFamilyHandle* subjects =
      store.Family(TableName(Table::kSubjects));
  if (meta == nullptr) return report;  // no subjects were ever written
  rocksdb::WriteOptions sync;
  sync.sync = true;
  rocksdb::WriteBatch batch;
  std::unique_ptr<rocksdb::Iterator> it(
      store.db().NewIterator(rocksdb::ReadOptions(), meta));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string subject = it->key().ToString();
    std::string key_entry, record;
    auto have_key = Read(store, "wrapped_keys", subject, &key_entry);
    if (!have_key.ok()) return have_key.status();
    auto have_record = Read(store, "records", subject, &record);
    if (!have_record.ok()) return have_record.status();
    auto row = SubjectRowFromV1(
        subject, absl::string_view(it->value().data(), it->value().size()),
        *have_key ? std::optional<absl::string_view>(key_entry) : std::nullopt,
        *have_record ? std::optional<absl::string_view>(record) : std::nullopt);
    if (!row.ok()) return row.status();
    row->live() ? ++report.live : ++report.erased;
    rocksdb::Status s = batch.Put(subjects, subject, row->Encode());
    if (!s.ok()) return FromRocks(s, "batch");
    if (batch.Count() >= 1000) {
      s = store.db().Write(sync, &batch);
      if (!s.ok()) return FromRocks(s, "write");
      batch.Clear();
    }
  }
  if (!it->status().ok()) return FromRocks(it->status(), "scan meta");
  rocksdb::Status s = batch.Put(store.Family(rocksdb::kDefaultColumnFamilyName),
                                kRowsWrittenMarker, "");
  if (!s.ok()) return FromRocks(s, "batch");
  s = store.db().Write(sync, &batch);
  if (!s.ok()) return FromRocks(s, "write");
  return report;
}

}  // namespace

absl::StatusOr<SubjectRow> SubjectRowFromV1(
    absl::string_view subject, absl::string_view meta,
    std::optional<absl::string_view> key_entry,
    std::optional<absl::string_view> record) {
  // meta: 01 || state || revision (u64) || micros (i64) || len || jurisdiction.
  if (meta.size() < 19 || static_cast<uint8_t>(meta[0]) != kV1Format ||
      meta.size() != size_t{19} + static_cast<uint8_t>(meta[18])) {
    return Malformed(subject, "metadata is malformed");
  }
  SubjectRow row;
  const uint8_t state = static_cast<uint8_t>(meta[1]);
  if (state != static_cast<uint8_t>(SubjectRow::State::kLive) &&
      state != static_cast<uint8_t>(SubjectRow::State::kErased)) {
    return Malformed(subject, "metadata has an unknown state");
  }
  row.state = static_cast<SubjectRow::State>(state);
  row.revision = ReadBigEndian64(meta.data() + 2);
  row.micros = static_cast<int64_t>(ReadBigEndian64(meta.data() + 10));
  row.jurisdiction = std::string(meta.substr(19));
  if (!row.live()) return row;
  // wrapped_keys: 01 || handle (16) || KEK output.
  if (!key_entry.has_value() || key_entry->size() <= 1 + kHandleSize ||
      static_cast<uint8_t>((*key_entry)[0]) != kV1Format) {
    return Malformed(subject,
                     "live but its wrapped key is missing or malformed");
  }
  std::memcpy(row.handle.data(), key_entry->data() + 1, kHandleSize);
  row.wrapped_key = std::string(key_entry->substr(1 + kHandleSize));
  // records: 01 || revision (u64) || sealed record.
  if (!record.has_value() || record->size() <= 9 ||
      static_cast<uint8_t>((*record)[0]) != kV1Format) {
    return Malformed(subject, "live but its record is missing or malformed");
  }
  // The record's own revision is the one its AAD binds.
  row.revision = ReadBigEndian64(record->data() + 1);
  row.sealed_record = std::string(record->substr(9));
  return row;
}

absl::StatusOr<MigrationReport> MigrateVaultStoreToV2(const std::string& dir) {
  std::vector<std::string> families;
  rocksdb::Status listed =
      rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir, &families);
  if (!listed.ok()) {
    if (!std::filesystem::exists(std::filesystem::path(dir) / "CURRENT")) {
      return absl::NotFoundError(
          absl::StrCat("no vault store (RocksDB database) in ", dir));
    }
    return FromRocks(listed, absl::StrCat("list tables of ", dir));
  }
  const bool has_v1 =
      std::any_of(families.begin(), families.end(), [](const std::string& f) {
        return std::find(std::begin(kV1OnlyTables), std::end(kV1OnlyTables),
                         f) != std::end(kV1OnlyTables);
      });
  MigrationReport report;
  if (!has_v1) {
    report.already_current = true;
    return report;
  }
  for (Table t : kAllTables) {
    const std::string name(TableName(t));
    if (std::find(families.begin(), families.end(), name) == families.end())
      families.push_back(name);
  }
  Store store;
  if (absl::Status s = store.Open(dir, families); !s.ok()) return s;
  std::string marker;
  auto written = Read(store, rocksdb::kDefaultColumnFamilyName,
                      kRowsWrittenMarker, &marker);
  if (!written.ok()) return written.status();
  if (!*written) {
    auto rows = WriteRows(store);
    if (!rows.ok()) return rows.status();
    report = *rows;
  } else {
    // A previous run wrote every row and stopped before or while dropping
    // the v1 tables; count what is there.
    std::unique_ptr<rocksdb::Iterator> it(store.db().NewIterator(
        rocksdb::ReadOptions(), store.Family(TableName(Table::kSubjects))));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      auto state = SubjectRow::PeekState(
          absl::string_view(it->value().data(), it->value().size()));
      if (!state.ok()) return state.status();
      *state == SubjectRow::State::kLive ? ++report.live : ++report.erased;
    }
    if (!it->status().ok()) return FromRocks(it->status(), "scan subjects");
  }
  for (absl::string_view table : kV1OnlyTables) {
    rocksdb::ColumnFamilyHandle* h = store.Family(table);
    if (h == nullptr) continue;
    rocksdb::Status s = store.db().DropColumnFamily(h);
    if (!s.ok()) return FromRocks(s, absl::StrCat("drop ", std::string(table)));
  }
  rocksdb::WriteOptions sync;
  sync.sync = true;
  rocksdb::Status s =
      store.db().Delete(sync, store.Family(rocksdb::kDefaultColumnFamilyName),
                        kRowsWrittenMarker);
  if (!s.ok()) return FromRocks(s, "clear marker");
  return report;
}

}  // namespace clover::vault
