// Webhook delivery survives SIGKILL of the auditor: a real auditor process
// follows a log over HTTP, raises one incident per canary touch, and delivers
// them to a flaky, slow webhook receiver; it is killed with SIGKILL
// mid-delivery, more incidents happen while it is down, and after a restart the
// receiver must hold every incident (duplicates allowed, none lost), each
// delivery correctly signed.
#include <curl/curl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <set>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "audit/audit_config.h"
#include "audit/decision_builder.h"
#include "audit/outbox.h"
#include "audit/test_util.h"
#include "crypto/constant_time.h"
#include "crypto/sha256.h"
#include "entry/decision_record.h"
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
constexpr char kAdminToken[] = "admin-test-token-0123456789abcdef";

void WriteFile(const std::string& path, const std::string& text,
               bool secret = false) {
  std::ofstream(path) << text;
  if (secret) chmod(path.c_str(), 0600);
}

// The auditor's signed principal directory (principals.yaml, its .sig and
// jurisdictions.yaml in `dir`): support-0 .. support-<count-1>, employees in
// IE with the entries' attributes. Returns the config section naming it.
std::string WriteSignedDirectory(const testing::TempDir& dir, int count,
                                 const std::string& signer) {
  std::string yaml;
  for (int i = 0; i < count; ++i) {
    const crypto::Sha256Digest h = crypto::Sha256(absl::StrCat("api-key-", i));
    absl::StrAppend(&yaml, "- id: support-", i,
                    "\n  kind: employee\n  org: support\n  roles: [support]\n"
                    "  country: IE\n  credentials:\n    api_key_sha256: ",
                    absl::BytesToHexString(absl::string_view(
                        reinterpret_cast<const char*>(h.data()), h.size())),
                    "\n");
  }
  WriteFile(dir.Sub("principals.yaml"), yaml);
  const crypto::Sha256Digest h = crypto::Sha256(yaml);
  WriteFile(dir.Sub("principals.yaml.sig"),
            *policy::SignPrincipals(
                absl::BytesToHexString(absl::string_view(
                    reinterpret_cast<const char*>(h.data()), h.size())),
                signer));
  WriteFile(dir.Sub("jurisdictions.yaml"),
            "eu:\n  name: EU\n  countries: [IE]\n");
  return "principals:\n  file: principals.yaml\n"
         "  jurisdictions: jurisdictions.yaml\n";
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
      // As a receiver must: the signature covers the timestamp, which must
      // be fresh.
      if (!VerifyWebhookSignature(kSecret, req.Header("x-clover-timestamp"),
                                  req.Header("x-clover-signature"), req.body,
                                  absl::Now())
               .ok()) {
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
  WriteFile(dir.Sub("admin.token"), kAdminToken, true);
  constexpr int kCanaries = 60;
  std::string canaries;
  for (int i = 0; i < kCanaries; ++i)
    absl::StrAppend(&canaries, "canary-", i, ", ");
  WriteFile(dir.Sub("audit.yaml"),
            absl::StrCat(
                "auditor:\n  name: auditor.crash.test\n  listen: 127.0.0.1:0\n"
                "  data_dir: data\n  witness_key_file: witness.key\n"
                "  journal_key_file: journal.key\n  poll_interval: 50ms\n"
                "  admin_token_file: admin.token\n"
                "logs:\n  - origin: ",
                log.log().origin(), "\n    url: http://127.0.0.1:",
                (*log_server)->port(), "/log\n    verifier_keys: [\"",
                log.log().key().verifier, "\"]\n",
                "policies:\n  bundles: [policy.yaml]\n  auditor_keys: [\"",
                pkey.verifier, "\"]\n",
                WriteSignedDirectory(dir, kCanaries, pkey.signer),
                "canaries:\n  - pseudonyms: [", canaries, "]\n",
                "incidents:\n  jsonl_file: incidents.jsonl\n  webhook:\n"
                "    url: http://127.0.0.1:",
                (*hook_server)->port(),
                "/hook\n"
                "    secret_file: hook.secret\n"));

  auto touch = [&](int i) {
    entry::DecisionEntry e;
    e.time = absl::Now();
    e.node = "ie-dub-1-a";
    e.principal_id = absl::StrCat("support-", i);
    e.principal_kind = "employee";
    e.principal_org = "support";
    e.principal_country = "IE";
    e.principal_roles = {"support"};
    e.principal_jurisdiction = "eu";
    e.purpose = "customer_support";
    e.action = "read";
    e.destination = "eu";
    e.subject = absl::StrCat("canary-", i);
    e.subject_jurisdiction = "eu";
    e.fields = {{"email", "contact", true, {}, {}, {}}};
    DecideWith(*compiled, &e);
    log.Append(entry::DecisionJson(e));
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

struct Reply {
  long status = 0;
  std::string body;
  std::string www_authenticate;
};

size_t AppendTo(char* p, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(p, size * n);
  return size * n;
}

size_t HeaderTo(char* p, size_t size, size_t n, void* out) {
  absl::string_view line(p, size * n);
  if (absl::StartsWithIgnoreCase(line, "www-authenticate:")) {
    *static_cast<std::string*>(out) = std::string(
        absl::StripAsciiWhitespace(line.substr(strlen("www-authenticate:"))));
  }
  return size * n;
}

// One HTTP request over loopback (libcurl).
Reply Request(const std::string& method, const std::string& url,
              const std::string& token, const std::string& body = "") {
  Reply r;
  CURL* c = curl_easy_init();
  curl_slist* headers = nullptr;
  const std::string auth = "Authorization: Bearer " + token;
  if (!token.empty()) headers = curl_slist_append(headers, auth.c_str());
  headers = curl_slist_append(headers, "Content-Type: application/json");
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (method == "POST") {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, AppendTo);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, HeaderTo);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &r.www_authenticate);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
  if (curl_easy_perform(c) == CURLE_OK)
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(c);
  return r;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Issue 17: the example auditor had no admin credential, and
// `POST .../incidents/ID/resolve` with {"by":"nobody"} resolved a critical
// incident. Against a real auditor process: without a configured credential
// it does not start; with one, resolve needs it and records its name.
TEST(AuditApiProcessTest, ResolveNeedsTheAdminToken) {
  testing::TempDir dir;
  ServedLog log;
  server::HttpServerOptions opts;
  opts.threads = 1;
  auto log_server = server::HttpServer::Start(
      opts, [&](server::HttpRequest& r, server::Responder s) {
        log.Handle(r, std::move(s));
      });
  ASSERT_TRUE(log_server.ok()) << log_server.status();
  auto pkey = testing::MakeKey("auditor.api.test");
  WriteFile(dir.Sub("policy.yaml"), kPolicy);
  auto bundle = policy::ParseBundle(kPolicy, dir.Sub("policy.yaml"));
  ASSERT_TRUE(bundle.ok());
  WriteFile(dir.Sub("policy.yaml.sig"),
            *policy::SignPolicy(bundle->sha256, pkey.signer));
  auto compiled = *policy::CompiledPolicy::Compile(*bundle);
  WriteFile(
      dir.Sub("witness.key"),
      testing::MakeKey("auditor.api.test/w", log::kNoteTypeCosignature).signer,
      true);
  WriteFile(dir.Sub("journal.key"),
            testing::MakeKey("auditor.api.test/j").signer, true);
  const std::string hash = absl::BytesToHexString(
      CredentialForToken("", ApiRole::kAdmin, kAdminToken)->sha256);
  const std::string directory = WriteSignedDirectory(dir, 2, pkey.signer);
  auto config = [&](const std::string& credential) {
    return absl::StrCat(
        "auditor:\n  name: auditor.api.test\n  listen: 127.0.0.1:0\n"
        "  data_dir: data\n  witness_key_file: witness.key\n"
        "  journal_key_file: journal.key\n  poll_interval: 50ms\n",
        credential, "logs:\n  - origin: ", log.log().origin(),
        "\n    url: http://127.0.0.1:", (*log_server)->port(),
        "/log\n    verifier_keys: [\"", log.log().key().verifier, "\"]\n",
        "policies:\n  bundles: [policy.yaml]\n  auditor_keys: [\"",
        pkey.verifier, "\"]\n", directory,
        "canaries:\n  - pseudonyms: [canary-1]\n");
  };

  // No credential configured: exit 2 with one line naming the field.
  WriteFile(dir.Sub("open.yaml"), config(""));
  const std::string refused_out = dir.Sub("refused.log");
  pid_t pid = StartDaemon(dir.Sub("open.yaml"), refused_out);
  ASSERT_GT(pid, 0);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 2);
  const std::string refusal = ReadAll(refused_out);
  EXPECT_THAT(refusal, ::testing::HasSubstr("auditor.admin_token_sha256"));
  EXPECT_EQ(std::count(refusal.begin(), refusal.end(), '\n'), 1) << refusal;

  // With the token's hash configured.
  WriteFile(dir.Sub("audit.yaml"),
            config(absl::StrCat("  admin_token_sha256: ", hash, "\n")));
  entry::DecisionEntry e;
  e.time = absl::Now();
  e.node = "ie-dub-1-a";
  e.principal_id = "support-1";
  e.principal_kind = "employee";
  e.principal_org = "support";
  e.principal_country = "IE";
  e.principal_roles = {"support"};
  e.principal_jurisdiction = "eu";
  e.purpose = "customer_support";
  e.action = "read";
  e.destination = "eu";
  e.subject = "canary-1";
  e.subject_jurisdiction = "eu";
  e.fields = {{"email", "contact", true, {}, {}, {}}};
  DecideWith(*compiled, &e);
  log.Append(entry::DecisionJson(e));
  const std::string out = dir.Sub("daemon.log");
  pid = StartDaemon(dir.Sub("audit.yaml"), out);
  ASSERT_GT(pid, 0);
  int port = 0;
  ASSERT_TRUE(WaitFor(
      [&] {
        const std::string text = ReadAll(out);
        const size_t at = text.find("listening on 127.0.0.1:");
        return at != std::string::npos &&
               absl::SimpleAtoi(
                   text.substr(at + 23, text.find('\n', at) - at - 23), &port);
      },
      absl::Seconds(30)));
  const std::string base = absl::StrCat("http://127.0.0.1:", port);
  std::string id;
  ASSERT_TRUE(WaitFor(
      [&] {
        Reply r =
            Request("GET", base + "/v1/incidents?status=open", kAdminToken);
        rapidjson::Document d;
        d.Parse(r.body.c_str());
        if (r.status != 200 || !d.IsObject() || !d.HasMember("incidents") ||
            d["incidents"].Empty()) {
          return false;
        }
        id = d["incidents"][0]["id"].GetString();
        return true;
      },
      absl::Seconds(30)));
  const std::string resolve = base + "/v1/incidents/" + id + "/resolve";
  auto still_open = [&] {
    Reply r = Request("GET", base + "/v1/incidents?status=open", kAdminToken);
    return r.status == 200 && r.body.find(id) != std::string::npos;
  };
  Reply r = Request("POST", resolve, "", "{\"by\":\"nobody\"}");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.www_authenticate, "Bearer realm=\"clover-auditor\"");
  EXPECT_THAT(r.body, ::testing::HasSubstr("unauthenticated"));
  EXPECT_TRUE(still_open());
  r = Request("POST", resolve, "not-the-token-0123456789",
              "{\"by\":\"nobody\"}");
  EXPECT_EQ(r.status, 401);
  EXPECT_THAT(r.www_authenticate, ::testing::HasSubstr("invalid_token"));
  EXPECT_TRUE(still_open());
  EXPECT_EQ(Request("GET", base + "/v1/incidents", "").status, 401);
  EXPECT_EQ(Request("GET", base + "/healthz", "").status, 200);
  r = Request("POST", resolve, kAdminToken, "{\"by\":\"nobody\"}");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(r.body, ::testing::HasSubstr("\"resolved_by\":\"admin\""));
  EXPECT_FALSE(still_open());
  kill(pid, SIGTERM);
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  // The token itself is never logged.
  EXPECT_THAT(ReadAll(out), ::testing::Not(::testing::HasSubstr(kAdminToken)));
}

}  // namespace
}  // namespace clover::audit
