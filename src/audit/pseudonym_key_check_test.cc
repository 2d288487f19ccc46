#include "audit/pseudonym_key_check.h"

#include <string>
#include <vector>

#include "entry/pseudonym_key_entry.h"
#include "gtest/gtest.h"

namespace clover::audit {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'795'000'000);

// An event as the node writes it, read back.
entry::PseudonymKeyEvent Event(const std::string& event, uint32_t key,
                               uint32_t supersedes, absl::Time overlap_end) {
  entry::PseudonymKeyEvent e;
  e.time = kT0;
  e.node = "ie-dub-1";
  e.region = "eu";
  e.event = event;
  e.key = entry::PseudonymKeyId(key);
  if (supersedes != 0) e.supersedes = entry::PseudonymKeyId(supersedes);
  e.overlap_end = overlap_end;
  auto parsed = entry::ParsePseudonymKey(entry::PseudonymKeyJson(e));
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  return *parsed;
}

// Rotation v1 -> v2 and v2 -> v3 as a node logs them.
std::vector<entry::PseudonymKeyEvent> History() {
  const absl::Time end1 = kT0 + absl::Hours(24);
  const absl::Time end2 = kT0 + absl::Hours(48);
  return {Event("rotate", 2, 1, end1), Event("retire", 1, 0, end1),
          Event("rotate", 3, 2, end2), Event("retire", 2, 0, end2)};
}

std::vector<Finding> Check(const std::vector<entry::PseudonymKeyEvent>& es) {
  PseudonymKeyCheck check;
  std::vector<Finding> out;
  for (size_t i = 0; i < es.size(); ++i) check.Observe("log", i, es[i], &out);
  return out;
}

TEST(PseudonymKeyCheckTest, AnnouncedHistoryRaisesNothingEvenRepeated) {
  std::vector<entry::PseudonymKeyEvent> es = History();
  EXPECT_TRUE(Check(es).empty());
  // Another node of the region, or a retry, announcing the same again.
  std::vector<entry::PseudonymKeyEvent> twice = es;
  twice.insert(twice.end(), es.begin(), es.end());
  EXPECT_TRUE(Check(twice).empty());
}

TEST(PseudonymKeyCheckTest, BrokenHistoriesAreFindings) {
  const absl::Time end = kT0 + absl::Hours(24);
  // A version skipped.
  auto skipped = Check({Event("rotate", 3, 1, end)});
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_EQ(skipped[0].detector, kDetectorPseudonymKey);
  // A retirement no rotation announced.
  EXPECT_EQ(Check({Event("retire", 1, 0, end)}).size(), 1u);
  // A retirement later than the overlap its rotation announced.
  EXPECT_EQ(Check({Event("rotate", 2, 1, end),
                   Event("retire", 1, 0, end + absl::Hours(1))})
                .size(),
            1u);
  // Two rotations to v2 that disagree.
  EXPECT_EQ(Check({Event("rotate", 2, 1, end),
                   Event("rotate", 2, 1, end + absl::Hours(1))})
                .size(),
            1u);
}

TEST(PseudonymKeyEntryTest, MalformedEntriesAreRefused) {
  entry::PseudonymKeyEvent e = Event("rotate", 2, 1, kT0);
  std::string json = entry::PseudonymKeyJson(e);
  EXPECT_NE(json.find("\"key\":\"v2\""), std::string::npos) << json;
  e.event = "retire";  // a retirement names no predecessor
  EXPECT_FALSE(entry::ParsePseudonymKey(entry::PseudonymKeyJson(e)).ok());
  e.event = "rotate";
  e.key = "v0";
  EXPECT_FALSE(entry::ParsePseudonymKey(entry::PseudonymKeyJson(e)).ok());
  e.key = "2";
  EXPECT_FALSE(entry::ParsePseudonymKey(entry::PseudonymKeyJson(e)).ok());
  EXPECT_FALSE(entry::ParsePseudonymKey("[]").ok());
}

}  // namespace
}  // namespace clover::audit
