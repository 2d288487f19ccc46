// Kills a log-appending process with SIGKILL at random moments (20 rounds) and
// checks after each restart that every acknowledged entry is at its index and
// that the new checkpoint is consistent with every checkpoint published before.
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/test_temp_dir.h"
#include "crash_runner.h"
#include "gtest/gtest.h"
#include "log/checkpoint.h"
#include "log/rocksdb_storage.h"
#include "log/sequencer.h"
#include "log/tile.h"
#include "log_crash_common.h"

namespace clover::log {
namespace {

TEST(LogCrashTest, AcknowledgedEntriesSurviveSigkill) {
  test::TempDir tmp("log-crash");
  const std::string& dir = tmp.path();
  std::mt19937 rng(std::random_device{}());
  std::map<uint64_t, std::string> acked;
  std::vector<crash::Published> published;
  auto verifier = *NewNoteVerifier(crash::kOrigin, kNoteTypeEd25519,
                                   crash::Key().public_key());
  const NoteVerifier* vs[] = {verifier.get()};
  constexpr int kRounds = 20;
  for (int round = 0; round < kRounds; ++round) {
    const int run_ms = 150 + static_cast<int>(rng() % 450);
    const std::string out =
        crashtest::RunAndKill({LOG_CRASH_HELPER, dir, std::to_string(round)},
                              run_ms)
            .output;
    size_t round_acks = 0;
    for (absl::string_view line :
         absl::StrSplit(out, '\n', absl::SkipEmpty())) {
      std::vector<absl::string_view> parts = absl::StrSplit(line, ' ');
      ASSERT_EQ(parts.size(), 3u) << line;
      uint64_t n = 0;
      ASSERT_TRUE(absl::SimpleAtoi(parts[1], &n)) << line;
      if (parts[0] == "ack") {
        auto [it, inserted] = acked.emplace(n, std::string(parts[2]));
        ASSERT_TRUE(inserted || it->second == parts[2])
            << "index " << n << " acked twice";
        ++round_acks;
      } else {
        ASSERT_EQ(parts[0], "cp") << line;
        std::string root;
        ASSERT_TRUE(absl::Base64Unescape(parts[2], &root));
        crash::Published p{n, {}};
        std::memcpy(p.root.data(), root.data(), kHashSize);
        published.push_back(p);
      }
    }
    // Restart in-process (read-only) and check everything acknowledged so far.
    RocksDbStorageOptions so;
    so.read_only = true;
    auto storage = OpenRocksDbStorage(dir, so);
    ASSERT_TRUE(storage.ok()) << storage.status();
    auto seq = Sequencer::Open(*std::move(storage), nullptr);
    ASSERT_TRUE(seq.ok()) << seq.status();
    auto cp = OpenCheckpoint((*seq)->SignedCheckpoint(), crash::kOrigin, vs);
    ASSERT_TRUE(cp.ok()) << cp.status();
    // Each bundle is read once per round; `acked` is ordered by index.
    uint64_t bundle_index = UINT64_MAX;
    std::string bundle;
    std::vector<absl::string_view> entries;
    for (const auto& [index, entry] : acked) {
      ASSERT_LT(index, cp->size)
          << "acknowledged entry " << index << " lost in round " << round;
      if (index / kTileWidth != bundle_index) {
        bundle_index = index / kTileWidth;
        const int width = bundle_index < FullTileCount(cp->size, 0)
                              ? kTileWidth
                              : PartialTileWidth(cp->size, 0);
        auto b = (*seq)->ReadEntryBundle(bundle_index, width);
        ASSERT_TRUE(b.ok()) << b.status();
        bundle = *std::move(b);
        auto parsed = ParseEntryBundle(bundle);
        ASSERT_TRUE(parsed.ok()) << parsed.status();
        entries = *std::move(parsed);
      }
      ASSERT_EQ(entries[index % kTileWidth], entry)
          << "entry " << index << " changed in round " << round;
    }
    for (const crash::Published& p : published) {
      ASSERT_LE(p.size, cp->size) << "tree shrank below a published checkpoint";
      auto proof = (*seq)->ConsistencyProof(p.size, cp->size);
      ASSERT_TRUE(proof.ok()) << proof.status();
      ASSERT_TRUE(
          VerifyConsistency(p.size, cp->size, p.root, cp->root, *proof).ok())
          << "round " << round << ": checkpoint " << cp->size
          << " inconsistent with published " << p.size;
    }
    published.push_back({cp->size, cp->root});
    std::printf("round %2d: ran %3d ms, %6zu new acks, tree size %8llu\n",
                round, run_ms, round_acks,
                static_cast<unsigned long long>(cp->size));
  }
  EXPECT_GT(acked.size(), 1000u);
}

}  // namespace
}  // namespace clover::log
