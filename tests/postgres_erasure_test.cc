// Final erasure on the PostgreSQL vault driver, attacked as the review did:
// every file of the server's data directory (heap files, dead tuples, pg_wal)
// is searched for wrapped keys and opened with the KEK. Before the purge the
// erased subjects' records come out; after it (with the server configured as
// docs/vault.md asks: wal_recycle = off) none does, and live subjects read.
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "postgres_test_util.h"
#include "vault/disk_attack_test_util.h"
#include "vault/erased.h"
#include "vault/key_encryption_key.h"
#include "vault/postgres_storage.h"
#include "vault/record_parser.h"
#include "vault/test_util.h"
#include "vault/vault.h"

namespace clover::vault {
namespace {

using pgtest::Dsn;
using pgtest::Sql;

TEST(PostgresErasureTest, ErasedRecordsLeaveHeapAndWalWithThePurge) {
  CLOVER_REQUIRE_POSTGRES();
  ASSERT_TRUE(Sql("ALTER SYSTEM SET wal_recycle = off").ok());
  ASSERT_TRUE(Sql("SELECT pg_reload_conf()").ok());
  const Deployment deployment = testing::TestDeployment();
  const crypto::SecretKey kek = testing::TestKey(5);
  auto storage = OpenPostgresVaultStorage(Dsn(), "eu");
  ASSERT_TRUE(storage.ok()) << storage.status();
  VaultOptions o;
  o.region = "eu";
  auto v = Vault::Open(deployment, o, *std::move(storage),
                       FileKeyEncryptionKey::FromKey(kek), testing::TestKey(9));
  ASSERT_TRUE(v.ok()) << v.status();
  Vault& vault = **v;
  std::vector<std::string> ids;
  for (int i = 0; i < 10; ++i) {
    ids.push_back(absl::StrCat("pg-", i));
    auto rec = ParseRecordJson(
        deployment.schema,
        absl::StrCat(R"({"country":"IE","fields":{"email":"pg)", i,
                     R"(@mail.example","name":"PG )", i, R"("}})"));
    ASSERT_TRUE(rec.ok());
    ASSERT_TRUE(vault.Put(ids.back(), *rec).ok());
  }
  const std::set<std::string> erased = {"pg-2", "pg-5", "pg-8"};
  for (const std::string& id : erased) ASSERT_TRUE(vault.Erase(id).ok());
  ASSERT_TRUE(Sql("CHECKPOINT").ok());  // heap pages on disk too
  const std::string data_dir = pgtest::Server().value()->dir();

  auto before = testing::AttackDisk(testing::ReadAllFiles(data_dir), kek, ids);
  for (const std::string& id : erased) {
    EXPECT_TRUE(before.records.contains(id)) << id << " not recovered";
  }

  auto report = vault.Purge();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->erased,
            std::vector<std::string>(erased.begin(), erased.end()));
  // The purge switched the WAL segment and checkpointed; one more
  // checkpoint after new WAL removes segments older than it.
  ASSERT_TRUE(Sql("SELECT pg_switch_wal()").ok());
  ASSERT_TRUE(Sql("CHECKPOINT").ok());
  auto after = testing::AttackDisk(testing::ReadAllFiles(data_dir), kek, ids);
  EXPECT_FALSE(after.epoch_keys.contains(report->destroyed_epochs.at(0)));
  for (const std::string& id : ids) {
    EXPECT_EQ(after.records.contains(id), !erased.contains(id)) << id;
  }
  vault.DropKeyCache();
  for (const std::string& id : ids) {
    EXPECT_EQ(vault.Get(id, {}, {"t", "customer_support"}).ok(),
              !erased.contains(id))
        << id;
  }
}

}  // namespace
}  // namespace clover::vault
