// External key release end to end (issue 20, item 3): a real `clover keys
// serve` (the partner's service) and a real `clover serve` node configured
// with keys.release, over mutual TLS on loopback. Reads work with the service
// up; `clover keys cutoff` makes them fail closed (503 key_release_refused,
// Retry-After, no value, an incident line) within the cache TTL; `clover keys
// restore` resumes them; every release is in the service's log with the
// read's justification; kill -9 of the service fails reads closed (503
// key_release_unavailable) within the cache TTL and the request timeout,
// without the node crashing or hanging.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/test_temp_dir.h"
#include "gateway/http_client.h"
#include "gateway/local_deployment.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "log/client.h"
#include "log/note.h"
#include "net/http_client.h"
#include "release/test_util.h"
#include "serve_process.h"

namespace clover::gateway {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kSupportKey[] =
    "Authorization: Bearer clv_example_eu_support_1_ea58181ac18d4441";
constexpr char kAccountsKey[] =
    "Authorization: Bearer clv_example_accounts_eu_f82f9af9e84945f8";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

pid_t Spawn(const std::vector<std::string>& args, const std::string& log) {
  const pid_t pid = fork();
  if (pid == 0) {
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(CLOVER_BINARY));
    for (const std::string& a : args)
      argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(CLOVER_BINARY, argv.data());
    _exit(127);
  }
  return pid;
}

int RunClover(const std::vector<std::string>& args, const std::string& log) {
  int status = 0;
  waitpid(Spawn(args, log), &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

class KeyReleaseE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    kms_ = dir_ + "/kms";
    std::filesystem::create_directories(kms_);
    // A fixed port, so that the node finds the service again after a restart.
    ASSERT_TRUE(
        release::testing::WriteServiceFiles(kms_, FreeLoopbackPort()).ok());
    StartService();

    auto d = LoadDeployment(
        absl::StrCat(CLOVER_SOURCE_DIR, "/examples/deployment.yaml"));
    ASSERT_TRUE(d.ok()) << d.status();
    auto nodes = PrepareLocalDeployment(*d, dir_, 0, FreeLoopbackPort);
    ASSERT_TRUE(nodes.ok()) << nodes.status();
    for (auto& n : *nodes) {
      if (n.dc == "ie-dub-1") node_ = n;
    }
    std::string yaml =
        NodeConfigYaml(node_, absl::StrCat(CLOVER_SOURCE_DIR, "/examples"));
    const size_t at = yaml.find("\n  pseudonym_key_file: ");
    ASSERT_NE(at, std::string::npos);
    const size_t eol = yaml.find('\n', at + 1);
    yaml.insert(eol + 1, absl::StrCat("  release:\n    url: https://127.0.0.1:",
                                      service_port_, "\n    ca_file: ", kms_,
                                      "/ca.crt\n    cert_file: ", kms_,
                                      "/node.crt\n    key_file: ", kms_,
                                      "/node.key\n    cache_ttl_s: 1\n"
                                      "    timeout_ms: 500\n"));
    config_ = dir_ + "/ie-dub-1.yaml";
    std::ofstream(config_) << yaml;
    node_log_ = dir_ + "/node.log";
    node_pid_ = test::ForkCloverServe(config_, node_log_);
    ASSERT_TRUE(test::WaitUntilReady(node_.endpoint, absl::Seconds(15)))
        << ReadFile(node_log_);
  }

  void TearDown() override {
    for (pid_t* p : {&node_pid_, &service_pid_}) {
      if (*p > 0) {
        kill(*p, SIGKILL);
        waitpid(*p, nullptr, 0);
        *p = -1;
      }
    }
  }

  void StartService() {
    std::filesystem::remove(kms_ + "/data/ports");
    service_pid_ = Spawn({"keys", "serve", "--config", kms_ + "/service.yaml"},
                         dir_ + "/kms.log");
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (absl::Now() < deadline) {
      std::ifstream in(kms_ + "/data/ports");
      if (in >> service_port_ >> public_port_) return;
      absl::SleepFor(absl::Milliseconds(20));
    }
    FAIL() << "the key-release service did not start: "
           << ReadFile(dir_ + "/kms.log");
  }

  absl::StatusOr<ClientResponse> Get(const std::string& id) {
    HttpClient c(absl::Seconds(10));
    return c.Send(
        "GET",
        absl::StrCat(node_.endpoint, "/v1/subjects/", id, "?fields=email"),
        {kSupportKey, "X-Clover-Purpose: customer_support"});
  }

  // Reads `id` until the answer's status is `status` (at most `within`).
  ClientResponse GetUntil(const std::string& id, int status,
                          absl::Duration within) {
    const absl::Time deadline = absl::Now() + within;
    ClientResponse last;
    while (absl::Now() < deadline) {
      auto r = Get(id);
      EXPECT_TRUE(r.ok()) << r.status();
      if (!r.ok()) break;
      last = *r;
      if (r->status == status) return last;
      absl::SleepFor(absl::Milliseconds(50));
    }
    return last;
  }

  std::vector<std::string> AdminArgs(const char* what) {
    return {"keys",      what,
            "--config",  kms_ + "/service.yaml",
            "--region",  "eu",
            "--cert",    kms_ + "/admin.crt",
            "--key",     kms_ + "/admin.key",
            "--ca-file", kms_ + "/ca.crt"};
  }

  // The release log, verified with the log client.
  std::vector<std::string> ReleaseLog() {
    const std::string base =
        absl::StrCat("https://127.0.0.1:", public_port_, "/log/");
    const std::string ca = kms_ + "/ca.crt";
    log::Fetcher fetch =
        [base, ca](absl::string_view path) -> absl::StatusOr<std::string> {
      net::HttpCall call;
      const std::string url = base + std::string(path);
      call.url = url;
      call.ca_file = ca;
      auto a = net::HttpClient().Send(call);
      if (!a.ok()) return a.status();
      if (a->status == 404) return absl::NotFoundError(url);
      if (a->status != 200) return absl::UnavailableError(a->body);
      return a->body;
    };
    auto line = ReadFile(dir_ + "/kms.log");
    const std::string marker = "log verifier key ";
    const size_t at = line.find(marker);
    EXPECT_NE(at, std::string::npos);
    const std::string vkey = line.substr(
        at + marker.size(), line.find('\n', at) - at - marker.size());
    std::vector<std::unique_ptr<log::NoteVerifier>> vs;
    auto v = log::ParseVerifierKey(vkey);
    EXPECT_TRUE(v.ok()) << vkey;
    if (!v.ok()) return {};
    vs.push_back(*std::move(v));
    auto client = *log::LogClient::Create(fetch, std::move(vs));
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

  test::TempDir tmp_{"key-release-e2e"};
  std::string dir_ = tmp_.path();
  std::string kms_, config_, node_log_;
  LocalNode node_;
  pid_t node_pid_ = -1, service_pid_ = -1;
  int service_port_ = 0, public_port_ = 0;
};

TEST_F(KeyReleaseE2eTest, CutOffFailsClosedRestoreResumesKillFailsClosed) {
  HttpClient c;
  for (const char* id : {"kr-1", "kr-2"}) {
    auto put =
        c.Send("PUT", absl::StrCat(node_.endpoint, "/v1/subjects/", id),
               {kAccountsKey, "X-Clover-Purpose: account_management"},
               absl::StrCat("{\"country\":\"IE\",\"fields\":{\"email\":\"", id,
                            "@mail.example\",\"name\":\"Person\"}}"));
    ASSERT_TRUE(put.ok());
    ASSERT_EQ(put->status, 201) << put->body;
  }
  auto ok = Get("kr-1");
  ASSERT_TRUE(ok.ok());
  ASSERT_EQ(ok->status, 200) << ok->body;
  EXPECT_THAT(ok->body, HasSubstr("kr-1@mail.example"));

  // The release is in the partner's log, with the read's justification.
  std::vector<std::string> log = ReleaseLog();
  ASSERT_FALSE(log.empty());
  EXPECT_THAT(log.back(), HasSubstr("\"outcome\":\"released\""));
  EXPECT_THAT(log.back(), HasSubstr("\"principal\":\"eu-support-1\""));
  EXPECT_THAT(log.back(), HasSubstr("\"purpose\":\"customer_support\""));
  EXPECT_THAT(log.back(), HasSubstr("\"code\":\"read\""));
  EXPECT_THAT(log.back(), HasSubstr("\"decision_index\":"));
  EXPECT_THAT(log.back(), Not(HasSubstr("kr-1")));  // a pseudonym, not the id

  // Cut off: within the cache TTL (1 s) reads fail closed.
  ASSERT_EQ(RunClover(AdminArgs("cutoff"), dir_ + "/admin.log"), 0)
      << ReadFile(dir_ + "/admin.log");
  ClientResponse refused = GetUntil("kr-1", 503, absl::Seconds(5));
  ASSERT_EQ(refused.status, 503) << refused.body;
  EXPECT_THAT(refused.body, HasSubstr("\"code\":\"key_release_refused\""));
  EXPECT_THAT(refused.body, Not(HasSubstr("mail.example")));
  EXPECT_FALSE(refused.Header("retry-after").empty());
  auto other = Get("kr-2");
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->status, 503) << other->body;
  EXPECT_THAT(ReadFile(node_log_), HasSubstr("incident: key release failed"));
  EXPECT_THAT(ReleaseLog().back(), HasSubstr("\"reason\":\"region_cut_off\""));

  // Restored: reads resume.
  ASSERT_EQ(RunClover(AdminArgs("restore"), dir_ + "/admin.log"), 0)
      << ReadFile(dir_ + "/admin.log");
  ClientResponse back = GetUntil("kr-1", 200, absl::Seconds(5));
  ASSERT_EQ(back.status, 200) << back.body;
  EXPECT_THAT(back.body, HasSubstr("kr-1@mail.example"));

  // kill -9 the service: after the cache TTL, reads fail closed in bounded
  // time; the node stays up.
  kill(service_pid_, SIGKILL);
  waitpid(service_pid_, nullptr, 0);
  service_pid_ = -1;
  const absl::Time killed = absl::Now();
  ClientResponse gone = GetUntil("kr-1", 503, absl::Seconds(6));
  ASSERT_EQ(gone.status, 503) << gone.body;
  EXPECT_LT(absl::Now() - killed, absl::Seconds(4));
  EXPECT_THAT(gone.body, HasSubstr("\"code\":\"key_release_unavailable\""));
  EXPECT_THAT(gone.body, Not(HasSubstr("mail.example")));
  const absl::Time asked = absl::Now();
  auto again = Get("kr-2");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->status, 503);
  EXPECT_LT(absl::Now() - asked, absl::Seconds(2));    // bounded timeout
  EXPECT_EQ(waitpid(node_pid_, nullptr, WNOHANG), 0);  // not crashed
  // Alive, but not ready while its key path fails (docs/operations.md,
  // "Health").
  HttpClient probe(absl::Seconds(5));
  auto alive = probe.Send("GET", node_.endpoint + "/healthz", {});
  ASSERT_TRUE(alive.ok());
  EXPECT_EQ(alive->status, 200);
  auto ready = probe.Send("GET", node_.endpoint + "/readyz", {});
  ASSERT_TRUE(ready.ok());
  EXPECT_EQ(ready->status, 503) << ready->body;
  EXPECT_THAT(ready->body, HasSubstr("\"reason\":\"key_unavailable\""));

  // The partner's service back: reads resume.
  StartService();
  ClientResponse resumed = GetUntil("kr-1", 200, absl::Seconds(5));
  EXPECT_EQ(resumed.status, 200) << resumed.body;
  // Ready again once the last failure is 5 s old.
  EXPECT_TRUE(test::WaitUntilReady(node_.endpoint, absl::Seconds(10)));
}

}  // namespace
}  // namespace clover::gateway
