#include "vault/read_batcher.h"

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace clover::vault {
namespace {

using Outcome = absl::StatusOr<std::optional<std::string>>;

// Collects the outcomes of reads, by key.
class Outcomes {
 public:
  StorageDriver::GetDone For(const std::string& key) {
    return [this, key](Outcome o) {
      absl::MutexLock lock(&mu_);
      got_.emplace_back(key, std::move(o));
    };
  }
  // Waits (bounded) until `n` reads were answered.
  bool WaitFor(size_t n) {
    absl::MutexLock lock(&mu_);
    want_ = n;
    return mu_.AwaitWithTimeout(absl::Condition(this, &Outcomes::Enough),
                                absl::Seconds(30));
  }
  std::vector<std::pair<std::string, Outcome>> Got() {
    absl::MutexLock lock(&mu_);
    return got_;
  }

 private:
  bool Enough() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return got_.size() >= want_;
  }
  absl::Mutex mu_;
  std::vector<std::pair<std::string, Outcome>> got_ ABSL_GUARDED_BY(mu_);
  size_t want_ ABSL_GUARDED_BY(mu_) = 0;
};

TEST(ReadBatcher, ReadsWaitingTogetherShareOneLookup) {
  absl::Notification first_started, release_first;
  std::atomic<int> lookups{0};
  std::vector<size_t> sizes;
  absl::Mutex sizes_mu;
  ReadBatcher batcher(
      [&](Table, const std::vector<std::string>& keys,
          absl::flat_hash_map<std::string, std::string>* found) {
        if (lookups.fetch_add(1) == 0) {
          first_started.Notify();
          release_first.WaitForNotification();
        }
        {
          absl::MutexLock lock(&sizes_mu);
          sizes.push_back(keys.size());
        }
        for (const std::string& k : keys) {
          if (k != "absent") (*found)[k] = absl::StrCat("value of ", k);
        }
        return absl::OkStatus();
      },
      /*max_keys=*/64, /*threads=*/1);
  Outcomes out;
  batcher.Read(Table::kSubjects, "k0", out.For("k0"));
  first_started.WaitForNotification();
  // While the only thread is busy, 20 reads queue up (one key twice, one
  // absent): the next lookup answers them all.
  for (int i = 1; i <= 18; ++i) {
    const std::string k = absl::StrCat("k", i);
    batcher.Read(Table::kSubjects, k, out.For(k));
  }
  batcher.Read(Table::kSubjects, "k1", out.For("k1"));
  batcher.Read(Table::kSubjects, "absent", out.For("absent"));
  release_first.Notify();
  ASSERT_TRUE(out.WaitFor(21));
  EXPECT_EQ(lookups.load(), 2);
  {
    absl::MutexLock lock(&sizes_mu);
    ASSERT_EQ(sizes.size(), 2u);
    EXPECT_EQ(sizes[1], 19u);  // k1..k18 and "absent", k1 once
  }
  for (const auto& [key, outcome] : out.Got()) {
    ASSERT_TRUE(outcome.ok()) << key;
    if (key == "absent") {
      EXPECT_FALSE(outcome->has_value());
    } else {
      ASSERT_TRUE(outcome->has_value()) << key;
      EXPECT_EQ(**outcome, absl::StrCat("value of ", key));
    }
  }
}

TEST(ReadBatcher, ALookupErrorFailsItsReadsOnlyAndBatchesStayWithinLimits) {
  std::atomic<int> calls{0};
  std::atomic<size_t> largest{0};
  ReadBatcher batcher(
      [&](Table table, const std::vector<std::string>& keys,
          absl::flat_hash_map<std::string, std::string>* found) {
        calls.fetch_add(1);
        size_t seen = largest.load();
        while (keys.size() > seen &&
               !largest.compare_exchange_weak(seen, keys.size())) {
        }
        if (table == Table::kTokens) return absl::UnavailableError("down");
        for (const std::string& k : keys) (*found)[k] = k;
        return absl::OkStatus();
      },
      /*max_keys=*/4, /*threads=*/2);
  Outcomes out;
  for (int i = 0; i < 40; ++i) {
    const std::string k = absl::StrCat("s", i);
    batcher.Read(i % 5 == 0 ? Table::kTokens : Table::kSubjects, k, out.For(k));
  }
  ASSERT_TRUE(out.WaitFor(40));
  EXPECT_LE(largest.load(), 4u);
  for (const auto& [key, outcome] : out.Got()) {
    const int i = std::stoi(key.substr(1));
    if (i % 5 == 0) {
      EXPECT_TRUE(absl::IsUnavailable(outcome.status())) << key;
    } else {
      ASSERT_TRUE(outcome.ok() && outcome->has_value()) << key;
      EXPECT_EQ(**outcome, key);
    }
  }
}

TEST(ReadBatcher, DestructionAnswersTheReadsStillQueued) {
  Outcomes out;
  absl::Notification started, release;
  {
    ReadBatcher batcher(
        [&](Table, const std::vector<std::string>& keys,
            absl::flat_hash_map<std::string, std::string>* found) {
          if (!started.HasBeenNotified()) {
            started.Notify();
            release.WaitForNotification();
          }
          for (const std::string& k : keys) (*found)[k] = k;
          return absl::OkStatus();
        },
        8, 1);
    batcher.Read(Table::kSubjects, "a", out.For("a"));
    started.WaitForNotification();
    batcher.Read(Table::kSubjects, "b", out.For("b"));
    batcher.Read(Table::kSubjects, "c", out.For("c"));
    release.Notify();
  }
  EXPECT_EQ(out.Got().size(), 3u);
}

// A region GET runs its request's work in its read's callback, on the
// batcher thread (gateway::Pipeline::WithFetchedRow), and a read that looks
// up a grant waits there: the other thread must keep answering reads.
TEST(ReadBatcher, ACallbackAtWorkDoesNotHoldUpTheOtherThreadsReads) {
  absl::Notification a_started, b_answered;
  std::atomic<bool> a_saw_b{false};
  Outcomes out;
  ReadBatcher batcher(
      [](Table, const std::vector<std::string>& keys,
         absl::flat_hash_map<std::string, std::string>* found) {
        for (const std::string& k : keys) (*found)[k] = k;
        return absl::OkStatus();
      },
      8, 2);
  StorageDriver::GetDone a_done = out.For("a");
  batcher.Read(Table::kSubjects, "a", [&, a_done](Outcome o) {
    a_started.Notify();
    a_saw_b = b_answered.WaitForNotificationWithTimeout(absl::Seconds(30));
    a_done(std::move(o));
  });
  a_started.WaitForNotification();
  StorageDriver::GetDone b_done = out.For("b");
  batcher.Read(Table::kSubjects, "b", [&, b_done](Outcome o) {
    b_done(std::move(o));
    b_answered.Notify();
  });
  ASSERT_TRUE(out.WaitFor(2));
  EXPECT_TRUE(a_saw_b);
}

}  // namespace
}  // namespace clover::vault
