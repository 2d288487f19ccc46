// A real node (`clover serve`) on a KEK held in a PKCS#11 token (SoftHSM2, in
// a token directory of the test's own): the key is made with `clover keys
// pkcs11-create`, the node serves writes and reads, `clover vault purge`
// destroys the old erasure epoch key in the token and the node's erasure
// attestation names it; a rotation inside the token (a node started with a
// retired label re-wraps while it serves) keeps every record readable; a
// wrong PIN stops the node from starting, with a clear message that does not
// contain the PIN.
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "core/test_temp_dir.h"
#include "entry/erasure_attestation.h"
#include "gateway/http_client.h"
#include "gateway/local_deployment.h"
#include "gateway/node.h"
#include "gtest/gtest.h"
#include "log/client.h"
#include "log/fetch.h"
#include "log/note.h"
#include "serve_process.h"
#include "vault/pkcs11_token.h"
#include "vault/softhsm_test_util.h"

namespace clover::gateway {
namespace {

constexpr char kSupportKey[] =
    "Authorization: Bearer clv_example_eu_support_1_ea58181ac18d4441";
constexpr char kAccountsKey[] =
    "Authorization: Bearer clv_example_accounts_eu_f82f9af9e84945f8";

std::string Record(const std::string& id) {
  return absl::StrCat("{\"country\":\"IE\",\"fields\":{\"email\":\"", id,
                      "@mail.example\",\"name\":\"Person ", id,
                      "\",\"ip_address\":\"10.0.0.1\"}}");
}

// Runs `clover ARGS...`; returns the exit code and fills `output`
// (stdout and stderr).
int RunClover(const std::vector<std::string>& args, std::string* output) {
  std::string cmd = CLOVER_BINARY;
  for (const std::string& a : args) absl::StrAppend(&cmd, " '", a, "'");
  absl::StrAppend(&cmd, " 2>&1");
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return -1;
  output->clear();
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) output->append(buf, n);
  const int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

class HsmNodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string why = vault::testing::SoftHsmMissing(); !why.empty()) {
      GTEST_SKIP() << why;
    }
    auto hsm = vault::testing::MakeSoftHsm(dir_.string(), "clover-eu");
    ASSERT_TRUE(hsm.has_value()) << "softhsm2-util --init-token failed";
    hsm_ = *hsm;
    auto d = LoadDeployment(
        absl::StrCat(CLOVER_SOURCE_DIR, "/examples/deployment.yaml"));
    ASSERT_TRUE(d.ok()) << d.status();
    auto nodes = PrepareLocalDeployment(*d, dir_.string(), 0, FreeLoopbackPort);
    ASSERT_TRUE(nodes.ok()) << nodes.status();
    for (auto& n : *nodes) {
      if (n.dc == "ie-dub-1") node_ = n;
    }
    config_ = (dir_ / "ie-dub-1.yaml").string();
    WriteConfig(hsm_.pin_file);
  }
  void TearDown() override { StopServer(); }

  // The node's config with keys.kek.pkcs11 instead of keys.kek_file.
  void WriteConfig(const std::string& pin_file,
                   const std::string& label = "eu-kek-1",
                   const std::string& retired = "") {
    const std::string yaml =
        NodeConfigYaml(node_, absl::StrCat(CLOVER_SOURCE_DIR, "/examples"));
    const std::string file_kek =
        absl::StrCat("  kek_file: ", node_.deployment.keys.kek_file, "\n");
    ASSERT_TRUE(absl::StrContains(yaml, file_kek));
    std::ofstream(config_) << absl::StrReplaceAll(
        yaml, {{file_kek,
                absl::StrCat("  kek:\n    pkcs11:\n      module: ", hsm_.module,
                             "\n      token: ", hsm_.token, "\n      label: ",
                             label, "\n      pin_file: ", pin_file,
                             retired.empty() ? "" : "\n      retired_labels: [",
                             retired, retired.empty() ? "" : "]", "\n")}});
  }

  void StartServer() {
    pid_ = test::ForkCloverServe(config_);
    if (!test::WaitUntilReady(node_.endpoint, absl::Seconds(10)))
      FAIL() << "clover serve did not become ready";
  }
  void StopServer() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  std::vector<std::string> EpochLabels() {
    auto token =
        vault::Pkcs11Token::Open(hsm_.module, hsm_.token, hsm_.pin_file);
    EXPECT_TRUE(token.ok()) << token.status();
    if (!token.ok()) return {};
    auto labels = (*token)->KeyLabels("epoch:");
    EXPECT_TRUE(labels.ok()) << labels.status();
    return labels.ok() ? *labels : std::vector<std::string>{};
  }

  std::vector<std::string> LogEntries() {
    auto v = log::ParseVerifierKey(node_.verifier_key);
    EXPECT_TRUE(v.ok());
    std::vector<std::unique_ptr<log::NoteVerifier>> vs;
    vs.push_back(*std::move(v));
    auto client = *log::LogClient::Create(
        log::HttpFetcher(node_.endpoint + "/log"), std::move(vs));
    auto cp = client->FetchCheckpoint();
    EXPECT_TRUE(cp.ok()) << cp.status();
    std::vector<std::string> out;
    for (uint64_t i = 0; cp.ok() && i < cp->checkpoint.size; ++i) {
      auto e = client->FetchEntry(cp->checkpoint, i);
      EXPECT_TRUE(e.ok()) << e.status();
      out.push_back(e.ok() ? *e : "");
    }
    return out;
  }

  test::TempDir tmp_{"hsm-node"};
  std::filesystem::path dir_ = tmp_.path();
  vault::testing::SoftHsm hsm_;
  LocalNode node_;
  std::string config_;
  pid_t pid_ = -1;
};

TEST_F(HsmNodeTest, ANodeOnTheTokenKekServesAndItsPurgeDestroysTheEpochKey) {
  std::string out;
  ASSERT_EQ(RunClover({"keys", "pkcs11-create", "--config", config_}, &out), 0)
      << out;
  EXPECT_TRUE(absl::StrContains(out, "not extractable")) << out;
  EXPECT_TRUE(absl::StrContains(out, "pkcs11:eu-kek-1:")) << out;
  // A second create of the same label is refused.
  EXPECT_EQ(RunClover({"keys", "pkcs11-create", "--config", config_}, &out), 2)
      << out;

  StartServer();
  HttpClient c;
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) {
    const std::string id = absl::StrCat("hsm-", i);
    ids.push_back(id);
    auto r = c.Send("PUT", absl::StrCat(node_.endpoint, "/v1/subjects/", id),
                    {kAccountsKey, "X-Clover-Purpose: account_management"},
                    Record(id));
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->status, 201) << r->body;
  }
  for (const std::string& id : ids) {
    auto r = c.Send("GET", absl::StrCat(node_.endpoint, "/v1/subjects/", id),
                    {kSupportKey, "X-Clover-Purpose: customer_support"});
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, 200) << r->body;
    EXPECT_TRUE(absl::StrContains(r->body, "Person " + id)) << r->body;
  }
  const std::set<std::string> erased = {"hsm-1", "hsm-4"};
  for (const std::string& id : erased) {
    auto r = c.Send("DELETE", absl::StrCat(node_.endpoint, "/v1/subjects/", id),
                    {kSupportKey, "X-Clover-Purpose: customer_support"});
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->status, 200) << r->body;
  }
  StopServer();

  const std::vector<std::string> before = EpochLabels();
  ASSERT_EQ(before.size(), 1u);
  ASSERT_EQ(RunClover({"keys", "pkcs11-status", "--config", config_}, &out), 0)
      << out;
  EXPECT_TRUE(absl::StrContains(
      out, before[0] + "  epoch key  sensitive  not extractable"))
      << out;
  EXPECT_TRUE(absl::StrContains(
      out, "eu-kek-1  current KEK  sensitive  not extractable"))
      << out;
  ASSERT_EQ(RunClover({"vault", "purge", "--config", config_}, &out), 0) << out;
  const std::vector<std::string> after = EpochLabels();
  ASSERT_EQ(after.size(), 1u);
  EXPECT_NE(after[0], before[0]) << "the old epoch key is still in the token";

  StartServer();
  for (const std::string& id : ids) {
    auto r = c.Send("GET", absl::StrCat(node_.endpoint, "/v1/subjects/", id),
                    {kSupportKey, "X-Clover-Purpose: customer_support"});
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, erased.contains(id) ? 410 : 200) << id << r->body;
  }
  // The attestation names the epoch key destroyed in the token.
  bool found = false;
  for (const std::string& e : LogEntries()) {
    auto a = entry::ParseErasurePurge(e);
    if (!a.ok()) continue;
    found = true;
    EXPECT_EQ(a->destroyed_epochs, before);
    EXPECT_EQ(a->new_epoch, after[0]);
    EXPECT_EQ(a->erased, 2u);
  }
  EXPECT_TRUE(found);
}

TEST_F(HsmNodeTest, KekRotationInsideTheTokenKeepsEveryRecordReadable) {
  std::string out;
  ASSERT_EQ(RunClover({"keys", "pkcs11-create", "--config", config_}, &out), 0)
      << out;
  StartServer();
  HttpClient c;
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    const std::string id = absl::StrCat("rot-", i);
    ids.push_back(id);
    auto r = c.Send("PUT", absl::StrCat(node_.endpoint, "/v1/subjects/", id),
                    {kAccountsKey, "X-Clover-Purpose: account_management"},
                    Record(id));
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->status, 201) << r->body;
  }
  StopServer();
  // The next key, made in the token; the old label retired.
  ASSERT_EQ(RunClover({"keys", "pkcs11-create", "--config", config_, "--label",
                       "eu-kek-2"},
                      &out),
            0)
      << out;
  WriteConfig(hsm_.pin_file, "eu-kek-2", "eu-kek-1");
  // Online: a node started with a retired label re-wraps in the background
  // while it serves.
  const std::string log_file = (dir_ / "rotation.log").string();
  pid_ = test::ForkCloverServe(config_, log_file);
  ASSERT_TRUE(test::WaitUntilReady(node_.endpoint, absl::Seconds(10)));
  std::string log;
  for (int i = 0; i < 200; ++i) {
    std::ifstream in(log_file);
    log.assign(std::istreambuf_iterator<char>(in),
               std::istreambuf_iterator<char>());
    if (absl::StrContains(log, "KEK rotation:")) break;
    usleep(50'000);
  }
  EXPECT_TRUE(absl::StrContains(
      log, "KEK rotation: re-wrapped 5 data keys under pkcs11:eu-kek-2:"))
      << log;
  StopServer();
  // Offline, it finds nothing left to do.
  ASSERT_EQ(RunClover({"keys", "rewrap", "--config", config_}, &out), 0) << out;
  EXPECT_TRUE(absl::StrContains(out,
                                "re-wrapped 0 data keys under KEK "
                                "pkcs11:eu-kek-2:"))
      << out;
  EXPECT_TRUE(absl::StrContains(out, "5 were already under it")) << out;
  // Without the old key every record still reads.
  WriteConfig(hsm_.pin_file, "eu-kek-2");
  StartServer();
  for (const std::string& id : ids) {
    auto r = c.Send("GET", absl::StrCat(node_.endpoint, "/v1/subjects/", id),
                    {kSupportKey, "X-Clover-Purpose: customer_support"});
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, 200) << id << r->body;
    EXPECT_TRUE(absl::StrContains(r->body, "Person " + id)) << r->body;
  }
}

TEST_F(HsmNodeTest, AWrongPinStopsTheNodeWithAClearMessage) {
  std::string out;
  ASSERT_EQ(RunClover({"keys", "pkcs11-create", "--config", config_}, &out), 0)
      << out;
  const std::string wrong_pin = "5150-wrong-pin";
  const std::string pin_file = (dir_ / "wrong.pin").string();
  std::ofstream(pin_file) << wrong_pin << "\n";
  chmod(pin_file.c_str(), 0600);
  WriteConfig(pin_file);
  const std::string log_file = (dir_ / "serve.log").string();
  const pid_t pid = test::ForkCloverServe(config_, log_file);
  // Bounded: the node gives up at startup, it does not retry.
  int status = 0;
  pid_t done = 0;
  for (int i = 0; i < 200 && done == 0; ++i) {
    done = waitpid(pid, &status, WNOHANG);
    if (done == 0) usleep(50'000);
  }
  if (done == 0) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    FAIL() << "clover serve kept running with a wrong PIN";
  }
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_NE(WEXITSTATUS(status), 0);
  std::ifstream in(log_file);
  const std::string log((std::istreambuf_iterator<char>(in)),
                        std::istreambuf_iterator<char>());
  EXPECT_TRUE(absl::StrContains(log, "refused the user PIN")) << log;
  EXPECT_TRUE(absl::StrContains(log, pin_file)) << log;
  EXPECT_FALSE(absl::StrContains(log, wrong_pin)) << log;
  // `clover keys pkcs11-status` says the same, exit 1 (not bad input).
  EXPECT_EQ(RunClover({"keys", "pkcs11-status", "--config", config_}, &out), 1)
      << out;
  EXPECT_TRUE(absl::StrContains(out, "keys.kek.pkcs11: ")) << out;
  EXPECT_FALSE(absl::StrContains(out, wrong_pin)) << out;
}

}  // namespace
}  // namespace clover::gateway
