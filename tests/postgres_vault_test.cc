// The PostgreSQL vault storage driver against a throwaway server: the
// StorageDriver contract as the RocksDB driver honours it (point reads, atomic
// batches, key-ordered paged scans, purge, namespacing, reconnection), and a
// Vault opened over it: put / get / erase round trip and reopen.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"
#include "postgres_test_util.h"
#include "vault/erased.h"
#include "vault/kek_ring.h"
#include "vault/key_encryption_key.h"
#include "vault/layout_migration.h"
#include "vault/postgres_storage.h"
#include "vault/record_parser.h"
#include "vault/subject_row.h"
#include "vault/test_util.h"
#include "vault/vault.h"

namespace clover::vault {
namespace {

using pgtest::Dsn;
using pgtest::LosingProxy;
using pgtest::Sql;

std::unique_ptr<StorageDriver> Open(const std::string& region,
                                    PostgresOptions options = {}) {
  auto s = OpenPostgresVaultStorage(Dsn(), region, options);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *std::move(s) : nullptr;
}

std::map<std::string, std::string> Dump(StorageDriver& s, Table t) {
  std::map<std::string, std::string> out;
  std::string prev;
  bool first = true;
  EXPECT_TRUE(s.Scan(t, [&](absl::string_view k, absl::string_view v) {
                 EXPECT_TRUE(first || std::string(k) > prev)
                     << "scan out of key order";
                 first = false;
                 prev = std::string(k);
                 out.emplace(std::string(k), std::string(v));
                 return true;
               }).ok());
  return out;
}

std::string Get(StorageDriver& s, Table t, absl::string_view key) {
  std::string v;
  auto found = s.Get(t, key, &v);
  EXPECT_TRUE(found.ok()) << found.status();
  return found.ok() && *found ? v : "<absent>";
}

TEST(PostgresVaultStorageTest, PutGetDeleteAcrossTables) {
  CLOVER_REQUIRE_POSTGRES();
  auto s = Open("basic");
  ASSERT_NE(s, nullptr);
  const std::string binary_key("k\0\xff", 3);
  const std::string binary_value("\0\x01\x02\xfe\xff", 5);
  WriteBatch b;
  for (Table t : kAllTables)
    b.Put(t, "subject-1", absl::StrCat("v-", static_cast<int>(t)));
  b.Put(Table::kTokens, binary_key, binary_value);
  ASSERT_TRUE(s->Write(b).ok());
  for (Table t : kAllTables) {
    EXPECT_EQ(Get(*s, t, "subject-1"), absl::StrCat("v-", static_cast<int>(t)));
  }
  EXPECT_EQ(Get(*s, Table::kTokens, binary_key), binary_value);
  EXPECT_EQ(Get(*s, Table::kTokens, "k"), "<absent>");  // no prefix matching
  EXPECT_EQ(Get(*s, Table::kSubjects, binary_key), "<absent>");

  WriteBatch overwrite;
  overwrite.Put(Table::kSubjects, "subject-1", "v2");
  overwrite.Delete(Table::kTokens, "subject-1");
  overwrite.Delete(Table::kTokens, "never-there");
  ASSERT_TRUE(s->Write(overwrite).ok());
  EXPECT_EQ(Get(*s, Table::kSubjects, "subject-1"), "v2");
  EXPECT_EQ(Get(*s, Table::kTokens, "subject-1"), "<absent>");
  EXPECT_TRUE(s->Write(WriteBatch()).ok());
  // Put then delete of one key in one batch: the later op wins, as in RocksDB.
  WriteBatch order;
  order.Put(Table::kSubjects, "x", "1");
  order.Delete(Table::kSubjects, "x");
  order.Put(Table::kSubjects, "y", "1");
  order.Put(Table::kSubjects, "y", "2");
  ASSERT_TRUE(s->Write(order).ok());
  EXPECT_EQ(Get(*s, Table::kSubjects, "x"), "<absent>");
  EXPECT_EQ(Get(*s, Table::kSubjects, "y"), "2");
}

TEST(PostgresVaultStorageTest, FailedBatchLeavesNothing) {
  CLOVER_REQUIRE_POSTGRES();
  auto s = Open("atomic");
  ASSERT_NE(s, nullptr);
  WriteBatch good;
  good.Put(Table::kSubjects, "a", "1");
  good.Put(Table::kTokens, "a", "m1");
  ASSERT_TRUE(s->Write(good).ok());
  ASSERT_TRUE(Sql("ALTER TABLE \"clover_vault_atomic\".subjects ADD CONSTRAINT "
                  "refuse_marker CHECK (v <> 'boom'::bytea)")
                  .ok());
  WriteBatch bad;
  bad.Put(Table::kSubjects, "a", "2");
  bad.Delete(Table::kTokens, "a");
  bad.Put(Table::kTokens, "t", "a");
  bad.Put(Table::kSubjects, "b", "boom");  // refused by the server, mid-batch
  bad.Put(Table::kTokens, "b", "k");
  absl::Status st = s->Write(bad);
  EXPECT_EQ(st.code(), absl::StatusCode::kInternal) << st;
  EXPECT_EQ(st.message().find("boom"), std::string::npos)
      << "values must not leak into errors: " << st;
  EXPECT_EQ(Get(*s, Table::kSubjects, "a"), "1");
  EXPECT_EQ(Get(*s, Table::kTokens, "a"), "m1");
  EXPECT_EQ(Get(*s, Table::kTokens, "t"), "<absent>");
  EXPECT_EQ(Get(*s, Table::kSubjects, "b"), "<absent>");
  WriteBatch after;
  after.Put(Table::kTokens, "t", "a");
  ASSERT_TRUE(s->Write(after).ok());
  EXPECT_EQ(Get(*s, Table::kTokens, "t"), "a");
}

TEST(PostgresVaultStorageTest, LargeBatchesAreOneTransaction) {
  CLOVER_REQUIRE_POSTGRES();
  auto s = Open("large");
  ASSERT_NE(s, nullptr);
  // Over the driver's 256-statement pipeline drain interval several times.
  WriteBatch big;
  for (int i = 0; i < 1500; ++i) {
    big.Put(Table::kTokens, absl::StrCat("t", i), std::string(300, 'v'));
  }
  ASSERT_TRUE(s->Write(big).ok());
  EXPECT_EQ(Dump(*s, Table::kTokens).size(), 1500u);
  ASSERT_TRUE(Sql("ALTER TABLE \"clover_vault_large\".subjects ADD CONSTRAINT "
                  "refuse_marker CHECK (v <> 'refused'::bytea)")
                  .ok());
  WriteBatch bad;
  for (int i = 0; i < 1500; ++i) {
    bad.Delete(Table::kTokens, absl::StrCat("t", i));
    if (i == 1100) bad.Put(Table::kSubjects, "r", "refused");
  }
  EXPECT_EQ(s->Write(bad).code(), absl::StatusCode::kInternal);
  EXPECT_EQ(Dump(*s, Table::kTokens).size(), 1500u);
  EXPECT_TRUE(Dump(*s, Table::kSubjects).empty());
}

TEST(PostgresVaultStorageTest, ScanIsInBytewiseKeyOrderAcrossPages) {
  CLOVER_REQUIRE_POSTGRES();
  PostgresOptions options;
  options.scan_page_rows = 3;  // several pages, one boundary on the last row
  auto s = Open("scan", options);
  ASSERT_NE(s, nullptr);
  std::map<std::string, std::string> want;  // std::string orders bytewise
  WriteBatch b;
  for (const std::string& k :
       {std::string("b"), std::string("a"), std::string("a\0", 2),
        std::string("\xff"), std::string("\x7f"), std::string("ab"),
        std::string("B"), std::string("\x01"), std::string("zz")}) {
    b.Put(Table::kTokens, k, "v" + k);
    want[k] = "v" + k;
  }
  b.Put(Table::kSubjects, "other-table", "x");
  ASSERT_TRUE(s->Write(b).ok());
  EXPECT_EQ(Dump(*s, Table::kTokens), want);
  EXPECT_EQ(Dump(*s, Table::kSubjects).size(), 1u);
  // Early stop.
  int seen = 0;
  ASSERT_TRUE(
      s->Scan(Table::kTokens, [&](absl::string_view, absl::string_view) {
         return ++seen < 4;
       }).ok());
  EXPECT_EQ(seen, 4);
  // The callback may use the driver (its connection is back in the pool).
  ASSERT_TRUE(
      s->Scan(Table::kTokens, [&](absl::string_view k, absl::string_view) {
         EXPECT_EQ(Get(*s, Table::kTokens, k), "v" + std::string(k));
         return true;
       }).ok());
}

TEST(PostgresVaultStorageTest, PurgeKeepsLiveRowsAndRegionsAreSeparate) {
  CLOVER_REQUIRE_POSTGRES();
  auto eu = Open("eu-purge");
  auto us = Open("us-purge");
  ASSERT_NE(eu, nullptr);
  ASSERT_NE(us, nullptr);
  WriteBatch b;
  for (int i = 0; i < 200; ++i) {
    b.Put(Table::kTokens, absl::StrCat("s", i), std::string(100, 'k'));
  }
  ASSERT_TRUE(eu->Write(b).ok());
  WriteBatch d;
  for (int i = 0; i < 200; i += 2)
    d.Delete(Table::kTokens, absl::StrCat("s", i));
  ASSERT_TRUE(eu->Write(d).ok());
  for (Table t : kAllTables) ASSERT_TRUE(eu->Purge(t).ok());
  EXPECT_EQ(Dump(*eu, Table::kTokens).size(), 100u);
  EXPECT_EQ(Get(*eu, Table::kTokens, "s1"), std::string(100, 'k'));
  EXPECT_EQ(Get(*eu, Table::kTokens, "s0"), "<absent>");
  EXPECT_TRUE(Dump(*us, Table::kTokens).empty());
  EXPECT_EQ(OpenPostgresVaultStorage(Dsn(), "eu\"; drop").status().code(),
            absl::StatusCode::kInvalidArgument);
  PostgresOptions zero;
  zero.scan_page_rows = 0;
  EXPECT_EQ(OpenPostgresVaultStorage(Dsn(), "eu", zero).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(PostgresVaultStorageTest, ReconnectsAfterTheServerDropsSessions) {
  CLOVER_REQUIRE_POSTGRES();
  auto s = Open("reconnect");
  ASSERT_NE(s, nullptr);
  WriteBatch b;
  b.Put(Table::kSubjects, "a", "1");
  ASSERT_TRUE(s->Write(b).ok());
  const std::string kill =
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> "
      "pg_backend_pid() AND datname = current_database()";
  ASSERT_TRUE(Sql(kill).ok());
  EXPECT_EQ(Get(*s, Table::kSubjects, "a"), "1");
  ASSERT_TRUE(Sql(kill).ok());
  WriteBatch c;
  c.Put(Table::kSubjects, "b", "2");
  ASSERT_TRUE(s->Write(c).ok());
  ASSERT_TRUE(Sql(kill).ok());
  EXPECT_EQ(Dump(*s, Table::kSubjects).size(), 2u);
}

// Counts row writes (inserts and updates) to the subjects table of `region`.
absl::Status CountWrites(const std::string& region) {
  const std::string schema = absl::StrCat("\"clover_vault_", region, "\"");
  return Sql(absl::StrCat(
      "CREATE TABLE IF NOT EXISTS public.writes_", region,
      " (n int); INSERT INTO public.writes_", region,
      " VALUES (0);"
      "CREATE OR REPLACE FUNCTION public.count_",
      region,
      "() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN UPDATE public.writes_",
      region,
      " SET n = n + 1; RETURN NULL; END $f$;CREATE TRIGGER counted AFTER "
      "INSERT OR UPDATE ON ",
      schema, ".subjects FOR EACH ROW EXECUTE FUNCTION public.count_", region,
      "()"));
}

int Writes(const std::string& region) {
  auto c = pg::Connection::Open(Dsn());
  EXPECT_TRUE(c.ok());
  if (!c.ok()) return -1;
  EXPECT_TRUE(
      (*c)->Prepare("n",
                    absl::StrCat("SELECT n::text FROM public.writes_", region),
                    {})
          .ok());
  auto r = (*c)->Query({"n", {}}, "count");
  EXPECT_TRUE(r.ok());
  if (!r.ok()) return -1;
  int n = -1;
  EXPECT_TRUE(absl::SimpleAtoi(std::string(pg::Cell(r->get(), 0, 0)), &n));
  return n;
}

// Issue 19: a batch whose COMMIT went through but whose acknowledgement was
// lost (the leader died in between) is reported written, and is not applied a
// second time: the driver reads it back instead of sending it again.
TEST(PostgresVaultStorageTest, CommitWithLostAcknowledgementIsNotResent) {
  CLOVER_REQUIRE_POSTGRES();
  const std::string socket =
      absl::StrCat(pgtest::Server().value()->dir(), "/.s.PGSQL.5432");
  LosingProxy proxy(socket);
  PostgresOptions o;
  o.retry = absl::Seconds(5);
  auto s = OpenPostgresVaultStorage(proxy.Dsn(), "indoubt_ok", o);
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_TRUE(CountWrites("indoubt_ok").ok());
  proxy.Arm();
  WriteBatch b;
  b.Put(Table::kSubjects, "alice", "sealed-row-1");
  b.Put(Table::kTokens, "handle-1", "alice");
  EXPECT_TRUE((*s)->Write(b).ok());
  EXPECT_EQ(proxy.lost_replies(), 1);
  EXPECT_EQ(Get(**s, Table::kSubjects, "alice"), "sealed-row-1");
  EXPECT_EQ(Writes("indoubt_ok"), 1) << "the batch was applied again";
}

// A batch whose COMMIT was in flight when its session died, and which did not
// commit, is reported failed (Unavailable: the node answers 503) and is not
// sent again: had another node replaced the row meanwhile, re-sending would
// undo that node's acknowledged write.
TEST(PostgresVaultStorageTest, CommitInDoubtThatDidNotHappenFails) {
  CLOVER_REQUIRE_POSTGRES();
  auto s = Open("indoubt_no");
  ASSERT_NE(s, nullptr);
  // COMMIT runs this deferred trigger: it waits, and is killed meanwhile.
  ASSERT_TRUE(Sql("CREATE OR REPLACE FUNCTION public.slow_commit() RETURNS "
                  "trigger LANGUAGE plpgsql AS $f$ BEGIN PERFORM pg_sleep(30); "
                  "RETURN NULL; END $f$;"
                  "CREATE CONSTRAINT TRIGGER slow AFTER INSERT ON "
                  "\"clover_vault_indoubt_no\".subjects DEFERRABLE INITIALLY "
                  "DEFERRED FOR EACH ROW EXECUTE FUNCTION public.slow_commit()")
                  .ok());
  std::thread killer([] {
    for (int i = 0; i < 500; ++i) {
      auto c = pg::Connection::Open(Dsn());
      if (c.ok() && (*c)->Prepare("k",
                                  "SELECT pg_terminate_backend(pid)::text FROM "
                                  "pg_stat_activity WHERE wait_event = "
                                  "'PgSleep'",
                                  {})
                        .ok()) {
        auto r = (*c)->Query({"k", {}}, "kill");
        if (r.ok() && PQntuples(r->get()) > 0) return;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
  });
  WriteBatch b;
  b.Put(Table::kSubjects, "bob", "sealed-row-1");
  const absl::Status written = s->Write(b);
  killer.join();
  EXPECT_TRUE(absl::IsUnavailable(written)) << written;
  ASSERT_TRUE(
      Sql("DROP TRIGGER slow ON \"clover_vault_indoubt_no\".subjects").ok());
  EXPECT_EQ(Get(*s, Table::kSubjects, "bob"), "<absent>");
}

// A COMMIT whose wait for the synchronous standby is cancelled
// (pg_cancel_backend, or a client's cancel) succeeds with only a WARNING: the
// batch has committed on the primary but is on no standby. It must not be
// acknowledged while no standby confirms (before the barrier it was: the
// warning was swallowed), and the write is acknowledged once one does.
TEST(PostgresVaultStorageTest, CommitWhoseStandbyWaitWasCancelledIsNotAcked) {
  CLOVER_REQUIRE_POSTGRES();
  PostgresOptions o;
  o.retry = absl::Seconds(2);
  auto s = OpenPostgresVaultStorage(Dsn(), "syncwarn", o);
  ASSERT_TRUE(s.ok()) << s.status();
  pgtest::StandbyNeverConfirms stalled;
  ASSERT_TRUE(stalled.Start().ok());
  WriteBatch b;
  b.Put(Table::kSubjects, "carol", "sealed-row-1");
  b.Put(Table::kTokens, "handle-carol", "carol");
  WriteBatch c;
  c.Put(Table::kSubjects, "dave", "sealed-row-1");
  {
    pgtest::SyncWaitCanceller canceller;
    const absl::Time start = absl::Now();
    const absl::Status w = (*s)->Write(b);
    EXPECT_TRUE(absl::IsUnavailable(w)) << w;
    // The same for a conditional write.
    const absl::StatusOr<bool> cw =
        (*s)->WriteIf(Table::kSubjects, "dave", std::nullopt, c);
    EXPECT_TRUE(absl::IsUnavailable(cw.status())) << cw.status();
    EXPECT_LT(absl::Now() - start, absl::Seconds(20)) << "not bounded";
    EXPECT_GE(canceller.cancelled(), 2);
  }
  // Both did commit on the primary (they were in doubt, not refused).
  EXPECT_EQ(Get(**s, Table::kSubjects, "carol"), "sealed-row-1");
  EXPECT_EQ(Get(**s, Table::kSubjects, "dave"), "sealed-row-1");
  ASSERT_TRUE(stalled.Stop().ok());
  EXPECT_TRUE((*s)->Write(b).ok());
}

TEST(PostgresVaultStorageTest, RefusesASchemaOfTheFirstLayoutByName) {
  CLOVER_REQUIRE_POSTGRES();
  ASSERT_TRUE(Sql("CREATE SCHEMA IF NOT EXISTS \"clover_vault_old\";"
                  "CREATE TABLE IF NOT EXISTS \"clover_vault_old\".meta "
                  "(k bytea PRIMARY KEY, v bytea NOT NULL);")
                  .ok());
  auto storage = OpenPostgresVaultStorage(Dsn(), "old");
  EXPECT_EQ(storage.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(storage.status().message().find("v1 layout"), std::string::npos)
      << storage.status();
}

// A v1 schema (tables records, wrapped_keys, token_index, meta) written the
// way the first vault did, migrated in one transaction and then read through
// the vault.
TEST(PostgresVaultStorageTest, MigratesASchemaOfTheFirstLayout) {
  CLOVER_REQUIRE_POSTGRES();
  auto kek = FileKeyEncryptionKey::FromKey(testing::TestKey(3));
  Record ann;
  ann.country = "IE";
  ann.fields = {{"email", false, "ann@mail.example", {}}};
  const testing::V1Subject v1 = testing::MakeV1Live(*kek, "ann", ann, 2, 0x11);
  auto hex = [](absl::string_view bytes) {
    return absl::StrCat(
        "decode('",
        absl::BytesToHexString(absl::string_view(bytes.data(), bytes.size())),
        "', 'hex')");
  };
  auto insert = [&](const char* table, absl::string_view k,
                    absl::string_view v) {
    return absl::StrCat("INSERT INTO \"clover_vault_v1\".", table, " VALUES (",
                        hex(k), ", ", hex(v), ");");
  };
  std::string sql = "CREATE SCHEMA \"clover_vault_v1\";";
  for (const char* table : {"records", "wrapped_keys", "token_index", "meta"}) {
    absl::StrAppend(&sql, "CREATE TABLE \"clover_vault_v1\".", table,
                    " (k bytea PRIMARY KEY, v bytea NOT NULL);");
  }
  sql += insert("meta", "ann", v1.meta) +
         insert("wrapped_keys", "ann", v1.key_entry) +
         insert("records", "ann", v1.record) +
         insert("token_index", v1.handle, "ann") +
         insert("meta", "cy", testing::V1Meta(2, 1, "eu"));
  ASSERT_TRUE(Sql(sql).ok());
  // A live subject without its record: the whole migration is refused and
  // the schema is left as it was.
  ASSERT_TRUE(Sql(insert("meta", "bea", testing::V1Meta(1, 1, "eu"))).ok());
  auto refused = MigratePostgresVaultToV2(Dsn(), "v1");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(OpenPostgresVaultStorage(Dsn(), "v1").status().code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(
      Sql("DELETE FROM \"clover_vault_v1\".meta WHERE k = 'bea';").ok());

  auto report = MigratePostgresVaultToV2(Dsn(), "v1");
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->live, 1u);
  EXPECT_EQ(report->erased, 1u);
  auto again = MigratePostgresVaultToV2(Dsn(), "v1");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->already_current);
  EXPECT_EQ(MigratePostgresVaultToV2(Dsn(), "bad region").status().code(),
            absl::StatusCode::kInvalidArgument);

  auto storage = OpenPostgresVaultStorage(Dsn(), "v1");
  ASSERT_TRUE(storage.ok()) << storage.status();
  VaultOptions options;
  options.region = "eu";
  auto vault = Vault::Open(
      testing::TestDeployment(), options, *std::move(storage),
      FileKeyEncryptionKey::FromKey(testing::TestKey(3)), testing::TestKey(9));
  ASSERT_TRUE(vault.ok()) << vault.status();
  AccessContext ctx{"eu-support-1", "customer_support"};
  auto got = (*vault)->Get("ann", {}, ctx);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, ann);
  EXPECT_TRUE(IsErased((*vault)->Get("cy", {}, ctx).status()));
}

// KEK rotation over PostgreSQL: keys wrapped by KEK 1 move to KEK 2 through
// the driver's scan and writes, after which KEK 2 alone reads them.
TEST(PostgresVaultStorageTest, RewrapKeysOverPostgres) {
  CLOVER_REQUIRE_POSTGRES();
  ASSERT_TRUE(
      Sql("DROP SCHEMA IF EXISTS clover_vault_eu_rotation CASCADE").ok());
  const Deployment deployment = testing::TestDeployment();
  auto open_vault = [&](std::unique_ptr<KeyEncryptionKey> kek) {
    auto storage = OpenPostgresVaultStorage(Dsn(), "eu_rotation");
    EXPECT_TRUE(storage.ok()) << storage.status();
    VaultOptions options;
    options.region = "eu";
    auto v = Vault::Open(deployment, options, *std::move(storage),
                         std::move(kek), testing::TestKey(9));
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() ? *std::move(v) : nullptr;
  };
  auto record = ParseRecordJson(deployment.schema,
                                R"({"country":"IE","fields":{"name":"Ann"}})");
  ASSERT_TRUE(record.ok());
  const AccessContext ctx{"eu-support-1", "customer_support"};
  {
    auto v = open_vault(FileKeyEncryptionKey::FromKey(testing::TestKey(1)));
    ASSERT_NE(v, nullptr);
    for (const char* s : {"ann", "bob", "cat"})
      ASSERT_TRUE(v->Put(s, *record).ok());
  }
  {
    std::vector<std::unique_ptr<KeyEncryptionKey>> retired;
    retired.push_back(FileKeyEncryptionKey::FromKey(testing::TestKey(1)));
    auto ring = KekRing::Create(
        FileKeyEncryptionKey::FromKey(testing::TestKey(2)), std::move(retired));
    ASSERT_TRUE(ring.ok());
    auto v = open_vault(*std::move(ring));
    ASSERT_NE(v, nullptr);
    auto report = v->RewrapKeys();
    ASSERT_TRUE(report.ok()) << report.status();
    EXPECT_EQ(report->rewrapped, 3u);
  }
  auto v = open_vault(FileKeyEncryptionKey::FromKey(testing::TestKey(2)));
  ASSERT_NE(v, nullptr);
  // The conditional write under it: one UPDATE that changes only the
  // expected value.
  StorageDriver& s = v->storage();
  std::string ann = Get(s, Table::kSubjects, "ann");
  EXPECT_FALSE(*s.CompareAndPut(Table::kSubjects, "ann", "stale", "x"));
  EXPECT_EQ(Get(s, Table::kSubjects, "ann"), ann);
  EXPECT_FALSE(*s.CompareAndPut(Table::kSubjects, "nobody", "", "x"));
  EXPECT_EQ(Get(s, Table::kSubjects, "nobody"), "<absent>");
  EXPECT_TRUE(*s.CompareAndPut(Table::kSubjects, "ann", ann, ann + "!"));
  EXPECT_EQ(Get(s, Table::kSubjects, "ann"), ann + "!");
  EXPECT_TRUE(*s.CompareAndPut(Table::kSubjects, "ann", ann + "!", ann));
  for (const char* subject : {"ann", "bob", "cat"}) {
    auto got = v->Get(subject, {}, ctx);
    ASSERT_TRUE(got.ok()) << subject << ": " << got.status();
    EXPECT_EQ(*got, *record);
  }
  ASSERT_TRUE(
      Sql("DROP SCHEMA IF EXISTS clover_vault_eu_rotation CASCADE").ok());
}

TEST(PostgresVaultStorageTest, VaultPutGetEraseOverPostgres) {
  CLOVER_REQUIRE_POSTGRES();
  const Deployment deployment = testing::TestDeployment();
  auto open_vault = [&]() -> std::unique_ptr<Vault> {
    auto storage = OpenPostgresVaultStorage(Dsn(), "eu");
    EXPECT_TRUE(storage.ok()) << storage.status();
    if (!storage.ok()) return nullptr;
    VaultOptions options;
    options.region = "eu";
    auto v = Vault::Open(deployment, options, *std::move(storage),
                         FileKeyEncryptionKey::FromKey(testing::TestKey(5)),
                         testing::TestKey(9));
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() ? *std::move(v) : nullptr;
  };
  auto record = ParseRecordJson(deployment.schema, R"({"country":"IE",
      "fields":{"email":"ann@mail.example","phone":"+353861234567",
      "name":"Ann O'Neill","birthdate":"1990-04-12"}})");
  ASSERT_TRUE(record.ok()) << record.status();
  const AccessContext ctx{"eu-support-1", "customer_support"};
  {
    auto vault = open_vault();
    ASSERT_NE(vault, nullptr);
    auto put = vault->Put("ann", *record);
    ASSERT_TRUE(put.ok()) << put.status();
    EXPECT_TRUE(put->created);
    auto put2 = vault->Put("bob", *record);
    ASSERT_TRUE(put2.ok()) << put2.status();
    auto got = vault->Get("ann", {}, ctx);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, *record);
  }
  // Reopen: the data lives in PostgreSQL, not in the process.
  auto vault = open_vault();
  ASSERT_NE(vault, nullptr);
  auto got = vault->Get("ann", {"email"}, ctx);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->fields.size(), 1u);
  EXPECT_EQ(got->fields[0].value, "ann@mail.example");
  // Nothing personal is stored in clear.
  ASSERT_TRUE(vault->storage()
                  .Scan(Table::kSubjects,
                        [](absl::string_view, absl::string_view v) {
                          EXPECT_EQ(v.find("ann@mail.example"),
                                    absl::string_view::npos);
                          return true;
                        })
                  .ok());
  ASSERT_TRUE(vault->Erase("ann").ok());
  EXPECT_TRUE(IsErased(vault->Get("ann", {}, ctx).status()));
  ASSERT_TRUE(vault->PurgeErased().ok());
  std::string row;
  ASSERT_TRUE(*vault->storage().Get(Table::kSubjects, "ann", &row));
  auto tombstone = SubjectRow::Decode(row);
  ASSERT_TRUE(tombstone.ok()) << tombstone.status();
  EXPECT_FALSE(tombstone->live());
  EXPECT_TRUE(tombstone->wrapped_key.empty());
  EXPECT_TRUE(vault->Get("bob", {}, ctx).ok());
  vault.reset();
  auto reopened = open_vault();
  ASSERT_NE(reopened, nullptr);
  EXPECT_TRUE(IsErased(reopened->Get("ann", {}, ctx).status()));
}

}  // namespace
}  // namespace clover::vault
