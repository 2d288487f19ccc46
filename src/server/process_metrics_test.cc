#include "server/process_metrics.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace clover::server {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

TEST(ProcessMetricsTest, ParsesProcStatWithAnAwkwardCommand) {
  // Fields 14/15 utime/stime (ticks), 22 starttime, 23 vsize, 24 rss (pages);
  // the command holds ") " itself.
  const std::string stat =
      "4242 (clo) ver x) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 "
      "0 7 0 12345 104857600 300 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 "
      "0 17 1 0 0 0 0 0";
  std::optional<ProcessStat> s = ParseProcStat(stat, 100, 4096);
  ASSERT_TRUE(s.has_value());
  EXPECT_DOUBLE_EQ(s->cpu_seconds, 3.0);
  EXPECT_DOUBLE_EQ(s->start_time_seconds, 123.45);
  EXPECT_DOUBLE_EQ(s->virtual_bytes, 104857600);
  EXPECT_DOUBLE_EQ(s->resident_bytes, 300 * 4096.0);
  EXPECT_FALSE(ParseProcStat("4242 (clover", 100, 4096).has_value());
  EXPECT_FALSE(ParseProcStat("4242 (clover) S 1 2", 100, 4096).has_value());
  EXPECT_FALSE(ParseProcStat(stat, 0, 4096).has_value());
}

TEST(ProcessMetricsTest, RendersTheStandardProcessMetricsAndBuildInfo) {
  const std::string text = RenderProcessMetrics();
  for (const char* name :
       {"process_cpu_seconds_total", "process_resident_memory_bytes",
        "process_virtual_memory_bytes", "process_open_fds", "process_max_fds",
        "process_start_time_seconds"}) {
    EXPECT_THAT(text, HasSubstr(std::string("\n") + name + " "))
        << name << " in\n"
        << text;
  }
  EXPECT_THAT(text, HasSubstr("# TYPE process_cpu_seconds_total counter\n"));
  EXPECT_THAT(text, HasSubstr(std::string("clover_build_info{version=\"") +
                              CLOVER_VERSION + "\",commit=\""));
  EXPECT_FALSE(BuildCommit().empty());
  // The start time is a Unix time in seconds, written in full.
  EXPECT_THAT(text, MatchesRegex("(.|\n)*\nprocess_start_time_seconds "
                                 "1[0-9]{9}(\\.[0-9]+)?\n(.|\n)*"));
}

}  // namespace
}  // namespace clover::server
