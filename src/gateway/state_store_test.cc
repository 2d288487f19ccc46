#include "gateway/state_store.h"

#include <algorithm>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/test_temp_dir.h"
#include "gtest/gtest.h"

namespace clover::gateway {
namespace {

class StateStoreTest : public ::testing::Test {
 protected:
  test::TempDir tmp_{"state-store"};
  std::filesystem::path dir_ = tmp_.path();
};

TEST_F(StateStoreTest, BudgetIsPerDestinationPurposeAndDayAndSurvivesReopen) {
  absl::Time day1 = absl::FromUnixSeconds(1795910400);  // 2026-11-29 00:00 UTC
  {
    auto store = StateStore::Open(dir_.string());
    ASSERT_TRUE(store.ok()) << store.status();
    auto left = (*store)->SpendEpsilon("us", "analytics", 4, 10, day1);
    ASSERT_TRUE(left.ok());
    EXPECT_DOUBLE_EQ(*left, 6);
    EXPECT_TRUE((*store)->SpendEpsilon("us", "analytics", 6, 10, day1).ok());
    auto spent = (*store)->SpendEpsilon("us", "analytics", 0.5, 10, day1);
    EXPECT_EQ(spent.status().code(), absl::StatusCode::kResourceExhausted);
    EXPECT_TRUE((*store)->SpendEpsilon("eu", "analytics", 1, 10, day1).ok());
    EXPECT_TRUE(
        (*store)->SpendEpsilon("us", "recommendation", 1, 10, day1).ok());
    EXPECT_FALSE((*store)->SpendEpsilon("us", "analytics", -1, 10, day1).ok());
  }
  auto store = StateStore::Open(dir_.string());
  ASSERT_TRUE(store.ok());
  EXPECT_EQ(
      (*store)->SpendEpsilon("us", "analytics", 1, 10, day1).status().code(),
      absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(
      (*store)
          ->SpendEpsilon("us", "analytics", 1, 10, day1 + absl::Hours(24))
          .ok());
}

TEST_F(StateStoreTest, AccessIndex) {
  auto store = StateStore::Open(dir_.string());
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->IndexAccess("abc", 7).ok());
  ASSERT_TRUE((*store)->IndexAccess("abc", 3).ok());
  ASSERT_TRUE((*store)->IndexAccess("abcd", 5).ok());
  ASSERT_TRUE((*store)->IndexAccess("ab", 9).ok());
  EXPECT_EQ(*(*store)->AccessesOf("abc"), (std::vector<uint64_t>{3, 7}));
  EXPECT_EQ(*(*store)->AccessesOf("ab"), (std::vector<uint64_t>{9}));
  EXPECT_TRUE((*store)->AccessesOf("zzz")->empty());
  EXPECT_EQ(*(*store)->IndexedUpTo(), 0u);
  ASSERT_TRUE((*store)->SetIndexedUpTo(12).ok());
  EXPECT_EQ(*(*store)->IndexedUpTo(), 12u);
}

// A batch stores each subject's accesses under one key; reading gives every
// index once, in order, whatever mix of batches, single keys and batches
// written again (after a crash) stored them.
TEST_F(StateStoreTest, AccessIndexBatches) {
  auto store = StateStore::Open(dir_.string());
  ASSERT_TRUE(store.ok());
  std::vector<std::pair<std::string, uint64_t>> accesses;
  std::vector<uint64_t> want_a, want_b;
  for (uint64_t i = 0; i < 300; ++i) {
    // Gaps of every varint length up to three bytes.
    const uint64_t index = i * i * 37 + i;
    accesses.emplace_back(i % 3 == 0 ? "b" : "a", index);
    (i % 3 == 0 ? want_b : want_a).push_back(index);
  }
  accesses.emplace_back("a", want_a.front());  // a duplicate note
  ASSERT_TRUE((*store)->IndexBatch(accesses, 100).ok());
  EXPECT_EQ(*(*store)->AccessesOf("a"), want_a);
  EXPECT_EQ(*(*store)->AccessesOf("b"), want_b);
  EXPECT_EQ(*(*store)->IndexedUpTo(), 100u);
  // The tail indexed again from a different starting point, as after a
  // crash, plus a single key of the old format.
  std::vector<std::pair<std::string, uint64_t>> again(accesses.begin() + 150,
                                                      accesses.end() - 1);
  ASSERT_TRUE((*store)->IndexBatch(again, 100).ok());
  ASSERT_TRUE((*store)->IndexAccess("a", 5).ok());
  want_a.push_back(5);
  std::sort(want_a.begin(), want_a.end());
  EXPECT_EQ(*(*store)->AccessesOf("a"), want_a);
  EXPECT_EQ(*(*store)->AccessesOf("b"), want_b);
  EXPECT_TRUE((*store)->AccessesOf("c")->empty());
}

TEST(LaplaceNoiseTest, HasTheRightSpread) {
  // Mean |X| of Laplace(0, b) is b; with 20,000 samples the estimate is within
  // a few %.
  double sum_abs = 0, sum = 0;
  constexpr int kN = 20000;
  for (int i = 0; i < kN; ++i) {
    double x = LaplaceNoise(2.0);
    sum_abs += std::fabs(x);
    sum += x;
  }
  EXPECT_NEAR(sum_abs / kN, 2.0, 0.1);
  EXPECT_NEAR(sum / kN, 0.0, 0.1);
}

}  // namespace
}  // namespace clover::gateway
