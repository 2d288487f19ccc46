// Test helpers for the auditor's unit tests.
#ifndef CLOVER_AUDIT_TEST_UTIL_H_
#define CLOVER_AUDIT_TEST_UTIL_H_

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "audit/fetcher.h"
#include "core/test_temp_dir.h"
#include "crypto/ed25519.h"
#include "gtest/gtest.h"
#include "log/checkpoint.h"
#include "log/merkle.h"
#include "log/note.h"
#include "log/tile.h"

namespace clover::audit::testing {

using TempDir = ::clover::test::TempDir;

// A note key pair for tests: signer and verifier key strings.
struct TestKey {
  std::string signer;
  std::string verifier;
};
inline TestKey MakeKey(const std::string& name,
                       uint8_t type = log::kNoteTypeEd25519) {
  auto key = crypto::Ed25519PrivateKey::Generate();
  EXPECT_TRUE(key.ok());
  TestKey k;
  k.signer = log::FormatSignerKey(name, type, *key);
  k.verifier = *log::VerifierKeyFromSignerKey(k.signer);
  return k;
}

// An in-memory tiled log serving checkpoint, entry bundles and hash tiles the
// way C2SP tlog-tiles lays them out, with hooks to misbehave.
class FakeLog {
 public:
  FakeLog(std::string origin, TestKey key)
      : origin_(std::move(origin)), key_(std::move(key)) {
    signer_ = *log::ParseSignerKey(key_.signer);
  }
  explicit FakeLog(std::string origin) : FakeLog(origin, MakeKey(origin)) {}

  void Append(std::string entry) {
    entries_.push_back(std::move(entry));
    published_ = entries_.size();
  }
  // Publishes a checkpoint for the first `size` entries (to shrink or stall the
  // log).
  void Publish(uint64_t size) { published_ = size; }
  // Serves `replacement` instead of entry `index` in bundles (hash tiles stay
  // honest).
  void TamperBundle(uint64_t index, std::string replacement) {
    tampered_[index] = replacement;
  }

  // Answers fetches of entry bundle `bundle` (any width) with an error, as a
  // node that found it corrupted answers 500.
  void RefuseBundle(uint64_t bundle) { refused_.insert(bundle); }
  void AllowBundle(uint64_t bundle) { refused_.erase(bundle); }
  // Serves `hash` (32 bytes) as hash `pos` of hash-tile level `level`.
  void TamperTileHash(int level, uint64_t pos, std::string hash) {
    tampered_tiles_[{level, pos}] = std::move(hash);
  }

  std::string SignedCheckpoint(uint64_t size) const {
    std::vector<log::Hash> leaves;
    for (uint64_t i = 0; i < size; ++i)
      leaves.push_back(log::LeafHash(entries_[i]));
    log::Checkpoint cp{
        origin_,
        size,
        size == 0 ? log::EmptyRootHash() : log::RootFromLeafHashes(leaves),
        {}};
    const log::NoteSigner* signers[] = {signer_.get()};
    return *log::SignNote(log::FormatCheckpoint(cp), signers);
  }

  absl::StatusOr<std::string> Fetch(absl::string_view path) const {
    if (path == "checkpoint") return SignedCheckpoint(published_);
    absl::StatusOr<log::TilePath> p = log::ParseTilePath(path);
    if (!p.ok()) return absl::NotFoundError(std::string(path));
    if (p->entries && refused_.count(p->index)) {
      return absl::UnavailableError("HTTP 500");
    }
    // Leaves under one hash of this tile's level.
    const uint64_t span = uint64_t{1} << (log::kTileHeight * p->level);
    const uint64_t base = p->index * log::kTileWidth;
    if ((base + p->width) * span > published_)
      return absl::NotFoundError(std::string(path));
    std::string out;
    for (uint64_t i = base; i < base + p->width; ++i) {
      if (p->entries) {
        auto t = tampered_.find(i);
        (void)log::AppendToBundle(
            out, t != tampered_.end() ? t->second : entries_[i]);
      } else if (auto t = tampered_tiles_.find({p->level, i});
                 t != tampered_tiles_.end()) {
        out.append(t->second);
      } else {
        std::vector<log::Hash> leaves;
        for (uint64_t j = i * span; j < (i + 1) * span; ++j)
          leaves.push_back(log::LeafHash(entries_[j]));
        log::Hash h = log::RootFromLeafHashes(leaves);
        out.append(reinterpret_cast<const char*>(h.data()), h.size());
      }
    }
    ++fetches_;
    return out;
  }
  FetchFn Fetcher() const {
    return [this](absl::string_view path) { return Fetch(path); };
  }

  const std::string& origin() const { return origin_; }
  const TestKey& key() const { return key_; }
  const std::vector<std::string>& entries() const { return entries_; }
  uint64_t fetches() const { return fetches_; }

 private:
  std::string origin_;
  TestKey key_;
  std::unique_ptr<log::NoteSigner> signer_;
  std::vector<std::string> entries_;
  uint64_t published_ = 0;
  std::map<uint64_t, std::string> tampered_;
  std::set<uint64_t> refused_;
  std::map<std::pair<int, uint64_t>, std::string> tampered_tiles_;
  mutable std::atomic<uint64_t> fetches_{0};
};

}  // namespace clover::audit::testing

#endif  // CLOVER_AUDIT_TEST_UTIL_H_
