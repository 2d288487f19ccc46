// Entry bundles stored as per-batch fragments: every bundle read back, full or
// partial, before and after restarts and failed writes, must be byte-identical
// to a bundle built directly from the entries; and a batch must write only its
// own entries.
#include <atomic>
#include <random>

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "gtest/gtest.h"
#include "log/forwarding_storage.h"
#include "log/rocksdb_storage.h"
#include "log/sequencer.h"
#include "log/test_util.h"
#include "log/tile.h"

namespace clover::log {
namespace {

constexpr char kOrigin[] = "test.example/log";

std::unique_ptr<NoteSigner> Signer() {
  auto key = crypto::Ed25519PrivateKey::FromSeed(std::string(32, 'k'));
  return *NewNoteSigner(kOrigin, kNoteTypeEd25519, *key);
}

// Counts bundle and fragment bytes per write; can fail writes before or after
// applying them (a driver that lost the connection during COMMIT cannot tell).
class ProbeStorage final : public ForwardingLogStorage {
 public:
  using ForwardingLogStorage::ForwardingLogStorage;
  absl::Status Write(const LogWriteBatch& b) override {
    if (fail_before_.load()) return absl::InternalError("disk on fire");
    for (const auto& [index, data] : b.bundles) bundle_bytes_ += data.size();
    for (const auto& [id, data] : b.fragments) fragment_bytes_ += data.size();
    CLOVER_RETURN_IF_ERROR(base().Write(b));
    if (fail_after_.load()) return absl::UnavailableError("lost at COMMIT");
    return absl::OkStatus();
  }

  std::atomic<bool> fail_before_{false};
  std::atomic<bool> fail_after_{false};
  std::atomic<uint64_t> bundle_bytes_{0};
  std::atomic<uint64_t> fragment_bytes_{0};
};

// Entries of varied sizes, including empty and maximum-length ones.
std::string MakeEntry(uint64_t i) {
  if (i % 97 == 5) return "";
  if (i == 301) return std::string(kMaxEntrySize, 'M');
  return absl::StrCat("e", i, ":", std::string((i * 131) % 2000, 'a' + i % 26));
}

std::string Reference(const std::vector<std::string>& entries, uint64_t index,
                      int width) {
  std::string b;
  for (int i = 0; i < width; ++i) {
    EXPECT_TRUE(AppendToBundle(b, entries[index * kTileWidth + i]).ok());
  }
  return b;
}

// Compares the bundles the log serves with the reference: full bundles at full
// and a random narrower width, the partial bundle at its width and at every
// (or, when wide, 32 random) narrower widths.
void ExpectBundles(const Sequencer& seq,
                   const std::vector<std::string>& entries,
                   std::mt19937_64& rng) {
  const uint64_t size = entries.size();
  ASSERT_EQ(seq.Size(), size);
  const uint64_t full = FullTileCount(size, 0);
  for (uint64_t b = 0; b < full; ++b) {
    auto got = seq.ReadEntryBundle(b, kTileWidth);
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(*got, Reference(entries, b, kTileWidth)) << "bundle " << b;
    const int w = 1 + static_cast<int>(rng() % kTileWidth);
    ASSERT_EQ(*seq.ReadEntryBundle(b, w), Reference(entries, b, w));
  }
  const int partial = PartialTileWidth(size, 0);
  std::vector<int> widths;
  for (int w = 1; w <= partial; ++w) {
    if (partial <= 32 || w == partial || rng() % partial < 32) {
      widths.push_back(w);
    }
  }
  for (int w : widths) {
    auto got = seq.ReadEntryBundle(full, w);
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(*got, Reference(entries, full, w)) << "partial width " << w;
  }
  EXPECT_TRUE(
      absl::IsNotFound(seq.ReadEntryBundle(full, partial + 1).status()));
  for (uint64_t i = full * kTileWidth; i < size; ++i) {
    auto got = seq.ReadEntry(i);
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(*got, entries[i]);
  }
  if (size > 0) {
    const uint64_t i = rng() % size;
    ASSERT_EQ(*seq.ReadEntry(i), entries[i]);
  }
}

// Appends `n` entries as concurrent appends so that the sequencer batches
// them (in one or a few batches).
void AppendBatch(Sequencer& seq, std::vector<std::string>& entries,
                 uint64_t n) {
  std::vector<std::future<absl::StatusOr<uint64_t>>> fs;
  for (uint64_t j = 0; j < n; ++j) {
    fs.push_back(seq.Append(MakeEntry(entries.size() + j)));
  }
  for (uint64_t j = 0; j < n; ++j) {
    auto r = fs[j].get();
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(*r, entries.size() + j);
  }
  for (uint64_t j = 0; j < n; ++j) {
    entries.push_back(MakeEntry(entries.size()));
  }
}

struct OpenedLog {
  std::unique_ptr<Sequencer> seq;
  ProbeStorage* probe = nullptr;
};

OpenedLog Open(const std::string& dir) {
  auto storage = OpenRocksDbStorage(dir);
  EXPECT_TRUE(storage.ok()) << storage.status();
  auto probe = std::make_unique<ProbeStorage>(*std::move(storage));
  OpenedLog out;
  out.probe = probe.get();
  auto seq = Sequencer::Open(std::move(probe), Signer());
  EXPECT_TRUE(seq.ok()) << seq.status();
  if (seq.ok()) out.seq = *std::move(seq);
  return out;
}

// The store itself holds each full bundle as exactly its entries: no
// fragment of a failed or rolled-back write is left among a bundle's
// fragments.
void ExpectStoredBundles(const std::string& dir,
                         const std::vector<std::string>& entries) {
  RocksDbStorageOptions ro;
  ro.read_only = true;
  auto storage = OpenRocksDbStorage(dir, ro);
  ASSERT_TRUE(storage.ok()) << storage.status();
  for (uint64_t b = 0; b < FullTileCount(entries.size(), 0); ++b) {
    auto stored = (*storage)->ReadEntryBundle(b);
    ASSERT_TRUE(stored.ok()) << stored.status();
    ASSERT_EQ(*stored, Reference(entries, b, kTileWidth)) << "bundle " << b;
  }
}

TEST(SequencerBundleTest, RandomBatchesAndRestartsMatchReference) {
  testing::TempDir dir;
  std::mt19937_64 rng(20261129);
  std::vector<std::string> entries;
  OpenedLog log = Open(dir.path());
  ASSERT_NE(log.seq, nullptr);
  uint64_t entry_bytes = 0;
  uint64_t written = 0;  // bundle and fragment bytes, over all opens
  while (entries.size() < 600) {
    const uint64_t n = std::min<uint64_t>(600 - entries.size(),
                                          1 + rng() % (rng() % 2 ? 8 : 90));
    const size_t before = entries.size();
    AppendBatch(*log.seq, entries, n);
    for (size_t i = before; i < entries.size(); ++i) {
      entry_bytes += 2 + entries[i].size();
    }
    ASSERT_NO_FATAL_FAILURE(ExpectBundles(*log.seq, entries, rng));
    if (rng() % 4 == 0) {
      // Each entry is stored once, in its batch's fragment: neither the
      // partial bundle nor a bundle that fills up is written again.
      written += log.probe->bundle_bytes_ + log.probe->fragment_bytes_;
      EXPECT_EQ(written, entry_bytes);
      log.seq.reset();
      log = Open(dir.path());
      ASSERT_NE(log.seq, nullptr);
      ASSERT_NO_FATAL_FAILURE(ExpectBundles(*log.seq, entries, rng));
    }
  }
  log.seq.reset();
  ExpectStoredBundles(dir.path(), entries);
  // A read-only open serves the same bytes.
  RocksDbStorageOptions ro;
  ro.read_only = true;
  auto seq = Sequencer::Open(*OpenRocksDbStorage(dir.path(), ro), nullptr);
  ASSERT_TRUE(seq.ok()) << seq.status();
  ExpectBundles(**seq, entries, rng);
}

TEST(SequencerBundleTest, EverySizeUpToTwoBundlesSurvivesRestart) {
  // One entry per batch: the partial bundle grows to 255 fragments.
  testing::TempDir dir;
  std::mt19937_64 rng(7);
  std::vector<std::string> entries;
  OpenedLog log = Open(dir.path());
  for (int i = 0; i < 2 * kTileWidth + 3; ++i) {
    AppendBatch(*log.seq, entries, 1);
    if (i % 50 == 49 || i == kTileWidth - 1 || i == kTileWidth) {
      log.seq.reset();
      log = Open(dir.path());
      ASSERT_NE(log.seq, nullptr);
      ASSERT_NO_FATAL_FAILURE(ExpectBundles(*log.seq, entries, rng));
    }
  }
  ASSERT_NO_FATAL_FAILURE(ExpectBundles(*log.seq, entries, rng));
  log.seq.reset();
  ExpectStoredBundles(dir.path(), entries);
}

TEST(SequencerBundleTest, FailedWritesOfEitherOutcomeAreRepaired) {
  testing::TempDir dir;
  std::mt19937_64 rng(3);
  std::vector<std::string> entries;
  OpenedLog log = Open(dir.path());
  for (int round = 0; round < 12; ++round) {
    AppendBatch(*log.seq, entries, 1 + rng() % 120);
    // A write that fails, having been applied or not; the sequencer rolls back
    // to the last acknowledged state either way.
    std::atomic<bool>& mode =
        round % 2 ? log.probe->fail_after_ : log.probe->fail_before_;
    mode = true;
    std::vector<std::future<absl::StatusOr<uint64_t>>> lost;
    const uint64_t n_lost = 1 + rng() % 300;
    for (uint64_t j = 0; j < n_lost; ++j) {
      lost.push_back(log.seq->Append(absl::StrCat("lost-", round, "-", j)));
    }
    for (auto& f : lost) EXPECT_FALSE(f.get().ok());
    mode = false;
    ASSERT_EQ(log.seq->Size(), entries.size());
    AppendBatch(*log.seq, entries, 1 + rng() % 40);
    ASSERT_NO_FATAL_FAILURE(ExpectBundles(*log.seq, entries, rng));
    if (round % 3 == 2) {
      log.seq.reset();
      log = Open(dir.path());
      ASSERT_NE(log.seq, nullptr);
      ASSERT_NO_FATAL_FAILURE(ExpectBundles(*log.seq, entries, rng));
    }
  }
  log.seq.reset();
  log = Open(dir.path());
  ASSERT_NE(log.seq, nullptr);
  ASSERT_NO_FATAL_FAILURE(ExpectBundles(*log.seq, entries, rng));
  log.seq.reset();
  ExpectStoredBundles(dir.path(), entries);
}

TEST(SequencerBundleTest, LogStoredBeforeFragmentsIsUpgraded) {
  // A v1 store keeps the partial bundle whole under its index.
  testing::TempDir dir;
  std::mt19937_64 rng(11);
  std::vector<std::string> entries;
  {
    OpenedLog log = Open(dir.path());
    AppendBatch(*log.seq, entries, 300);
  }
  {
    auto storage = OpenRocksDbStorage(dir.path());
    ASSERT_TRUE(storage.ok());
    LogWriteBatch v1;
    v1.bundles.emplace_back(1, Reference(entries, 1, 300 - kTileWidth));
    for (int off = 0; off < kTileWidth; ++off) {
      v1.deleted_fragments.push_back(FragmentId{1, off});
    }
    v1.metadata = absl::StrCat("clover-log/v1\n", kOrigin, "\n300\n");
    ASSERT_TRUE((*storage)->Write(v1).ok());
  }
  OpenedLog log = Open(dir.path());
  ASSERT_NE(log.seq, nullptr);
  ASSERT_NO_FATAL_FAILURE(ExpectBundles(*log.seq, entries, rng));
  AppendBatch(*log.seq, entries, 20);
  log.seq.reset();
  log = Open(dir.path());
  ASSERT_NO_FATAL_FAILURE(ExpectBundles(*log.seq, entries, rng));
  AppendBatch(*log.seq, entries, 300);
  log.seq.reset();
  log = Open(dir.path());
  ASSERT_NO_FATAL_FAILURE(ExpectBundles(*log.seq, entries, rng));
  log.seq.reset();
  ExpectStoredBundles(dir.path(), entries);
}

TEST(SequencerBundleTest, InconsistentFragmentMetadataIsDataLoss) {
  testing::TempDir dir;
  std::vector<std::string> entries;
  {
    OpenedLog log = Open(dir.path());
    AppendBatch(*log.seq, entries, 10);
    AppendBatch(*log.seq, entries, 10);
  }
  const std::string prefix = absl::StrCat("clover-log/v2\n", kOrigin, "\n");
  for (const std::string& bad :
       {absl::StrCat(prefix, "20\n\n"), absl::StrCat(prefix, "20\n5\n"),
        absl::StrCat(prefix, "20\n0,20\n"), absl::StrCat(prefix, "20\n0,3\n"),
        absl::StrCat(prefix, "20\n0,x\n"),
        absl::StrCat(prefix, "20\n0,256\n")}) {
    {
      auto storage = OpenRocksDbStorage(dir.path());
      ASSERT_TRUE(storage.ok());
      LogWriteBatch b;
      b.metadata = bad;
      ASSERT_TRUE((*storage)->Write(b).ok());
    }
    auto seq = Sequencer::Open(*OpenRocksDbStorage(dir.path()), Signer());
    EXPECT_EQ(seq.status().code(), absl::StatusCode::kDataLoss)
        << bad << ": " << seq.status();
  }
}

}  // namespace
}  // namespace clover::log
