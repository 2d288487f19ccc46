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
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "audit/auditor.h"
#include "audit/test_util.h"
#include "core/test_temp_dir.h"
#include "crypto/secret_key_file.h"
#include "crypto/subject_pseudonym.h"
#include "gateway/http_client.h"
#include "gateway/local_deployment.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "log/client.h"
#include "log/note.h"
#include "net/http_client.h"
#include "policy/bundle.h"
#include "policy/signature.h"
#include "rapidjson/document.h"
#include "release/release_key.h"
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

  // The service's log verifier key, as it prints it at start.
  std::string ReleaseVerifierKey() {
    const std::string line = ReadFile(dir_ + "/kms.log");
    const std::string marker = "log verifier key ";
    const size_t at = line.find(marker);
    EXPECT_NE(at, std::string::npos);
    if (at == std::string::npos) return "";
    return line.substr(at + marker.size(),
                       line.find('\n', at) - at - marker.size());
  }

  // An auditor following the node's decision log and the service's release
  // log, as the partner (or the DPO) runs it.
  std::unique_ptr<audit::Auditor> StartAuditor() {
    const std::string adir = dir_ + "/auditor";
    std::filesystem::create_directories(adir);
    auto secret = [](const std::string& path, const std::string& text) {
      std::ofstream(path) << text;
      std::filesystem::permissions(path,
                                   std::filesystem::perms::owner_read |
                                       std::filesystem::perms::owner_write);
    };
    secret(adir + "/witness.key",
           audit::testing::MakeKey("auditor.e2e/witness",
                                   log::kNoteTypeCosignature)
               .signer);
    secret(adir + "/journal.key",
           audit::testing::MakeKey("auditor.e2e/incidents").signer);
    // The auditor signs the policy it checks replays against.
    const audit::testing::TestKey policy_key =
        audit::testing::MakeKey("auditor.e2e");
    const std::string policy_path = adir + "/policy.yaml";
    const std::string text = ReadFile(node_.deployment.policy.file);
    std::ofstream(policy_path) << text;
    auto bundle = policy::ParseBundle(text, policy_path);
    EXPECT_TRUE(bundle.ok()) << bundle.status();
    if (!bundle.ok()) return nullptr;
    std::ofstream(policy::SignaturePath(policy_path))
        << *policy::SignPolicy(bundle->sha256, policy_key.signer);
    audit::AuditorConfig c;
    c.name = "auditor.e2e";
    c.data_dir = adir + "/data";
    c.witness_key_file = adir + "/witness.key";
    c.journal_key_file = adir + "/journal.key";
    c.insecure_no_auth = true;
    c.logs.push_back({{node_.deployment.log.origin,
                       node_.endpoint + "/log",
                       {node_.verifier_key}},
                      ""});
    audit::ReleaseLogConfig r;
    r.log = {release::testing::kOrigin,
             absl::StrCat("https://127.0.0.1:", public_port_, "/log"),
             {ReleaseVerifierKey()}};
    r.ca_file = kms_ + "/ca.crt";
    r.max_delay = absl::Seconds(30);
    r.pending_timeout = absl::Seconds(2);
    c.releases.push_back(r);
    c.policy_bundles = {policy_path};
    c.policy_keys = {policy_key.verifier};
    auto a = audit::Auditor::Create(c);
    EXPECT_TRUE(a.ok()) << a.status();
    return a.ok() ? *std::move(a) : nullptr;
  }

  std::vector<audit::Incident> Unjustified(audit::Auditor& a) {
    std::vector<audit::Incident> out;
    for (audit::Incident& i : a.incidents().List(std::nullopt)) {
      if (i.detector == audit::kDetectorReleaseUnjustified) out.push_back(i);
    }
    return out;
  }

  // What an operator holding the node's certificate can ask of the service
  // directly: a release of a key it sealed itself to the region's public
  // key, with a justification of its choosing. Returns the HTTP status.
  int OperatorRelease(const std::string& justification) {
    net::HttpCall status_call;
    const std::string base = absl::StrCat("https://127.0.0.1:", service_port_);
    const std::string region_url = base + "/v1/regions/eu";
    status_call.url = region_url;
    status_call.ca_file = kms_ + "/ca.crt";
    status_call.client_cert_file = kms_ + "/node.crt";
    status_call.client_key_file = kms_ + "/node.key";
    auto region = net::HttpClient().Send(status_call);
    EXPECT_TRUE(region.ok() && region->status == 200);
    if (!region.ok()) return -1;
    rapidjson::Document d;
    d.Parse(region->body.c_str());
    std::string public_key;
    EXPECT_TRUE(absl::Base64Unescape(d["public_key"].GetString(), &public_key));
    auto sealed = release::SealToRelease(
        public_key, release::ReleaseId(public_key, "operator-kek"),
        std::string(48, 'k'));
    EXPECT_TRUE(sealed.ok()) << sealed.status();
    if (!sealed.ok()) return -1;
    const std::string body = absl::StrCat("{\"justification\":", justification,
                                          ",\"region\":\"eu\",\"wrapped\":\"",
                                          absl::Base64Escape(*sealed), "\"}");
    net::HttpCall call = status_call;
    const std::string url = base + "/v1/release";
    call.url = url;
    call.method = "POST";
    call.body = body;
    call.headers = {"Content-Type: application/json"};
    auto answer = net::HttpClient().Send(call);
    EXPECT_TRUE(answer.ok()) << answer.status();
    return answer.ok() ? answer->status : -1;
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
  EXPECT_FALSE(ready->Header("retry-after").empty());
  EXPECT_FALSE(gone.Header("retry-after").empty());

  // The partner's service back: reads resume.
  StartService();
  ClientResponse resumed = GetUntil("kr-1", 200, absl::Seconds(5));
  EXPECT_EQ(resumed.status, 200) << resumed.body;
  // Ready again once the last failure is 5 s old.
  EXPECT_TRUE(test::WaitUntilReady(node_.endpoint, absl::Seconds(10)));
}

// Reads name the exact index of their decision entry, and an auditor that
// follows both logs finds every release the node asked for justified; what an
// operator asks of the service itself with the node's certificate — a key
// for a decision that does not exist, for a decision that denied, for another
// subject — the service releases (its policy cannot tell), and the auditor
// raises release_unjustified for each.
TEST_F(KeyReleaseE2eTest, AuditorMatchesReleasesToDecisionsAndCatchesOperator) {
  HttpClient c;
  constexpr int kSubjects = 6;
  for (int i = 0; i < kSubjects; ++i) {
    auto put =
        c.Send("PUT", absl::StrCat(node_.endpoint, "/v1/subjects/ka-", i),
               {kAccountsKey, "X-Clover-Purpose: account_management"},
               absl::StrCat("{\"country\":\"IE\",\"fields\":{\"email\":\"ka-",
                            i, "@mail.example\",\"name\":\"Person\"}}"));
    ASSERT_TRUE(put.ok());
    ASSERT_EQ(put->status, 201) << put->body;
  }
  // Concurrent cold reads: each release names its own read's entry, though
  // the log grows between a decision and its entry.
  std::vector<std::string> bodies(kSubjects);
  {
    std::vector<std::thread> readers;
    for (int i = 0; i < kSubjects; ++i) {
      readers.emplace_back([&, i] {
        auto r = Get(absl::StrCat("ka-", i));
        if (r.ok() && r->status == 200) bodies[i] = r->body;
      });
    }
    for (std::thread& t : readers) t.join();
  }
  std::set<uint64_t> read_indices;
  for (const std::string& b : bodies) {
    rapidjson::Document d;
    d.Parse(b.c_str());
    ASSERT_TRUE(d.IsObject() && d.HasMember("log_index")) << b;
    read_indices.insert(d["log_index"].GetUint64());
  }
  std::set<uint64_t> released_for;
  for (const std::string& e : ReleaseLog()) {
    rapidjson::Document d;
    d.Parse(e.c_str());
    ASSERT_TRUE(d.IsObject()) << e;
    if (std::string(d["code"].GetString()) != "read") continue;
    EXPECT_EQ(std::string(d["decision_log"].GetString()),
              node_.deployment.log.origin);
    EXPECT_EQ(std::string(d["decision_node"].GetString()),
              node_.deployment.node->id);
    released_for.insert(d["decision_index"].GetUint64());
  }
  EXPECT_EQ(released_for, read_indices);

  std::unique_ptr<audit::Auditor> auditor = StartAuditor();
  ASSERT_NE(auditor, nullptr);
  ASSERT_TRUE(auditor->PollOnce().ok());
  EXPECT_TRUE(Unjustified(*auditor).empty());
  audit::ReleaseCounts counts =
      auditor->release_counts(release::testing::kOrigin);
  EXPECT_EQ(counts.justified, kSubjects);
  EXPECT_EQ(counts.unjustified, 0);

  // A decision that denied (the accounts service may not read for support).
  auto denied = c.Send(
      "GET", absl::StrCat(node_.endpoint, "/v1/subjects/ka-0?fields=email"),
      {kAccountsKey, "X-Clover-Purpose: customer_support"});
  ASSERT_TRUE(denied.ok());
  ASSERT_EQ(denied->status, 403) << denied->body;
  rapidjson::Document dd;
  dd.Parse(denied->body.c_str());
  ASSERT_TRUE(dd.HasMember("error") && dd["error"].HasMember("log_index"))
      << denied->body;
  const uint64_t deny_index = dd["error"]["log_index"].GetUint64();
  const uint64_t read_index = *read_indices.begin();
  const std::string origin = node_.deployment.log.origin;
  const std::string node = node_.deployment.node->id;
  auto justification = [&](const std::string& principal, uint64_t index,
                           const std::string& subject) {
    return absl::StrCat(
        "{\"code\":\"read\",\"decision_index\":", index, ",\"log\":\"", origin,
        "\",\"node\":\"", node, "\",\"principal\":\"", principal,
        "\",\"purpose\":\"customer_support\",\"subject\":\"", subject, "\"}");
  };
  // The service releases all three: its policy sees a well-formed request.
  // The operator knows the node's log-pseudonym key.
  auto root =
      crypto::ReadSecretKeyFile(node_.deployment.keys.pseudonym_key_file);
  ASSERT_TRUE(root.ok()) << root.status();
  auto log_key = crypto::DeriveLogSubjectKey(*root);
  ASSERT_TRUE(log_key.ok());
  const std::string ka0 = crypto::SubjectPseudonym(*log_key, "ka-0");
  EXPECT_EQ(OperatorRelease(justification("eu-support-2", 1'000'000, ka0)),
            200);
  EXPECT_EQ(OperatorRelease(justification("accounts-eu", deny_index, ka0)),
            200);
  EXPECT_EQ(OperatorRelease(
                justification("eu-support-1", read_index, "another-subject")),
            200);
  // The decision that never appears is judged once pending_timeout passed.
  const absl::Time deadline = absl::Now() + absl::Seconds(15);
  std::vector<audit::Incident> got;
  while (absl::Now() < deadline) {
    ASSERT_TRUE(auditor->PollOnce().ok());
    got = Unjustified(*auditor);
    if (auditor->release_counts(release::testing::kOrigin).unjustified >= 3)
      break;
    absl::SleepFor(absl::Milliseconds(200));
  }
  counts = auditor->release_counts(release::testing::kOrigin);
  EXPECT_EQ(counts.unjustified, 3);
  EXPECT_EQ(counts.justified, kSubjects);
  std::string summaries;
  for (const audit::Incident& i : got) {
    EXPECT_EQ(i.severity, audit::Severity::kCritical);
    summaries += i.summary + "\n";
  }
  EXPECT_THAT(summaries, HasSubstr("not verified within"));
  EXPECT_THAT(summaries, HasSubstr("did not allow any data to be returned"));
  EXPECT_THAT(summaries, HasSubstr("is about another subject"));
}

}  // namespace
}  // namespace clover::gateway
