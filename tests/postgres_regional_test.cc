// Regional state on the region's PostgreSQL database: the PostgreSQL KvStore
// (kv/postgres_kv_store.h), approvals shared by two nodes (two ApprovalStores,
// each with its own connection pool, as two nodes have), and one privacy
// budget spent concurrently through two nodes' StateStores.
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "approvals/approvals.h"
#include "core/clock.h"
#include "core/test_temp_dir.h"
#include "gateway/state_store.h"
#include "gtest/gtest.h"
#include "kv/kv_store.h"
#include "kv/postgres_kv_store.h"
#include "postgres_test_util.h"

namespace clover {
namespace {

std::unique_ptr<kv::KvStore> OpenKv(const std::string& table,
                                    int page_rows = 1000) {
  kv::PostgresKvOptions o;
  o.scan_page_rows = page_rows;
  auto kv = kv::OpenPostgresKvStore(pgtest::Dsn(), table, o);
  EXPECT_TRUE(kv.ok()) << kv.status();
  return kv.ok() ? *std::move(kv) : nullptr;
}

TEST(PostgresKvStoreTest, BatchesScansAndConditionalWrites) {
  CLOVER_REQUIRE_POSTGRES();
  EXPECT_TRUE(absl::IsInvalidArgument(
      kv::OpenPostgresKvStore(pgtest::Dsn(), "Bad\"name").status()));
  auto kv = OpenKv("kv_basics", /*page_rows=*/2);
  ASSERT_NE(kv, nullptr);
  kv::KvBatch b;
  for (const char* k : {"a/1", "a/2", "a/3", "a/4", "a/5", "b/1", "a"}) {
    b.Put(k, absl::StrCat("v", k));
  }
  b.Put(std::string("a/\0\xff", 4), "binary");
  ASSERT_TRUE(kv->Write(b).ok());
  EXPECT_EQ(*kv->Get("a/3"), "va/3");
  EXPECT_TRUE(absl::IsNotFound(kv->Get("zz").status()));
  // A prefix scan across pages (2 rows each), in byte order, from a start.
  std::vector<std::string> keys;
  ASSERT_TRUE(kv->Scan("a/", [&](absl::string_view k, absl::string_view) {
                  keys.emplace_back(k);
                  return true;
                }).ok());
  EXPECT_EQ(keys, (std::vector<std::string>{std::string("a/\0\xff", 4), "a/1",
                                            "a/2", "a/3", "a/4", "a/5"}));
  keys.clear();
  ASSERT_TRUE(
      kv->Scan("a/", "a/3", [&](absl::string_view k, absl::string_view) {
          keys.emplace_back(k);
          return keys.size() < 2;
        }).ok());
  EXPECT_EQ(keys, (std::vector<std::string>{"a/3", "a/4"}));
  // Prefixes without a successor: everything, and all-0xff keys.
  kv::KvBatch ff;
  ff.Put("\xff\xff", "1");
  ff.Put("\xff\xff\x01", "2");
  ASSERT_TRUE(kv->Write(ff).ok());
  size_t all = 0;
  ASSERT_TRUE(kv->Scan("", [&](absl::string_view, absl::string_view) {
                  ++all;
                  return true;
                }).ok());
  EXPECT_EQ(all, 10u);
  keys.clear();
  ASSERT_TRUE(kv->Scan("\xff\xff", [&](absl::string_view k, absl::string_view) {
                  keys.emplace_back(k);
                  return true;
                }).ok());
  EXPECT_EQ(keys.size(), 2u);

  // WriteIf: absent, then expected value; a failed condition writes nothing.
  kv::KvBatch c;
  c.Put("lock", "one");
  c.Delete("a/1");
  ASSERT_TRUE(kv->WriteIf("lock", std::nullopt, c).ok());
  EXPECT_TRUE(absl::IsNotFound(kv->Get("a/1").status()));
  kv::KvBatch d;
  d.Put("lock", "two");
  d.Put("a/9", "x");
  EXPECT_TRUE(absl::IsFailedPrecondition(kv->WriteIf("lock", std::nullopt, d)));
  EXPECT_TRUE(absl::IsFailedPrecondition(kv->WriteIf("lock", "nope", d)));
  EXPECT_TRUE(absl::IsNotFound(kv->Get("a/9").status()));
  ASSERT_TRUE(kv->WriteIf("lock", "one", d).ok());
  EXPECT_EQ(*kv->Get("lock"), "two");
}

// Many writers on two stores (two pools) race to increment one counter with
// WriteIf: no increment is lost, none is applied twice.
TEST(PostgresKvStoreTest, ConditionalWritesAreAtomicAcrossStores) {
  CLOVER_REQUIRE_POSTGRES();
  auto a = OpenKv("kv_counter");
  auto b = OpenKv("kv_counter");
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  constexpr int kThreads = 6, kEach = 20;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      kv::KvStore& kv = t % 2 == 0 ? *a : *b;
      for (int i = 0; i < kEach;) {
        auto cur = kv.Get("n");
        std::optional<std::string> expected;
        int n = 0;
        if (cur.ok()) {
          expected = *cur;
          n = std::stoi(*cur);
        }
        kv::KvBatch batch;
        batch.Put("n", std::to_string(n + 1));
        absl::Status s = kv.WriteIf("n", expected, batch);
        if (s.ok())
          ++i;
        else
          ASSERT_TRUE(absl::IsFailedPrecondition(s)) << s;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(*a->Get("n"), std::to_string(kThreads * kEach));
}

// A COMMIT whose wait for the synchronous standby is cancelled succeeds with
// only a WARNING: committed on the primary, on no standby. Neither a
// conditional nor a plain write may be acknowledged while no standby
// confirms (before the barrier both were), and a write in doubt that the
// store confirms once a standby is back is applied once: running the
// conditional write again would find its own write, answer "condition not
// met", and the budget's caller would re-read and spend a second time.
TEST(PostgresKvStoreTest,
     WriteWhoseStandbyWaitWasCancelledIsNotAckedNorDoubled) {
  CLOVER_REQUIRE_POSTGRES();
  kv::PostgresKvOptions o;
  o.retry = absl::Seconds(2);
  auto short_retry = kv::OpenPostgresKvStore(pgtest::Dsn(), "kv_syncwarn", o);
  ASSERT_TRUE(short_retry.ok()) << short_retry.status();
  kv::KvStore& kv = **short_retry;
  pgtest::StandbyNeverConfirms stalled;
  ASSERT_TRUE(stalled.Start().ok());
  kv::KvBatch first, plain;
  first.Put("lock", "one");
  plain.Put("other", "x");
  {
    pgtest::SyncWaitCanceller canceller;
    const absl::Time start = absl::Now();
    const absl::Status w = kv.WriteIf("lock", std::nullopt, first);
    EXPECT_TRUE(absl::IsUnavailable(w)) << w;
    const absl::Status p = kv.Write(plain);
    EXPECT_TRUE(absl::IsUnavailable(p)) << p;
    EXPECT_LT(absl::Now() - start, absl::Seconds(20)) << "not bounded";
    EXPECT_GE(canceller.cancelled(), 2);
  }
  // Both did commit on the primary (they were in doubt, not refused).
  EXPECT_EQ(kv.Get("lock").value_or("<absent>"), "one");
  EXPECT_EQ(kv.Get("other").value_or("<absent>"), "x");

  // A budget spend whose commit is in doubt until the standby is back.
  test::TempDir dir("budget-syncwarn");
  o.retry = absl::Seconds(30);
  auto long_retry = kv::OpenPostgresKvStore(pgtest::Dsn(), "kv_syncwarn", o);
  ASSERT_TRUE(long_retry.ok()) << long_retry.status();
  auto node = gateway::StateStore::Open(dir.Sub("n"), long_retry->get());
  ASSERT_TRUE(node.ok()) << node.status();
  const absl::Time now = absl::FromUnixSeconds(1800000000);
  absl::StatusOr<double> left = absl::UnknownError("not run");
  {
    auto canceller = std::make_unique<pgtest::SyncWaitCanceller>();
    std::thread spender([&] {
      left = (*node)->SpendEpsilon("org-1", "analytics", 1.0, 10.0, now);
    });
    const absl::Time give_up = absl::Now() + absl::Seconds(20);
    while (canceller->cancelled() == 0 && absl::Now() < give_up) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    EXPECT_GE(canceller->cancelled(), 1);
    canceller.reset();
    EXPECT_TRUE(stalled.Stop().ok());
    spender.join();
  }
  ASSERT_TRUE(left.ok()) << left.status();
  EXPECT_EQ(*left, 9.0);
  // Spent once: the next spend leaves 8.
  auto next = (*node)->SpendEpsilon("org-1", "analytics", 1.0, 10.0, now);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(*next, 8.0);
}

// Issue 19: a conditional write whose COMMIT went through but whose
// acknowledgement was lost (the leader died in between) is reported written
// and applied once: the store reads it back instead of running it again,
// which would find the key changed by itself ("condition not met", a spent
// budget reported failed, or spent again by a caller that re-reads).
TEST(PostgresKvStoreTest, ConditionalWriteWithLostAcknowledgementIsOk) {
  CLOVER_REQUIRE_POSTGRES();
  pgtest::LosingProxy proxy(
      absl::StrCat(pgtest::Server().value()->dir(), "/.s.PGSQL.5432"));
  kv::PostgresKvOptions o;
  o.retry = absl::Seconds(5);
  auto kv = kv::OpenPostgresKvStore(proxy.Dsn(), "kv_lostack", o);
  ASSERT_TRUE(kv.ok()) << kv.status();
  kv::KvBatch init, spend;
  init.Put("budget", "10");
  spend.Put("budget", "9");
  ASSERT_TRUE((*kv)->Write(init).ok());
  proxy.Arm();
  const absl::Status s = (*kv)->WriteIf("budget", "10", spend);
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(proxy.lost_replies(), 1);
  EXPECT_EQ((*kv)->Get("budget").value_or("<absent>"), "9");
}

// The embedded store keeps the same WriteIf contract.
TEST(RocksKvStoreTest, WriteIf) {
  test::TempDir dir("kv-rocks");
  auto kv = kv::KvStore::Open(dir.Sub("db"));
  ASSERT_TRUE(kv.ok()) << kv.status();
  kv::KvBatch b;
  b.Put("k", "1");
  ASSERT_TRUE((*kv)->WriteIf("k", std::nullopt, b).ok());
  EXPECT_TRUE(absl::IsFailedPrecondition((*kv)->WriteIf("k", std::nullopt, b)));
  kv::KvBatch c;
  c.Put("k", "2");
  EXPECT_TRUE(absl::IsFailedPrecondition((*kv)->WriteIf("k", "0", c)));
  ASSERT_TRUE((*kv)->WriteIf("k", "1", c).ok());
  EXPECT_EQ(*(*kv)->Get("k"), "2");
}

// Two nodes of a region: two ApprovalStores over two connections to one
// table.
class SharedApprovalsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!pgtest::Server().ok()) GTEST_SKIP() << "PostgreSQL unavailable";
    const std::string table = absl::StrCat(
        "approvals_",
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::string lower;
    for (char ch : table) lower.push_back(static_cast<char>(std::tolower(ch)));
    kv_a_ = OpenKv(lower);
    kv_b_ = OpenKv(lower);
    ASSERT_NE(kv_a_, nullptr);
    ASSERT_NE(kv_b_, nullptr);
    approvals::ApprovalOptions o;
    o.shared = true;
    o.pseudonymize = [](absl::string_view s) {
      return "tok-" + std::string(s);
    };
    auto a = approvals::ApprovalStore::Open(kv_a_.get(), o, clock_);
    ASSERT_TRUE(a.ok()) << a.status();
    a_ = *std::move(a);
    auto b = approvals::ApprovalStore::Open(kv_b_.get(), o, clock_);
    ASSERT_TRUE(b.ok()) << b.status();
    b_ = *std::move(b);
  }

  static approvals::ApprovalRequestSpec Spec() {
    approvals::ApprovalRequestSpec s;
    s.principal = "cn-engineer-1";
    s.detail = "TICKET-42";
    s.subjects = {"u1"};
    s.fields = {"email"};
    s.duration = absl::Hours(2);
    s.requester_country = "CN";
    return s;
  }

  const approvals::Approver auditor_{"auditor-1", "auditor", {}};
  const approvals::Approver approver_{"eu-approver", "human", {"approver"}};
  FakeClock clock_{absl::FromUnixSeconds(1800000000)};
  std::unique_ptr<kv::KvStore> kv_a_, kv_b_;
  std::unique_ptr<approvals::ApprovalStore> a_, b_;
};

TEST_F(SharedApprovalsTest,
       GrantAtOneNodeWorksAtTheOtherAndRevokeEndsItAtOnce) {
  auto created = a_->Create(Spec());
  ASSERT_TRUE(created.ok()) << created.status();
  const std::string id = created->approval.id;
  // Filed at A, seen and decided at B.
  auto seen = b_->Get(id);
  ASSERT_TRUE(seen.ok()) << seen.status();
  EXPECT_EQ(seen->state, approvals::ApprovalState::kPending);
  ASSERT_TRUE(b_->Approve(id, auditor_, "ok").ok());
  const absl::Time now = clock_.Now();
  auto at_a = a_->FindLiveGrant("cn-engineer-1", "u1", "email", now);
  ASSERT_TRUE(at_a.has_value());
  EXPECT_EQ(at_a->id, id);
  EXPECT_FALSE(a_->FindLiveGrant("cn-engineer-1", "u2", "email", now));
  EXPECT_FALSE(a_->FindLiveGrant("someone-else", "u1", "email", now));
  ASSERT_EQ(a_->List(approvals::ApprovalState::kApproved).size(), 1u);

  // A revocation being logged at A already hides the grant at B.
  auto held = a_->PrepareRevoke(id, auditor_, "done");
  ASSERT_TRUE(held.ok()) << held.status();
  EXPECT_FALSE(b_->FindLiveGrant("cn-engineer-1", "u1", "email", now));
  ASSERT_TRUE(a_->Commit(*held).ok());
  EXPECT_FALSE(b_->FindLiveGrant("cn-engineer-1", "u1", "email", now));
  EXPECT_EQ(b_->Get(id)->state, approvals::ApprovalState::kRevoked);
  // And B cannot revoke (or approve) it again.
  EXPECT_TRUE(
      absl::IsFailedPrecondition(b_->Revoke(id, auditor_, "again").status()));
}

TEST_F(SharedApprovalsTest, AHeldDecisionAtOneNodeBlocksTheOther) {
  auto created = a_->Create(Spec());
  ASSERT_TRUE(created.ok());
  const std::string id = created->approval.id;
  auto held = a_->PrepareApprove(id, auditor_, "ok");
  ASSERT_TRUE(held.ok()) << held.status();
  // B cannot decide while A's approval is being logged...
  EXPECT_TRUE(
      absl::IsFailedPrecondition(b_->Deny(id, approver_, "no").status()));
  // ...nor, once A committed, decide it the other way.
  ASSERT_TRUE(a_->Commit(*held).ok());
  EXPECT_TRUE(
      absl::IsFailedPrecondition(b_->Deny(id, approver_, "no").status()));
  EXPECT_EQ(b_->Get(id)->state, approvals::ApprovalState::kApproved);
  // An aborted decision releases the claim region-wide.
  auto created2 = a_->Create(Spec());
  ASSERT_TRUE(created2.ok());
  auto held2 = a_->PrepareApprove(created2->approval.id, auditor_, "ok");
  ASSERT_TRUE(held2.ok());
  a_->Abort(*held2);
  EXPECT_TRUE(b_->Deny(created2->approval.id, approver_, "no").ok());
}

// A node that claimed a request and died before storing its decision blocks
// it only until the hold lapses; its late commit is then refused, not applied.
TEST_F(SharedApprovalsTest, ALapsedHoldIsTakenOverAndTheLateCommitRefused) {
  auto created = a_->Create(Spec());
  ASSERT_TRUE(created.ok());
  const std::string id = created->approval.id;
  auto stalled = a_->PrepareApprove(id, auditor_, "ok");
  ASSERT_TRUE(stalled.ok());
  EXPECT_TRUE(
      absl::IsFailedPrecondition(b_->Deny(id, approver_, "no").status()));
  clock_.Advance(absl::Seconds(31));  // hold_ttl is 30 s
  ASSERT_TRUE(b_->Deny(id, approver_, "no").ok());
  EXPECT_TRUE(absl::IsAborted(a_->Commit(*stalled)));
  EXPECT_EQ(a_->Get(id)->state, approvals::ApprovalState::kDenied);
  EXPECT_FALSE(a_->FindLiveGrant("cn-engineer-1", "u1", "email", clock_.Now()));
}

// Approvers at both nodes approve and deny the same requests at once:
// exactly one decision wins each request, and both nodes agree on it.
TEST_F(SharedApprovalsTest, ConcurrentApproveAndDenyExactlyOneWins) {
  constexpr int kRequests = 12;
  std::vector<std::string> ids;
  for (int i = 0; i < kRequests; ++i) {
    auto spec = Spec();
    spec.requested_by = absl::StrCat("filer-", i);
    auto c = (i % 2 == 0 ? a_ : b_)->Create(spec);
    ASSERT_TRUE(c.ok()) << c.status();
    ids.push_back(c->approval.id);
  }
  std::atomic<int> approved{0}, denied{0}, refused{0};
  std::thread at_a([&] {
    for (const std::string& id : ids) {
      auto t = a_->Approve(id, auditor_, "ok");
      if (t.ok()) {
        ++approved;
      } else {
        EXPECT_TRUE(absl::IsFailedPrecondition(t.status())) << t.status();
        ++refused;
      }
    }
  });
  std::thread at_b([&] {
    for (const std::string& id : ids) {
      auto t = b_->Deny(id, approver_, "no");
      if (t.ok()) {
        ++denied;
      } else {
        EXPECT_TRUE(absl::IsFailedPrecondition(t.status())) << t.status();
        ++refused;
      }
    }
  });
  at_a.join();
  at_b.join();
  EXPECT_EQ(approved + denied, kRequests);
  EXPECT_EQ(refused, kRequests);
  int approved_seen = 0;
  for (const std::string& id : ids) {
    auto x = a_->Get(id);
    auto y = b_->Get(id);
    ASSERT_TRUE(x.ok() && y.ok());
    EXPECT_EQ(x->state, y->state);
    EXPECT_NE(x->state, approvals::ApprovalState::kPending);
    if (x->state == approvals::ApprovalState::kApproved) ++approved_seen;
  }
  EXPECT_EQ(approved_seen, approved.load());
}

TEST_F(SharedApprovalsTest, ExpiryIsLoggedByOneNode) {
  auto created = a_->Create(Spec());
  ASSERT_TRUE(created.ok());
  ASSERT_TRUE(a_->Approve(created->approval.id, auditor_, "ok").ok());
  clock_.Advance(absl::Hours(3));
  auto at_b = b_->ExpireDue();
  ASSERT_TRUE(at_b.ok()) << at_b.status();
  EXPECT_EQ(at_b->size(), 1u);
  auto at_a = a_->ExpireDue();
  ASSERT_TRUE(at_a.ok()) << at_a.status();
  EXPECT_TRUE(at_a->empty());
  EXPECT_EQ(a_->Get(created->approval.id)->state,
            approvals::ApprovalState::kExpired);
}

// The open-request limit counts requests filed at every node.
TEST_F(SharedApprovalsTest, OpenRequestLimitIsRegional) {
  approvals::ApprovalOptions o;
  o.shared = true;
  o.max_open_per_requester = 2;
  auto small_a = approvals::ApprovalStore::Open(kv_a_.get(), o, clock_);
  auto small_b = approvals::ApprovalStore::Open(kv_b_.get(), o, clock_);
  ASSERT_TRUE(small_a.ok() && small_b.ok());
  ASSERT_TRUE((*small_a)->Create(Spec()).ok());
  ASSERT_TRUE((*small_b)->Create(Spec()).ok());
  EXPECT_TRUE(absl::IsResourceExhausted((*small_a)->Create(Spec()).status()));
}

// Two nodes (two StateStores, each with its own RocksDB and pool) spend one
// budget concurrently: exactly the budget is given, never more.
TEST(SharedBudgetTest, TwoNodesNeverOverspend) {
  CLOVER_REQUIRE_POSTGRES();
  test::TempDir dir("budget");
  auto kv_a = OpenKv("budget_shared");
  auto kv_b = OpenKv("budget_shared");
  ASSERT_NE(kv_a, nullptr);
  ASSERT_NE(kv_b, nullptr);
  auto a = gateway::StateStore::Open(dir.Sub("a"), kv_a.get());
  auto b = gateway::StateStore::Open(dir.Sub("b"), kv_b.get());
  ASSERT_TRUE(a.ok() && b.ok());
  const absl::Time now = absl::FromUnixSeconds(1800000000);
  constexpr int kThreads = 8, kEach = 10;
  constexpr double kBudget = 25.0;  // 25 spends of 1.0 of the 80 tried
  std::atomic<int> spent{0}, refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      gateway::StateStore& s = t % 2 == 0 ? **a : **b;
      for (int i = 0; i < kEach; ++i) {
        auto left = s.SpendEpsilon("org-1", "analytics", 1.0, kBudget, now);
        if (left.ok()) {
          ++spent;
        } else {
          EXPECT_TRUE(absl::IsResourceExhausted(left.status()))
              << left.status();
          ++refused;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(spent, 25);
  EXPECT_EQ(refused, kThreads * kEach - 25);
  // Another requester's budget is its own.
  EXPECT_TRUE((*b)->SpendEpsilon("org-2", "analytics", 1.0, kBudget, now).ok());
  // Without the shared store each node would have its own 25.
  test::TempDir local("budget-local");
  auto c = gateway::StateStore::Open(local.Sub("c"));
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE((*c)->SpendEpsilon("org-1", "analytics", 1.0, kBudget, now).ok());
}

}  // namespace
}  // namespace clover
