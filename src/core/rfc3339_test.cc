#include "core/rfc3339.h"

#include "gtest/gtest.h"

namespace clover {
namespace {

TEST(Rfc3339Test, ParsesZuluAndOffsets) {
  EXPECT_EQ(*ParseRfc3339("2026-11-28T23:50:00Z"),
            absl::FromUnixSeconds(1795909800));
  EXPECT_EQ(*ParseRfc3339("2026-11-29T00:50:00+01:00"),
            absl::FromUnixSeconds(1795909800));
  EXPECT_EQ(*ParseRfc3339("2026-11-28T23:50:00.5Z"),
            absl::FromUnixMillis(1795909800500));
}

TEST(Rfc3339Test, RefusesWhatIsNotATime) {
  EXPECT_FALSE(ParseRfc3339("2026-02-30T00:00:00Z").ok());
  EXPECT_FALSE(ParseRfc3339("2026-11-28T23:50:00.Z").ok());
  EXPECT_FALSE(ParseRfc3339("yesterday").ok());
  EXPECT_FALSE(ParseRfc3339("").ok());
}

// The one formatter of log entries' times, approvals' included: the same
// bytes as absl's "%E3S" form, also across a second boundary and before 1970.
TEST(Rfc3339Test, FormatsMillisecondsInUtc) {
  EXPECT_EQ(FormatRfc3339Millis(absl::FromUnixMillis(1795909800123)),
            "2026-11-28T23:50:00.123Z");
  for (int64_t ms : {int64_t{0}, int64_t{999}, int64_t{1000}, int64_t{-1},
                     int64_t{1795909800999}, int64_t{1795909801000}}) {
    const absl::Time t = absl::FromUnixMillis(ms);
    EXPECT_EQ(FormatRfc3339Millis(t),
              absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone()))
        << ms;
    EXPECT_EQ(*ParseRfc3339(FormatRfc3339Millis(t)), t) << ms;
  }
  EXPECT_EQ(FormatRfc3339Millis(absl::InfiniteFuture()), "infinite-future");
}

}  // namespace
}  // namespace clover
