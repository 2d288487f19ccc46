#include "log/witness_client.h"

#include <atomic>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "log/checkpoint.h"
#include "log/rocksdb_storage.h"
#include "log/sequencer.h"
#include "log/test_util.h"

namespace clover::log {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

crypto::Ed25519PrivateKey Key(char c) {
  return *crypto::Ed25519PrivateKey::FromSeed(std::string(32, c));
}

// A C2SP tlog-witness in memory: checks old size and consistency proof as
// the spec says and cosigns with `key`.
class FakeWitness {
 public:
  FakeWitness(const std::string& name, char seed)
      : signer_(*NewNoteSigner(name, kNoteTypeCosignature, Key(seed))),
        verifier_key_(FormatVerifierKey(name, kNoteTypeCosignature,
                                        Key(seed).public_key())) {}

  absl::StatusOr<PostResponse> Post(const std::string& url, const std::string&,
                                    const std::string& body) {
    ++calls_;
    if (down_) return absl::UnavailableError(url + ": down");
    std::vector<std::string> parts = absl::StrSplit(body, '\n');
    uint64_t old_size = 0;
    EXPECT_TRUE(absl::SimpleAtoi(parts[0].substr(4), &old_size));
    std::vector<Hash> proof;
    size_t i = 1;
    for (; !parts[i].empty(); ++i) {
      std::string raw;
      EXPECT_TRUE(absl::Base64Unescape(parts[i], &raw));
      Hash h;
      std::copy(raw.begin(), raw.end(), h.begin());
      proof.push_back(h);
    }
    const std::string note = body.substr(body.find("\n\n") + 2);
    auto parsed = ParseNote(note);
    auto cp = ParseCheckpoint(parsed->text);
    if (old_size != size_)
      return PostResponse{409, "text/x.tlog.size", absl::StrCat(size_, "\n")};
    if (size_ > 0 && old_size < cp->size &&
        !VerifyConsistency(old_size, cp->size, root_, cp->root, proof).ok()) {
      return PostResponse{422, "text/plain", "bad proof\n"};
    }
    size_ = cp->size;
    root_ = cp->root;
    const NoteSigner* s = forger_ ? forger_.get() : signer_.get();
    NoteSignature sig{s->name(), s->key_id(), *s->Sign(parsed->text)};
    return PostResponse{200, "text/plain", sig.Line()};
  }
  Poster AsPoster() {
    return [this](const std::string& url, const std::string& type,
                  const std::string& body) { return Post(url, type, body); };
  }

  void Holds(uint64_t size, const Hash& root) {
    size_ = size;
    root_ = root;
  }
  // Answers with a cosignature under its name by another key.
  void Forge() {
    forger_ = *NewNoteSigner(signer_->name(), kNoteTypeCosignature, Key('f'));
  }
  std::atomic<bool> down_{false};
  std::atomic<int> calls_{0};
  const std::string& verifier_key() const { return verifier_key_; }

 private:
  std::unique_ptr<NoteSigner> signer_;
  std::unique_ptr<NoteSigner> forger_;
  std::string verifier_key_;
  uint64_t size_ = 0;
  Hash root_{};
};

class WitnessingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto storage = OpenRocksDbStorage(dir_.path());
    ASSERT_TRUE(storage.ok());
    auto seq = Sequencer::Open(
        *std::move(storage),
        *NewNoteSigner("test.example/log", kNoteTypeEd25519, Key('k')));
    ASSERT_TRUE(seq.ok()) << seq.status();
    seq_ = *std::move(seq);
  }
  void Append(int n) {
    for (int i = 0; i < n; ++i)
      ASSERT_TRUE(seq_->Append(absl::StrCat("e", next_++)).get().ok());
  }
  std::unique_ptr<CheckpointWitnessing> Start(
      std::vector<FakeWitness*> ws, absl::Duration backoff = absl::Hours(1)) {
    WitnessingOptions o;
    for (size_t i = 0; i < ws.size(); ++i)
      o.witnesses.push_back(
          {absl::StrCat("http://w", i), ws[i]->verifier_key()});
    o.min_backoff = backoff;
    o.max_backoff = backoff;
    std::vector<Poster> posters;
    for (FakeWitness* w : ws) posters.push_back(w->AsPoster());
    o.post = [posters](const std::string& url, const std::string& type,
                       const std::string& body) {
      return posters[url[8] - '0'](url, type, body);  // "http://wN/..."
    };
    auto w = CheckpointWitnessing::Start(*seq_, std::move(o));
    EXPECT_TRUE(w.ok()) << w.status();
    if (!w.ok()) return nullptr;
    (*w)->Notify();
    return *std::move(w);
  }
  static bool CosignedBy(const std::string& note, const FakeWitness& w) {
    auto v = ParseVerifierKey(w.verifier_key());
    const NoteVerifier* vs[] = {v->get()};
    return CheckWitnessQuorum(note, vs, 1).ok();
  }

  testing::TempDir dir_;
  std::unique_ptr<Sequencer> seq_;
  int next_ = 0;
};

TEST_F(WitnessingTest, A409NamingTheWitnessSizeIsAnsweredWithAProof) {
  Append(3);
  FakeWitness w("w.test", 'a');
  w.Holds(3, seq_->LatestCheckpoint().root);  // from before our restart
  Append(4);
  auto pub = Start({&w});
  ASSERT_TRUE(pub->WaitPublished(7, absl::Seconds(10)));
  EXPECT_EQ(pub->Size(), 7u);
  const std::string note = pub->SignedCheckpoint();
  EXPECT_TRUE(CosignedBy(note, w)) << note;
  // The log's own signature is still there.
  auto lv = NewNoteVerifier("test.example/log", kNoteTypeEd25519,
                            Key('k').public_key());
  const NoteVerifier* ls[] = {lv->get()};
  EXPECT_TRUE(OpenCheckpoint(note, "test.example/log", ls).ok());
  // Later checkpoints follow once the sequencer says so.
  Append(2);
  pub->Notify();
  ASSERT_TRUE(pub->WaitPublished(9, absl::Seconds(10)));
  EXPECT_TRUE(CosignedBy(pub->SignedCheckpoint(), w));
}

TEST_F(WitnessingTest, ForgedCosignaturesAreNotServed) {
  Append(2);
  FakeWitness honest("honest.test", 'h');
  FakeWitness liar("liar.test", 'l');
  liar.Forge();
  auto pub = Start({&honest, &liar});
  ASSERT_TRUE(pub->WaitPublished(2, absl::Seconds(10)));
  const std::string note = pub->SignedCheckpoint();
  EXPECT_TRUE(CosignedBy(note, honest));
  EXPECT_FALSE(CosignedBy(note, liar));
  EXPECT_THAT(note, Not(HasSubstr("liar.test")));
}

TEST_F(WitnessingTest, AFailingWitnessIsSkippedUntilItsBackoffExpires) {
  Append(1);
  FakeWitness up("up.test", 'u');
  FakeWitness down("down.test", 'd');
  down.down_ = true;
  auto pub = Start({&up, &down});
  ASSERT_TRUE(pub->WaitPublished(1, absl::Seconds(10)));
  EXPECT_TRUE(CosignedBy(pub->SignedCheckpoint(), up));
  EXPECT_EQ(down.calls_.load(), 1);
  // Appends do not wait; the next round skips the failing witness.
  Append(1);
  pub->Notify();
  ASSERT_TRUE(pub->WaitPublished(2, absl::Seconds(10)));
  EXPECT_TRUE(CosignedBy(pub->SignedCheckpoint(), up));
  EXPECT_EQ(down.calls_.load(), 1);
}

TEST(WitnessQuorumTest, RefusesLogKeysAndBadQuorums) {
  auto log_key =
      NewNoteVerifier("log", kNoteTypeEd25519, Key('k').public_key());
  auto w = NewNoteVerifier("w", kNoteTypeCosignature, Key('a').public_key());
  const NoteVerifier* log_only[] = {log_key->get()};
  EXPECT_EQ(CheckWitnessQuorum("x", log_only, 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  const NoteVerifier* twice[] = {w->get(), w->get()};
  EXPECT_EQ(CheckWitnessQuorum("x", twice, 2).status().code(),
            absl::StatusCode::kInvalidArgument);  // one distinct key
  EXPECT_EQ(CheckWitnessQuorum("x", twice, 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  WitnessingOptions o;
  o.witnesses.push_back({"http://w", FormatVerifierKey("log", kNoteTypeEd25519,
                                                       Key('k').public_key())});
  testing::TempDir dir;
  auto seq = Sequencer::Open(*OpenRocksDbStorage(dir.path()),
                             *NewNoteSigner("log", kNoteTypeEd25519, Key('k')));
  ASSERT_TRUE(seq.ok());
  EXPECT_EQ(CheckpointWitnessing::Start(**seq, o).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace clover::log

namespace clover::log {
namespace {

TEST(WitnessAnswerTest, ReadsSizesConflictsAndRefusals) {
  auto w = NewNoteVerifier("w", kNoteTypeCosignature, Key('a').public_key());
  auto signer = NewNoteSigner("log", kNoteTypeEd25519, Key('k'));
  const NoteSigner* ss[] = {signer->get()};
  const std::string note =
      *SignNote(FormatCheckpoint({"log", 3, {}, {}}), ss);
  WitnessAnswer a =
      ReadWitnessAnswer({409, "text/x.tlog.size", "12\n"}, note, **w);
  EXPECT_EQ(a.kind, WitnessAnswer::Kind::kSize);
  EXPECT_EQ(a.size, 12u);
  EXPECT_EQ(ReadWitnessAnswer({409, "text/x.tlog.size", "012x\n"}, note, **w)
                .kind,
            WitnessAnswer::Kind::kRootConflict);
  EXPECT_EQ(ReadWitnessAnswer({409, "text/plain", "root differs\n"}, note, **w)
                .kind,
            WitnessAnswer::Kind::kRootConflict);
  a = ReadWitnessAnswer({200, "text/plain", "\xE2\x80\x94 w AAAA\n"}, note,
                        **w);
  EXPECT_EQ(a.kind, WitnessAnswer::Kind::kRefused);
  a = ReadWitnessAnswer(
      {500, "text/plain", "bad\n\x1b[31mforged log line" + std::string(500, 'x')},
      note, **w);
  EXPECT_EQ(a.kind, WitnessAnswer::Kind::kRefused);
  EXPECT_LE(a.detail.size(), 200u);
  EXPECT_EQ(a.detail.find('\n'), std::string::npos);
  EXPECT_EQ(a.detail.find('\x1b'), std::string::npos);
}

}  // namespace
}  // namespace clover::log
