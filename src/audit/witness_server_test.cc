#include "audit/witness_server.h"

#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "audit/test_util.h"
#include "crypto/secret_key_file.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace clover::audit {
namespace {

using testing::FakeLog;
using ::testing::HasSubstr;

class WitnessServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    key_ = testing::MakeKey("witness.test", log::kNoteTypeCosignature);
    config_.data_dir = dir_.Sub("data");
    config_.key_file = dir_.Sub("witness.key");
    ASSERT_TRUE(crypto::WritePrivateFile(config_.key_file, key_.signer).ok());
    config_.logs.push_back({log_.origin(), "", {log_.key().verifier}});
    for (int i = 0; i < 20; ++i) log_.Append(absl::StrCat("e", i));
    Reopen();
  }
  void Reopen() {
    server_.reset();
    auto s = WitnessServer::Create(config_);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = *std::move(s);
  }
  server::HttpResponse Call(const std::string& method, const std::string& path,
                            const std::string& body = "") {
    server::HttpRequest req;
    req.method = method;
    req.path = path;
    req.body = body;
    server::HttpResponse out;
    server_->handler()(req,
                       [&](server::HttpResponse r) { out = std::move(r); });
    return out;
  }

  testing::TempDir dir_;
  testing::TestKey key_;
  FakeLog log_{"log.test/eu"};
  WitnessConfig config_;
  std::unique_ptr<WitnessServer> server_;
};

// `clover witness` keeps what it cosigned (synced before it answers): after a
// restart it still refuses to go back and names its size.
TEST_F(WitnessServerTest, StateSurvivesARestart) {
  auto r =
      Call("POST", "/add-checkpoint", "old 0\n\n" + log_.SignedCheckpoint(10));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(r.body, HasSubstr("\xE2\x80\x94 witness.test "));
  Reopen();
  r = Call("POST", "/add-checkpoint", "old 0\n\n" + log_.SignedCheckpoint(20));
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.body, "10\n");
  EXPECT_EQ(r.content_type, "text/x.tlog.size");
  auto list = Call("GET", "/v1/checkpoints");
  EXPECT_EQ(list.status, 200);
  EXPECT_THAT(list.body, HasSubstr("\"size\":10"));
  EXPECT_THAT(list.body, HasSubstr(server_->witness().verifier_key()));
}

// Signature lines the requester adds (64 of them, or one under the witness's
// own name) are not stored: the stored note reopens after a restart and
// carries one valid cosignature.
TEST_F(WitnessServerTest, RequestersExtraLinesAreNotKept) {
  std::string cp = log_.SignedCheckpoint(10);
  const std::string bogus_own = absl::StrCat(
      "\xE2\x80\x94 witness.test ", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
      "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n");
  cp += bogus_own;
  for (int i = 0; i < 62; ++i)
    cp += absl::StrCat("\xE2\x80\x94 junk", i, " AAAAAAAA\n");
  auto r = Call("POST", "/add-checkpoint", "old 0\n\n" + cp);
  ASSERT_EQ(r.status, 200) << r.body;
  Reopen();  // would fail with DataLoss if the stored note were invalid
  auto latest = server_->witness().LatestFor(log_.origin());
  ASSERT_TRUE(latest.has_value());
  EXPECT_FALSE(absl::StrContains(latest->note, "junk"));
  EXPECT_FALSE(absl::StrContains(latest->note, bogus_own));
  auto wv = log::ParseVerifierKey(key_.verifier);
  const log::NoteVerifier* ws[] = {wv->get()};
  EXPECT_TRUE(log::OpenNote(latest->note, ws).ok());
}

TEST(WitnessConfigTest, LoadsAndRefusesUnknownKeys) {
  testing::TempDir dir;
  auto log_key = testing::MakeKey("log.test/eu");
  std::ofstream(dir.Sub("w.yaml"))
      << "witness:\n  listen: 127.0.0.1:0\n  data_dir: data\n"
         "  key_file: w.key\nlogs:\n  - origin: log.test/eu\n"
         "    verifier_keys: ["
      << log_key.verifier << "]\n";
  auto c = LoadWitnessConfig(dir.Sub("w.yaml"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->data_dir, dir.Sub("data"));
  EXPECT_EQ(c->key_file, dir.Sub("w.key"));
  ASSERT_EQ(c->logs.size(), 1u);
  EXPECT_EQ(c->logs[0].origin, "log.test/eu");
  std::ofstream(dir.Sub("bad.yaml"))
      << "witness:\n  listen: 127.0.0.1:0\n  data_dir: d\n  key_file: k\n"
         "  colour: red\nlogs: []\n";
  auto bad = LoadWitnessConfig(dir.Sub("bad.yaml"));
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("witness.colour"));
}

}  // namespace
}  // namespace clover::audit
