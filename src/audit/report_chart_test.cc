// The HTML report's flow chart: every effect labelled inside the drawing (its
// legend was clipped: "approval" showed as "ap" and "deny" was missing).
#include <regex>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/time/time.h"
#include "audit/flows.h"
#include "audit/report.h"
#include "gtest/gtest.h"
#include "policy/effect.h"

namespace clover::audit {
namespace {

// Asserts each effect's legend label starts and ends (at most 7.5 px per
// character at font-size 12) inside the SVG's width and height.
void ExpectEveryEffectLabelled(const std::string& svg) {
  std::smatch m;
  ASSERT_TRUE(std::regex_search(
      svg, m, std::regex("<svg[^>]* width=\"([0-9]+)\" height=\"([0-9]+)\"")));
  const int width = std::stoi(m[1]), height = std::stoi(m[2]);
  for (int e = 0; e < policy::kEffectCount; ++e) {
    const std::string name(policy::ToString(static_cast<policy::Effect>(e)));
    std::smatch t;
    ASSERT_TRUE(std::regex_search(
        svg, t,
        std::regex("<text x=\"([0-9]+)\" y=\"([0-9]+)\" font-size=\"12\">" +
                   name + "</text>")))
        << name << " has no legend label in " << svg;
    const int x = std::stoi(t[1]), y = std::stoi(t[2]);
    EXPECT_LE(x + static_cast<int>(name.size() * 7.5), width) << name;
    EXPECT_LE(y, height) << name;
    EXPECT_GE(x, 0) << name;
  }
}

TEST(ReportChartTest, EveryEffectIsLabelledInsideTheChart) {
  FlowStats none;
  const absl::Time t = absl::FromUnixSeconds(1795000000);
  ExpectEveryEffectLabelled(FlowChartSvg(none, t - absl::Hours(1), t));
}

}  // namespace
}  // namespace clover::audit
