#include "gateway/regional_access_index.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/test_temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace clover::gateway {
namespace {

using Accesses = std::vector<std::pair<std::string, uint64_t>>;
using ::testing::ElementsAre;

// The region's store is a KvStore; the embedded one behaves the same for
// these keys (the PostgreSQL one is exercised by tests/regional_access_test).
class RegionalAccessIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto kv = kv::KvStore::Open(tmp_.Sub("kv"));
    ASSERT_TRUE(kv.ok()) << kv.status();
    kv_ = *std::move(kv);
  }
  test::TempDir tmp_{"regional-index"};
  std::unique_ptr<kv::KvStore> kv_;
};

TEST_F(RegionalAccessIndexTest, EachNodeIndexesUnderItsDcAndEveryNodeReadsAll) {
  RegionalAccessIndexStore dublin(*kv_, "eu", "ie-dub-1");
  RegionalAccessIndexStore hamar(*kv_, "eu", "no-ham-1");
  RegionalAccessIndexStore other_region(*kv_, "us", "ie-dub-1");
  ASSERT_TRUE(dublin
                  .IndexBatch(Accesses{{"alice", 3},
                                       {"bob", 4},
                                       {"alice", 7},
                                       {"alice", 9},
                                       {"alicex", 10}},
                              11)
                  .ok());
  ASSERT_TRUE(hamar.IndexBatch(Accesses{{"alice", 0}, {"alice", 2}}, 5).ok());
  ASSERT_TRUE(other_region.IndexBatch(Accesses{{"alice", 1}}, 2).ok());
  // Again after a crash (the same accesses re-derived from the log): still
  // each index once.
  ASSERT_TRUE(hamar.IndexBatch(Accesses{{"alice", 2}, {"alice", 6}}, 7).ok());

  EXPECT_EQ(*dublin.IndexedUpTo(), 11u);
  EXPECT_EQ(*hamar.IndexedUpTo(), 7u);
  EXPECT_EQ(*dublin.IndexedUpToOf("no-ham-1"), 7u);
  EXPECT_EQ(*dublin.IndexedUpToOf("us-tx-1"), 0u);
  EXPECT_THAT(*dublin.AccessesOf("alice"), ElementsAre(3, 7, 9));
  EXPECT_THAT(*hamar.AccessesOf("alice"), ElementsAre(0, 2, 6));
  auto all = hamar.AllAccessesOf("alice");
  ASSERT_TRUE(all.ok()) << all.status();
  // "alicex" is another subject, "us" another region.
  EXPECT_EQ(*all, (std::map<std::string, std::vector<uint64_t>>{
                      {"ie-dub-1", {3, 7, 9}}, {"no-ham-1", {0, 2, 6}}}));
  EXPECT_TRUE(dublin.AllAccessesOf("carol")->empty());
}

TEST_F(RegionalAccessIndexTest, MalformedStoredEntryIsDataLoss) {
  RegionalAccessIndexStore dublin(*kv_, "eu", "ie-dub-1");
  ASSERT_TRUE(dublin.IndexBatch(Accesses{{"alice", 3}}, 4).ok());
  std::string key = "access/eu";
  key.push_back('\0');
  key += "alice";
  key.push_back('\0');
  key += "ie-dub-1";
  key.push_back('\0');
  key += kv::EncodeKeyU64(3);
  ASSERT_TRUE(kv_->Put(key, std::string(1, '\0')).ok());  // a delta of 0
  EXPECT_EQ(dublin.AllAccessesOf("alice").status().code(),
            absl::StatusCode::kDataLoss);
  std::string truncated = "access/eu";
  truncated.push_back('\0');
  truncated += "alice";
  truncated.push_back('\0');
  truncated += "x";
  ASSERT_TRUE(kv_->Put(truncated, "").ok());
  EXPECT_EQ(dublin.AllAccessesOf("alice").status().code(),
            absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace clover::gateway
