#include "gateway/state_store.h"

#include <filesystem>

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
