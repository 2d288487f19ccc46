// The web console's security contract (audit/console.h) through a real
// auditor: served over loopback HTTP for the cookie, CSP and traversal
// checks, and through its router for the rest.
#include "audit/console.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "audit/auditor.h"
#include "audit/auditor_fixture.h"
#include "audit/console_assets.h"
#include "audit/decision_builder.h"
#include "entry/decision_record.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"

namespace clover::audit {
namespace {

using ::clover::entry::DecisionEntry;
using ::testing::HasSubstr;
using testing::kAdminToken;
using testing::kReadToken;
using ::testing::Not;

constexpr char kPolicy[] = R"(version: 1
description: console test policy
rules:
  - id: support-reads-eu
    effect: allow
    when: {principal.role: support, purpose: customer_support, destination: eu}
)";

// One HTTP/1.1 exchange over loopback, sent byte for byte as given (so a
// path is not normalised by a client library).
struct RawResponse {
  int status = 0;
  std::string head;  // status line and headers, names as sent
  std::string body;
  std::string Header(absl::string_view name) const {
    for (absl::string_view line : absl::StrSplit(head, "\r\n")) {
      size_t colon = line.find(':');
      if (colon != absl::string_view::npos &&
          absl::EqualsIgnoreCase(line.substr(0, colon), name)) {
        return std::string(absl::StripAsciiWhitespace(line.substr(colon + 1)));
      }
    }
    return "";
  }
};

RawResponse Exchange(int port, const std::string& request) {
  RawResponse out;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
          static_cast<ssize_t>(request.size())) {
    close(fd);
    return out;
  }
  std::string all;
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    char buf[8192];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    all.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  size_t end = all.find("\r\n\r\n");
  if (end == std::string::npos) return out;
  out.head = all.substr(0, end);
  out.body = all.substr(end + 4);
  std::vector<std::string> first = absl::StrSplit(out.head, ' ');
  if (first.size() >= 2 && !absl::SimpleAtoi(first[1], &out.status)) {
    out.status = 0;
  }
  return out;
}

class ConsoleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto files = testing::WriteAuditorFiles(dir_, "console.test", kPolicy);
    ASSERT_TRUE(files.ok()) << files.status();
    policy_ = files->policy.compiled;
    config_ = files->config;
    config_.logs.push_back(testing::FollowLog(log_, "mem://eu"));
    config_.detectors.canary_pseudonyms = {"canary-token-1"};
    config_.api_credentials = testing::AdminAndReadCredentials();
    auto a = testing::OpenAuditor(config_, clock_, log_);
    ASSERT_TRUE(a.ok()) << a.status();
    auditor_ = *std::move(a);
    ASSERT_TRUE(auditor_->Serve().ok());
    port_ = auditor_->port();
    // A canary touch: one open incident to act on.
    DecisionEntry e = testing::SupportRead(clock_.Now(), "canary-token-1");
    DecideWith(*policy_, &e);
    log_.Append(entry::DecisionJson(e));
    ASSERT_TRUE(auditor_->PollOnce().ok());
    auto list = auditor_->incidents().List(std::nullopt);
    ASSERT_EQ(list.size(), 1u);
    incident_ = list[0].id;
  }

  RawResponse Request(const std::string& method, const std::string& target,
                      const std::string& headers = "",
                      const std::string& body = "") {
    return Exchange(
        port_, absl::StrCat(method, " ", target,
                            " HTTP/1.1\r\nHost: 127.0.0.1:", port_,
                            "\r\nConnection: close\r\n", headers,
                            "Content-Length: ", body.size(), "\r\n\r\n", body));
  }

  // Logs in with `token`; returns the response (cookie in Set-Cookie).
  RawResponse Login(const std::string& token) {
    return Request("POST", "/ui/api/login",
                   "Content-Type: application/json\r\n",
                   absl::StrCat("{\"token\":\"", token, "\"}"));
  }

  // The cookie pair "clover_session=..." and CSRF token of a fresh session.
  void LoginAs(const std::string& token, std::string* cookie,
               std::string* csrf) {
    RawResponse r = Login(token);
    ASSERT_EQ(r.status, 200) << r.body;
    std::string set = r.Header("Set-Cookie");
    *cookie = std::string(set.substr(0, set.find(';')));
    rapidjson::Document d;
    d.Parse(r.body.c_str());
    ASSERT_TRUE(d.IsObject() && d.HasMember("csrf_token"));
    *csrf = d["csrf_token"].GetString();
  }

  testing::TempDir dir_;
  FakeClock clock_{absl::Now()};
  testing::FakeLog log_{"log.test/ie-dub-1"};
  AuditorConfig config_;
  std::shared_ptr<const policy::CompiledPolicy> policy_;
  std::unique_ptr<Auditor> auditor_;
  int port_ = 0;
  std::string incident_;
};

TEST_F(ConsoleTest, ServesTheEmbeddedBundleWithAStrictPolicy) {
  ASSERT_FALSE(ConsoleAssets().empty());
  RawResponse r = Request("GET", "/ui/");
  ASSERT_EQ(r.status, 200);
  EXPECT_THAT(r.Header("Content-Type"), HasSubstr("text/html"));
  EXPECT_THAT(r.body, HasSubstr("<script type=\"module\" src=\"app.js\">"));
  // No inline script or style anywhere in the page.
  EXPECT_THAT(r.body, Not(HasSubstr("<script>")));
  EXPECT_THAT(r.body, Not(HasSubstr("style=")));
  const std::string csp = r.Header("Content-Security-Policy");
  EXPECT_THAT(csp, HasSubstr("default-src 'self'"));
  EXPECT_THAT(csp, HasSubstr("script-src 'self';"));
  EXPECT_THAT(csp, HasSubstr("frame-ancestors 'none'"));
  EXPECT_THAT(csp, Not(HasSubstr("unsafe-inline")));
  EXPECT_THAT(csp, Not(HasSubstr("unsafe-eval")));
  EXPECT_EQ(r.Header("X-Content-Type-Options"), "nosniff");
  RawResponse js = Request("GET", "/ui/app.js");
  ASSERT_EQ(js.status, 200);
  EXPECT_THAT(js.Header("Content-Type"), HasSubstr("text/javascript"));
  EXPECT_EQ(js.Header("Content-Security-Policy"), csp);
  EXPECT_EQ(Request("GET", "/ui").status, 308);
  EXPECT_EQ(Request("GET", "/ui/no-such-file.js").status, 404);
}

TEST_F(ConsoleTest, PathTraversalIsRefused) {
  // The bundle is embedded: whatever the path, only its files can be served.
  // Names that try to climb are refused outright.
  for (const std::string target :
       {"/ui/../etc/passwd", "/ui/..%2f..%2fetc%2fpasswd",
        "/ui/%2e%2e/%2e%2e/etc/passwd", "/ui/..\\..\\etc\\passwd",
        "/ui/%2e%2e%5c%2e%2e%5cetc%5cpasswd", "/ui/app.js/../index.html",
        "/ui//etc/passwd", "/ui/%00index.html", "/ui/../../CMakeLists.txt"}) {
    RawResponse r = Request("GET", target);
    EXPECT_TRUE(r.status == 400 || r.status == 404)
        << target << " -> " << r.status;
    EXPECT_THAT(r.body, Not(HasSubstr("root:"))) << target;
    EXPECT_THAT(r.body, Not(HasSubstr("cmake_minimum_required"))) << target;
  }
}

TEST_F(ConsoleTest, NoSessionNoData) {
  for (const std::string target :
       {"/ui/api/overview", "/ui/api/session", "/v1/incidents", "/v1/flows"}) {
    EXPECT_EQ(Request("GET", target).status, 401) << target;
    // A made-up or stale cookie is no session either.
    EXPECT_EQ(
        Request("GET", target, "Cookie: clover_session=forged\r\n").status, 401)
        << target;
  }
  EXPECT_EQ(Request("POST", absl::StrCat("/v1/incidents/", incident_, "/ack"),
                    "Cookie: clover_session=forged\r\nX-CSRF-Token: x\r\n")
                .status,
            401);
  // The public page's summary needs none, and names nobody.
  RawResponse pub = Request("GET", "/ui/api/public");
  ASSERT_EQ(pub.status, 200);
  EXPECT_THAT(pub.body, HasSubstr("\"critical\":{\"open\":1}"));
  EXPECT_THAT(pub.body,
              HasSubstr("\"checkpoints\":[{\"origin\":\"log.test/ie-dub-1\""));
  EXPECT_THAT(pub.body, Not(HasSubstr("eu-support-1")));
  EXPECT_THAT(pub.body, Not(HasSubstr("canary-token-1")));
}

TEST_F(ConsoleTest, LoginSetsAStrictHttpOnlyCookieAndRefusesBadCredentials) {
  RawResponse bad = Login("admin-token-0123456789abcdeX");
  EXPECT_EQ(bad.status, 401);
  EXPECT_EQ(bad.Header("Set-Cookie"), "");
  // A cross-site form can only post form encodings: refused.
  EXPECT_EQ(Request("POST", "/ui/api/login",
                    "Content-Type: application/x-www-form-urlencoded\r\n",
                    absl::StrCat("token=", kAdminToken))
                .status,
            415);
  EXPECT_EQ(Request("POST", "/ui/api/login",
                    "Content-Type: application/json\r\nOrigin: "
                    "https://evil.example\r\n",
                    absl::StrCat("{\"token\":\"", kAdminToken, "\"}"))
                .status,
            403);
  RawResponse ok = Login(kAdminToken);
  ASSERT_EQ(ok.status, 200) << ok.body;
  const std::string cookie = ok.Header("Set-Cookie");
  EXPECT_THAT(cookie, HasSubstr("clover_session="));
  EXPECT_THAT(cookie, HasSubstr("HttpOnly"));
  EXPECT_THAT(cookie, HasSubstr("SameSite=Strict"));
  EXPECT_THAT(cookie, HasSubstr("Path=/"));
  // 32 random bytes, base64url: 43+ characters, different on every login.
  std::string id = cookie.substr(15, cookie.find(';') - 15);
  EXPECT_GE(id.size(), 43u);
  std::string cookie2, csrf2;
  LoginAs(kAdminToken, &cookie2, &csrf2);
  EXPECT_NE(cookie2, "clover_session=" + id);
  EXPECT_THAT(ok.body, Not(HasSubstr(kAdminToken)));
  RawResponse s = Request("GET", "/ui/api/session",
                          absl::StrCat("Cookie: ", cookie2, "\r\n"));
  ASSERT_EQ(s.status, 200);
  EXPECT_THAT(s.body, HasSubstr("\"who\":\"dpo\""));
  EXPECT_THAT(s.body, HasSubstr("\"role\":\"admin\""));
}

TEST_F(ConsoleTest, ChangesNeedTheSessionsCsrfToken) {
  std::string cookie, csrf;
  LoginAs(kAdminToken, &cookie, &csrf);
  const std::string ack = absl::StrCat("/v1/incidents/", incident_, "/ack");
  const std::string c = absl::StrCat("Cookie: ", cookie, "\r\n");
  // Reads work with the cookie alone.
  EXPECT_EQ(Request("GET", "/v1/incidents", c).status, 200);
  EXPECT_EQ(Request("GET", "/ui/api/overview", c).status, 200);
  // Missing, wrong, or another session's token: 403, nothing changes.
  RawResponse missing = Request("POST", ack, c);
  EXPECT_EQ(missing.status, 403);
  EXPECT_THAT(missing.body, HasSubstr("csrf_failed"));
  EXPECT_EQ(Request("POST", ack, c + "X-CSRF-Token: " + csrf + "x\r\n").status,
            403);
  std::string other_cookie, other_csrf;
  LoginAs(kAdminToken, &other_cookie, &other_csrf);
  EXPECT_EQ(
      Request("POST", ack, c + "X-CSRF-Token: " + other_csrf + "\r\n").status,
      403);
  // The right token but a foreign Origin: 403.
  EXPECT_EQ(Request("POST", ack,
                    c + "X-CSRF-Token: " + csrf +
                        "\r\nOrigin: https://evil.example\r\n")
                .status,
            403);
  EXPECT_EQ(auditor_->incidents().List(std::nullopt)[0].status,
            IncidentStatus::kOpen);
  // The right one acts, recorded as the credential's name.
  RawResponse done = Request(
      "POST", ack,
      c + "X-CSRF-Token: " + csrf +
          "\r\nOrigin: http://127.0.0.1:" + std::to_string(port_) + "\r\n");
  ASSERT_EQ(done.status, 200) << done.body;
  auto list = auditor_->incidents().List(std::nullopt);
  EXPECT_EQ(list[0].status, IncidentStatus::kAcknowledged);
  EXPECT_EQ(list[0].acknowledged_by, "dpo");
  // Logging out needs the token too, and ends the session.
  EXPECT_EQ(Request("POST", "/ui/api/logout", c).status, 403);
  EXPECT_EQ(
      Request("POST", "/ui/api/logout", c + "X-CSRF-Token: " + csrf + "\r\n")
          .status,
      200);
  EXPECT_EQ(Request("GET", "/v1/incidents", c).status, 401);
}

TEST_F(ConsoleTest, AReadCredentialsSessionCannotChangeIncidents) {
  std::string cookie, csrf;
  LoginAs(kReadToken, &cookie, &csrf);
  RawResponse r = Request(
      "POST", absl::StrCat("/v1/incidents/", incident_, "/resolve"),
      absl::StrCat("Cookie: ", cookie, "\r\nX-CSRF-Token: ", csrf, "\r\n"));
  EXPECT_EQ(r.status, 403);
  EXPECT_THAT(r.body, HasSubstr("permission_denied"));
}

TEST_F(ConsoleTest, AcknowledgeAndResolveRecordWhoWhenAndTheNote) {
  std::string cookie, csrf;
  LoginAs(kAdminToken, &cookie, &csrf);
  const std::string h =
      absl::StrCat("Cookie: ", cookie, "\r\nX-CSRF-Token: ", csrf,
                   "\r\nContent-Type: application/json\r\n");
  const std::string base = absl::StrCat("/v1/incidents/", incident_);
  // A note over the limit, or not a string: 400, nothing recorded.
  EXPECT_EQ(
      Request("POST", base + "/ack", h,
              absl::StrCat("{\"note\":\"",
                           std::string(kMaxIncidentNoteBytes + 1, 'x'), "\"}"))
          .status,
      400);
  EXPECT_EQ(Request("POST", base + "/ack", h, "{\"note\":7}").status, 400);
  EXPECT_EQ(auditor_->incidents().List(std::nullopt)[0].status,
            IncidentStatus::kOpen);
  const uint64_t events = auditor_->incidents().EventCount();
  const absl::Time t0 = clock_.Now();
  ASSERT_EQ(Request("POST", base + "/ack", h, "{\"note\":\"on it\"}").status,
            200);
  clock_.Advance(absl::Minutes(5));
  RawResponse r =
      Request("POST", base + "/resolve", h, "{\"note\":\"planted by QA\"}");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(r.body, HasSubstr("\"resolve_note\":\"planted by QA\""));
  absl::StatusOr<Incident> i = auditor_->incidents().Get(incident_);
  ASSERT_TRUE(i.ok());
  EXPECT_EQ(i->acknowledged_by, "dpo");
  EXPECT_EQ(i->acknowledged_at, t0);
  EXPECT_EQ(i->acknowledge_note, "on it");
  EXPECT_EQ(i->resolved_by, "dpo");
  EXPECT_EQ(i->resolved_at, t0 + absl::Minutes(5));
  EXPECT_EQ(i->resolve_note, "planted by QA");
  // Both transitions are journal events carrying them; the stored form
  // reads back the same.
  EXPECT_EQ(auditor_->incidents().EventCount(), events + 2);
  absl::StatusOr<std::string> proof =
      auditor_->incidents().EventProof(events + 1);
  ASSERT_TRUE(proof.ok()) << proof.status();
  absl::StatusOr<Incident> back = IncidentFromJson(IncidentToJson(*i));
  ASSERT_TRUE(back.ok()) << back.status();
  // Stored with millisecond precision.
  EXPECT_LT(absl::AbsDuration(back->resolved_at - i->resolved_at),
            absl::Milliseconds(1));
  EXPECT_EQ(back->acknowledge_note, "on it");
}

TEST(ConsoleSessionsTest, SessionsExpireAndAreCapped) {
  FakeClock clock(absl::FromUnixSeconds(1795000000));
  ConsoleSessions sessions(clock, {absl::Hours(1), 2, false});
  std::string a, b, c;
  ASSERT_TRUE(sessions.Create("dpo", ApiRole::kAdmin, &a).ok());
  clock.Advance(absl::Minutes(1));
  ASSERT_TRUE(sessions.Create("dpo", ApiRole::kAdmin, &b).ok());
  EXPECT_TRUE(sessions.Find(a).has_value());
  clock.Advance(absl::Minutes(1));
  ASSERT_TRUE(sessions.Create("dpo", ApiRole::kAdmin, &c).ok());
  EXPECT_FALSE(sessions.Find(a).has_value());  // the oldest made room
  EXPECT_TRUE(sessions.Find(b).has_value());
  clock.Advance(absl::Minutes(59));
  EXPECT_FALSE(sessions.Find(b).has_value());  // an absolute expiry
  EXPECT_TRUE(sessions.Find(c).has_value());
  clock.Advance(absl::Minutes(1));
  EXPECT_FALSE(sessions.Find(c).has_value());
  EXPECT_FALSE(sessions.Find("").has_value());
}

}  // namespace
}  // namespace clover::audit
