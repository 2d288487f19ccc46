// Operability of a real `clover serve` process (issue 21, items 2 and 3): its
// stderr is JSON lines; every request has an access line with the route
// template, status, latency, principal, request and trace ids and the
// decision's log index; X-Request-Id and traceparent are echoed when valid and
// replaced when not; authentication failures are logged with their cause;
// no credential, key, subject id or record value reaches the log; a wrong KEK
// stops the node at start with one line; /readyz follows the database.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "config/deployment.h"
#include "core/test_temp_dir.h"
#include "crypto/secret_key_file.h"
#include "gateway/http_client.h"
#include "gateway/local_deployment.h"
#include "gateway_test_client.h"
#include "gtest/gtest.h"
#include "postgres_test_util.h"
#include "rapidjson/document.h"
#include "serve_process.h"

namespace clover::gateway {
namespace {

constexpr char kTraceId[] = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr char kParentSpan[] = "00f067aa0ba902b7";
constexpr char kSubject[] = "ops-subject-4711";
constexpr char kEmail[] = "very.private.person@mail.example";
// A JWT-shaped credential and an API-key-shaped one, both refused.
constexpr char kFakeJwt[] =
    "eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJtYWxsb3J5In0."
    "c2lnbmF0dXJlLW9mLW1hbGxvcnktZm9yLXRoZS1sb2ctdGVzdA";
constexpr char kWrongKey[] = "clv_example_eu_support_1_0000000000000000";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Waits (bounded) for `pid` to exit; its exit code, or -1.
int WaitExit(pid_t pid, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    int status = 0;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    absl::SleepFor(absl::Milliseconds(20));
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  return -1;
}

class OpsTest : public ::testing::Test {
 protected:
  void TearDown() override { Stop(SIGKILL); }

  // Prepares ie-dub-1 of the example deployment (on `db` of the test
  // PostgreSQL server when set) and writes its config.
  void Prepare(const std::string& db = "") {
    auto d = LoadDeployment(
        absl::StrCat(CLOVER_SOURCE_DIR, "/examples/deployment.yaml"));
    ASSERT_TRUE(d.ok()) << d.status();
    if (!db.empty()) {
      ASSERT_TRUE(pgtest::Sql("CREATE DATABASE " + db).ok());
      d->storage.driver = StorageDriver::kPostgres;
      d->storage.postgres_dsn = pgtest::Dsn() + " dbname=" + db;
      auto hosts = ParseDsnHosts(d->storage.postgres_dsn);
      ASSERT_TRUE(hosts.ok()) << hosts.status();
      for (Region& r : d->regions) {
        for (DataCenter& dc : r.dcs) {
          for (const DsnHost& h : *hosts) dc.db_hosts.push_back(h.host);
        }
      }
    }
    auto nodes = PrepareLocalDeployment(*d, dir_.path(), 0, FreeLoopbackPort);
    ASSERT_TRUE(nodes.ok()) << nodes.status();
    for (const LocalNode& n : *nodes) {
      if (n.dc == "ie-dub-1") node_ = n;
    }
    config_ = dir_.Sub("ie-dub-1.yaml");
    std::ofstream(config_) << NodeConfigYaml(
        node_, absl::StrCat(CLOVER_SOURCE_DIR, "/examples"));
  }

  void Start() {
    pid_ = test::ForkCloverServe(config_, log_file_);
    if (!test::WaitUntilReady(node_.endpoint, absl::Seconds(30))) {
      FAIL() << "clover serve did not become ready:\n" << ReadAll(log_file_);
    }
  }
  void Stop(int sig) {
    if (pid_ <= 0) return;
    kill(pid_, sig);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  ClientResponse Send(const std::string& method, const std::string& path,
                      std::vector<std::string> headers,
                      const std::string& body = "") {
    auto r = client_.Send(method, node_.endpoint + path, headers, body);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : ClientResponse{};
  }

  // The JSON objects of the log file; fails for a line that is not one.
  std::vector<rapidjson::Document> LogLines() {
    std::vector<rapidjson::Document> out;
    for (absl::string_view line :
         absl::StrSplit(ReadAll(log_file_), '\n', absl::SkipEmpty())) {
      rapidjson::Document doc;
      doc.Parse(line.data(), line.size());
      EXPECT_TRUE(!doc.HasParseError() && doc.IsObject() &&
                  doc.HasMember("time") && doc.HasMember("level") &&
                  doc.HasMember("message"))
          << "not a JSON log line: " << line;
      if (!doc.HasParseError() && doc.IsObject()) out.push_back(std::move(doc));
    }
    return out;
  }

  test::TempDir dir_{"ops-e2e"};
  std::string log_file_ = dir_.Sub("node.log");
  LocalNode node_;
  std::string config_;
  pid_t pid_ = -1;
  HttpClient client_{absl::Seconds(10)};
};

std::string Str(const rapidjson::Value& v, const char* key) {
  return v.HasMember(key) && v[key].IsString() ? v[key].GetString() : "";
}

TEST_F(OpsTest, AccessLogRequestIdsAndNoSecretsInTheLog) {
  ASSERT_NO_FATAL_FAILURE(Prepare());
  ASSERT_NO_FATAL_FAILURE(Start());
  const std::string support =
      "Authorization: Bearer " + ExampleApiKey("eu-support-1");
  const std::string accounts =
      "Authorization: Bearer " + ExampleApiKey("accounts-eu");
  ASSERT_EQ(Send("PUT", absl::StrCat("/v1/subjects/", kSubject),
                 {accounts, "X-Clover-Purpose: account_management"},
                 absl::StrCat(R"({"country":"IE","fields":{"email":")", kEmail,
                              R"("}})"))
                .status,
            201);

  // A valid id and traceparent: echoed (the trace id kept, a new span).
  ClientResponse read = Send(
      "GET", absl::StrCat("/v1/subjects/", kSubject, "?fields=email"),
      {support, "X-Clover-Purpose: customer_support", "X-Request-Id: ops-req-1",
       absl::StrCat("traceparent: 00-", kTraceId, "-", kParentSpan, "-01")});
  ASSERT_EQ(read.status, 200) << read.body;
  EXPECT_EQ(read.Header("x-request-id"), "ops-req-1");
  const std::string tp = read.Header("traceparent");
  ASSERT_EQ(tp.size(), 55u) << tp;
  EXPECT_TRUE(absl::StartsWith(tp, absl::StrCat("00-", kTraceId, "-"))) << tp;
  EXPECT_TRUE(absl::EndsWith(tp, "-01")) << tp;
  EXPECT_EQ(tp.find(kParentSpan), std::string::npos) << tp;

  // Malformed ones are replaced, never echoed.
  ClientResponse bad =
      Send("GET", "/readyz",
           {"X-Request-Id: <script>alert(1)</script>",
            "traceparent: 00-00000000000000000000000000000000-" +
                std::string(kParentSpan) + "-01"});
  EXPECT_EQ(bad.status, 200);
  EXPECT_EQ(bad.Header("x-request-id").size(), 32u);
  EXPECT_EQ(bad.Header("x-request-id").find('<'), std::string::npos);
  EXPECT_FALSE(absl::StrContains(bad.Header("traceparent"),
                                 "00000000000000000000000000000000"));
  const std::string generated_id = bad.Header("x-request-id");

  // Refused credentials: 401, logged with the cause, the credential not.
  EXPECT_EQ(
      Send("GET", absl::StrCat("/v1/subjects/", kSubject),
           {absl::StrCat("Authorization: Bearer ", kFakeJwt),
            "X-Clover-Purpose: customer_support", "X-Request-Id: ops-req-jwt"})
          .status,
      401);
  EXPECT_EQ(Send("GET", absl::StrCat("/v1/subjects/", kSubject),
                 {absl::StrCat("Authorization: Bearer ", kWrongKey),
                  "X-Clover-Purpose: customer_support"})
                .status,
            401);
  Stop(SIGTERM);

  bool saw_read = false, saw_generated = false, saw_auth_failure = false;
  for (const rapidjson::Document& l : LogLines()) {
    if (Str(l, "log") != "access") continue;
    EXPECT_TRUE(l.HasMember("latency_ms") && l["latency_ms"].IsNumber());
    EXPECT_EQ(Str(l, "trace_id").size(), 32u);
    EXPECT_EQ(Str(l, "span_id").size(), 16u);
    if (Str(l, "request_id") == "ops-req-1") {
      saw_read = true;
      EXPECT_EQ(Str(l, "method"), "GET");
      EXPECT_EQ(Str(l, "route"), "/v1/subjects/{id}");
      EXPECT_EQ(l["status"].GetInt(), 200);
      EXPECT_EQ(Str(l, "principal"), "eu-support-1");
      EXPECT_EQ(Str(l, "trace_id"), kTraceId);
      EXPECT_EQ(Str(l, "parent_span_id"), kParentSpan);
      EXPECT_EQ(Str(l, "level"), "info");
      ASSERT_TRUE(l.HasMember("log_index") && l["log_index"].IsUint64());
    }
    if (Str(l, "request_id") == generated_id) {
      saw_generated = true;
      EXPECT_EQ(Str(l, "route"), "/readyz");
    }
    if (Str(l, "request_id") == "ops-req-jwt") {
      saw_auth_failure = true;
      EXPECT_EQ(l["status"].GetInt(), 401);
      EXPECT_EQ(Str(l, "level"), "warn");
      EXPECT_EQ(Str(l, "event"), "authentication_failed");
      EXPECT_FALSE(Str(l, "cause").empty());
    }
  }
  EXPECT_TRUE(saw_read);
  EXPECT_TRUE(saw_generated);
  EXPECT_TRUE(saw_auth_failure);

  // No secret and no personal data in the whole log.
  const std::string text = ReadAll(log_file_);
  std::vector<std::string> secrets = {
      ExampleApiKey("eu-support-1"), ExampleApiKey("accounts-eu"), kFakeJwt,
      // The signature part alone, in case a redaction kept a prefix.
      std::string(kFakeJwt).substr(std::string(kFakeJwt).rfind('.') + 1),
      kWrongKey, kSubject, kEmail, "<script>"};
  for (const std::string& file : {node_.deployment.keys.kek_file,
                                  node_.deployment.keys.pseudonym_key_file}) {
    std::string key = ReadAll(file);
    while (!key.empty() && key.back() == '\n') key.pop_back();
    secrets.push_back(key.substr(key.find('+') + 1));
  }
  for (const std::string& s : secrets) {
    ASSERT_FALSE(s.empty());
    EXPECT_FALSE(absl::StrContains(text, s)) << "the log holds " << s;
  }
}

TEST_F(OpsTest, WrongKekFailsAtStartWithOneLine) {
  ASSERT_NO_FATAL_FAILURE(Prepare());
  ASSERT_NO_FATAL_FAILURE(Start());
  ASSERT_EQ(Send("PUT", absl::StrCat("/v1/subjects/", kSubject),
                 {"Authorization: Bearer " + ExampleApiKey("accounts-eu"),
                  "X-Clover-Purpose: account_management"},
                 R"({"country":"IE","fields":{"email":"k@mail.example"}})")
                .status,
            201);
  Stop(SIGTERM);
  // Another KEK in the configured file.
  const std::string kek_file = node_.deployment.keys.kek_file;
  // Only the KEK this test generated under its own directory is replaced.
  ASSERT_TRUE(absl::StartsWith(kek_file, dir_.path() + "/")) << kek_file;
  std::filesystem::remove(kek_file);
  auto other = crypto::GenerateSecretKey();
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(crypto::WriteSecretKeyFile(kek_file, *other).ok());

  const std::string out = dir_.Sub("wrong-kek.log");
  const int code =
      WaitExit(test::ForkCloverServe(config_, out), absl::Seconds(30));
  EXPECT_NE(code, 0);
  EXPECT_NE(code, -1) << "the node did not stop by itself";
  const std::string text = ReadAll(out);
  std::vector<std::string> lines =
      absl::StrSplit(text, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 1u) << text;
  EXPECT_TRUE(absl::StartsWith(lines[0], "clover: ")) << lines[0];
  EXPECT_TRUE(absl::StartsWith(lines[0], "clover: open vault: wrong KEK: "))
      << lines[0];
  EXPECT_TRUE(absl::StrContains(lines[0], "keys.kek_file")) << lines[0];
  // Nothing was served.
  EXPECT_FALSE(client_.Send("GET", node_.endpoint + "/healthz", {}).ok());
}

// The node's /readyz with its PostgreSQL database stopped: 503 with reason
// storage_unavailable (and Retry-After), and 200 again once it is back.
TEST_F(OpsTest, ReadyzFollowsTheDatabase) {
  CLOVER_REQUIRE_POSTGRES();
  ASSERT_NO_FATAL_FAILURE(Prepare("ops_readyz"));
  ASSERT_NO_FATAL_FAILURE(Start());
  PostgresTestServer& db = *pgtest::Server().value();
  ASSERT_TRUE(db.Stop().ok());
  ClientResponse r;
  absl::Time deadline = absl::Now() + absl::Seconds(30);
  do {
    r = Send("GET", "/readyz", {});
  } while (r.status != 503 && absl::Now() < deadline &&
           (absl::SleepFor(absl::Milliseconds(100)), true));
  const absl::Status restarted = db.Restart();
  ASSERT_TRUE(restarted.ok()) << restarted;
  ASSERT_EQ(r.status, 503) << r.body;
  rapidjson::Document doc = e2e::ParseBody(r.body);
  ASSERT_TRUE(doc.IsObject()) << r.body;
  EXPECT_EQ(Str(doc, "status"), "not_ready");
  EXPECT_EQ(Str(doc, "reason"), "storage_unavailable");
  EXPECT_EQ(r.Header("retry-after"), "2");
  // The DSN (socket path, user) is not in the unauthenticated answer.
  EXPECT_FALSE(absl::StrContains(r.body, "host=")) << r.body;
  EXPECT_TRUE(test::WaitUntilReady(node_.endpoint, absl::Seconds(60)))
      << "/readyz did not come back after the database did";
}

}  // namespace
}  // namespace clover::gateway
