#include "log/sequencer.h"

#include <functional>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "gtest/gtest.h"
#include "log/client.h"
#include "log/fetch.h"
#include "log/forwarding_storage.h"
#include "log/http_handlers.h"
#include "log/rocksdb_storage.h"
#include "log/test_util.h"
#include "log/tile.h"

namespace clover::log {
namespace {

crypto::Ed25519PrivateKey TestKey() {
  return *crypto::Ed25519PrivateKey::FromSeed(std::string(32, 'k'));
}

std::unique_ptr<NoteSigner> Signer(
    const std::string& name = "test.example/log") {
  return *NewNoteSigner(name, kNoteTypeEd25519, TestKey());
}

std::unique_ptr<NoteVerifier> Verifier(
    const std::string& name = "test.example/log") {
  return *NewNoteVerifier(name, kNoteTypeEd25519, TestKey().public_key());
}

std::unique_ptr<Sequencer> OpenLog(const std::string& dir,
                                   SequencerOptions opts = {},
                                   bool read_only = false) {
  RocksDbStorageOptions so;
  so.read_only = read_only;
  auto storage = OpenRocksDbStorage(dir, so);
  EXPECT_TRUE(storage.ok()) << storage.status();
  auto seq = Sequencer::Open(*std::move(storage),
                             read_only ? nullptr : Signer(), opts);
  EXPECT_TRUE(seq.ok()) << seq.status();
  return seq.ok() ? *std::move(seq) : nullptr;
}

std::string Entry(uint64_t i) {
  return absl::StrCat("entry-", i, std::string(i % 37, 'x'));
}

// Appends entries [from, to) in batches of `batch` (waiting for each batch).
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

std::vector<Hash> LeafHashes(uint64_t n) {
  std::vector<Hash> out;
  for (uint64_t i = 0; i < n; ++i) out.push_back(LeafHash(Entry(i)));
  return out;
}

TEST(SequencerTest, NewLogHasEmptyCheckpoint) {
  testing::TempDir dir;
  auto seq = OpenLog(dir.path());
  ASSERT_NE(seq, nullptr);
  EXPECT_EQ(seq->Size(), 0u);
  auto v = Verifier();
  const NoteVerifier* vs[] = {v.get()};
  auto cp = OpenCheckpoint(seq->SignedCheckpoint(), "test.example/log", vs);
  ASSERT_TRUE(cp.ok()) << cp.status();
  EXPECT_EQ(cp->size, 0u);
  EXPECT_EQ(cp->root, EmptyRootHash());
}

TEST(SequencerTest, RootsAndProofsMatchReference) {
  testing::TempDir dir;
  SequencerOptions opts;
  opts.max_batch_wait = absl::ZeroDuration();
  opts.tile_cache_tiles = 2;  // force storage reads
  auto seq = OpenLog(dir.path(), opts);
  const auto leaves = LeafHashes(1100);
  std::vector<Hash> roots(1101);
  roots[0] = EmptyRootHash();
  for (uint64_t n = 1; n <= 1100; ++n) {
    roots[n] = RootFromLeafHashes(std::span(leaves).first(n));
  }
  // Uneven batches cross tile boundaries in every way.
  uint64_t size = 0;
  std::mt19937_64 rng(7);
  std::vector<uint64_t> published = {0};
  while (size < 1100) {
    const uint64_t next = std::min<uint64_t>(1100, size + 1 + rng() % 300);
    AppendRange(*seq, size, next, next - size);
    size = next;
    ASSERT_EQ(seq->Size(), size);
    ASSERT_EQ(seq->LatestCheckpoint().root, roots[size]) << size;
    published.push_back(size);
  }
  for (int k = 0; k < 400; ++k) {
    const uint64_t s = 1 + rng() % 1100;
    const uint64_t i = rng() % s;
    auto proof = seq->InclusionProof(i, s);
    ASSERT_TRUE(proof.ok()) << proof.status();
    ASSERT_TRUE(VerifyInclusion(i, s, leaves[i], *proof, roots[s]).ok())
        << i << "/" << s;
    const uint64_t m = rng() % (s + 1);
    auto cproof = seq->ConsistencyProof(m, s);
    ASSERT_TRUE(cproof.ok());
    ASSERT_TRUE(VerifyConsistency(m, s, roots[m], roots[s], *cproof).ok())
        << m << "->" << s;
  }
  EXPECT_FALSE(seq->InclusionProof(5, 1101).ok());
  EXPECT_FALSE(seq->ConsistencyProof(5, 1101).ok());
  EXPECT_EQ(*seq->ReadEntry(1099), Entry(1099));
  EXPECT_EQ(seq->ReadEntry(1100).status().code(), absl::StatusCode::kNotFound);
}

TEST(SequencerTest, TilesAndBundlesFollowTheSpec) {
  testing::TempDir dir;
  auto seq = OpenLog(dir.path());
  AppendRange(*seq, 0, 600, 600);
  const auto leaves = LeafHashes(600);
  // Level 0: tiles 0 and 1 full, tile 2 partial of width 88.
  auto t1 = seq->ReadTile(0, 1, 256);
  ASSERT_TRUE(t1.ok());
  ASSERT_EQ(t1->size(), 8192u);
  EXPECT_EQ(t1->substr(0, 32),
            std::string(reinterpret_cast<const char*>(leaves[256].data()), 32));
  EXPECT_EQ(seq->ReadTile(0, 2, 88)->size(), 88u * 32);
  EXPECT_EQ(seq->ReadTile(0, 2, 89).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(seq->ReadTile(0, 2, 256).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(seq->ReadTile(0, 3, 1).status().code(),
            absl::StatusCode::kNotFound);
  // A partial width of a tile that is now full is still served (prefix of the
  // full tile).
  EXPECT_EQ(*seq->ReadTile(0, 0, 10), seq->ReadTile(0, 0, 256)->substr(0, 320));
  // Level 1: partial of width 2 holding the roots of the two full level-0
  // tiles.
  auto l1 = seq->ReadTile(1, 0, 2);
  ASSERT_TRUE(l1.ok());
  EXPECT_EQ(
      l1->substr(32),
      std::string(
          reinterpret_cast<const char*>(
              RootFromLeafHashes(std::span(leaves).subspan(256, 256)).data()),
          32));
  EXPECT_FALSE(seq->ReadTile(2, 0, 1).ok());
  // Entry bundles.
  auto b2 = seq->ReadEntryBundle(2, 88);
  ASSERT_TRUE(b2.ok());
  auto entries = ParseEntryBundle(*b2);
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 88u);
  EXPECT_EQ((*entries)[0], Entry(512));
  EXPECT_EQ(ParseEntryBundle(*seq->ReadEntryBundle(0, 5))->size(), 5u);
  EXPECT_EQ(seq->ReadEntryBundle(2, 89).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(SequencerTest, RefusesOversizeEntriesAndReadOnlyAppends) {
  testing::TempDir dir;
  {
    auto seq = OpenLog(dir.path());
    auto r = seq->Append(std::string(65536, 'a')).get();
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(seq->Append(std::string(65535, 'a')).get().ok());
  }
  auto ro = OpenLog(dir.path(), {}, /*read_only=*/true);
  ASSERT_NE(ro, nullptr);
  EXPECT_EQ(ro->Size(), 1u);
  EXPECT_EQ(ro->Append("x").get().status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(SequencerTest, RestartResumesWithoutReplay) {
  testing::TempDir dir;
  Checkpoint before;
  {
    auto seq = OpenLog(dir.path());
    AppendRange(*seq, 0, 70000, 5000);
    before = seq->LatestCheckpoint();
  }
  auto seq = OpenLog(dir.path());
  ASSERT_NE(seq, nullptr);
  EXPECT_EQ(seq->LatestCheckpoint(), before);
  AppendRange(*seq, 70000, 70300, 77);
  const auto leaves = LeafHashes(70300);
  EXPECT_EQ(seq->LatestCheckpoint().root, RootFromLeafHashes(leaves));
  auto proof = seq->ConsistencyProof(70000, 70300);
  ASSERT_TRUE(proof.ok());
  EXPECT_TRUE(VerifyConsistency(70000, 70300, before.root,
                                seq->LatestCheckpoint().root, *proof)
                  .ok());
  // Origin mismatch is refused.
  seq.reset();
  auto storage = OpenRocksDbStorage(dir.path());
  ASSERT_TRUE(storage.ok());
  auto other =
      Sequencer::Open(*std::move(storage), Signer("other.example/log"));
  EXPECT_EQ(other.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(SequencerTest, ConcurrentAppendersGetDistinctIndexes) {
  testing::TempDir dir;
  auto seq = OpenLog(dir.path());
  constexpr int kThreads = 4, kPer = 2000;
  std::vector<std::vector<uint64_t>> got(kThreads);
  absl::BlockingCounter done(kThreads * kPer);
  std::vector<std::thread> threads;
  absl::Mutex mu;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPer; ++i) {
        seq->Append(absl::StrCat("t", t, "-", i),
                    [&, t](absl::StatusOr<uint64_t> r) {
                      ASSERT_TRUE(r.ok());
                      {
                        absl::MutexLock lock(&mu);
                        got[t].push_back(*r);
                      }
                      done.DecrementCount();
                    });
      }
    });
  }
  for (auto& th : threads) th.join();
  done.Wait();
  std::vector<bool> seen(kThreads * kPer);
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(got[t].size(), static_cast<size_t>(kPer));
    for (uint64_t i : got[t]) {
      ASSERT_LT(i, seen.size());
      ASSERT_FALSE(seen[i]);
      seen[i] = true;
    }
  }
  EXPECT_EQ(seq->Size(), static_cast<uint64_t>(kThreads * kPer));
  // Each thread's entries keep their relative order.
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPer; ++i) {
      ASSERT_EQ(*seq->ReadEntry(got[t][i]), absl::StrCat("t", t, "-", i));
    }
  }
}

// A storage whose writes fail on demand.
class FlakyStorage final : public ForwardingLogStorage {
 public:
  using ForwardingLogStorage::ForwardingLogStorage;
  absl::Status Write(const LogWriteBatch& b) override {
    if (fail_.load()) {
      failed_writes_.fetch_add(1);
      return absl::InternalError("disk on fire");
    }
    absl::Status s = base().Write(b);
    if (s.ok()) ok_writes_.fetch_add(1);
    return s;
  }
  std::atomic<bool> fail_{false};
  std::atomic<int> failed_writes_{0};
  std::atomic<int> ok_writes_{0};
};

TEST(SequencerTest, FailedWriteFailsTheBatchAndRollsBack) {
  testing::TempDir dir;
  auto flaky = std::make_unique<FlakyStorage>(*OpenRocksDbStorage(dir.path()));
  FlakyStorage* f = flaky.get();
  auto seq = *Sequencer::Open(std::move(flaky), Signer());
  AppendRange(*seq, 0, 300, 300);
  f->fail_ = true;
  auto r = seq->Append("lost").get();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(seq->Size(), 300u);
  f->fail_ = false;
  AppendRange(*seq, 300, 600, 100);
  EXPECT_EQ(seq->LatestCheckpoint().root, RootFromLeafHashes(LeafHashes(600)));
}

// Collects the sequencer's batch reports.
struct BatchReports {
  std::function<void(const BatchReport&)> Callback() {
    return [this](const BatchReport& r) {
      absl::MutexLock lock(&mu);
      reports.push_back(r);
    };
  }
  absl::Mutex mu;
  std::vector<BatchReport> reports ABSL_GUARDED_BY(mu);
};

// Every batch is reported once its write finishes: written batches account
// for every entry, a failed one is reported as not written.
TEST(SequencerTest, ReportsEachBatch) {
  testing::TempDir dir;
  auto flaky = std::make_unique<FlakyStorage>(*OpenRocksDbStorage(dir.path()));
  FlakyStorage* f = flaky.get();
  BatchReports reports;
  SequencerOptions o;
  o.on_batch_written = reports.Callback();
  auto seq = *Sequencer::Open(std::move(flaky), Signer(), o);
  const int creation_writes = f->ok_writes_.load();  // the empty log
  AppendRange(*seq, 0, 500, 100);
  f->fail_ = true;
  EXPECT_FALSE(seq->Append("lost").get().ok());
  f->fail_ = false;
  AppendRange(*seq, 500, 600, 100);
  const int batch_writes = f->ok_writes_.load() - creation_writes;
  seq.reset();
  absl::MutexLock lock(&reports.mu);
  size_t written = 0, failed = 0, written_batches = 0;
  for (const BatchReport& r : reports.reports) {
    EXPECT_GE(r.entries, 1u);
    EXPECT_GT(r.integrate_time, absl::ZeroDuration());
    if (r.ok) {
      written += r.entries;
      ++written_batches;
      EXPECT_GT(r.write_time, absl::ZeroDuration());
    } else {
      failed += r.entries;
    }
  }
  EXPECT_EQ(written, 600u);
  EXPECT_EQ(failed, 1u);
  EXPECT_EQ(written_batches, static_cast<size_t>(batch_writes));
}

// A storage whose writes wait, while `hold_` is set, until it is cleared.
class HeldStorage final : public ForwardingLogStorage {
 public:
  using ForwardingLogStorage::ForwardingLogStorage;
  absl::Status Write(const LogWriteBatch& b) override {
    absl::MutexLock lock(&mu_);
    ++writes_entered_;
    mu_.Await(absl::Condition(
        +[](bool* hold) { return !*hold; }, &hold_));
    return base().Write(b);
  }
  void Hold(bool hold) {
    absl::MutexLock lock(&mu_);
    hold_ = hold;
  }
  void AwaitWrites(int n) {
    absl::MutexLock lock(&mu_);
    auto entered = [this, n] {
      mu_.AssertHeld();
      return writes_entered_ >= n;
    };
    mu_.Await(absl::Condition(&entered));
  }
  int writes_entered() {
    absl::MutexLock lock(&mu_);
    return writes_entered_;
  }

 private:
  absl::Mutex mu_;
  bool hold_ ABSL_GUARDED_BY(mu_) = false;
  int writes_entered_ ABSL_GUARDED_BY(mu_) = 0;
};

// A batch is taken when the writer is free: entries that arrive while a batch
// is being written, however spread out, go out together in the next one (one
// write, one signature), none is taken early to queue behind the write.
TEST(SequencerTest, EntriesQueuedDuringAWriteGoOutAsOneBatch) {
  testing::TempDir dir;
  auto held = std::make_unique<HeldStorage>(*OpenRocksDbStorage(dir.path()));
  HeldStorage* h = held.get();
  BatchReports reports;
  SequencerOptions o;
  o.max_batch_wait = absl::ZeroDuration();
  o.on_batch_written = reports.Callback();
  auto seq = *Sequencer::Open(std::move(held), Signer(), o);
  const int creation_writes = h->writes_entered();  // the empty log
  h->Hold(true);
  auto first = seq->Append(Entry(0));
  h->AwaitWrites(creation_writes + 1);
  std::vector<std::future<absl::StatusOr<uint64_t>>> later;
  for (uint64_t i = 1; i <= 10; ++i) later.push_back(seq->Append(Entry(i)));
  // Time enough for an integrator that takes batches eagerly to take these.
  absl::SleepFor(absl::Milliseconds(50));
  for (uint64_t i = 11; i <= 50; ++i) later.push_back(seq->Append(Entry(i)));
  h->Hold(false);
  ASSERT_EQ(*first.get(), 0u);
  for (uint64_t i = 1; i <= 50; ++i) ASSERT_EQ(*later[i - 1].get(), i);
  seq.reset();
  absl::MutexLock lock(&reports.mu);
  std::vector<size_t> batches;
  for (const BatchReport& r : reports.reports) batches.push_back(r.entries);
  EXPECT_EQ(batches, (std::vector<size_t>{1, 50}));
}

TEST(SequencerTest, WriteFailuresUnderLoadLoseNothingAcknowledged) {
  testing::TempDir dir;
  auto flaky = std::make_unique<FlakyStorage>(*OpenRocksDbStorage(dir.path()));
  FlakyStorage* f = flaky.get();
  SequencerOptions opts;
  opts.max_batch_entries = 64;
  opts.max_batch_wait = absl::ZeroDuration();
  auto seq = *Sequencer::Open(std::move(flaky), Signer(), opts);
  constexpr int kN = 20000;
  std::vector<absl::StatusOr<uint64_t>> results(kN,
                                                absl::UnknownError("pending"));
  absl::BlockingCounter done(kN);
  std::atomic<int> completed{0};
  // Failing and working phases alternate on observed writes, not on a timer,
  // so that a slow (sanitized, loaded) machine sees the same interleaving.
  f->fail_ = true;
  std::thread toggler([&] {
    for (int phase = 0; phase < 6; ++phase) {
      std::atomic<int>& counter =
          f->fail_.load() ? f->failed_writes_ : f->ok_writes_;
      const int before = counter.load();
      while (counter.load() == before && completed.load() < kN)
        absl::SleepFor(absl::Microseconds(200));
      f->fail_ = !f->fail_.load();
    }
    f->fail_ = false;
  });
  for (int i = 0; i < kN; ++i) {
    seq->Append(Entry(i), [&, i](absl::StatusOr<uint64_t> r) {
      results[i] = std::move(r);
      completed.fetch_add(1);
      done.DecrementCount();
    });
  }
  toggler.join();
  done.Wait();
  // After the failures, the log still works and holds exactly the acknowledged
  // entries.
  ASSERT_TRUE(seq->Append("after").get().ok());
  std::vector<bool> seen(seq->Size());
  int failed = 0;
  for (int i = 0; i < kN; ++i) {
    if (!results[i].ok()) {
      ++failed;
      continue;
    }
    ASSERT_LT(*results[i], seen.size());
    ASSERT_FALSE(seen[*results[i]]);
    seen[*results[i]] = true;
    ASSERT_EQ(*seq->ReadEntry(*results[i]), Entry(i));
  }
  EXPECT_GT(failed, 0);  // the toggler hit some batches
  EXPECT_EQ(seq->Size(), static_cast<uint64_t>(kN - failed + 1));
  std::vector<Hash> leaves;
  for (uint64_t i = 0; i < seq->Size(); ++i)
    leaves.push_back(LeafHash(*seq->ReadEntry(i)));
  EXPECT_EQ(seq->LatestCheckpoint().root, RootFromLeafHashes(leaves));
}

TEST(HttpHandlerTest, ServesTilesCheckpointAndProofs) {
  testing::TempDir dir;
  auto seq = OpenLog(dir.path());
  AppendRange(*seq, 0, 300, 300);
  LogHttpHandler h(*seq);
  auto cp = h.Handle("GET", "/log/checkpoint", "");
  EXPECT_EQ(cp.status, 200);
  EXPECT_EQ(cp.content_type, "text/plain; charset=utf-8");
  EXPECT_EQ(cp.body, seq->SignedCheckpoint());
  auto full = h.Handle("GET", "/log/tile/0/000", "");
  EXPECT_EQ(full.status, 200);
  EXPECT_EQ(full.body.size(), 8192u);
  ASSERT_FALSE(full.headers.empty());
  EXPECT_EQ(full.headers[0].second, "public, max-age=31536000, immutable");
  EXPECT_EQ(h.Handle("GET", "/log/tile/0/001.p/44", "").status, 200);
  EXPECT_EQ(h.Handle("GET", "/log/tile/0/001.p/45", "").status, 404);
  EXPECT_EQ(h.Handle("GET", "/log/tile/0/001", "").status, 404);
  EXPECT_EQ(h.Handle("GET", "/log/tile/entries/001.p/44", "").status, 200);
  EXPECT_EQ(h.Handle("GET", "/log/tile/1/000.p/1", "").status, 200);
  auto bad = h.Handle("GET", "/log/tile/0/1", "");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("\"error\":{\"code\":\"invalid_argument\""),
            std::string::npos);
  EXPECT_EQ(h.Handle("POST", "/log/checkpoint", "").status, 405);
  EXPECT_EQ(h.Handle("GET", "/log/other", "").status, 404);
  auto incl = h.Handle("GET", "/v1/log/proof/inclusion", "index=5&size=300");
  EXPECT_EQ(incl.status, 200);
  EXPECT_EQ(incl.body.rfind("{\"index\":5,\"size\":300,\"hashes\":[\"", 0), 0u)
      << incl.body;
  EXPECT_EQ(
      h.Handle("GET", "/v1/log/proof/inclusion", "index=300&size=300").status,
      400);
  EXPECT_EQ(
      h.Handle("GET", "/v1/log/proof/inclusion", "index=1&size=301").status,
      400);
  EXPECT_EQ(h.Handle("GET", "/v1/log/proof/inclusion", "index=x&size=3").status,
            400);
  EXPECT_EQ(h.Handle("GET", "/v1/log/proof/inclusion", "size=3").status, 400);
  EXPECT_EQ(
      h.Handle("GET", "/v1/log/proof/consistency", "from=10&to=300").status,
      200);
  EXPECT_EQ(h.Handle("GET", "/v1/log/proof/consistency", "from=10&to=9").status,
            400);
}

TEST(ClientTest, VerifiesInclusionConsistencyAndDetectsSplitView) {
  testing::TempDir dir, state_dir;
  auto seq = OpenLog(dir.path());
  AppendRange(*seq, 0, 1000, 1000);
  LogHttpHandler h(*seq);
  std::vector<std::unique_ptr<NoteVerifier>> vs;
  vs.push_back(Verifier());
  auto client = *LogClient::Create(HandlerFetcher(h), std::move(vs));
  const std::string state = state_dir.path() + "/state";
  auto cp1 = UpdateTrustedCheckpoint(*client, state);
  ASSERT_TRUE(cp1.ok()) << cp1.status();
  EXPECT_EQ(cp1->checkpoint.size, 1000u);
  EXPECT_TRUE(client->VerifyInclusion(cp1->checkpoint, 517, Entry(517)).ok());
  EXPECT_EQ(client->VerifyInclusion(cp1->checkpoint, 517, Entry(518)).code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(*client->FetchEntry(cp1->checkpoint, 999), Entry(999));
  AppendRange(*seq, 1000, 1300, 300);
  auto cp2 = UpdateTrustedCheckpoint(*client, state);
  ASSERT_TRUE(cp2.ok()) << cp2.status();
  EXPECT_TRUE(client->VerifyConsistency(cp1->checkpoint, cp2->checkpoint).ok());
  auto n = client->VerifyAllEntries(cp2->checkpoint);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 1300u);

  // A forked log with the same key (different entries) must be detected as a
  // split view.
  testing::TempDir fork_dir;
  auto fork = OpenLog(fork_dir.path());
  AppendRange(*fork, 0, 1000, 1000);
  ASSERT_TRUE(fork->Append("evil").get().ok());
  AppendRange(*fork, 1001, 1400, 399);
  LogHttpHandler fh(*fork);
  std::vector<std::unique_ptr<NoteVerifier>> fvs;
  fvs.push_back(Verifier());
  auto fclient = *LogClient::Create(HandlerFetcher(fh), std::move(fvs));
  auto forked = UpdateTrustedCheckpoint(*fclient, state);
  EXPECT_EQ(forked.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(forked.status().message().find("split view"), std::string::npos);
  // A shrinking tree too.
  testing::TempDir small_dir;
  auto small = OpenLog(small_dir.path());
  AppendRange(*small, 0, 10, 10);
  LogHttpHandler sh(*small);
  std::vector<std::unique_ptr<NoteVerifier>> svs;
  svs.push_back(Verifier());
  auto sclient = *LogClient::Create(HandlerFetcher(sh), std::move(svs));
  auto shrunk = UpdateTrustedCheckpoint(*sclient, state);
  EXPECT_EQ(shrunk.status().code(), absl::StatusCode::kDataLoss);
  // A checkpoint signed by another key is refused.
  std::vector<std::unique_ptr<NoteVerifier>> wrong;
  wrong.push_back(
      *NewNoteVerifier("test.example/log", kNoteTypeEd25519,
                       crypto::Ed25519PrivateKey::Generate()->public_key()));
  auto wclient = *LogClient::Create(HandlerFetcher(h), std::move(wrong));
  EXPECT_EQ(wclient->FetchCheckpoint().status().code(),
            absl::StatusCode::kUnauthenticated);
}

}  // namespace
}  // namespace clover::log
