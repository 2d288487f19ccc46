#include "audit/incident_store.h"

#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "audit/outbox.h"
#include "audit/test_util.h"
#include "audit/tlog_proof.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace clover::audit {
namespace {

using ::testing::HasSubstr;

Finding MakeFinding(const std::string& key, Severity sev = Severity::kHigh) {
  Finding f;
  f.detector = std::string(kDetectorBulkAccess);
  f.severity = sev;
  f.key = key;
  f.summary = "summary " + key;
  f.time = absl::FromUnixSeconds(1795000000);
  f.origin = "log.test/a";
  return f;
}

class IncidentStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    kv_ = *kv::KvStore::Open(dir_.Sub("db"));
    key_ = testing::MakeKey("auditor.test/incidents");
    signer_ = *log::ParseSignerKey(key_.signer);
    Reopen();
  }
  void Reopen() {
    store_.reset();
    IncidentStoreOptions o;
    o.journal_origin = "auditor.test/incidents";
    o.journal_signer = signer_.get();
    auto s = IncidentStore::Open(kv_.get(), o, clock_);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = *std::move(s);
  }

  testing::TempDir dir_;
  FakeClock clock_{absl::FromUnixSeconds(1795000100)};
  std::unique_ptr<kv::KvStore> kv_;
  testing::TestKey key_;
  std::unique_ptr<log::NoteSigner> signer_;
  std::unique_ptr<IncidentStore> store_;
};

TEST_F(IncidentStoreTest, OpensMergesAcknowledgesResolves) {
  auto a = store_->Report(MakeFinding("k1"), {});
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->opened);
  EXPECT_EQ(a->incident.notification_deadline, clock_.Now() + absl::Hours(72));
  Finding again = MakeFinding("k1", Severity::kCritical);
  again.time += absl::Minutes(5);
  Evidence e;
  e.origin = "log.test/a";
  e.index = 9;
  auto b = store_->Report(again, {e, e});
  ASSERT_TRUE(b.ok());
  EXPECT_FALSE(b->opened);
  EXPECT_EQ(b->incident.id, a->incident.id);
  EXPECT_EQ(b->incident.occurrences, 2u);
  EXPECT_EQ(b->incident.severity, Severity::kCritical);  // escalates
  EXPECT_EQ(b->incident.evidence.size(), 1u);            // de-duplicated
  EXPECT_EQ(b->incident.last_seen, again.time);
  EXPECT_EQ(store_->EventCount(), 1u);  // updates are not journal events

  ASSERT_TRUE(store_->Acknowledge(a->incident.id, "dpo").ok());
  EXPECT_EQ(store_->Acknowledge(a->incident.id, "dpo").status().code(),
            absl::StatusCode::kFailedPrecondition);
  // Still merged while acknowledged; a new incident once resolved.
  EXPECT_FALSE(store_->Report(MakeFinding("k1"), {})->opened);
  ASSERT_TRUE(store_->Resolve(a->incident.id, "dpo").ok());
  EXPECT_TRUE(store_->Report(MakeFinding("k1"), {})->opened);
  EXPECT_EQ(store_->EventCount(), 4u);
  EXPECT_EQ(store_->List(IncidentStatus::kResolved).size(), 1u);
  EXPECT_EQ(store_->List(IncidentStatus::kOpen).size(), 1u);
  EXPECT_EQ(store_->Get("inc-none").status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(IncidentStoreTest, JournalSurvivesRestartAndProves) {
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(store_->Report(MakeFinding(absl::StrCat("k", i)), {}).ok());
  const std::string cp = *store_->SignedCheckpoint();
  Reopen();
  EXPECT_EQ(store_->EventCount(), 5u);
  EXPECT_EQ(store_->List(std::nullopt).size(), 5u);
  EXPECT_FALSE(store_->Report(MakeFinding("k3"), {})
                   ->opened);  // still open after restart
  auto v = *log::ParseVerifierKey(key_.verifier);
  const log::NoteVerifier* vs[] = {v.get()};
  auto events = store_->ReadEvents(0, 10);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 5u);
  for (const auto& [seq, ev] : *events) {
    auto proof = store_->EventProof(seq);
    ASSERT_TRUE(proof.ok());
    EXPECT_TRUE(VerifyTlogProof(*proof, ev, "auditor.test/incidents", vs).ok());
  }
  EXPECT_EQ(*store_->SignedCheckpoint(),
            cp);  // same tree, same signed checkpoint text
}

// A sink that fails a few times before accepting, counting what it saw.
class FlakySink final : public EventSink {
 public:
  explicit FlakySink(int failures) : failures_(failures) {}
  const std::string& name() const override { return name_; }
  absl::Status Deliver(uint64_t seq, absl::string_view event) override {
    absl::MutexLock l(&mu_);
    if (failures_ > 0) {
      --failures_;
      return absl::UnavailableError("receiver down");
    }
    seen_.push_back(seq);
    return absl::OkStatus();
  }
  std::vector<uint64_t> seen() const {
    absl::MutexLock l(&mu_);
    return seen_;
  }

 private:
  const std::string name_ = "flaky";
  mutable absl::Mutex mu_;
  int failures_ ABSL_GUARDED_BY(mu_);
  std::vector<uint64_t> seen_ ABSL_GUARDED_BY(mu_);
};

TEST_F(IncidentStoreTest, OutboxRetriesInOrderAndResumesFromCursor) {
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(store_->Report(MakeFinding(absl::StrCat("k", i)), {}).ok());
  OutboxOptions fast;
  fast.initial_backoff = absl::Milliseconds(1);
  fast.max_backoff = absl::Milliseconds(4);
  auto sink = std::make_unique<FlakySink>(3);
  FlakySink* raw = sink.get();
  auto worker = OutboxWorker::Start(store_.get(), std::move(sink), fast);
  ASSERT_TRUE(worker.ok());
  for (int i = 0; i < 500 && (*worker)->cursor() < 3; ++i)
    absl::SleepFor(absl::Milliseconds(5));
  EXPECT_EQ(raw->seen(), (std::vector<uint64_t>{0, 1, 2}));
  EXPECT_EQ((*worker)->failed_attempts(), 3u);
  worker->reset();
  // New events after a restart of the worker: only those are delivered.
  ASSERT_TRUE(store_->Report(MakeFinding("k9"), {}).ok());
  auto sink2 = std::make_unique<FlakySink>(0);
  FlakySink* raw2 = sink2.get();
  auto worker2 = OutboxWorker::Start(store_.get(), std::move(sink2), fast);
  ASSERT_TRUE(worker2.ok());
  for (int i = 0; i < 500 && (*worker2)->cursor() < 4; ++i)
    absl::SleepFor(absl::Milliseconds(5));
  EXPECT_EQ(raw2->seen(), (std::vector<uint64_t>{3}));
}

// Issue 17: the webhook signature covered the body only, so a captured
// delivery could be replayed forever. It now covers a timestamp.
TEST(WebhookTest, SignatureCoversTimestampAndBody) {
  const std::string body = "what do ya want for nothing?";
  const int64_t ts = 1795000000;
  // HMAC-SHA-256("Jefe", "1795000000." + body), computed independently.
  const std::string sig =
      "v1=caa974d2a898505fffd5aa23352603ce49fc280e491b0b83e670f37477ee3fef";
  EXPECT_EQ(WebhookSignature("Jefe", ts, body), sig);
  const absl::Time now = absl::FromUnixSeconds(ts + 60);
  EXPECT_TRUE(
      VerifyWebhookSignature("Jefe", "1795000000", sig, body, now).ok());
  // Several signatures (a key rollover) are fine if one matches.
  EXPECT_TRUE(
      VerifyWebhookSignature("Jefe", "1795000000", "v1=00, " + sig, body, now)
          .ok());
  // A changed timestamp, body, key or signature fails.
  for (const auto& [secret, stamp, signature, b] : std::vector<
           std::tuple<std::string, std::string, std::string, std::string>>{
           {"Jefe", "1795000001", sig, body},
           {"Jefe", "1795000000", sig, body + " "},
           {"Jeff", "1795000000", sig, body},
           {"Jefe", "1795000000", "sha256=" + sig.substr(3), body},
           {"Jefe", "1795000000", "", body},
           {"Jefe", "", sig, body},
           {"Jefe", "+1795000000", sig, body},
           {"Jefe", "1795000000x", sig, body}}) {
    EXPECT_EQ(VerifyWebhookSignature(secret, stamp, signature, b, now).code(),
              absl::StatusCode::kUnauthenticated)
        << stamp << " " << signature;
  }
  // A replay after more than five minutes fails even though it is genuine.
  EXPECT_EQ(VerifyWebhookSignature("Jefe", "1795000000", sig, body,
                                   now + absl::Minutes(5))
                .code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(VerifyWebhookSignature("Jefe", "1795000000", sig, body,
                                   absl::FromUnixSeconds(ts - 301))
                .code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_FALSE(WebhookSink::Create("", "s").ok());
  EXPECT_FALSE(WebhookSink::Create("http://x", "").ok());
  // Nothing listens on port 1: a retryable error, never a crash.
  auto sink = WebhookSink::Create("http://127.0.0.1:1/hook", "secret",
                                  absl::Seconds(2));
  ASSERT_TRUE(sink.ok());
  EXPECT_EQ((*sink)->Deliver(0, "{}").code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace clover::audit
