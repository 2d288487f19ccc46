// The transport's access log and request identifiers (server/http_server.h,
// server/request_id.h).
#include <curl/curl.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/logger.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/http_server.h"
#include "server/request_id.h"
#include "server/router.h"

namespace clover::server {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct Answer {
  long status = 0;
  std::string headers;
  std::string body;
};

size_t Append(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

Answer Get(const std::string& url, const std::vector<std::string>& headers) {
  Answer a;
  CURL* curl = curl_easy_init();
  curl_slist* list = nullptr;
  for (const auto& h : headers) list = curl_slist_append(list, h.c_str());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Append);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &a.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, Append);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &a.headers);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  EXPECT_EQ(curl_easy_perform(curl), CURLE_OK);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &a.status);
  curl_slist_free_all(list);
  curl_easy_cleanup(curl);
  return a;
}

// The value of response header `name` (as sent), or "".
std::string HeaderOf(const Answer& a, const std::string& name) {
  const std::string needle = "\r\n" + name + ": ";
  size_t at = a.headers.find(needle);
  if (at == std::string::npos) return "";
  at += needle.size();
  return a.headers.substr(at, a.headers.find("\r\n", at) - at);
}

class AccessLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    saved_ = logging::Configure(
        {logging::Level::kInfo, logging::Format::kJson, out_});
    Router router;
    router.Handle(
        "GET", "/v1/subjects/{id}", [](HttpRequest& req, Responder respond) {
          req.NotePrincipal("eu-support-1");
          HttpResponse r = HttpResponse::Json(
              200, absl::StrCat("{\"request_id\":\"", req.request_id, "\"}"));
          r.log_index = 42;
          respond(std::move(r));
        });
    router.Handle("GET", "/boom", [](HttpRequest&, Responder respond) {
      respond(HttpResponse::FromStatus(absl::InternalError(
          "cannot open /var/lib/clover/db: host=db password=hunter2")));
    });
    router.Handle("GET", "/private", [](HttpRequest&, Responder respond) {
      respond(HttpResponse::FromStatus(
          absl::UnauthenticatedError("the bearer token is not valid")));
    });
    ASSERT_TRUE(router.status().ok());
    auto server = HttpServer::Start({}, router.AsHandler());
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    base_ = absl::StrCat("http://127.0.0.1:", server_->port());
  }
  void TearDown() override {
    server_.reset();
    logging::Configure(saved_);
  }

  std::shared_ptr<logging::MemoryLogOutput> out_ =
      std::make_shared<logging::MemoryLogOutput>();
  logging::Options saved_;
  std::unique_ptr<HttpServer> server_;
  std::string base_;
};

TEST_F(AccessLogTest, OneLinePerRequestWithRouteTemplateAndIds) {
  Answer a = Get(base_ + "/v1/subjects/alice-secret-id",
                 {"X-Request-Id: req-1",
                  "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-"
                  "00f067aa0ba902b7-01"});
  ASSERT_EQ(a.status, 200);
  EXPECT_EQ(HeaderOf(a, "X-Request-Id"), "req-1");
  EXPECT_EQ(a.body, "{\"request_id\":\"req-1\"}");
  const std::string tp = HeaderOf(a, "traceparent");
  EXPECT_TRUE(absl::StartsWith(tp, "00-4bf92f3577b34da6a3ce929d0e0e4736-"))
      << tp;
  std::optional<TraceParent> parsed = ParseTraceParent(tp);
  ASSERT_TRUE(parsed.has_value()) << tp;
  EXPECT_NE(parsed->parent_id, "00f067aa0ba902b7");  // our own span
  EXPECT_EQ(parsed->flags, "01");

  std::vector<std::string> lines = out_->Lines();
  ASSERT_EQ(lines.size(), 1u);
  const std::string& l = lines[0];
  EXPECT_THAT(l, HasSubstr("\"level\":\"info\",\"message\":\"request\","
                           "\"log\":\"access\",\"method\":\"GET\","
                           "\"route\":\"/v1/subjects/{id}\",\"status\":200,"
                           "\"latency_ms\":"));
  EXPECT_THAT(l,
              HasSubstr("\"request_id\":\"req-1\",\"trace_id\":"
                        "\"4bf92f3577b34da6a3ce929d0e0e4736\",\"span_id\":\"" +
                        parsed->parent_id +
                        "\",\"parent_span_id\":\"00f067aa0ba902b7\","
                        "\"principal\":\"eu-support-1\",\"log_index\":42,"
                        "\"remote\":\"127.0.0.1:"));
  EXPECT_THAT(l, Not(HasSubstr("alice-secret-id")));
}

TEST_F(AccessLogTest, BadIdsAreReplacedNeverEchoed) {
  for (const std::string& bad :
       {std::string("has space"), std::string(129, 'a'), std::string("a\"b"),
        std::string("<x>")}) {
    Answer a = Get(base_ + "/v1/subjects/x",
                   {"X-Request-Id: " + bad,
                    "traceparent: 00-4BF92F3577B34DA6A3CE929D0E0E4736-"
                    "00f067aa0ba902b7-01"});
    ASSERT_EQ(a.status, 200);
    const std::string id = HeaderOf(a, "X-Request-Id");
    EXPECT_EQ(id.size(), 32u) << id;
    EXPECT_TRUE(ValidRequestId(id));
    EXPECT_THAT(a.headers, Not(HasSubstr(bad)));
    EXPECT_THAT(out_->Text(), Not(HasSubstr(bad)));
    // Upper-case hex is not a valid trace id: a new one.
    EXPECT_FALSE(absl::StrContains(HeaderOf(a, "traceparent"),
                                   "4BF92F3577B34DA6A3CE929D0E0E4736"));
  }
  // Absent: generated, different per request.
  Answer a = Get(base_ + "/v1/subjects/x", {});
  Answer b = Get(base_ + "/v1/subjects/x", {});
  EXPECT_NE(HeaderOf(a, "X-Request-Id"), HeaderOf(b, "X-Request-Id"));
  EXPECT_EQ(HeaderOf(a, "traceparent").size(), 55u);
}

TEST_F(AccessLogTest, ServerErrorsAndAuthFailuresAreLoggedWithTheirCause) {
  Answer boom = Get(base_ + "/boom", {"X-Request-Id: req-boom"});
  EXPECT_EQ(boom.status, 500);
  // The client learns nothing of the cause ...
  EXPECT_THAT(boom.body, Not(HasSubstr("/var/lib")));
  Answer denied = Get(base_ + "/private", {"Authorization: Bearer sekrit"});
  EXPECT_EQ(denied.status, 401);
  Answer missing = Get(base_ + "/nope/at/all", {});
  EXPECT_EQ(missing.status, 404);
  std::vector<std::string> lines = out_->Lines();
  ASSERT_EQ(lines.size(), 3u);
  // ... the log does, at error level, without the password.
  EXPECT_THAT(lines[0], HasSubstr("\"level\":\"error\""));
  EXPECT_THAT(lines[0], HasSubstr("\"status\":500"));
  EXPECT_THAT(lines[0], HasSubstr("\"cause\":\"INTERNAL: cannot open "
                                  "/var/lib/clover/db: host=db "
                                  "password=[redacted]\""));
  EXPECT_THAT(lines[0], Not(HasSubstr("hunter2")));
  EXPECT_THAT(lines[1], HasSubstr("\"level\":\"warn\""));
  EXPECT_THAT(lines[1], HasSubstr("\"status\":401"));
  EXPECT_THAT(lines[1], HasSubstr("\"cause\":\"unauthenticated: the bearer "
                                  "token is not valid\",\"event\":"
                                  "\"authentication_failed\""));
  EXPECT_THAT(out_->Text(), Not(HasSubstr("sekrit")));
  EXPECT_THAT(lines[2], HasSubstr("\"route\":\"unmatched\",\"status\":404"));
  EXPECT_THAT(lines[2], Not(HasSubstr("/nope/at/all")));
}

TEST_F(AccessLogTest, CanBeTurnedOff) {
  server_.reset();
  HttpServerOptions options;
  options.access_log = false;
  auto server = HttpServer::Start(options, [](HttpRequest&, Responder respond) {
    respond(HttpResponse::Json(200, "{}"));
  });
  ASSERT_TRUE(server.ok());
  Answer a = Get(absl::StrCat("http://127.0.0.1:", (*server)->port(), "/"), {});
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(HeaderOf(a, "X-Request-Id").size(), 32u);
  EXPECT_TRUE(out_->Lines().empty());
}

TEST(RequestIdTest, TraceParentGrammar) {
  const std::string ok =
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  ASSERT_TRUE(ParseTraceParent(ok).has_value());
  EXPECT_EQ(ParseTraceParent(ok)->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_FALSE(ParseTraceParent(ok + "-x").has_value());  // v00 is exact
  EXPECT_TRUE(ParseTraceParent("01" + ok.substr(2) + "-future").has_value());
  EXPECT_FALSE(ParseTraceParent("ff" + ok.substr(2)).has_value());
  EXPECT_FALSE(ParseTraceParent(
                   "00-00000000000000000000000000000000-00f067aa0ba902b7-01")
                   .has_value());
  EXPECT_FALSE(ParseTraceParent(
                   "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01")
                   .has_value());
  EXPECT_FALSE(ParseTraceParent(
                   "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
                   .has_value());
  EXPECT_FALSE(ParseTraceParent("").has_value());
  EXPECT_TRUE(
      ParseTraceParent(FormatTraceParent(NewTraceId(), NewSpanId(), "00"))
          .has_value());
  EXPECT_TRUE(ValidRequestId("a.b_c:d-9"));
  EXPECT_FALSE(ValidRequestId(""));
  EXPECT_FALSE(ValidRequestId("a/b"));
}

}  // namespace
}  // namespace clover::server
