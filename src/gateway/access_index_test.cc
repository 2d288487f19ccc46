#include "gateway/access_index.h"

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/test_temp_dir.h"
#include "gateway/regional_access_index.h"
#include "gateway/state_store.h"
#include "gtest/gtest.h"
#include "kv/kv_store.h"
#include "log/tile.h"

namespace clover::gateway {
namespace {

// An in-memory log that serves entry bundles and counts how often they are
// read; the hash-tree methods are not used by the index.
class FakeLog : public log::LogReader {
 public:
  void Add(std::string entry) { entries_.push_back(std::move(entry)); }
  uint64_t Size() const override { return entries_.size(); }
  std::string SignedCheckpoint() const override { return ""; }
  absl::StatusOr<std::string> ReadTile(int, uint64_t, int) const override {
    return absl::UnimplementedError("tiles");
  }
  absl::StatusOr<std::string> ReadEntryBundle(uint64_t index,
                                              int width) const override {
    ++bundle_reads;
    std::string bundle;
    for (int i = 0; i < width; ++i) {
      absl::Status s =
          log::AppendToBundle(bundle, entries_[index * log::kTileWidth + i]);
      if (!s.ok()) return s;
    }
    return bundle;
  }
  absl::StatusOr<std::string> ReadEntry(uint64_t index) const override {
    return entries_.at(index);
  }
  absl::StatusOr<std::vector<log::Hash>> InclusionProof(
      uint64_t, uint64_t) const override {
    return absl::UnimplementedError("proofs");
  }
  absl::StatusOr<std::vector<log::Hash>> ConsistencyProof(
      uint64_t, uint64_t) const override {
    return absl::UnimplementedError("proofs");
  }
  mutable int bundle_reads = 0;

 private:
  std::vector<std::string> entries_;
};

std::string Decision(const std::string& subject) {
  return absl::StrCat(R"({"action":"read","principal":{"id":"p"},"subject":")",
                      subject, R"(","type":"decision"})");
}

class AccessIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = StateStore::Open(dir_.string());
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }
  test::TempDir tmp_{"access-index"};  // outlives the store
  std::filesystem::path dir_ = tmp_.path();
  std::unique_ptr<StateStore> store_;
  FakeLog log_;
};

TEST_F(AccessIndexTest, NotedEntriesAreNotReadBack) {
  AccessIndex index(log_, *store_);
  // 300 entries across two bundles, every one noted as the gateway does.
  for (uint64_t i = 0; i < 300; ++i) {
    std::string subject = i % 3 == 0 ? "" : absl::StrCat("s", i % 7);
    log_.Add(subject.empty() ? R"({"type":"decision"})" : Decision(subject));
    index.Note(i, subject);
  }
  ASSERT_TRUE(index.CatchUp().ok());
  EXPECT_EQ(log_.bundle_reads, 0);
  auto s1 = index.EntriesOf("s1");
  ASSERT_TRUE(s1.ok());
  std::vector<uint64_t> want;
  for (uint64_t i = 0; i < 300; ++i)
    if (i % 3 != 0 && i % 7 == 1) want.push_back(i);
  EXPECT_EQ(*s1, want);
}

TEST_F(AccessIndexTest, UnnotedEntriesAreReadFromTheLog) {
  AccessIndex index(log_, *store_);
  log_.Add(Decision("ann"));  // noted
  index.Note(0, "ann");
  // An approval, which names several subjects, and another writer's
  // decision: nobody notes them.
  log_.Add(R"({"subjects":["bea","ann"],"type":"approval"})");
  log_.Add(Decision("bea"));
  log_.Add(Decision("ann"));  // noted
  index.Note(3, "ann");
  ASSERT_TRUE(index.CatchUp().ok());
  EXPECT_EQ(log_.bundle_reads, 1);
  EXPECT_EQ(*index.EntriesOf("ann"), (std::vector<uint64_t>{0, 1, 3}));
  EXPECT_EQ(*index.EntriesOf("bea"), (std::vector<uint64_t>{1, 2}));
  // A note that arrives after its entry was read back is dropped, and a
  // later catch-up starting mid-bundle reads only what is new.
  index.Note(2, "bea");
  log_.Add(Decision("cy"));
  index.Note(4, "cy");
  ASSERT_TRUE(index.CatchUp().ok());
  EXPECT_EQ(log_.bundle_reads, 1);
  EXPECT_EQ(*index.EntriesOf("bea"), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(*index.EntriesOf("cy"), (std::vector<uint64_t>{4}));
}

TEST_F(AccessIndexTest, ARestartedIndexResumesFromTheLog) {
  {
    AccessIndex index(log_, *store_);
    log_.Add(Decision("ann"));
    index.Note(0, "ann");
    ASSERT_TRUE(index.CatchUp().ok());
    // Appended (and noted) but not yet indexed when the node stops: the
    // notes die with the process.
    log_.Add(Decision("bea"));
    index.Note(1, "bea");
  }
  AccessIndex restarted(log_, *store_);
  EXPECT_EQ(*restarted.EntriesOf("bea"), (std::vector<uint64_t>{1}));
  EXPECT_EQ(*restarted.EntriesOf("ann"), (std::vector<uint64_t>{0}));
  EXPECT_EQ(log_.bundle_reads, 1);
}

// Two nodes of a region, each indexing its own log into the region's store:
// each resumes from its own marker after a restart, and a report's read of
// the store finds both nodes' entries, each under its own DC.
TEST_F(AccessIndexTest, RegionalIndexesAreEachNodesOwnAndResume) {
  auto kv = kv::KvStore::Open(tmp_.Sub("region"));
  ASSERT_TRUE(kv.ok()) << kv.status();
  RegionalAccessIndexStore dublin_store(**kv, "eu", "ie-dub-1");
  RegionalAccessIndexStore hamar_store(**kv, "eu", "no-ham-1");
  FakeLog hamar_log;
  {
    AccessIndex dublin(log_, dublin_store);
    AccessIndex hamar(hamar_log, hamar_store);
    log_.Add(Decision("ann"));
    dublin.Note(0, "ann");
    hamar_log.Add(Decision("bea"));
    hamar_log.Add(Decision("ann"));
    ASSERT_TRUE(dublin.CatchUp().ok());
    ASSERT_TRUE(hamar.CatchUp().ok());
    log_.Add(Decision("ann"));  // not indexed before the restart
  }
  EXPECT_EQ(*dublin_store.IndexedUpTo(), 1u);
  EXPECT_EQ(*hamar_store.IndexedUpTo(), 2u);
  AccessIndex restarted(log_, dublin_store);
  EXPECT_EQ(*restarted.EntriesOf("ann"), (std::vector<uint64_t>{0, 1}));
  EXPECT_EQ(*dublin_store.IndexedUpTo(), 2u);
  auto all = hamar_store.AllAccessesOf("ann");
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(*all, (std::map<std::string, std::vector<uint64_t>>{
                      {"ie-dub-1", {0, 1}}, {"no-ham-1", {1}}}));
}

}  // namespace
}  // namespace clover::gateway
