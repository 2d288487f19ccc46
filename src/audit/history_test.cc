// History stays verified: a log that later serves a verified bundle or hash
// tile differently raises tampered_history within the re-verification budget.
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "audit/follower.h"
#include "audit/test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace clover::audit {
namespace {

using testing::FakeLog;
using ::testing::HasSubstr;

std::string Hex(const log::Hash& h) {
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(h.data()), h.size()));
}

class HistoryTest : public ::testing::Test {
 protected:
  // 1,000 entries: bundles 0-2 complete, bundle 3 partial (232 entries).
  void SetUp() override {
    kv_ = *kv::KvStore::Open(dir_.Sub("db"));
    for (int i = 0; i < 1000; ++i) {
      log_.Append(absl::StrCat("{\"principal\":\"p", i, "\"}"));
    }
    auto f = LogFollower::Open({log_.origin(), "mem://", {log_.key().verifier}},
                               log_.Fetcher(), kv_.get(), nullptr);
    ASSERT_TRUE(f.ok()) << f.status();
    follower_ = *std::move(f);
    auto r = follower_->Poll([](uint64_t, const std::vector<std::string>&,
                                kv::KvBatch&) { return absl::OkStatus(); });
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_TRUE(r->findings.empty());
    ASSERT_EQ(follower_->size(), 1000u);
  }

  // Runs history checks of `per_call` bundles until one finds something, at
  // most `max_calls` times; returns the finding's call number (1-based) or 0.
  int CheckUntilFound(int per_call, int max_calls, Finding* found) {
    for (int call = 1; call <= max_calls; ++call) {
      LogFollower::HistoryCheck h = follower_->CheckHistory(per_call);
      EXPECT_EQ(h.bundles_checked, static_cast<uint64_t>(per_call))
          << "call " << call;
      if (!h.findings.empty()) {
        *found = h.findings[0];
        return call;
      }
    }
    return 0;
  }

  testing::TempDir dir_;
  std::unique_ptr<kv::KvStore> kv_;
  FakeLog log_{"log.test/eu"};
  std::unique_ptr<LogFollower> follower_;
};

TEST_F(HistoryTest, HonestLogRaisesNothingAndEveryBundleIsChecked) {
  const uint64_t before = log_.fetches();
  for (int call = 0; call < 8; ++call) {
    LogFollower::HistoryCheck h = follower_->CheckHistory(1);
    EXPECT_EQ(h.bundles_checked, 1u);
    EXPECT_EQ(h.unavailable, 0u);
    EXPECT_TRUE(h.findings.empty());
  }
  // Each check is one bundle plus its level-0 and level-1 tiles.
  EXPECT_EQ(log_.fetches() - before, 8u * 3u);
  EXPECT_TRUE(follower_->CheckHistory(0).findings.empty());
}

// The review's attack: a principal id changed inside a complete bundle the
// auditor verified long ago. With one bundle per poll and 4 bundles in the
// tree, every bundle is re-checked within 2 * 4 polls.
TEST_F(HistoryTest, RewrittenCompleteBundleIsTamperedHistoryWithinBudget) {
  const std::string original = log_.entries()[300];
  log_.TamperBundle(300, "{\"principal\":\"p999\"}");
  Finding f;
  const int call = CheckUntilFound(1, 8, &f);
  ASSERT_GT(call, 0) << "not found within the budget";
  EXPECT_EQ(f.detector, kDetectorTamperedHistory);
  EXPECT_EQ(f.severity, Severity::kCritical);
  EXPECT_THAT(f.summary, HasSubstr("entry 300"));
  ASSERT_EQ(f.evidence.size(), 1u);
  const Evidence& e = f.evidence[0];
  EXPECT_EQ(e.index, 300u);
  // Both versions: the leaf hash verified and the one now served.
  EXPECT_THAT(e.note, HasSubstr(Hex(log::LeafHash(original))));
  EXPECT_THAT(e.note,
              HasSubstr(Hex(log::LeafHash("{\"principal\":\"p999\"}"))));
  // Proven against the verified checkpoint; no entry bytes in the incident.
  EXPECT_FALSE(e.proof.empty());
  EXPECT_EQ(e.checkpoints.size(), 1u);
  EXPECT_TRUE(e.entry.empty());
  EXPECT_THAT(f.key, HasSubstr("entry@300"));
}

TEST_F(HistoryTest, RewrittenHashTileIsTamperedHistory) {
  log_.TamperTileHash(1, 2, std::string(log::kHashSize, 'x'));
  Finding f;
  // Every check reads the level-1 tile: the first one finds it.
  ASSERT_EQ(CheckUntilFound(1, 1, &f), 1);
  EXPECT_EQ(f.detector, kDetectorTamperedHistory);
  EXPECT_THAT(f.summary, HasSubstr("tile/1/000.p/3"));
  EXPECT_THAT(f.evidence[0].note,
              HasSubstr(Hex(*follower_->tree().Subtree(8, 2))));
}

// A node that refuses (500) a bundle it found corrupted: counted, not an
// incident (a refusal cannot be told from an outage; the node logs it).
TEST_F(HistoryTest, RefusedBundleIsCountedNotAnIncident) {
  for (uint64_t b = 0; b < 4; ++b) log_.RefuseBundle(b);
  uint64_t unavailable = 0;
  for (int call = 0; call < 4; ++call) {
    LogFollower::HistoryCheck h = follower_->CheckHistory(2);
    EXPECT_TRUE(h.findings.empty());
    EXPECT_EQ(h.bundles_checked, 1u);  // stops at the first refusal
    unavailable += h.unavailable;
    EXPECT_THAT(h.last_error, HasSubstr("HTTP 500"));
  }
  EXPECT_EQ(unavailable, 4u);
}

}  // namespace
}  // namespace clover::audit
