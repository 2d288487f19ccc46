// Two vaults over one PostgreSQL database, as two nodes (two DCs) of a region
// share it: what one acknowledges the other serves at once (no cache TTL in
// between), and their writes to one subject row serialise (compare-and-set in
// the store) — an erased subject is never resurrected by a racing write, two
// creates of one subject end in one subject with one data key, concurrent
// updates are never lost.
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "postgres_test_util.h"
#include "vault/erased.h"
#include "vault/key_encryption_key.h"
#include "vault/postgres_storage.h"
#include "vault/pseudonym_ring.h"
#include "vault/record_parser.h"
#include "vault/subject_row.h"
#include "vault/test_util.h"
#include "vault/vault.h"

namespace clover::vault {
namespace {

using pgtest::Dsn;
using pgtest::Sql;

// Counts unwraps, so that a test can tell a cached data key from a KEK call.
class CountingKek : public KeyEncryptionKey {
 public:
  CountingKek(std::unique_ptr<KeyEncryptionKey> inner,
              std::atomic<int>* unwraps)
      : inner_(std::move(inner)), unwraps_(unwraps) {}
  absl::string_view id() const override { return inner_->id(); }
  absl::StatusOr<std::string> Wrap(absl::string_view key,
                                   absl::string_view context) override {
    return inner_->Wrap(key, context);
  }
  absl::StatusOr<crypto::SecretKey> Unwrap(
      absl::string_view wrapped, absl::string_view context,
      const UnwrapJustification& why) override {
    ++*unwraps_;
    return inner_->Unwrap(wrapped, context, why);
  }

 private:
  std::unique_ptr<KeyEncryptionKey> inner_;
  std::atomic<int>* unwraps_;
};

// Forwards to a driver, counting subject-row reads.
class CountingStorage : public StorageDriver {
 public:
  CountingStorage(std::unique_ptr<StorageDriver> inner, std::atomic<int>* reads,
                  std::atomic<int>* conditional_writes)
      : inner_(std::move(inner)),
        reads_(reads),
        conditional_writes_(conditional_writes) {}
  absl::StatusOr<bool> Get(Table t, absl::string_view k,
                           std::string* v) override {
    if (t == Table::kSubjects) ++*reads_;
    return inner_->Get(t, k, v);
  }
  absl::Status Write(const WriteBatch& b) override { return inner_->Write(b); }
  absl::StatusOr<bool> WriteIf(Table t, absl::string_view k,
                               std::optional<absl::string_view> e,
                               const WriteBatch& b) override {
    ++*conditional_writes_;
    return inner_->WriteIf(t, k, e, b);
  }
  absl::StatusOr<bool> WriteIfPrefixed(Table t, absl::string_view k,
                                       absl::string_view p,
                                       const WriteBatch& b) override {
    return inner_->WriteIfPrefixed(t, k, p, b);
  }
  void GetAsync(Table t, std::string k, GetDone done) override {
    if (t == Table::kSubjects) ++*reads_;
    inner_->GetAsync(t, std::move(k), std::move(done));
  }
  bool reads_async() const override { return inner_->reads_async(); }
  bool shared() const override { return inner_->shared(); }
  absl::StatusOr<bool> CompareAndPut(Table t, absl::string_view k,
                                     absl::string_view e,
                                     absl::string_view d) override {
    return inner_->CompareAndPut(t, k, e, d);
  }
  absl::Status Scan(Table t,
                    const std::function<bool(absl::string_view,
                                             absl::string_view)>& fn) override {
    return inner_->Scan(t, fn);
  }
  absl::Status Purge(Table t) override { return inner_->Purge(t); }

 private:
  std::unique_ptr<StorageDriver> inner_;
  std::atomic<int>* reads_;
  std::atomic<int>* conditional_writes_;
};

// A region of two nodes' vaults in a fresh schema (one per test).
class TwoNodes : public ::testing::Test {
 protected:
  void SetUp() override {
    CLOVER_REQUIRE_POSTGRES();
    region_ = absl::StrCat(
        "rv_", ::testing::UnitTest::GetInstance()->current_test_info()->name());
    ASSERT_TRUE(Sql(absl::StrCat("DROP SCHEMA IF EXISTS \"clover_vault_",
                                 region_, "\" CASCADE"))
                    .ok());
    a_ = OpenNode(&unwraps_a_);
    b_ = OpenNode(&unwraps_b_);
    ASSERT_NE(a_, nullptr);
    ASSERT_NE(b_, nullptr);
  }

  std::unique_ptr<Vault> OpenNode(std::atomic<int>* unwraps) {
    auto opened = OpenPostgresVaultStorage(Dsn(), region_);
    EXPECT_TRUE(opened.ok()) << opened.status();
    if (!opened.ok()) return nullptr;
    EXPECT_TRUE((*opened)->shared());
    std::unique_ptr<StorageDriver> storage = std::make_unique<CountingStorage>(
        *std::move(opened), &row_reads_, &conditional_writes_);
    VaultOptions options;
    options.region = "eu";
    // The default TTL (minutes): nothing here may depend on it expiring.
    auto v = Vault::Open(
        deployment_, options, std::move(storage),
        std::make_unique<CountingKek>(
            FileKeyEncryptionKey::FromKey(testing::TestKey(5)), unwraps),
        testing::TestKey(9));
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() ? *std::move(v) : nullptr;
  }

  Record Rec(const std::string& name) {
    auto r = ParseRecordJson(
        deployment_.schema,
        absl::StrCat(R"({"country":"IE","fields":{"email":"x@mail.example",)",
                     R"("name":")", name, R"("}})"));
    EXPECT_TRUE(r.ok()) << r.status();
    return *r;
  }

  std::string NameOf(Vault& v, const std::string& subject) {
    auto got = v.Get(subject, {"name"}, ctx_);
    if (!got.ok()) return got.status().ToString();
    return got->fields.empty() ? "" : got->fields[0].value;
  }

  // Token-index entries pointing at `subject`.
  int TokenEntries(const std::string& subject) {
    int n = 0;
    EXPECT_TRUE(a_->storage()
                    .Scan(Table::kTokens,
                          [&](absl::string_view, absl::string_view v) {
                            n += v == subject;
                            return true;
                          })
                    .ok());
    return n;
  }

  const Deployment deployment_ = testing::TestDeployment();
  const AccessContext ctx_{"eu-support-1", "customer_support"};
  std::string region_;
  std::atomic<int> unwraps_a_{0}, unwraps_b_{0};
  std::atomic<int> row_reads_{0};
  std::atomic<int> conditional_writes_{0};
  std::unique_ptr<Vault> a_, b_;
};

TEST_F(TwoNodes, ErasureThroughOneIsSeenAtOnceByTheOther) {
  for (int i = 0; i < 20; ++i) {
    const std::string s = absl::StrCat("ann-", i);
    ASSERT_TRUE(a_->Put(s, Rec("Ann")).ok());
    // B reads it: B now holds the subject cached (key and record).
    ASSERT_EQ(NameOf(*b_, s), "Ann");
    ASSERT_EQ(NameOf(*b_, s), "Ann");
    ASSERT_TRUE(a_->Erase(s).ok());
    // No sleep: the erasure is acknowledged, B must not serve the record.
    EXPECT_TRUE(IsErased(b_->Get(s, {}, ctx_).status())) << s;
    EXPECT_TRUE(IsErased(b_->HomeJurisdiction(s).status())) << s;
    auto keys = b_->SubjectKeys(s, "eu", "customer_support", ctx_);
    EXPECT_TRUE(IsErased(keys.status())) << s;
  }
}

TEST_F(TwoNodes, WriteThroughOneIsReadAtOnceThroughTheOther) {
  ASSERT_TRUE(a_->Put("bob", Rec("Bob")).ok());
  ASSERT_EQ(NameOf(*b_, "bob"), "Bob");
  const int unwraps_after_first_read = unwraps_b_.load();
  for (int i = 0; i < 20; ++i) {
    const std::string name = absl::StrCat("Bob", i);
    auto put = a_->Put("bob", Rec(name));
    ASSERT_TRUE(put.ok()) << put.status();
    EXPECT_EQ(NameOf(*b_, "bob"), name);
  }
  // The new records were opened with B's cached data key: reads of a hot
  // subject do not go to the KEK, whoever wrote it.
  EXPECT_EQ(unwraps_b_.load(), unwraps_after_first_read);
  // And B's own write is seen by A at once, after A cached it.
  ASSERT_EQ(NameOf(*a_, "bob"), "Bob19");
  ASSERT_TRUE(b_->Put("bob", Rec("Robert")).ok());
  EXPECT_EQ(NameOf(*a_, "bob"), "Robert");
}

TEST_F(TwoNodes, OneRequestReadsTheRowOnce) {
  ASSERT_TRUE(a_->Put("fay", Rec("Fay")).ok());
  ASSERT_EQ(NameOf(*b_, "fay"), "Fay");
  {
    // One request at B: jurisdiction, record, siv keys from one row read.
    Vault::ReadScope request(*b_, "fay");
    const int before = row_reads_.load();
    ASSERT_TRUE(b_->HomeJurisdiction("fay").ok());
    ASSERT_EQ(NameOf(*b_, "fay"), "Fay");
    ASSERT_TRUE(b_->SubjectKeys("fay", "eu", "customer_support", ctx_).ok());
    EXPECT_EQ(row_reads_.load() - before, 1);
    // Other subjects are read as usual.
    EXPECT_TRUE(absl::IsNotFound(b_->HomeJurisdiction("nobody").status()));
    EXPECT_EQ(row_reads_.load() - before, 2);
  }
  ASSERT_TRUE(a_->Erase("fay").ok());
  // The next request at B (a new scope) sees the erasure.
  Vault::ReadScope next(*b_, "fay");
  EXPECT_TRUE(IsErased(b_->HomeJurisdiction("fay").status()));
  EXPECT_TRUE(IsErased(b_->Get("fay", {}, ctx_).status()));
  // A write in the scope ends its reuse: the next read asks storage.
  ASSERT_TRUE(a_->Put("gus", Rec("Gus")).ok());
  Vault::ReadScope nested(*a_, "gus");  // a second scope on the thread: no-op
  ASSERT_TRUE(b_->Put("fay", Rec("Zombie")).status().code() ==
              absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(IsErased(b_->Get("fay", {}, ctx_).status()));
}

// A write checked first (the gateway's home-jurisdiction check, then its
// logged decision, then the write) reads the subject's row once.
TEST_F(TwoNodes, ACheckedWriteReadsTheRowOnce) {
  // A new subject: the check finds it absent, the write creates it.
  Vault::RowSnapshot fresh;
  int before = row_reads_.load();
  EXPECT_TRUE(absl::IsNotFound(b_->HomeJurisdiction("hal", &fresh).status()));
  auto created = b_->Put("hal", Rec("Hal"), &fresh);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_TRUE(created->created);
  EXPECT_EQ(row_reads_.load() - before, 1);
  // An existing one: updated from the row its check read.
  Vault::RowSnapshot live;
  before = row_reads_.load();
  auto home = b_->HomeJurisdiction("hal", &live);
  ASSERT_TRUE(home.ok()) << home.status();
  EXPECT_EQ(*home, "eu");
  auto updated = b_->Put("hal", Rec("Hal2"), &live);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->revision, 2u);
  EXPECT_EQ(row_reads_.load() - before, 1);
  EXPECT_EQ(NameOf(*a_, "hal"), "Hal2");
}

// Two requests for one subject at one node check it at once: the second
// write does not start from the row its check read (the first one's write
// has replaced it) but reads it again, without a conflicting write.
TEST_F(TwoNodes, ACheckedWriteAfterOwnWriteReadsAfresh) {
  ASSERT_TRUE(b_->Put("max", Rec("Max")).ok());
  Vault::RowSnapshot first, second;
  ASSERT_TRUE(b_->HomeJurisdiction("max", &first).ok());
  ASSERT_TRUE(b_->HomeJurisdiction("max", &second).ok());
  const int reads = row_reads_.load(), writes = conditional_writes_.load();
  ASSERT_TRUE(b_->Put("max", Rec("Max1"), &first).ok());
  auto put = b_->Put("max", Rec("Max2"), &second);
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(put->revision, 3u);
  EXPECT_EQ(row_reads_.load() - reads, 1);
  EXPECT_EQ(conditional_writes_.load() - writes, 2);  // no failed attempt
  EXPECT_EQ(NameOf(*a_, "max"), "Max2");
}

// The row a check read is only where the write starts: another node's write
// or erasure since is never overwritten.
TEST_F(TwoNodes, ACheckedWriteOnAStaleRowReadsAgain) {
  ASSERT_TRUE(a_->Put("ida", Rec("Ida")).ok());
  Vault::RowSnapshot stale;
  ASSERT_TRUE(b_->HomeJurisdiction("ida", &stale).ok());
  ASSERT_TRUE(a_->Put("ida", Rec("Ida-at-a")).ok());  // revision 2
  const int before = row_reads_.load();
  auto put = b_->Put("ida", Rec("Ida-at-b"), &stale);
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(put->revision, 3u);  // on top of A's write, not beside it
  EXPECT_EQ(row_reads_.load() - before, 1);  // the conflict's re-read
  EXPECT_EQ(NameOf(*a_, "ida"), "Ida-at-b");

  // Created elsewhere after the check found it absent: one subject, updated.
  Vault::RowSnapshot absent;
  ASSERT_TRUE(absl::IsNotFound(b_->HomeJurisdiction("jo", &absent).status()));
  ASSERT_TRUE(a_->Put("jo", Rec("Jo-at-a")).ok());
  auto second = b_->Put("jo", Rec("Jo-at-b"), &absent);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_FALSE(second->created);
  EXPECT_EQ(second->revision, 2u);
  EXPECT_EQ(TokenEntries("jo"), 1);

  // Erased elsewhere after the check: refused, and it stays erased.
  Vault::RowSnapshot before_erasure;
  ASSERT_TRUE(b_->HomeJurisdiction("ida", &before_erasure).ok());
  ASSERT_TRUE(a_->Erase("ida").ok());
  auto zombie = b_->Put("ida", Rec("Zombie"), &before_erasure);
  EXPECT_EQ(zombie.status().code(), absl::StatusCode::kFailedPrecondition)
      << zombie.status();
  EXPECT_TRUE(IsErased(b_->Get("ida", {}, ctx_).status()));
  EXPECT_TRUE(IsErased(a_->Get("ida", {}, ctx_).status()));
}

// A read request whose row was fetched ahead (without a thread waiting, as
// the gateway's GET does) answers every read from that one row, and a row
// fetched after another node's erasure is acknowledged is the tombstone.
TEST_F(TwoNodes, AFetchedRowServesOneRequest) {
  ASSERT_TRUE(b_->fetches_rows_async());
  auto fetch = [&](Vault& v, const std::string& s) {
    absl::Notification done;
    Vault::FetchedRow row;
    v.FetchRow(s, [&](Vault::FetchedRow r) {
      row = std::move(r);
      done.Notify();
    });
    EXPECT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(30)));
    return row;
  };
  ASSERT_TRUE(a_->Put("kim", Rec("Kim")).ok());
  ASSERT_EQ(NameOf(*b_, "kim"), "Kim");  // B has kim's data key cached
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(a_->Put("kim", Rec(absl::StrCat("Kim", i))).ok());
    const int before = row_reads_.load();
    Vault::ReadScope request(*b_, "kim", fetch(*b_, "kim"));
    ASSERT_TRUE(b_->HomeJurisdiction("kim").ok());
    EXPECT_EQ(NameOf(*b_, "kim"), absl::StrCat("Kim", i));
    ASSERT_TRUE(b_->SubjectKeys("kim", "eu", "customer_support", ctx_).ok());
    EXPECT_EQ(row_reads_.load() - before, 1);
  }
  {
    Vault::ReadScope request(*b_, "nobody", fetch(*b_, "nobody"));
    EXPECT_TRUE(absl::IsNotFound(b_->HomeJurisdiction("nobody").status()));
  }
  ASSERT_TRUE(a_->Erase("kim").ok());
  Vault::ReadScope request(*b_, "kim", fetch(*b_, "kim"));
  EXPECT_TRUE(IsErased(b_->HomeJurisdiction("kim").status()));
  EXPECT_TRUE(IsErased(b_->Get("kim", {}, ctx_).status()));
}

// Many rows fetched at once come back right, each to its own caller.
TEST_F(TwoNodes, ConcurrentFetchesEachGetTheirOwnRow) {
  constexpr int kSubjects = 50;
  for (int i = 0; i < kSubjects; ++i) {
    ASSERT_TRUE(
        a_->Put(absl::StrCat("lee-", i), Rec(absl::StrCat("Lee", i))).ok());
  }
  absl::Mutex mu;
  int answered = 0, wrong = 0;
  for (int round = 0; round < 4; ++round) {
    for (int i = 0; i < kSubjects + 5; ++i) {
      const std::string s = absl::StrCat("lee-", i);  // the last 5 absent
      b_->FetchRow(s, [&, s, i](Vault::FetchedRow row) {
        // Read on the fetching thread itself: the scope is all it needs.
        Vault::ReadScope scope(*b_, s, std::move(row));
        auto got = b_->Get(s, {"name"}, ctx_);
        absl::MutexLock lock(&mu);
        ++answered;
        if (i < kSubjects) {
          wrong += !got.ok() || got->fields.empty() ||
                   got->fields[0].value != absl::StrCat("Lee", i);
        } else {
          wrong += !absl::IsNotFound(got.status());
        }
      });
    }
  }
  absl::MutexLock lock(&mu);
  ASSERT_TRUE(mu.AwaitWithTimeout(
      absl::Condition(
          +[](int* n) { return *n == 4 * (kSubjects + 5); }, &answered),
      absl::Seconds(60)));
  EXPECT_EQ(wrong, 0);
}

TEST_F(TwoNodes, RacingWritesNeverResurrectAnErasedSubject) {
  constexpr int kRounds = 60;
  int puts_after_erasure = 0;
  for (int round = 0; round < kRounds; ++round) {
    const std::string s = absl::StrCat("carl-", round);
    ASSERT_TRUE(a_->Put(s, Rec("Carl")).ok());
    ASSERT_EQ(NameOf(*b_, s), "Carl");
    std::atomic<bool> go{false};
    absl::Status last_put;
    // B keeps rewriting the subject until a write is refused.
    std::thread writer([&] {
      while (!go.load()) {
      }
      for (int i = 0; i < 1000; ++i) {
        absl::StatusOr<Vault::PutResult> put = b_->Put(s, Rec("Zombie"));
        if (!put.ok()) {
          last_put = put.status();
          return;
        }
      }
    });
    go = true;
    absl::Status erased = a_->Erase(s);
    writer.join();
    ASSERT_TRUE(erased.ok()) << erased;
    // The erasure is acknowledged: every later write is refused, and the
    // write that ended the loop was refused because the subject is erased.
    EXPECT_TRUE(absl::IsFailedPrecondition(last_put)) << last_put;
    auto again = b_->Put(s, Rec("Zombie"));
    EXPECT_TRUE(absl::IsFailedPrecondition(again.status())) << again.status();
    ++puts_after_erasure;
    std::string row;
    ASSERT_TRUE(*a_->storage().Get(Table::kSubjects, s, &row));
    auto decoded = SubjectRow::Decode(row);
    ASSERT_TRUE(decoded.ok());
    EXPECT_FALSE(decoded->live()) << s << " was resurrected";
    EXPECT_TRUE(IsErased(a_->Get(s, {}, ctx_).status())) << s;
    EXPECT_TRUE(IsErased(b_->Get(s, {}, ctx_).status())) << s;
    EXPECT_EQ(TokenEntries(s), 0) << s;
  }
  EXPECT_EQ(puts_after_erasure, kRounds);
}

TEST_F(TwoNodes, ConcurrentCreatesEndInOneSubject) {
  constexpr int kRounds = 40;
  for (int round = 0; round < kRounds; ++round) {
    const std::string s = absl::StrCat("dana-", round);
    std::atomic<bool> go{false};
    absl::StatusOr<Vault::PutResult> put_a, put_b;
    std::thread ta([&] {
      while (!go.load()) {
      }
      put_a = a_->Put(s, Rec("DanaA"));
    });
    std::thread tb([&] {
      while (!go.load()) {
      }
      put_b = b_->Put(s, Rec("DanaB"));
    });
    go = true;
    ta.join();
    tb.join();
    ASSERT_TRUE(put_a.ok()) << put_a.status();
    ASSERT_TRUE(put_b.ok()) << put_b.status();
    // One create and one update of it, in some order: never two creates.
    EXPECT_NE(put_a->created, put_b->created) << s;
    EXPECT_EQ(std::set<uint64_t>({put_a->revision, put_b->revision}),
              std::set<uint64_t>({1, 2}))
        << s;
    const std::string last = put_a->revision == 2 ? "DanaA" : "DanaB";
    EXPECT_EQ(NameOf(*a_, s), last);
    EXPECT_EQ(NameOf(*b_, s), last);
    // One data key and one token handle: the loser's never reached storage.
    EXPECT_EQ(TokenEntries(s), 1) << s;
    auto ka = a_->SubjectKeys(s, "eu", "customer_support", ctx_);
    auto kb = b_->SubjectKeys(s, "eu", "customer_support", ctx_);
    ASSERT_TRUE(ka.ok() && kb.ok());
  }
}

TEST_F(TwoNodes, ConcurrentUpdatesAreNeverLost) {
  ASSERT_TRUE(a_->Put("eve", Rec("Eve")).ok());
  constexpr int kThreads = 4;
  constexpr int kPerThread = 25;
  absl::Mutex mu;
  std::map<uint64_t, std::string> by_revision;  // revision -> name written
  int refused = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Vault& v = t % 2 == 0 ? *a_ : *b_;
      for (int i = 0; i < kPerThread; ++i) {
        const std::string name = absl::StrCat("Eve", t, "x", i);
        auto put = v.Put("eve", Rec(name));
        absl::MutexLock lock(&mu);
        if (!put.ok()) {
          EXPECT_TRUE(absl::IsAborted(put.status())) << put.status();
          ++refused;
          continue;
        }
        // Each acknowledged write is the state at one revision: two
        // writes acknowledged at one revision would mean one was lost.
        EXPECT_TRUE(by_revision.emplace(put->revision, name).second)
            << "revision " << put->revision << " acknowledged twice";
      }
    });
  }
  for (auto& t : threads) t.join();
  const int acknowledged = static_cast<int>(by_revision.size());
  EXPECT_EQ(acknowledged + refused, kThreads * kPerThread);
  EXPECT_GT(acknowledged, 0);
  // Revisions 2.. are dense: every acknowledged write is in the history, and
  // the last one is what both nodes serve.
  EXPECT_EQ(by_revision.begin()->first, 2u);
  EXPECT_EQ(by_revision.rbegin()->first,
            static_cast<uint64_t>(acknowledged + 1));
  EXPECT_EQ(NameOf(*a_, "eve"), by_revision.rbegin()->second);
  EXPECT_EQ(NameOf(*b_, "eve"), by_revision.rbegin()->second);
}

// The pseudonym key ring is the region's: what one node rotates, the other
// resolves and issues under, and a version retired through one is refused by
// the other within its refresh interval.
TEST_F(TwoNodes, PseudonymKeyRingIsSharedByTheRegion) {
  ASSERT_TRUE(a_->Put("ann", Rec("Ann")).ok());
  const FieldSpec& name = *FindField(a_->schema(), "name");
  const FieldSpec& email = *FindField(a_->schema(), "email");
  auto token = [&](Vault& v, const FieldSpec& f, const std::string& value) {
    auto keys = v.TokenKeysFor("us", "analytics");
    auto subject = v.SubjectKeys("ann", "us", "analytics", ctx_);
    EXPECT_TRUE(keys.ok() && subject.ok());
    auto t = v.pseudonymizer().Transform(f, value, TransformMode::kPseudonymize,
                                         **keys, subject->get());
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? *t : std::string();
  };
  auto reverse = [&](Vault& v, const std::string& t) {
    return v.Detokenize(t, "name", "us", "analytics", ctx_);
  };
  const std::string v1 = token(*a_, name, "Ann");
  auto rotated = a_->pseudonym_ring().Rotate(absl::Hours(1));
  ASSERT_TRUE(rotated.ok()) << rotated.status();
  ASSERT_EQ(*rotated, 2u);
  const std::string v2 = token(*a_, name, "Ann");
  ASSERT_EQ(v2.rfind("stk_v2.", 0), 0u) << v2;
  // B has not looked at the ring since it opened: the v2 token makes it
  // re-read, and it resolves both versions and issues under v2 from then on.
  auto on_b = reverse(*b_, v2);
  ASSERT_TRUE(on_b.ok()) << on_b.status();
  EXPECT_EQ(on_b->value, "Ann");
  EXPECT_EQ(reverse(*b_, v1)->value, "Ann");
  EXPECT_EQ(token(*b_, email, "x@mail.example"),
            token(*a_, email, "x@mail.example"));
  EXPECT_EQ(token(*b_, name, "Ann"), v2);
  auto va = a_->pseudonym_ring().Versions();
  auto vb = b_->pseudonym_ring().Versions();
  ASSERT_TRUE(va.ok() && vb.ok());
  ASSERT_EQ(va->size(), vb->size());
  for (size_t i = 0; i < va->size(); ++i) {
    EXPECT_EQ((*va)[i].version, (*vb)[i].version);
    EXPECT_EQ((*va)[i].retire_at, (*vb)[i].retire_at);
  }

  // A third node that re-reads the ring every millisecond (production: 2 s).
  auto opened = OpenPostgresVaultStorage(Dsn(), region_);
  ASSERT_TRUE(opened.ok()) << opened.status();
  VaultOptions options;
  options.region = "eu";
  options.epoch_refresh = absl::Milliseconds(1);
  auto c = Vault::Open(deployment_, options, *std::move(opened),
                       FileKeyEncryptionKey::FromKey(testing::TestKey(5)),
                       testing::TestKey(9));
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(reverse(**c, v2).ok());
  // A rotates again with no overlap: v2 is retired at once, and C refuses
  // its tokens as soon as it has re-read the ring (bounded wait).
  ASSERT_EQ(*a_->pseudonym_ring().Rotate(absl::ZeroDuration()), 3u);
  EXPECT_TRUE(IsTokenExpired(reverse(*a_, v2).status()));
  absl::Status on_c;
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  do {
    on_c = reverse(**c, v2).status();
  } while (!IsTokenExpired(on_c) && absl::Now() < deadline);
  EXPECT_TRUE(IsTokenExpired(on_c)) << on_c;
  EXPECT_EQ(token(**c, name, "Ann").rfind("stk_v3.", 0), 0u);
}

}  // namespace
}  // namespace clover::vault
