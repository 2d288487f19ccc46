// Crash test: a real `clover serve` process under concurrent read and write
// load is killed with SIGKILL at random moments. After each restart, every
// decision whose response was received is in the log at the index the response
// named (proved by inclusion against the new checkpoint, which must be
// consistent with every checkpoint seen before), and every acknowledged write
// is readable.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "core/test_temp_dir.h"
#include "crypto/secret_key_file.h"
#include "crypto/subject_pseudonym.h"
#include "gateway/http_client.h"
#include "gateway/local_deployment.h"
#include "gtest/gtest.h"
#include "log/client.h"
#include "log/fetch.h"
#include "log/note.h"
#include "rapidjson/document.h"

namespace clover::gateway {
namespace {

constexpr char kSupportKey[] =
    "Authorization: Bearer clv_example_eu_support_1_ea58181ac18d4441";
constexpr char kAccountsKey[] =
    "Authorization: Bearer clv_example_accounts_eu_f82f9af9e84945f8";

std::string Record(int n) {
  return absl::StrCat("{\"country\":\"IE\",\"fields\":{\"email\":\"p", n,
                      "@mail.example\",\"name\":\"Person ", n, "\"}}");
}

struct Acked {
  uint64_t index;
  std::string subject;
  bool write;
};

class GatewayCrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = LoadDeployment(
        absl::StrCat(CLOVER_SOURCE_DIR, "/examples/deployment.yaml"));
    ASSERT_TRUE(d.ok()) << d.status();
    auto nodes = PrepareLocalDeployment(*d, dir_.string(), 0, FreeLoopbackPort);
    ASSERT_TRUE(nodes.ok()) << nodes.status();
    for (auto& n : *nodes) {
      if (n.dc == "ie-dub-1") node_ = n;
    }
    config_ = (dir_ / "ie-dub-1.yaml").string();
    std::ofstream(config_) << NodeConfigYaml(
        node_, absl::StrCat(CLOVER_SOURCE_DIR, "/examples"));
    auto root =
        crypto::ReadSecretKeyFile(node_.deployment.keys.pseudonym_key_file);
    ASSERT_TRUE(root.ok());
    auto key = crypto::DeriveLogSubjectKey(*root);
    ASSERT_TRUE(key.ok());
    subject_key_ = *key;
  }
  void TearDown() override {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  void StartServer() {
    pid_ = fork();
    if (pid_ == 0) {
      int devnull = open("/dev/null", O_WRONLY);
      dup2(devnull, 2);
      execl(CLOVER_BINARY, CLOVER_BINARY, "serve", "--config", config_.c_str(),
            "--threads", "2", static_cast<char*>(nullptr));
      _exit(127);
    }
    HttpClient c(absl::Seconds(2));
    for (int i = 0; i < 200; ++i) {
      auto r = c.Send("GET", node_.endpoint + "/readyz", {});
      if (r.ok() && r->status == 200) return;
      absl::SleepFor(absl::Milliseconds(50));
    }
    FAIL() << "clover serve did not become ready";
  }

  std::unique_ptr<log::LogClient> LogClient() {
    auto v = log::ParseVerifierKey(node_.verifier_key);
    EXPECT_TRUE(v.ok());
    std::vector<std::unique_ptr<log::NoteVerifier>> vs;
    vs.push_back(*std::move(v));
    return *log::LogClient::Create(log::HttpFetcher(node_.endpoint + "/log"),
                                   std::move(vs));
  }

  test::TempDir tmp_{"gateway-crash"};
  std::filesystem::path dir_ = tmp_.path();
  LocalNode node_;
  std::string config_;
  crypto::SecretKey subject_key_{};
  pid_t pid_ = -1;
};

TEST_F(GatewayCrashTest, AcknowledgedDecisionsAndWritesSurviveSigkill) {
  StartServer();
  {
    HttpClient c;
    for (int i = 0; i < 20; ++i) {
      auto r = c.Send(
          "PUT", absl::StrCat(node_.endpoint, "/v1/subjects/seed-", i),
          {kAccountsKey, "X-Clover-Purpose: account_management"}, Record(i));
      ASSERT_TRUE(r.ok());
      ASSERT_EQ(r->status, 201) << r->body;
    }
  }
  std::mt19937 rng(std::random_device{}());
  std::vector<Acked> acked;
  std::vector<log::Checkpoint> seen;
  int next_subject = 0;
  constexpr int kRounds = 6;
  for (int round = 0; round < kRounds; ++round) {
    absl::Mutex mu;
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      int first = next_subject + t * 100000;
      threads.emplace_back([&, t, first] {
        HttpClient c(absl::Seconds(5));
        int n = first;
        std::mt19937 r(t + round * 17);
        while (!stop.load()) {
          bool write = t == 0;
          std::string subject = write ? absl::StrCat("w-", round, "-", n++)
                                      : absl::StrCat("seed-", r() % 20);
          auto resp =
              write
                  ? c.Send(
                        "PUT",
                        absl::StrCat(node_.endpoint, "/v1/subjects/", subject),
                        {kAccountsKey, "X-Clover-Purpose: account_management"},
                        Record(n))
                  : c.Send(
                        "GET",
                        absl::StrCat(node_.endpoint, "/v1/subjects/", subject),
                        {kSupportKey, "X-Clover-Purpose: customer_support"});
          if (!resp.ok()) break;  // the server is gone
          if (resp->status != 200 && resp->status != 201) continue;
          rapidjson::Document doc;
          doc.Parse(resp->body.c_str());
          if (!doc.IsObject() || !doc.HasMember("log_index")) continue;
          absl::MutexLock lock(&mu);
          acked.push_back({doc["log_index"].GetUint64(), subject, write});
        }
      });
    }
    absl::SleepFor(absl::Milliseconds(300 + rng() % 900));
    {
      auto client = LogClient();
      auto cp = client->FetchCheckpoint();
      if (cp.ok()) seen.push_back(cp->checkpoint);
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
    stop = true;
    for (auto& th : threads) th.join();
    next_subject += 1000000;

    StartServer();
    auto client = LogClient();
    auto cp = client->FetchCheckpoint();
    ASSERT_TRUE(cp.ok()) << cp.status();
    for (const auto& old : seen) {
      ASSERT_TRUE(client->VerifyConsistency(old, cp->checkpoint).ok())
          << "round " << round << ": checkpoint of size " << old.size
          << " is not a prefix";
    }
    seen.push_back(cp->checkpoint);
    HttpClient c;
    for (const Acked& a : acked) {
      ASSERT_LT(a.index, cp->checkpoint.size) << "round " << round;
      auto entry = client->FetchEntry(cp->checkpoint, a.index);
      ASSERT_TRUE(entry.ok()) << entry.status();
      EXPECT_NE(entry->find(crypto::SubjectPseudonym(subject_key_, a.subject)),
                std::string::npos)
          << "entry " << a.index << " is not the decision acknowledged for "
          << a.subject;
      if (a.write) {
        auto r = c.Send(
            "GET", absl::StrCat(node_.endpoint, "/v1/subjects/", a.subject),
            {kSupportKey, "X-Clover-Purpose: customer_support"});
        ASSERT_TRUE(r.ok());
        EXPECT_EQ(r->status, 200)
            << "acknowledged write of " << a.subject << " lost";
      }
    }
  }
  EXPECT_GT(acked.size(), 50u);
  std::cerr << "acknowledged decisions checked: " << acked.size() << " over "
            << kRounds << " SIGKILLs\n";
}

}  // namespace
}  // namespace clover::gateway
