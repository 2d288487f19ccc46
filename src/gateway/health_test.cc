#include "gateway/health.h"

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace clover::gateway {
namespace {

TEST(FailureWindowTest, HoldsAFailureUntilASuccessOrTheHoldTimePasses) {
  FailureWindow w(absl::Seconds(10));
  const absl::Time now = absl::Now();
  EXPECT_FALSE(w.Current(now).has_value());
  w.Failed({"log_unavailable", "cannot append"},
           absl::UnavailableError("disk full"));
  std::optional<HealthProblem> p = w.Current(absl::Now());
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->reason, "log_unavailable");
  EXPECT_EQ(p->message, "cannot append");
  // Nobody retries a node out of rotation: the failure expires by itself.
  EXPECT_FALSE(w.Current(absl::Now() + absl::Seconds(11)).has_value());
  w.Succeeded();
  EXPECT_FALSE(w.Current(absl::Now()).has_value());
  w.Failed({"key_unavailable", "x"}, absl::UnavailableError("y"));
  EXPECT_TRUE(w.Current(absl::Now()).has_value());
  w.Succeeded();
  EXPECT_FALSE(w.Current(absl::Now()).has_value());
}

}  // namespace
}  // namespace clover::gateway
