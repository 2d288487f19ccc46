// The PostgreSQL log storage driver against a throwaway server: the storage
// contract (read back, overwrite, atomic batches, namespacing, read-only,
// reconnection), and a Sequencer over it that appends 10,000 entries,
// restarts, and resumes with the same checkpoint as a RocksDB-backed twin.
#include <future>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "log/postgres_storage.h"
#include "log/rocksdb_storage.h"
#include "log/sequencer.h"
#include "log/test_util.h"
#include "postgres_test_util.h"

namespace clover::log {
namespace {

using pgtest::Dsn;
using pgtest::Sql;

std::unique_ptr<LogStorage> Open(const std::string& name,
                                 PostgresLogStorageOptions options = {}) {
  auto s = OpenPostgresLogStorage(Dsn(), name, options);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *std::move(s) : nullptr;
}

LogWriteBatch Batch(const std::string& tag) {
  LogWriteBatch b;
  b.tiles.push_back({TileId{0, 0}, std::string(8192, 'a') + tag});
  b.tiles.push_back({TileId{1, 7}, "level1-" + tag});
  b.tiles.push_back({TileId{7, uint64_t{1} << 50}, "far-" + tag});
  b.bundles.push_back({0, std::string("\0\x01\xff binary ", 12) + tag});
  b.bundles.push_back({3, "bundle3-" + tag});
  b.checkpoint = "checkpoint-" + tag;
  b.metadata = "metadata-" + tag;
  return b;
}

void ExpectHolds(LogStorage& s, const LogWriteBatch& b) {
  for (const auto& [id, data] : b.tiles) {
    auto got = s.ReadTile(id.level, id.index);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, data);
  }
  for (const auto& [index, data] : b.bundles) {
    auto got = s.ReadEntryBundle(index);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, data);
  }
  EXPECT_EQ(*s.ReadCheckpoint(), b.checkpoint);
  EXPECT_EQ(*s.ReadMetadata(), b.metadata);
}

TEST(PostgresLogStorageTest, EmptyStoreReportsNotFound) {
  CLOVER_REQUIRE_POSTGRES();
  auto s = Open("empty");
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(absl::IsNotFound(s->ReadCheckpoint().status()));
  EXPECT_TRUE(absl::IsNotFound(s->ReadMetadata().status()));
  EXPECT_TRUE(absl::IsNotFound(s->ReadTile(0, 0).status()));
  EXPECT_TRUE(absl::IsNotFound(s->ReadEntryBundle(0).status()));
}

TEST(PostgresLogStorageTest, WritesReadBackOverwritesAndSurviveReopen) {
  CLOVER_REQUIRE_POSTGRES();
  auto s = Open("rw");
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(s->Write(Batch("v1")).ok());
  ExpectHolds(*s, Batch("v1"));
  // A wider version of the same coordinates replaces the narrower one.
  ASSERT_TRUE(s->Write(Batch("v2-wider")).ok());
  ExpectHolds(*s, Batch("v2-wider"));
  // Empty checkpoint/metadata leave the stored ones alone.
  LogWriteBatch tiles_only;
  tiles_only.tiles.push_back({TileId{2, 1}, "t"});
  ASSERT_TRUE(s->Write(tiles_only).ok());
  EXPECT_EQ(*s->ReadCheckpoint(), "checkpoint-v2-wider");
  s.reset();
  auto again = Open("rw");
  ASSERT_NE(again, nullptr);
  ExpectHolds(*again, Batch("v2-wider"));
  EXPECT_EQ(*again->ReadTile(2, 1), "t");
}

TEST(PostgresLogStorageTest, BundleFragmentsArePutAndDeleted) {
  CLOVER_REQUIRE_POSTGRES();
  auto s = Open("fragments");
  ASSERT_NE(s, nullptr);
  LogWriteBatch put;
  put.fragments.push_back({FragmentId{4, 0}, "first"});
  put.fragments.push_back({FragmentId{4, 17}, "second"});
  put.fragments.push_back({FragmentId{5, 255}, "last"});
  ASSERT_TRUE(s->Write(put).ok());
  EXPECT_EQ(*s->ReadBundleFragment({4, 0}), "first");
  EXPECT_EQ(*s->ReadBundleFragment({4, 17}), "second");
  EXPECT_EQ(*s->ReadBundleFragment({5, 255}), "last");
  EXPECT_TRUE(absl::IsNotFound(s->ReadBundleFragment({4, 1}).status()));
  // A bundle is its fragments in offset order.
  EXPECT_EQ(*s->ReadEntryBundle(4), "firstsecond");
  EXPECT_TRUE(absl::IsNotFound(s->ReadEntryBundle(6).status()));
  // Deletions apply before puts: a fragment deleted and rewritten in one
  // batch holds the new bytes; deleting a missing one is not an error.
  LogWriteBatch next;
  next.deleted_fragments = {{4, 0}, {4, 17}, {9, 9}, {5, 255}};
  next.fragments.push_back({FragmentId{5, 255}, "rewritten"});
  next.bundles.push_back({4, "full bundle"});
  ASSERT_TRUE(s->Write(next).ok());
  EXPECT_TRUE(absl::IsNotFound(s->ReadBundleFragment({4, 0}).status()));
  EXPECT_TRUE(absl::IsNotFound(s->ReadBundleFragment({4, 17}).status()));
  EXPECT_EQ(*s->ReadBundleFragment({5, 255}), "rewritten");
  EXPECT_EQ(*s->ReadEntryBundle(4), "full bundle");  // stored whole
  EXPECT_EQ(*s->ReadEntryBundle(5), "rewritten");
  EXPECT_EQ(s->ReadBundleFragment({1, 256}).status().code(),
            absl::StatusCode::kInvalidArgument);
  LogWriteBatch bad;
  bad.fragments.push_back({FragmentId{1, -1}, "x"});
  EXPECT_EQ(s->Write(bad).code(), absl::StatusCode::kInvalidArgument);
}

// A batch's fragment (its entries, JSON) is compressed with LZ4, not the
// slower default pglz (log/postgres_storage.cc, SchemaDdl), also in a log
// whose table was created before (the open sets it), and reads back intact.
TEST(PostgresLogStorageTest, FragmentsAreCompressedWithLz4) {
  CLOVER_REQUIRE_POSTGRES();
  ASSERT_TRUE(Open("lz4") != nullptr);
  ASSERT_TRUE(Sql("ALTER TABLE clover_log_lz4.fragments ALTER COLUMN data "
                  "SET COMPRESSION pglz")
                  .ok());
  auto s = Open("lz4");  // an existing log: the open moves it to LZ4
  ASSERT_NE(s, nullptr);
  std::string entries;
  for (int i = 0; i < 200; ++i) {
    absl::StrAppend(&entries, "{\"action\":\"read\",\"purpose\":",
                    "\"customer_support\",\"n\":", i, "}\n");
  }
  LogWriteBatch b;
  b.fragments.push_back({FragmentId{2, 0}, entries});
  ASSERT_TRUE(s->Write(b).ok());
  EXPECT_EQ(*s->ReadBundleFragment({2, 0}), entries);
  // Division by zero unless the stored value is LZ4-compressed.
  EXPECT_TRUE(Sql("SELECT 1 / (pg_column_compression(data) = 'lz4')::int "
                  "FROM clover_log_lz4.fragments WHERE idx = 2")
                  .ok());
}

TEST(PostgresLogStorageTest, FailedBatchLeavesNothing) {
  CLOVER_REQUIRE_POSTGRES();
  auto s = Open("atomic");
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(s->Write(Batch("good")).ok());
  // A server-side failure in the middle of the transaction: bundle 666 is
  // refused after the tiles were already written.
  ASSERT_TRUE(Sql("ALTER TABLE \"clover_log_atomic\".bundles ADD CONSTRAINT "
                  "no_666 CHECK (idx <> 666)")
                  .ok());
  LogWriteBatch bad = Batch("bad");
  bad.bundles.push_back({666, "refused"});
  bad.bundles.push_back({667, "after"});
  absl::Status st = s->Write(bad);
  EXPECT_EQ(st.code(), absl::StatusCode::kInternal) << st;
  EXPECT_NE(st.message().find("no_666"), std::string::npos) << st;
  ExpectHolds(*s, Batch("good"));
  EXPECT_TRUE(absl::IsNotFound(s->ReadEntryBundle(667).status()));
  // The connection is usable again afterwards.
  ASSERT_TRUE(s->Write(Batch("after")).ok());
  ExpectHolds(*s, Batch("after"));
}

TEST(PostgresLogStorageTest, LogsShareADatabaseWithoutMixing) {
  CLOVER_REQUIRE_POSTGRES();
  auto a = Open("ie-dub-1");
  auto b = Open("no-ham-1");
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(a->Write(Batch("a")).ok());
  ASSERT_TRUE(b->Write(Batch("b")).ok());
  ExpectHolds(*a, Batch("a"));
  ExpectHolds(*b, Batch("b"));
  // Opening a second time (another node of the DC) is idempotent.
  auto a2 = Open("ie-dub-1");
  ASSERT_NE(a2, nullptr);
  ExpectHolds(*a2, Batch("a"));
}

TEST(PostgresLogStorageTest, RejectsBadNamesAndReadOnlyWrites) {
  CLOVER_REQUIRE_POSTGRES();
  for (const std::string& bad : std::vector<std::string>{
           "", "a\"b", "x;drop", "sp ace", std::string(49, 'a')}) {
    EXPECT_EQ(OpenPostgresLogStorage(Dsn(), bad).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
  PostgresLogStorageOptions ro;
  ro.read_only = true;
  EXPECT_TRUE(
      absl::IsNotFound(OpenPostgresLogStorage(Dsn(), "never", ro).status()));
  auto w = Open("ro");
  ASSERT_NE(w, nullptr);
  ASSERT_TRUE(w->Write(Batch("x")).ok());
  auto r = Open("ro", ro);
  ASSERT_NE(r, nullptr);
  ExpectHolds(*r, Batch("x"));
  EXPECT_EQ(r->Write(Batch("y")).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(PostgresLogStorageTest, UnreachableServerIsUnavailableWithoutTheDsn) {
  CLOVER_REQUIRE_POSTGRES();
  const std::string dsn =
      "host=/nonexistent-clover-dir port=5432 user=u password=s3cret-pw "
      "dbname=d connect_timeout=2";
  auto s = OpenPostgresLogStorage(dsn, "x");
  EXPECT_TRUE(absl::IsUnavailable(s.status())) << s.status();
  EXPECT_EQ(s.status().message().find("s3cret-pw"), std::string::npos);
}

TEST(PostgresLogStorageTest, ReconnectsAfterTheServerDropsSessions) {
  CLOVER_REQUIRE_POSTGRES();
  auto s = Open("reconnect");
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(s->Write(Batch("1")).ok());
  ASSERT_TRUE(Sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                  "WHERE pid <> pg_backend_pid() AND datname = "
                  "current_database()")
                  .ok());
  ExpectHolds(*s, Batch("1"));
  ASSERT_TRUE(Sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                  "WHERE pid <> pg_backend_pid() AND datname = "
                  "current_database()")
                  .ok());
  ASSERT_TRUE(s->Write(Batch("2")).ok());
  ExpectHolds(*s, Batch("2"));
}

// As the vault's: a batch whose COMMIT drew the warning "canceling wait for
// synchronous replication" is on the primary only, and is not reported
// written until a standby confirms; once one does, it is.
TEST(PostgresLogStorageTest, CommitWhoseStandbyWaitWasCancelledIsNotAcked) {
  CLOVER_REQUIRE_POSTGRES();
  PostgresLogStorageOptions o;
  o.write_retry = absl::Seconds(1);
  o.read_retry = absl::Seconds(1);
  auto s = OpenPostgresLogStorage(Dsn(), "syncwarn", o);
  ASSERT_TRUE(s.ok()) << s.status();
  pgtest::StandbyNeverConfirms stalled;
  ASSERT_TRUE(stalled.Start().ok());
  {
    pgtest::SyncWaitCanceller canceller;
    const absl::Time start = absl::Now();
    const absl::Status w = (*s)->Write(Batch("1"));
    EXPECT_TRUE(absl::IsUnavailable(w)) << w;
    EXPECT_LT(absl::Now() - start, absl::Seconds(15)) << "not bounded";
    EXPECT_GE(canceller.cancelled(), 1);
  }
  EXPECT_EQ(*(*s)->ReadCheckpoint(), "checkpoint-1") << "not in doubt";
  ASSERT_TRUE(stalled.Stop().ok());
  EXPECT_TRUE((*s)->Write(Batch("1")).ok());
  ASSERT_TRUE((*s)->Write(Batch("2")).ok());
  ExpectHolds(**s, Batch("2"));
}

std::unique_ptr<NoteSigner> Signer() {
  return *NewNoteSigner(
      "test.example/pglog", kNoteTypeEd25519,
      *crypto::Ed25519PrivateKey::FromSeed(std::string(32, 'p')));
}

std::string Entry(uint64_t i) {
  return absl::StrCat("entry-", i, std::string(i % 41, 'x'));
}

void AppendRange(Sequencer& seq, uint64_t from, uint64_t to, uint64_t batch) {
  for (uint64_t i = from; i < to;) {
    std::vector<std::future<absl::StatusOr<uint64_t>>> fs;
    const uint64_t end = std::min(to, i + batch);
    for (uint64_t j = i; j < end; ++j) fs.push_back(seq.Append(Entry(j)));
    for (uint64_t j = i; j < end; ++j) {
      auto r = fs[j - i].get();
      ASSERT_TRUE(r.ok()) << r.status();
      ASSERT_EQ(*r, j);
    }
    i = end;
  }
}

TEST(PostgresLogStorageTest, SequencerAppendsRestartsAndResumes) {
  CLOVER_REQUIRE_POSTGRES();
  constexpr uint64_t kEntries = 10'000;
  SequencerOptions opts;
  opts.max_batch_entries = 700;  // many batches, bundles split across them
  std::string checkpoint;
  {
    auto seq = Sequencer::Open(Open("seq"), Signer(), opts);
    ASSERT_TRUE(seq.ok()) << seq.status();
    AppendRange(**seq, 0, kEntries, 1000);
    EXPECT_EQ((*seq)->Size(), kEntries);
    EXPECT_GT((*seq)->Stats().batches, 10u);
    checkpoint = (*seq)->SignedCheckpoint();
  }
  // The same entries through the embedded driver give the same tree (and,
  // Ed25519 being deterministic, the same signed checkpoint).
  testing::TempDir dir;
  auto rocks = Sequencer::Open(*OpenRocksDbStorage(dir.path()), Signer(), opts);
  ASSERT_TRUE(rocks.ok()) << rocks.status();
  AppendRange(**rocks, 0, kEntries, 1000);
  EXPECT_EQ((*rocks)->SignedCheckpoint(), checkpoint);

  // Restart: the sequencer reloads its edge from PostgreSQL, without replay.
  auto seq = Sequencer::Open(Open("seq"), Signer(), opts);
  ASSERT_TRUE(seq.ok()) << seq.status();
  EXPECT_EQ((*seq)->Size(), kEntries);
  EXPECT_EQ((*seq)->SignedCheckpoint(), checkpoint);
  for (uint64_t i : {uint64_t{0}, uint64_t{255}, uint64_t{256}, uint64_t{4321},
                     kEntries - 1}) {
    auto e = (*seq)->ReadEntry(i);
    ASSERT_TRUE(e.ok()) << e.status();
    EXPECT_EQ(*e, Entry(i));
  }
  // It resumes where it stopped, in step with the twin.
  AppendRange(**seq, kEntries, kEntries + 300, 100);
  AppendRange(**rocks, kEntries, kEntries + 300, 100);
  EXPECT_EQ((*seq)->LatestCheckpoint(), (*rocks)->LatestCheckpoint());
  EXPECT_EQ((*seq)->Size(), kEntries + 300);
}

}  // namespace
}  // namespace clover::log
