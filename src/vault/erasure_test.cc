// Erasure epochs on the embedded RocksDB store: an erased subject's record is
// recoverable from the store's files with the KEK until the purge, and from
// nothing after it, while live subjects still read.
#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "vault/disk_attack_test_util.h"
#include "vault/epoch_keys.h"
#include "vault/erased.h"
#include "vault/kek_ring.h"
#include "vault/record_parser.h"
#include "vault/subject_row.h"
#include "vault/test_util.h"
#include "vault/vault.h"

namespace clover::vault {
namespace {

using testing::AttackDisk;
using testing::ReadAllFiles;
using testing::TempDir;
using testing::TestDeployment;
using testing::TestKey;

constexpr uint8_t kKekFill = 5;

class ErasureEpochTest : public ::testing::Test {
 protected:
  void Open() {
    vault_.reset();
    RocksDbOptions r;
    r.sync = true;
    auto storage = OpenRocksDbStorage(dir_.path(), r);
    ASSERT_TRUE(storage.ok()) << storage.status();
    VaultOptions o;
    o.region = "eu";
    auto v = Vault::Open(deployment_, o, std::move(*storage),
                         FileKeyEncryptionKey::FromKey(TestKey(kKekFill)),
                         TestKey(9));
    ASSERT_TRUE(v.ok()) << v.status();
    vault_ = std::move(*v);
  }

  Record RecordOf(const std::string& id) {
    auto r =
        ParseRecordJson(deployment_.schema,
                        absl::StrCat(R"({"country":"IE","fields":{"email":")",
                                     id, R"(@mail.example","name":"Name )", id,
                                     R"(","ip_address":"10.1.2.3"}})"));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : Record{};
  }

  std::vector<std::string> Ids(int n) {
    std::vector<std::string> ids;
    for (int i = 0; i < n; ++i) ids.push_back(absl::StrCat("subject-", i));
    return ids;
  }

  const AccessContext ctx_{"eu-support-1", "customer_support"};
  Deployment deployment_ = TestDeployment();
  TempDir dir_;
  std::unique_ptr<Vault> vault_;
};

TEST_F(ErasureEpochTest, ErasedRecordsAreOnDiskUntilThePurgeAndGoneAfter) {
  Open();
  const std::vector<std::string> ids = Ids(12);
  for (const std::string& id : ids)
    ASSERT_TRUE(vault_->Put(id, RecordOf(id)).ok());
  // Updates leave older versions of rows behind too.
  for (int i = 0; i < 12; i += 3) {
    ASSERT_TRUE(vault_->Put(ids[i], RecordOf(ids[i])).ok());
  }
  ASSERT_TRUE(vault_->Get(ids[0], {}, ctx_).ok());
  const std::set<std::string> erased = {ids[0], ids[1], ids[2], ids[3]};
  for (const std::string& id : erased) ASSERT_TRUE(vault_->Erase(id).ok());
  for (const std::string& id : erased) {
    EXPECT_TRUE(IsErased(vault_->Get(id, {}, ctx_).status()));
  }

  // Before the purge: the review's attack works (so this test can fail).
  auto before = AttackDisk(ReadAllFiles(dir_.path()), TestKey(kKekFill), ids);
  for (const std::string& id : erased) {
    EXPECT_TRUE(before.records.contains(id)) << id << " not recovered";
  }

  auto report = vault_->Purge();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->erased,
            std::vector<std::string>(erased.begin(), erased.end()));
  EXPECT_EQ(report->live, ids.size() - erased.size());
  EXPECT_EQ(report->rewrapped, ids.size() - erased.size());
  ASSERT_EQ(report->destroyed_epochs.size(), 1u);
  EXPECT_NE(report->destroyed_epochs[0], report->new_epoch);

  // After: the same attack, on every file, opens nothing of the erased
  // subjects; it still opens the live ones (the current epoch is on disk,
  // wrapped by the KEK), which shows it still works.
  auto after = AttackDisk(ReadAllFiles(dir_.path()), TestKey(kKekFill), ids);
  EXPECT_GT(after.wrapped_keys_seen, 0u);
  EXPECT_FALSE(after.epoch_keys.contains(report->destroyed_epochs[0]));
  EXPECT_TRUE(after.epoch_keys.contains(report->new_epoch));
  for (const std::string& id : ids) {
    EXPECT_EQ(after.records.contains(id), !erased.contains(id)) << id;
  }
  // Live subjects read, before and after a restart.
  for (const std::string& id : ids) {
    if (erased.contains(id)) continue;
    EXPECT_TRUE(vault_->Get(id, {}, ctx_).ok()) << id;
  }
  Open();
  for (const std::string& id : ids) {
    auto got = vault_->Get(id, {}, ctx_);
    EXPECT_EQ(got.ok(), !erased.contains(id)) << id << got.status();
  }
  // The next purge attests only erasures since this one.
  ASSERT_TRUE(vault_->Erase(ids[4]).ok());
  auto second = vault_->Purge();
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->erased, std::vector<std::string>{ids[4]});
  EXPECT_EQ(second->destroyed_epochs,
            std::vector<std::string>{report->new_epoch});
  // A purge after the first one compacts only the epochs table: the erased
  // row's old versions may stay in SST files, sealed under a key that is
  // gone.
  auto third = AttackDisk(ReadAllFiles(dir_.path()), TestKey(kKekFill), ids);
  EXPECT_FALSE(third.records.contains(ids[4]));
  EXPECT_TRUE(third.records.contains(ids[5]));
}

TEST_F(ErasureEpochTest, KeysStoredBeforeEpochsAreMigratedByTheFirstPurge) {
  // A store as the previous version wrote it: data keys wrapped by the KEK
  // alone, no epochs table rows.
  {
    RocksDbOptions r;
    auto storage = OpenRocksDbStorage(dir_.path(), r);
    ASSERT_TRUE(storage.ok());
    auto kek = FileKeyEncryptionKey::FromKey(TestKey(kKekFill));
    SubjectRow row;
    row.revision = 1;
    row.jurisdiction = "eu";
    row.handle.fill(7);
    crypto::SecretKey dk = TestKey(42);
    const std::string key(reinterpret_cast<const char*>(dk.data()), 32);
    row.wrapped_key = *kek->Wrap(key, "old");
    std::string aad = "clover/record/v1";
    aad.push_back(3);
    aad += "old";
    AppendBigEndian64(1, &aad);
    ASSERT_TRUE(crypto::AeadSeal(key, EncodeRecord(RecordOf("old")), aad,
                                 &row.sealed_record)
                    .ok());
    WriteBatch b;
    b.Put(Table::kSubjects, "old", row.Encode());
    ASSERT_TRUE((*storage)->Write(b).ok());
  }
  Open();
  auto epochs = vault_->Epochs();
  ASSERT_TRUE(epochs.ok()) << epochs.status();
  EXPECT_TRUE(epochs->current_initial);
  EXPECT_EQ(epochs->stored, 1u);
  auto got = vault_->Get("old", {}, ctx_);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(vault_->Put("new", RecordOf("new")).ok());
  auto report = vault_->Purge();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->rewrapped, 2u);  // the legacy key and the initial epoch's
  std::string bytes;
  ASSERT_TRUE(*vault_->storage().Get(Table::kSubjects, "old", &bytes));
  auto row = SubjectRow::Decode(bytes);
  ASSERT_TRUE(row.ok());
  EXPECT_EQ(WrappedKeyKekId(row->wrapped_key), report->new_epoch);
  vault_->DropKeyCache();
  EXPECT_TRUE(vault_->Get("old", {}, ctx_).ok());
  EXPECT_TRUE(vault_->Get("new", {}, ctx_).ok());
}

TEST_F(ErasureEpochTest, AnInterruptedPurgeIsFinishedByTheNextOne) {
  Open();
  for (const std::string& id : Ids(6)) {
    ASSERT_TRUE(vault_->Put(id, RecordOf(id)).ok());
  }
  ASSERT_TRUE(vault_->Erase("subject-0").ok());
  Vault::PurgeHooks stop;
  stop.tag_at_cut = [] { return uint64_t{77}; };
  stop.before_destroy = [](const Vault::PurgeReport&) {
    return absl::UnavailableError("crashed");
  };
  EXPECT_FALSE(vault_->Purge(stop).ok());
  Open();  // restart: both epochs are stored
  auto epochs = vault_->Epochs();
  ASSERT_TRUE(epochs.ok());
  EXPECT_EQ(epochs->stored, 2u);
  for (int i = 1; i < 6; ++i) {
    EXPECT_TRUE(vault_->Get(absl::StrCat("subject-", i), {}, ctx_).ok());
  }
  auto report = vault_->Purge();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->resumed);
  EXPECT_EQ(report->tag, 77u);
  EXPECT_EQ(report->erased, std::vector<std::string>{"subject-0"});
  EXPECT_EQ(vault_->Epochs()->stored, 1u);
}

TEST_F(ErasureEpochTest, APurgeBesideWritesAndErasuresLosesNothing) {
  Open();
  const std::vector<std::string> ids = Ids(200);
  for (const std::string& id : ids)
    ASSERT_TRUE(vault_->Put(id, RecordOf(id)).ok());
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int round = 0; !stop.load(); ++round) {
      const std::string& id = ids[50 + round % 150];
      EXPECT_TRUE(vault_->Put(id, RecordOf(id)).ok());
    }
  });
  std::thread eraser([&] {
    for (int i = 0; i < 50; ++i) {
      auto ticket = vault_->BeginErasure();
      EXPECT_TRUE(vault_->Erase(ids[i]).ok());
    }
  });
  auto first = vault_->Purge();
  eraser.join();
  auto second = vault_->Purge();
  stop.store(true);
  writer.join();
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(second.ok()) << second.status();
  // Every erasure is attested exactly once.
  std::set<std::string> attested(first->erased.begin(), first->erased.end());
  for (const std::string& s : second->erased) {
    EXPECT_TRUE(attested.insert(s).second) << s << " attested twice";
  }
  EXPECT_EQ(attested.size(), 50u);
  vault_->DropKeyCache();
  for (int i = 50; i < 200; ++i) {
    EXPECT_TRUE(vault_->Get(ids[i], {}, ctx_).ok()) << ids[i];
  }
}

// Forwards to a driver another vault owns: two vaults on one store, as the
// nodes of a region on one PostgreSQL database.
class SharedStorage : public StorageDriver {
 public:
  explicit SharedStorage(StorageDriver* s) : s_(s) {}
  absl::StatusOr<bool> Get(Table t, absl::string_view k,
                           std::string* v) override {
    return s_->Get(t, k, v);
  }
  absl::Status Write(const WriteBatch& b) override { return s_->Write(b); }
  absl::StatusOr<bool> CompareAndPut(Table t, absl::string_view k,
                                     absl::string_view e,
                                     absl::string_view d) override {
    return s_->CompareAndPut(t, k, e, d);
  }
  absl::Status Scan(Table t,
                    const std::function<bool(absl::string_view,
                                             absl::string_view)>& fn) override {
    return s_->Scan(t, fn);
  }
  absl::Status Purge(Table t) override { return s_->Purge(t); }

 private:
  StorageDriver* s_;
};

TEST_F(ErasureEpochTest, APurgeByOneNodeLosesNoKeyAnotherNodeSeals) {
  RocksDbOptions r;
  auto storage = OpenRocksDbStorage(dir_.path(), r);
  ASSERT_TRUE(storage.ok());
  VaultOptions o;
  o.region = "eu";
  o.epoch_refresh = absl::Milliseconds(50);
  o.subject_cache_entries = 0;
  auto a =
      Vault::Open(deployment_, o, *std::move(storage),
                  FileKeyEncryptionKey::FromKey(TestKey(kKekFill)), TestKey(9));
  ASSERT_TRUE(a.ok()) << a.status();
  auto b = Vault::Open(
      deployment_, o, std::make_unique<SharedStorage>(&(*a)->storage()),
      FileKeyEncryptionKey::FromKey(TestKey(kKekFill)), TestKey(9));
  ASSERT_TRUE(b.ok()) << b.status();
  std::atomic<bool> stop{false};
  std::atomic<int> written{0};
  std::thread writer([&] {
    for (int i = 0; !stop.load(); ++i) {
      const std::string id = absl::StrCat("a-", i);
      ASSERT_TRUE((*a)->Put(id, RecordOf(id)).ok());
      written.store(i + 1);
    }
  });
  for (int round = 0; round < 2; ++round) {
    auto report = (*b)->Purge();
    ASSERT_TRUE(report.ok()) << report.status();
  }
  stop.store(true);
  writer.join();
  ASSERT_GT(written.load(), 0);
  for (int i = 0; i < written.load(); ++i) {
    const std::string id = absl::StrCat("a-", i);
    auto got = (*b)->Get(id, {}, ctx_);
    ASSERT_TRUE(got.ok()) << id << ": " << got.status();
  }
}

}  // namespace
}  // namespace clover::vault
