// Webhook delivery survives SIGKILL of the auditor: a real auditor process
// follows a log over HTTP, raises one incident per canary touch, and delivers
// them to a flaky, slow webhook receiver; it is killed with SIGKILL
// mid-delivery, more incidents happen while it is down, and after a restart the
// receiver must hold every incident (duplicates allowed, none lost), each
// delivery correctly signed.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "audit/decision_builder.h"
#include "audit/outbox.h"
#include "audit/test_util.h"
#include "crypto/constant_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "policy/bundle.h"
#include "policy/compiled_policy.h"
#include "policy/signature.h"
#include "rapidjson/document.h"
#include "server/http_server.h"

namespace clover::audit {
namespace {

constexpr char kPolicy[] = R"(version: 1
rules:
  - id: support-reads-eu
    effect: allow
    when: {principal.role: support, purpose: customer_support, destination: eu}
)";
constexpr char kSecret[] = "webhook-test-secret-0123456789";

void WriteFile(const std::string& path, const std::string& text,
               bool secret = false) {
  std::ofstream(path) << text;
  if (secret) chmod(path.c_str(), 0600);
}

// The log, served over HTTP as /log/checkpoint and /log/tile/...
class ServedLog {
 public:
  ServedLog() : log_("log.crash.test/eu") {}
  void Append(std::string e) {
    absl::MutexLock l(&mu_);
    log_.Append(std::move(e));
  }
  void Handle(server::HttpRequest& req, server::Responder respond) {
    absl::string_view path = req.path;
    server::HttpResponse r;
    if (path.substr(0, 5) != "/log/") {
      respond(
          server::HttpResponse::Error(404, "not_found", "no such resource"));
      return;
    }
    absl::StatusOr<std::string> body;
    {
      absl::MutexLock l(&mu_);
      body = log_.Fetch(path.substr(5));
    }
    if (!body.ok()) {
      respond(
          server::HttpResponse::Error(404, "not_found", "no such resource"));
      return;
    }
    r.content_type = "application/octet-stream";
    r.body = *std::move(body);
    respond(std::move(r));
  }
  const testing::FakeLog& log() const { return log_; }

 private:
  absl::Mutex mu_;
  testing::FakeLog log_ ABSL_GUARDED_BY(mu_);
};

// A webhook receiver that is slow and fails now and then.
class Receiver {
 public:
  void Handle(server::HttpRequest& req, server::Responder respond) {
    absl::SleepFor(absl::Milliseconds(15));
    {
      absl::MutexLock l(&mu_);
      if (dist_(rng_) < 0.3) {
        ++refused_;
        respond(server::HttpResponse::Error(503, "unavailable", "try later"));
        return;
      }
      const std::string want = WebhookSignature(kSecret, req.body);
      if (!crypto::ConstantTimeEquals(
              std::string(req.Header("x-clover-signature")), want)) {
        ++bad_signatures_;
        respond(
            server::HttpResponse::Error(401, "bad_signature", "bad signature"));
        return;
      }
      rapidjson::Document d;
      d.Parse(req.body.c_str());
      if (d.IsObject() && d.HasMember("event") &&
          std::string(d["event"].GetString()) == "opened") {
        opened_.insert(d["incident"]["id"].GetString());
      }
      seqs_.insert(std::string(req.Header("x-clover-delivery")));
      ++deliveries_;
    }
    respond(server::HttpResponse::Json(200, "{}"));
  }
  size_t opened() const {
    absl::MutexLock l(&mu_);
    return opened_.size();
  }
  std::set<std::string> opened_ids() const {
    absl::MutexLock l(&mu_);
    return opened_;
  }
  size_t deliveries() const {
    absl::MutexLock l(&mu_);
    return deliveries_;
  }
  size_t distinct() const {
    absl::MutexLock l(&mu_);
    return seqs_.size();
  }
  int bad_signatures() const {
    absl::MutexLock l(&mu_);
    return bad_signatures_;
  }
  int refused() const {
    absl::MutexLock l(&mu_);
    return refused_;
  }

 private:
  mutable absl::Mutex mu_;
  std::set<std::string> opened_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> seqs_ ABSL_GUARDED_BY(mu_);
  size_t deliveries_ ABSL_GUARDED_BY(mu_) = 0;
  int bad_signatures_ ABSL_GUARDED_BY(mu_) = 0;
  int refused_ ABSL_GUARDED_BY(mu_) = 0;
  std::mt19937 rng_ ABSL_GUARDED_BY(mu_){42};
  std::uniform_real_distribution<double> dist_{0, 1};
};

pid_t StartDaemon(const std::string& config, const std::string& log_file) {
  pid_t pid = fork();
  if (pid == 0) {
    freopen(log_file.c_str(), "a", stdout);
    freopen(log_file.c_str(), "a", stderr);
    execl(AUDIT_DAEMON, AUDIT_DAEMON, "audit", "--config", config.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

bool WaitFor(const std::function<bool()>& cond, absl::Duration timeout) {
  const absl::Time end = absl::Now() + timeout;
  while (absl::Now() < end) {
    if (cond()) return true;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return cond();
}

TEST(AuditCrashTest, WebhookDeliverySurvivesSigkill) {
  testing::TempDir dir;
  ServedLog log;
  Receiver receiver;
  server::HttpServerOptions opts;
  opts.threads = 2;
  auto log_server = server::HttpServer::Start(
      opts, [&](server::HttpRequest& r, server::Responder s) {
        log.Handle(r, std::move(s));
      });
  ASSERT_TRUE(log_server.ok()) << log_server.status();
  auto hook_server = server::HttpServer::Start(
      opts, [&](server::HttpRequest& r, server::Responder s) {
        receiver.Handle(r, std::move(s));
      });
  ASSERT_TRUE(hook_server.ok()) << hook_server.status();

  // Auditor material.
  auto pkey = testing::MakeKey("auditor.crash.test");
  WriteFile(dir.Sub("policy.yaml"), kPolicy);
  auto bundle = policy::ParseBundle(kPolicy, dir.Sub("policy.yaml"));
  ASSERT_TRUE(bundle.ok());
  WriteFile(dir.Sub("policy.yaml.sig"),
            *policy::SignPolicy(bundle->sha256, pkey.signer));
  auto compiled = *policy::CompiledPolicy::Compile(*bundle);
  WriteFile(dir.Sub("witness.key"),
            testing::MakeKey("auditor.crash.test/w", log::kNoteTypeCosignature)
                .signer,
            true);
  WriteFile(dir.Sub("journal.key"),
            testing::MakeKey("auditor.crash.test/j").signer, true);
  WriteFile(dir.Sub("hook.secret"), kSecret, true);
  constexpr int kCanaries = 60;
  std::string canaries;
  for (int i = 0; i < kCanaries; ++i)
    absl::StrAppend(&canaries, "canary-", i, ", ");
  WriteFile(dir.Sub("audit.yaml"),
            absl::StrCat(
                "auditor:\n  name: auditor.crash.test\n  listen: 127.0.0.1:0\n"
                "  data_dir: data\n  witness_key_file: witness.key\n"
                "  journal_key_file: journal.key\n  poll_interval: 50ms\n"
                "logs:\n  - origin: ",
                log.log().origin(), "\n    url: http://127.0.0.1:",
                (*log_server)->port(), "/log\n    verifier_keys: [\"",
                log.log().key().verifier, "\"]\n",
                "policies:\n  bundles: [policy.yaml]\n  auditor_keys: [\"",
                pkey.verifier, "\"]\n", "canaries:\n  - pseudonyms: [",
                canaries, "]\n",
                "incidents:\n  jsonl_file: incidents.jsonl\n  webhook:\n"
                "    url: http://127.0.0.1:",
                (*hook_server)->port(),
                "/hook\n"
                "    secret_file: hook.secret\n"));

  auto touch = [&](int i) {
    DecisionEntry e;
    e.time = absl::Now();
    e.node = "ie-dub-1-a";
    e.principal_id = absl::StrCat("support-", i);
    e.principal_kind = "employee";
    e.principal_roles = {"support"};
    e.principal_jurisdiction = "eu";
    e.purpose = "customer_support";
    e.action = "read";
    e.destination = "eu";
    e.subject = absl::StrCat("canary-", i);
    e.subject_jurisdiction = "eu";
    e.fields = {{"email", "contact", true, {}, {}, {}}};
    DecideWith(*compiled, &e);
    log.Append(*DecisionEntryJson(e));
  };
  for (int i = 0; i < kCanaries / 2; ++i) touch(i);

  const std::string out = dir.Sub("daemon.log");
  pid_t pid = StartDaemon(dir.Sub("audit.yaml"), out);
  ASSERT_GT(pid, 0);
  // Kill it while deliveries are still in flight.
  ASSERT_TRUE(
      WaitFor([&] { return receiver.opened() >= 5; }, absl::Seconds(60)))
      << "no deliveries before the kill";
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));
  const size_t before = receiver.opened();
  EXPECT_LT(before, static_cast<size_t>(kCanaries));

  // More incidents happen while the auditor is down; then it restarts.
  for (int i = kCanaries / 2; i < kCanaries; ++i) touch(i);
  pid = StartDaemon(dir.Sub("audit.yaml"), out);
  ASSERT_GT(pid, 0);
  const bool all = WaitFor([&] { return receiver.opened() >= kCanaries; },
                           absl::Seconds(90));
  kill(pid, SIGTERM);
  waitpid(pid, &status, 0);
  EXPECT_TRUE(all) << "received " << receiver.opened() << " of " << kCanaries
                   << " incidents; daemon output in " << out;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(receiver.bad_signatures(), 0);
  EXPECT_GT(receiver.refused(), 0);  // the backoff path was exercised
  EXPECT_EQ(receiver.distinct(),
            static_cast<size_t>(kCanaries));  // one event per incident
  // The JSON-lines sink has every incident too.
  std::ifstream jsonl(dir.Sub("incidents.jsonl"));
  std::set<std::string> ids;
  for (std::string line; std::getline(jsonl, line);) {
    rapidjson::Document d;
    d.Parse(line.c_str());
    ASSERT_TRUE(d.IsObject()) << line;
    ids.insert(d["incident"]["id"].GetString());
  }
  EXPECT_EQ(ids, receiver.opened_ids());
}

}  // namespace
}  // namespace clover::audit
