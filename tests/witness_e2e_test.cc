// Issue 18, witnessing and false alarms, over real HTTP on loopback: a node
// (ie-dub-1 of the example deployment) pushes its checkpoints to two
// stand-alone witnesses and serves them cosigned; `clover log verify
// --witness` checks the quorum; over-budget aggregates (no entry) never make
// the auditor see a stalled log.
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "audit/audit_config.h"
#include "audit/auditor.h"
#include "audit/witness_server.h"
#include "core/clock.h"
#include "core/owned_dir.h"
#include "crypto/ed25519.h"
#include "crypto/secret_key_file.h"
#include "gateway/http_client.h"
#include "gateway/local_deployment.h"
#include "gateway/node.h"
#include "gateway_test_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "log/fetch.h"
#include "log/note.h"
#include "log/witness_client.h"
#include "policy/bundle.h"
#include "policy/signature.h"

namespace clover::gateway {
namespace {

using ::testing::HasSubstr;

struct Key {
  std::string signer, verifier;
};
Key MakeKey(const std::string& name, uint8_t type) {
  auto k = crypto::Ed25519PrivateKey::Generate();
  EXPECT_TRUE(k.ok());
  Key out;
  out.signer = log::FormatSignerKey(name, type, *k);
  out.verifier = *log::VerifierKeyFromSignerKey(out.signer);
  return out;
}

std::string Record(int n) {
  return absl::StrCat(
      "{\"country\":\"IE\",\"fields\":{\"email\":\"p", n,
      "@mail.example\",\"name\":\"Person ", n,
      "\",\"birthdate\":\"1987-06-15\",\"payment_country\":\"IE\"}}");
}

// Runs the clover binary; returns its exit code and what it wrote to stderr.
std::pair<int, std::string> Clover(const std::string& args) {
  const std::string cmd =
      absl::StrCat(CLOVER_BINARY, " ", args, " 2>&1 >/dev/null");
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return {-1, ""};
  std::string err;
  char buf[512];
  while (fgets(buf, sizeof buf, p) != nullptr) err += buf;
  const int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, err};
}

class WitnessE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto made = CreateOwnedTempDir("witness-e2e");
    ASSERT_TRUE(made.ok()) << made.status();
    dir_ = *made;
    auto d = LoadDeployment(
        absl::StrCat(CLOVER_SOURCE_DIR, "/examples/deployment.yaml"));
    ASSERT_TRUE(d.ok()) << d.status();
    d->privacy.daily_epsilon_budget = 1.0;  // two aggregates at epsilon 0.5
    auto nodes = PrepareLocalDeployment(*d, dir_, 0, FreeLoopbackPort);
    ASSERT_TRUE(nodes.ok()) << nodes.status();
    for (LocalNode& n : *nodes)
      if (n.dc == "ie-dub-1") node_ = n;
    ASSERT_FALSE(node_.dc.empty());
  }
  void TearDown() override {
    if (running_) running_->Shutdown();
    running_.reset();
    witnesses_.clear();
    if (!dir_.empty()) {
      EXPECT_TRUE(RemoveOwnedDir(dir_).ok());
    }
  }

  // A stand-alone witness of the node's log, listening on loopback.
  std::string StartWitness(const std::string& name) {
    const Key k = MakeKey(name, log::kNoteTypeCosignature);
    audit::WitnessConfig c;
    c.data_dir = absl::StrCat(dir_, "/", name);
    c.key_file = absl::StrCat(dir_, "/", name, ".key");
    EXPECT_TRUE(crypto::WritePrivateFile(c.key_file, k.signer + "\n").ok());
    c.logs.push_back({node_.deployment.log.origin, "", {node_.verifier_key}});
    auto w = audit::WitnessServer::Create(c);
    EXPECT_TRUE(w.ok()) << w.status();
    EXPECT_TRUE((*w)->Start().ok());
    node_.deployment.log.witnesses.push_back(
        {absl::StrCat("http://127.0.0.1:", (*w)->port()), k.verifier});
    witnesses_.push_back(*std::move(w));
    return k.verifier;
  }

  void StartNode() {
    NodeOptions o;
    o.threads = 2;
    auto n = Node::Start(node_.deployment, o);
    ASSERT_TRUE(n.ok()) << n.status();
    running_ = *std::move(n);
  }

  ClientResponse Call(absl::string_view principal, absl::string_view method,
                      const std::string& path, absl::string_view purpose,
                      absl::string_view body = {}) {
    return e2e::CallAs(client_, principal, method, node_.endpoint + path,
                       purpose, body);
  }

  std::string ServedCheckpoint() {
    auto r = client_.Send("GET", node_.endpoint + "/log/checkpoint", {});
    EXPECT_TRUE(r.ok());
    return r.ok() ? r->body : "";
  }

  std::string Verify(const std::string& extra) {
    return absl::StrCat("log verify --url ", node_.endpoint, "/log --key ",
                        node_.verifier_key, " ", extra);
  }

  std::string dir_;
  LocalNode node_;
  std::vector<std::unique_ptr<audit::WitnessServer>> witnesses_;
  std::unique_ptr<Node> running_;
  HttpClient client_;
};

TEST_F(WitnessE2eTest, CheckpointsAreCosignedAndVerifyChecksTheQuorum) {
  const std::string w1 = StartWitness("w1.test");
  const std::string w2 = StartWitness("w2.test");
  const std::string stranger =
      MakeKey("w3.test", log::kNoteTypeCosignature).verifier;
  StartNode();
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(Call("accounts-eu", "PUT", absl::StrCat("/v1/subjects/w-", i),
                   "account_management", Record(i))
                  .status,
              201);
  }
  ASSERT_TRUE(running_->WaitWitnessed(absl::Seconds(20)));
  const std::string served = ServedCheckpoint();
  auto v1 = log::ParseVerifierKey(w1);
  auto v2 = log::ParseVerifierKey(w2);
  const log::NoteVerifier* both[] = {v1->get(), v2->get()};
  auto n = log::CheckWitnessQuorum(served, both, 2);
  ASSERT_TRUE(n.ok()) << n.status() << "\n" << served;
  EXPECT_THAT(served, HasSubstr("\n3\n"));  // the size covers every write
  // Each witness holds it, persisted.
  EXPECT_EQ(witnesses_[0]
                ->witness()
                .LatestFor(node_.deployment.log.origin)
                ->checkpoint.size,
            3u);

  // clover log verify --witness: every given witness by default.
  auto ok = Clover(Verify(absl::StrCat("--witness ", w1, " --witness ", w2)));
  EXPECT_EQ(ok.first, 0) << ok.second;
  auto short_of =
      Clover(Verify(absl::StrCat("--witness ", w1, " --witness ", stranger)));
  EXPECT_EQ(short_of.first, 1);
  EXPECT_THAT(short_of.second,
              HasSubstr("valid cosignatures from 1 of the 2 witnesses"));
  EXPECT_EQ(std::count(short_of.second.begin(), short_of.second.end(), '\n'), 1)
      << short_of.second;
  auto quorum_one = Clover(Verify(absl::StrCat(
      "--witness ", w1, " --witness ", stranger, " --witness-quorum 1")));
  EXPECT_EQ(quorum_one.first, 0) << quorum_one.second;
  // The log's own key is no witness; a quorum above the keys is bad usage.
  EXPECT_EQ(Clover(Verify("--witness " + node_.verifier_key)).first, 2);
  EXPECT_EQ(
      Clover(Verify(absl::StrCat("--witness ", w1, " --witness-quorum 2")))
          .first,
      2);

  // A witness that goes away only loses its own cosignature; appends go on.
  witnesses_[1]->Stop();
  ASSERT_EQ(Call("accounts-eu", "PUT", "/v1/subjects/w-9", "account_management",
                 Record(9))
                .status,
            201);
  ASSERT_TRUE(running_->WaitWitnessed(absl::Seconds(20)));
  const std::string later = ServedCheckpoint();
  EXPECT_THAT(later, HasSubstr("\n4\n"));
  const log::NoteVerifier* first[] = {v1->get()};
  EXPECT_TRUE(log::CheckWitnessQuorum(later, first, 1).ok()) << later;
  EXPECT_FALSE(log::CheckWitnessQuorum(later, both, 2).ok());
  EXPECT_EQ(
      Clover(Verify(absl::StrCat("--witness ", w1, " --witness ", w2))).first,
      1);

  // After a restart the node does not know the witness's size: the 409 that
  // names it is answered at once with a proof from there.
  running_->Shutdown();
  running_.reset();
  StartNode();
  ASSERT_EQ(Call("accounts-eu", "PUT", "/v1/subjects/w-10",
                 "account_management", Record(10))
                .status,
            201);
  ASSERT_TRUE(running_->WaitWitnessed(absl::Seconds(20)));
  const std::string restarted = ServedCheckpoint();
  EXPECT_THAT(restarted, HasSubstr("\n5\n"));
  EXPECT_TRUE(log::CheckWitnessQuorum(restarted, first, 1).ok()) << restarted;
  EXPECT_EQ(witnesses_[0]
                ->witness()
                .LatestFor(node_.deployment.log.origin)
                ->checkpoint.size,
            5u);
}

// Issue 18: an over-budget aggregate (429) decides but logs nothing. The
// auditor's stall detector used to compare log growth with the gateway's
// decision counter, so 25 of them raised a false log_stalled. Now it reads
// clover_log_appends_total, which only durable entries move.
TEST_F(WitnessE2eTest, OverBudgetAggregatesNeverRaiseLogStalled) {
  StartNode();
  for (int i = 0; i < 6; ++i) {
    ASSERT_EQ(Call("accounts-eu", "PUT", absl::StrCat("/v1/subjects/a-", i),
                   "account_management", Record(i))
                  .status,
              201);
  }
  // The auditor follows the node with its own (fake) clock.
  const Key policy_key = MakeKey("auditor.test", log::kNoteTypeEd25519);
  const std::string policy = absl::StrCat(dir_, "/policy.yaml");
  std::filesystem::copy_file(node_.deployment.policy.file, policy);
  auto text = policy::ReadFileToString(policy);
  ASSERT_TRUE(text.ok());
  auto sig = policy::SignPolicy(policy::Sha256Hex(*text), policy_key.signer);
  ASSERT_TRUE(sig.ok());
  ASSERT_TRUE(crypto::WritePrivateFile(policy + ".sig", *sig).ok());
  audit::AuditorConfig c;
  c.name = "auditor.test";
  c.data_dir = absl::StrCat(dir_, "/auditor");
  c.witness_key_file = absl::StrCat(dir_, "/auditor.witness.key");
  c.journal_key_file = absl::StrCat(dir_, "/auditor.journal.key");
  ASSERT_TRUE(crypto::WritePrivateFile(
                  c.witness_key_file,
                  MakeKey("auditor.test", log::kNoteTypeCosignature).signer)
                  .ok());
  ASSERT_TRUE(
      crypto::WritePrivateFile(
          c.journal_key_file,
          MakeKey("auditor.test/incidents", log::kNoteTypeEd25519).signer)
          .ok());
  c.journal_origin = "auditor.test/incidents";
  c.insecure_no_auth = true;
  c.policy_bundles = {policy};
  c.policy_keys = {policy_key.verifier};
  c.log_stalled_after = absl::Minutes(1);
  audit::AuditorLogConfig l;
  l.log = {node_.deployment.log.origin,
           node_.endpoint + "/log",
           {node_.verifier_key}};
  l.traffic_metrics_url = node_.endpoint + "/metrics";
  c.logs.push_back(l);
  // The day's budget is spent first (those aggregates are logged).
  auto aggregate = [&] {
    return Call("eu-analytics", "POST", "/v1/aggregates", "analytics",
                "{\"field\":\"birthdate\"}")
        .status;
  };
  int spent = 0;
  while (aggregate() != 429) ASSERT_LT(++spent, 10);
  FakeClock clock(absl::Now());
  auto auditor = audit::Auditor::Create(c, clock);
  ASSERT_TRUE(auditor.ok()) << auditor.status();
  ASSERT_TRUE((*auditor)->PollOnce().ok());
  ASSERT_GT((*auditor)->followers()[0]->size(), 0u);

  // Now 30 refusals without an entry, while the log (rightly) stands still.
  for (int i = 0; i < 30; ++i) ASSERT_EQ(aggregate(), 429);
  clock.Advance(absl::Minutes(2));
  ASSERT_TRUE((*auditor)->PollOnce().ok());
  for (const audit::Incident& i : (*auditor)->incidents().List(std::nullopt))
    EXPECT_NE(i.detector, "log_stalled") << i.summary;
}

}  // namespace
}  // namespace clover::gateway
