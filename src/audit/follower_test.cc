#include "audit/follower.h"

#include "absl/strings/escaping.h"
#include "audit/test_util.h"
#include "audit/tlog_proof.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace clover::audit {
namespace {

using testing::FakeLog;
using ::testing::HasSubstr;

class FollowerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    kv_ = *kv::KvStore::Open(dir_.Sub("db"));
    witness_key_ = testing::MakeKey("witness.test", log::kNoteTypeCosignature);
    OpenWitness();
    for (int i = 0; i < 300; ++i) log_.Append(absl::StrCat("{\"n\":", i, "}"));
  }
  void OpenWitness() {
    witness_.reset();
    auto w = Witness::Open(
        kv_.get(), witness_key_.signer,
        {{log_.origin(), {log_.key().verifier}}},
        [this](Finding f) { witness_findings_.push_back(std::move(f)); });
    ASSERT_TRUE(w.ok()) << w.status();
    witness_ = *std::move(w);
  }
  std::unique_ptr<LogFollower> Open(const FakeLog& log) {
    auto f = LogFollower::Open({log.origin(), "mem://", {log.key().verifier}},
                               log.Fetcher(), kv_.get(), witness_.get());
    EXPECT_TRUE(f.ok()) << f.status();
    return f.ok() ? *std::move(f) : nullptr;
  }
  LogFollower::EntryFn Collect() {
    return [this](uint64_t first, const std::vector<std::string>& entries,
                  kv::KvBatch&) {
      EXPECT_EQ(first, seen_.size());
      for (const auto& e : entries) seen_.push_back(e);
      return absl::OkStatus();
    };
  }

  testing::TempDir dir_;
  std::unique_ptr<kv::KvStore> kv_;
  testing::TestKey witness_key_;
  std::unique_ptr<Witness> witness_;
  std::vector<Finding> witness_findings_;
  FakeLog log_{"log.test/eu"};
  std::vector<std::string> seen_;
};

TEST_F(FollowerTest, VerifiesGrowthCosignsAndProves) {
  auto f = Open(log_);
  auto r = f->Poll(Collect());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->new_entries, 300u);
  EXPECT_TRUE(r->findings.empty());
  EXPECT_EQ(seen_, log_.entries());
  for (int i = 300; i < 700; ++i) log_.Append(absl::StrCat("{\"n\":", i, "}"));
  r = f->Poll(Collect());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->new_entries, 400u);
  EXPECT_EQ(f->size(), 700u);
  EXPECT_EQ(seen_, log_.entries());

  // The checkpoint carries our cosignature, and proofs verify offline.
  auto wv = log::ParseVerifierKey(witness_key_.verifier);
  ASSERT_TRUE(wv.ok());
  auto lv = log::ParseVerifierKey(log_.key().verifier);
  const log::NoteVerifier* logs[] = {lv->get()};
  const log::NoteVerifier* witnesses[] = {wv->get()};
  for (uint64_t idx : {0, 255, 256, 299, 699}) {
    auto proof = f->ProofFor(idx);
    ASSERT_TRUE(proof.ok()) << proof.status();
    EXPECT_TRUE(VerifyTlogProof(*proof, log_.entries()[idx], log_.origin(),
                                logs, witnesses)
                    .ok());
    EXPECT_FALSE(
        VerifyTlogProof(*proof, "other", log_.origin(), logs, witnesses).ok());
  }
  EXPECT_EQ(f->ProofFor(700).status().code(), absl::StatusCode::kOutOfRange);
  // Nothing new: no refetch of bundles, no findings.
  r = f->Poll(Collect());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->new_entries, 0u);
}

TEST_F(FollowerTest, StateSurvivesRestart) {
  {
    auto f = Open(log_);
    ASSERT_TRUE(f->Poll(Collect()).ok());
  }
  auto f = Open(log_);
  EXPECT_EQ(f->size(), 300u);
  log_.Append("{\"n\":300}");
  auto r = f->Poll(
      [](uint64_t first, const std::vector<std::string>& e, kv::KvBatch&) {
        EXPECT_EQ(first, 300u);
        EXPECT_EQ(e.size(), 1u);
        return absl::OkStatus();
      });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->new_entries, 1u);
}

TEST_F(FollowerTest, ShrinkingTreeIsSplitView) {
  auto f = Open(log_);
  ASSERT_TRUE(f->Poll(Collect()).ok());
  log_.Publish(200);
  auto r = f->Poll(Collect());
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->findings.size(), 1u);
  EXPECT_EQ(r->findings[0].detector, kDetectorSplitView);
  EXPECT_THAT(r->findings[0].summary, HasSubstr("shrank from 300 to 200"));
  ASSERT_EQ(r->findings[0].evidence.size(), 1u);
  EXPECT_EQ(r->findings[0].evidence[0].checkpoints.size(), 2u);
  EXPECT_EQ(f->size(), 300u);
}

TEST_F(FollowerTest, ForkedLogIsSplitView) {
  auto f = Open(log_);
  ASSERT_TRUE(f->Poll(Collect()).ok());
  // The same log key signs another history: same size, other root.
  // It differs in entry 100 only (a full tile the follower never re-reads).
  FakeLog fork(log_.origin(), log_.key());
  for (int i = 0; i < 300; ++i) {
    fork.Append(i == 100 ? std::string("{\"n\":\"hidden\"}")
                         : log_.entries()[i]);
  }
  auto f2 = LogFollower::Open({log_.origin(), "", {log_.key().verifier}},
                              fork.Fetcher(), kv_.get(), witness_.get());
  ASSERT_TRUE(f2.ok());
  auto r = (*f2)->Poll(Collect());
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->findings.size(), 1u);
  EXPECT_EQ(r->findings[0].detector, kDetectorSplitView);
  EXPECT_THAT(r->findings[0].key, HasSubstr("fork@300"));

  // A larger forked tree: its entries match its tiles but it does not extend
  // ours.
  for (int i = 300; i < 400; ++i) fork.Append(absl::StrCat("{\"n\":", i, "}"));
  r = (*f2)->Poll(Collect());
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->findings.size(), 1u);
  EXPECT_EQ(r->findings[0].detector, kDetectorSplitView);
  EXPECT_THAT(r->findings[0].summary, HasSubstr("does not extend"));
  EXPECT_EQ((*f2)->size(), 300u);
}

TEST_F(FollowerTest, TamperedBundleIsDetected) {
  auto f = Open(log_);
  ASSERT_TRUE(f->Poll(Collect()).ok());
  for (int i = 300; i < 310; ++i) log_.Append(absl::StrCat("{\"n\":", i, "}"));
  log_.TamperBundle(305, "{\"n\":\"forged\"}");
  auto r = f->Poll(Collect());
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->findings.size(), 1u);
  EXPECT_EQ(r->findings[0].detector, kDetectorTamperedBundle);
  ASSERT_EQ(r->findings[0].evidence.size(), 1u);
  EXPECT_EQ(r->findings[0].evidence[0].index, 305u);
  EXPECT_EQ(f->size(), 300u);
  EXPECT_EQ(seen_.size(), 300u);  // nothing unverified was handed on
}

TEST_F(FollowerTest, RewrittenVerifiedEntryIsDetected) {
  auto f = Open(log_);
  ASSERT_TRUE(f->Poll(Collect()).ok());  // 300: bundle 1 partial (44 entries)
  log_.Append("{\"n\":300}");
  log_.TamperBundle(260, "{\"n\":\"rewritten\"}");
  auto r = f->Poll(Collect());
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->findings.size(), 1u);
  EXPECT_EQ(r->findings[0].detector, kDetectorTamperedBundle);
  EXPECT_THAT(r->findings[0].summary, HasSubstr("entry 260"));
  // The evidence proves what the verified entry was.
  ASSERT_FALSE(r->findings[0].evidence[0].proof.empty());
}

TEST_F(FollowerTest, BadSignatureIsAnError) {
  FakeLog impostor(log_.origin());  // another key
  impostor.Append("{}");
  auto f = LogFollower::Open({log_.origin(), "", {log_.key().verifier}},
                             impostor.Fetcher(), kv_.get(), nullptr);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ((*f)->Poll(Collect()).status().code(),
            absl::StatusCode::kUnauthenticated);
}

// C2SP tlog-witness add-checkpoint.
TEST_F(FollowerTest, WitnessAddCheckpoint) {
  const std::string cp100 = log_.SignedCheckpoint(100);
  Witness::Response r = witness_->HandleAddCheckpoint("old 0\n\n" + cp100);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(r.body, HasSubstr("\xE2\x80\x94 witness.test "));
  // The response lines are cosignatures over the checkpoint.
  auto cosigned = log::ParseNote(cp100);
  ASSERT_TRUE(cosigned.ok());
  auto wv = log::ParseVerifierKey(witness_key_.verifier);
  const log::NoteVerifier* wvs[] = {wv->get()};
  EXPECT_TRUE(log::OpenNote(cp100 + r.body, wvs).ok());

  // Stale old size -> 409 with the current size.
  r = witness_->HandleAddCheckpoint("old 0\n\n" + log_.SignedCheckpoint(200));
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.body, "100\n");
  EXPECT_EQ(r.content_type, "text/x.tlog.size");

  // A correct consistency proof from 100 to 200.
  HashTree tree;
  for (const auto& e : log_.entries()) tree.Append(log::LeafHash(e));
  auto proof = tree.ConsistencyProof(100, 200);
  ASSERT_TRUE(proof.ok());
  std::string body = "old 100\n";
  for (const auto& h : *proof) {
    body += absl::Base64Escape(absl::string_view(
                reinterpret_cast<const char*>(h.data()), 32)) +
            "\n";
  }
  std::string bad = body;
  body += "\n" + log_.SignedCheckpoint(200);
  r = witness_->HandleAddCheckpoint(body);
  EXPECT_EQ(r.status, 200) << r.body;

  // A forked checkpoint with a "proof" that cannot verify -> 422. The proof
  // is the requester's, not the log's: no finding (issue 18: anyone who can
  // reach the endpoint could otherwise raise critical incidents).
  FakeLog fork(log_.origin(), log_.key());
  for (int i = 0; i < 300; ++i) fork.Append(absl::StrCat("x", i));
  std::string fork_body = "old 200\n";
  auto fproof = tree.ConsistencyProof(200, 300);
  for (const auto& h : *fproof) {
    fork_body += absl::Base64Escape(absl::string_view(
                     reinterpret_cast<const char*>(h.data()), 32)) +
                 "\n";
  }
  fork_body += "\n" + fork.SignedCheckpoint(300);
  r = witness_->HandleAddCheckpoint(fork_body);
  EXPECT_EQ(r.status, 422);
  EXPECT_TRUE(witness_findings_.empty());
  // Nor does a garbage proof for the honest checkpoint.
  std::string garbage = "old 200\n";
  for (int i = 0; i < 3; ++i)
    garbage += absl::Base64Escape(std::string(32, static_cast<char>(i))) + "\n";
  r = witness_->HandleAddCheckpoint(garbage + "\n" +
                                    log_.SignedCheckpoint(300));
  EXPECT_EQ(r.status, 422);
  EXPECT_TRUE(witness_findings_.empty());
  EXPECT_EQ(witness_->LatestFor(log_.origin())->checkpoint.size, 200u);

  // Two checkpoints signed by the log, one size, two roots: evidence.
  FakeLog fork200(log_.origin(), log_.key());
  for (int i = 0; i < 200; ++i) fork200.Append(absl::StrCat("y", i));
  r = witness_->HandleAddCheckpoint("old 200\n\n" +
                                    fork200.SignedCheckpoint(200));
  EXPECT_EQ(r.status, 409);
  ASSERT_EQ(witness_findings_.size(), 1u);
  EXPECT_EQ(witness_findings_[0].detector, kDetectorSplitView);
  EXPECT_EQ(witness_findings_[0].severity, Severity::kCritical);
  EXPECT_EQ(witness_findings_[0].evidence[0].checkpoints.size(), 2u);

  // Unknown origin, bad signature, malformed.
  FakeLog other("other.test/log");
  other.Append("a");
  EXPECT_EQ(
      witness_->HandleAddCheckpoint("old 0\n\n" + other.SignedCheckpoint(1))
          .status,
      404);
  FakeLog impostor(log_.origin());
  impostor.Append("a");
  EXPECT_EQ(
      witness_
          ->HandleAddCheckpoint("old 200\n\n" + impostor.SignedCheckpoint(1))
          .status,
      403);
  EXPECT_EQ(witness_->HandleAddCheckpoint("old 01\n\n" + cp100).status, 400);
  EXPECT_EQ(witness_->HandleAddCheckpoint("garbage").status, 400);

  // State persists: a reopened witness still knows size 200.
  OpenWitness();
  EXPECT_EQ(witness_->LatestFor(log_.origin())->checkpoint.size, 200u);
}

TEST_F(FollowerTest, WitnessedCheckpointMustMatchServedTree) {
  // The log shows the witness a forked checkpoint at 100, then serves another
  // history.
  FakeLog fork(log_.origin(), log_.key());
  for (int i = 0; i < 100; ++i) fork.Append(absl::StrCat("x", i));
  ASSERT_EQ(
      witness_->HandleAddCheckpoint("old 0\n\n" + fork.SignedCheckpoint(100))
          .status,
      200);
  auto f = Open(log_);
  auto r = f->Poll(Collect());
  ASSERT_TRUE(r.ok());
  // The witness refuses to cosign the inconsistent served tree...
  ASSERT_EQ(witness_findings_.size(), 1u);
  EXPECT_EQ(witness_findings_[0].detector, kDetectorSplitView);
  // ...and the follower, holding size 300, sees that the witnessed root at 100
  // is not ours.
  ASSERT_EQ(r->findings.size(), 1u);
  EXPECT_THAT(r->findings[0].key, HasSubstr("witnessed@100"));
}

TEST(TlogProofTest, RoundTripAndErrors) {
  TlogProof p;
  p.index = 7;
  p.extra = "ctx";
  p.proof = {log::LeafHash("a"), log::LeafHash("b")};
  p.checkpoint = "origin\n1\nAAAA\n\n\xE2\x80\x94 k sig\n";
  auto back = ParseTlogProof(FormatTlogProof(p));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->index, 7u);
  EXPECT_EQ(back->extra, "ctx");
  EXPECT_EQ(back->proof, p.proof);
  EXPECT_EQ(back->checkpoint, p.checkpoint);
  EXPECT_FALSE(ParseTlogProof("c2sp.org/tlog-proof@v1\nindex 07\n\nx").ok());
  EXPECT_FALSE(
      ParseTlogProof("c2sp.org/tlog-proof@v1\nindex 1\nnot-base64\n\nx").ok());
  EXPECT_FALSE(ParseTlogProof("c2sp.org/tlog-proof@v1\nindex 1\n").ok());
  EXPECT_FALSE(ParseTlogProof("").ok());
}

}  // namespace
}  // namespace clover::audit
