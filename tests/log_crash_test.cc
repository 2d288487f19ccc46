// Kills a log-appending process with SIGKILL at random moments (20 rounds) and
// checks after each restart that every acknowledged entry is at its index and
// that the new checkpoint is consistent with every checkpoint published before.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

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
#include "gtest/gtest.h"
#include "log/checkpoint.h"
#include "log/rocksdb_storage.h"
#include "log/sequencer.h"
#include "log/tile.h"
#include "log_crash_common.h"

namespace clover::log {
namespace {

struct Published {
  uint64_t size;
  Hash root;
};

// Runs the helper for `run_ms`, SIGKILLs it and returns everything it printed.
std::string RunAndKill(const std::string& dir, int round, int run_ms) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    const std::string r = std::to_string(round);
    execl(LOG_CRASH_HELPER, LOG_CRASH_HELPER, dir.c_str(), r.c_str(), nullptr);
    _exit(127);
  }
  close(fds[1]);
  fcntl(fds[0], F_SETFL, O_NONBLOCK);
  std::string out;
  char buf[65536];
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(run_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    ssize_t n = read(fds[0], buf, sizeof(buf));
    if (n > 0) {
      out.append(buf, n);
    } else if (n == 0) {
      break;  // the helper died on its own
    } else {
      usleep(1000);
    }
  }
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  fcntl(fds[0], F_SETFL, 0);
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof(buf))) > 0) out.append(buf, n);
  close(fds[0]);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "helper exited early with status " << status << "; output tail: "
      << out.substr(out.size() > 500 ? out.size() - 500 : 0);
  return out;
}

TEST(LogCrashTest, AcknowledgedEntriesSurviveSigkill) {
  test::TempDir tmp("log-crash");
  const std::string& dir = tmp.path();
  std::mt19937 rng(std::random_device{}());
  std::map<uint64_t, std::string> acked;
  std::vector<Published> published;
  auto verifier = *NewNoteVerifier(crash::kOrigin, kNoteTypeEd25519,
                                   crash::Key().public_key());
  const NoteVerifier* vs[] = {verifier.get()};
  constexpr int kRounds = 20;
  for (int round = 0; round < kRounds; ++round) {
    const int run_ms = 150 + static_cast<int>(rng() % 450);
    const std::string out = RunAndKill(dir, round, run_ms);
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
        Published p{n, {}};
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
    for (const Published& p : published) {
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
