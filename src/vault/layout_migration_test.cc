#include "vault/layout_migration.h"

#include <rocksdb/db.h>

#include <algorithm>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "vault/erased.h"
#include "vault/key_encryption_key.h"
#include "vault/record.h"
#include "vault/rocksdb_storage.h"
#include "vault/subject_row.h"
#include "vault/test_util.h"
#include "vault/vault.h"

namespace clover::vault {
namespace {

using testing::TempDir;
using testing::TestDeployment;
using testing::TestKey;

// Writes a store of the first layout the way the first vault did: meta,
// wrapped key (with the token handle) and sealed record per subject.
class V1Store {
 public:
  explicit V1Store(const std::string& dir) {
    rocksdb::DBOptions options;
    options.create_if_missing = true;
    options.create_missing_column_families = true;
    // The v1 tables first (their indices are kRecords...), then whatever
    // else the directory already holds.
    std::vector<std::string> names = {"default", "records", "wrapped_keys",
                                      "token_index", "meta"};
    std::vector<std::string> existing;
    if (rocksdb::DB::ListColumnFamilies(options, dir, &existing).ok()) {
      for (const std::string& name : existing) {
        if (std::find(names.begin(), names.end(), name) == names.end())
          names.push_back(name);
      }
    }
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    for (const std::string& name : names)
      families.emplace_back(name, rocksdb::ColumnFamilyOptions());
    rocksdb::DB* raw = nullptr;
    EXPECT_TRUE(
        rocksdb::DB::Open(options, dir, families, &handles_, &raw).ok());
    db_.reset(raw);
  }
  ~V1Store() {
    for (auto* h : handles_)
      EXPECT_TRUE(db_->DestroyColumnFamilyHandle(h).ok());
  }

  void Put(int family, const std::string& key, const std::string& value) {
    ASSERT_TRUE(
        db_->Put(rocksdb::WriteOptions(), handles_[family], key, value).ok());
  }
  static constexpr int kRecords = 1, kKeys = 2, kTokens = 3, kMeta = 4;

  void Live(KeyEncryptionKey& kek, const std::string& subject,
            const Record& record, uint64_t revision, uint8_t handle_fill) {
    testing::V1Subject v =
        testing::MakeV1Live(kek, subject, record, revision, handle_fill);
    Put(kKeys, subject, v.key_entry);
    Put(kTokens, v.handle, subject);
    Put(kRecords, subject, v.record);
    Put(kMeta, subject, v.meta);
  }

 private:
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
};

Record Ann() {
  Record r;
  r.country = "IE";
  r.fields = {{"email", false, "ann@mail.example", {}},
              {"name", false, "Ann O'Neill", {}}};
  return r;
}

TEST(LayoutMigrationTest, MovesEverySubjectWithoutDecryptingAndIsIdempotent) {
  TempDir dir;
  auto kek = FileKeyEncryptionKey::FromKey(TestKey(3));
  Record bob = Ann();
  bob.fields[0].value = "bob@mail.example";
  {
    V1Store v1(dir.path());
    v1.Live(*kek, "ann", Ann(), 1, 0x11);
    v1.Live(*kek, "bob", bob, 4, 0x22);
    v1.Put(V1Store::kMeta, "cy", testing::V1Meta(2, 2, "eu"));  // erased
  }
  // The current code refuses the old layout, by name, until it is migrated.
  auto refused = OpenRocksDbStorage(dir.path());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("v1 layout"), std::string::npos)
      << refused.status();

  auto report = MigrateVaultStoreToV2(dir.path());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_FALSE(report->already_current);
  EXPECT_EQ(report->live, 2u);
  EXPECT_EQ(report->erased, 1u);
  auto again = MigrateVaultStoreToV2(dir.path());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->already_current);

  auto storage = OpenRocksDbStorage(dir.path());
  ASSERT_TRUE(storage.ok()) << storage.status();
  VaultOptions options;
  options.region = "eu";
  auto vault =
      Vault::Open(TestDeployment(), options, *std::move(storage),
                  FileKeyEncryptionKey::FromKey(TestKey(3)), TestKey(9));
  ASSERT_TRUE(vault.ok()) << vault.status();
  AccessContext ctx{"eu-support-1", "customer_support"};
  auto ann = (*vault)->Get("ann", {}, ctx);
  ASSERT_TRUE(ann.ok()) << ann.status();
  EXPECT_EQ(*ann, Ann());
  auto got_bob = (*vault)->Get("bob", {}, ctx);
  ASSERT_TRUE(got_bob.ok()) << got_bob.status();
  EXPECT_EQ(*got_bob, bob);
  EXPECT_TRUE(IsErased((*vault)->Get("cy", {}, ctx).status()));
  // The revision carries on from the record's; the token index still
  // resolves a token made now.
  auto put = (*vault)->Put("bob", bob);
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(put->revision, 5u);
  auto keys = (*vault)->SubjectKeys("ann", "us", "analytics", ctx);
  ASSERT_TRUE(keys.ok()) << keys.status();
  auto token = (*keys)->SivToken("name", "Ann O'Neill");
  ASSERT_TRUE(token.ok());
  auto back = (*vault)->Detokenize(*token, "name", "us", "analytics", ctx);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->subject, "ann");
}

TEST(LayoutMigrationTest, RefusesALiveSubjectWithoutItsRecordAndDropsNothing) {
  TempDir dir;
  auto kek = FileKeyEncryptionKey::FromKey(TestKey(3));
  {
    V1Store v1(dir.path());
    v1.Live(*kek, "ann", Ann(), 1, 0x11);
    v1.Put(V1Store::kMeta, "bea",
           testing::V1Meta(1, 1, "eu"));  // no key, record
  }
  auto report = MigrateVaultStoreToV2(dir.path());
  EXPECT_EQ(report.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(report.status().message().find("subject bea"), std::string::npos)
      << report.status();
  std::vector<std::string> families;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir.path(),
                                              &families)
                  .ok());
  for (const char* table : {"records", "wrapped_keys", "meta"}) {
    EXPECT_NE(std::find(families.begin(), families.end(), table),
              families.end())
        << table;
  }
}

// A run killed after writing every row (marker set) but before dropping the
// v1 tables: the next run only drops them, whatever they still hold.
TEST(LayoutMigrationTest, ARunStoppedAfterTheRowsOnlyDropsTheOldTables) {
  TempDir dir;
  auto kek = FileKeyEncryptionKey::FromKey(TestKey(3));
  {
    V1Store v1(dir.path());
    v1.Live(*kek, "ann", Ann(), 1, 0x11);
  }
  ASSERT_TRUE(MigrateVaultStoreToV2(dir.path()).ok());
  {
    // Put the state back as the killed run would have left it: v1 tables
    // present (here with a row the migrated data must not take from) and
    // the marker set.
    V1Store v1(dir.path());
    v1.Put(V1Store::kMeta, "ann", "not read again");
    v1.Put(0, "clover.migration.v2.rows_written", "");
  }
  auto report = MigrateVaultStoreToV2(dir.path());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->live, 1u);
  EXPECT_EQ(report->erased, 0u);
  auto storage = OpenRocksDbStorage(dir.path());
  ASSERT_TRUE(storage.ok()) << storage.status();
  std::string marker;
  auto subjects = (*storage)->Get(Table::kSubjects, "ann", &marker);
  ASSERT_TRUE(subjects.ok());
  EXPECT_TRUE(*subjects);
  EXPECT_TRUE(SubjectRow::Decode(marker).ok());
}

TEST(LayoutMigrationTest, CurrentAndMissingStores) {
  TempDir dir;
  EXPECT_EQ(MigrateVaultStoreToV2(dir.path() + "/none").status().code(),
            absl::StatusCode::kNotFound);
  ASSERT_TRUE(OpenRocksDbStorage(dir.path()).ok());
  auto report = MigrateVaultStoreToV2(dir.path());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->already_current);
}

}  // namespace
}  // namespace clover::vault
