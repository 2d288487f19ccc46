#include "server/http.h"

#include <string>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace clover::server {
namespace {

TEST(HttpResponseTest, ErrorIsEscapedJson) {
  HttpResponse r = HttpResponse::Error(404, "not_found", "no \"x\"\n\\ \x01");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(
      r.body,
      R"({"error":{"code":"not_found","message":"no \"x\"\n\\ \u0001"}})");
}

TEST(HttpResponseTest, FromStatusMapsCodes) {
  EXPECT_EQ(HttpResponse::FromStatus(absl::InvalidArgumentError("bad")).status,
            400);
  EXPECT_EQ(HttpResponse::FromStatus(absl::UnauthenticatedError("who")).status,
            401);
  EXPECT_EQ(HttpResponse::FromStatus(absl::PermissionDeniedError("no")).status,
            403);
  EXPECT_EQ(HttpResponse::FromStatus(absl::NotFoundError("gone")).status, 404);
  EXPECT_EQ(HttpResponse::FromStatus(absl::AlreadyExistsError("dup")).status,
            409);
  EXPECT_EQ(
      HttpResponse::FromStatus(absl::ResourceExhaustedError("eps")).status,
      429);
  EXPECT_EQ(HttpResponse::FromStatus(absl::UnavailableError("later")).status,
            503);
  HttpResponse bad =
      HttpResponse::FromStatus(absl::InvalidArgumentError("field 'x' missing"));
  EXPECT_EQ(
      bad.body,
      R"({"error":{"code":"invalid_argument","message":"field 'x' missing"}})");
}

TEST(HttpResponseTest, InternalErrorsHideDetail) {
  HttpResponse r =
      HttpResponse::FromStatus(absl::InternalError("db password=hunter2"));
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body.find("hunter2"), std::string::npos);
}

// Issue 17: a 503 body carried the database socket path. Failures of the node
// itself answer with a fixed message; client errors keep theirs.
TEST(HttpResponseTest, ServerFailuresCarryNoInternals) {
  const std::string detail =
      "connection to server on socket \"/var/run/postgresql/.s.PGSQL.5432\" "
      "failed";
  struct Case {
    absl::Status status;
    int http;
    std::string body;
  };
  const Case cases[] = {
      {absl::UnavailableError(detail), 503,
       R"({"error":{"code":"unavailable","message":"service unavailable"}})"},
      {absl::DeadlineExceededError(detail), 504,
       R"({"error":{"code":"deadline_exceeded","message":"deadline exceeded"}})"},
      {absl::InternalError(detail), 500,
       R"({"error":{"code":"internal","message":"internal error"}})"},
      {absl::UnknownError(detail), 500,
       R"({"error":{"code":"internal","message":"internal error"}})"},
      {absl::DataLossError(detail), 500,
       R"({"error":{"code":"internal","message":"internal error"}})"},
      {absl::CancelledError(detail), 500,
       R"({"error":{"code":"internal","message":"internal error"}})"},
      // An HTTP status override does not let the detail through either.
      {WithHttpStatus(absl::UnavailableError(detail), 502), 502,
       R"({"error":{"code":"unavailable","message":"service unavailable"}})"},
      {WithHttpStatus(absl::InternalError(detail), 410), 410,
       R"({"error":{"code":"error","message":"internal error"}})"},
  };
  for (const Case& c : cases) {
    HttpResponse r = HttpResponse::FromStatus(c.status);
    EXPECT_EQ(r.status, c.http) << c.status;
    EXPECT_EQ(r.body, c.body) << c.status;
    EXPECT_EQ(r.body.find("postgresql"), std::string::npos) << c.status;
  }
  // Client errors keep their message: it tells the client what to fix.
  for (const absl::Status& s :
       {absl::InvalidArgumentError("field 'x' missing"),
        absl::NotFoundError("field 'x' missing"),
        absl::PermissionDeniedError("field 'x' missing"),
        absl::FailedPreconditionError("field 'x' missing"),
        absl::ResourceExhaustedError("field 'x' missing"),
        absl::UnimplementedError("field 'x' missing")}) {
    EXPECT_NE(HttpResponse::FromStatus(s).body.find("field 'x' missing"),
              std::string::npos)
        << s;
  }
}

TEST(HttpResponseTest, PayloadOverridesStatus) {
  absl::Status gone =
      WithHttpStatus(absl::NotFoundError("subject erased"), 410);
  HttpResponse r = HttpResponse::FromStatus(gone);
  EXPECT_EQ(r.status, 410);
  EXPECT_NE(r.body.find("subject erased"), std::string::npos);
  absl::Status misdirected =
      WithHttpStatus(absl::FailedPreconditionError("other region"), 421);
  EXPECT_EQ(HttpResponse::FromStatus(misdirected).status, 421);
  // Out-of-range overrides are ignored.
  EXPECT_EQ(
      HttpResponse::FromStatus(WithHttpStatus(absl::NotFoundError("x"), 200))
          .status,
      404);
}

TEST(HttpRequestTest, HeaderAndQueryAccessors) {
  HttpRequest req;
  req.headers["x-clover-purpose"] = "customer_support";
  req.query = "fields=email,phone&debug";
  EXPECT_EQ(req.Header("x-clover-purpose"), "customer_support");
  EXPECT_EQ(req.Header("missing"), "");
  EXPECT_EQ(req.QueryParam("fields"), "email,phone");
  EXPECT_TRUE(req.HasQueryParam("debug"));
  EXPECT_FALSE(req.HasQueryParam("other"));
}

// Issue 19: a client that meets a 503 (a database failover) is told when to
// come back; other errors say nothing of the kind.
TEST(HttpResponseTest, UnavailableCarriesRetryAfter) {
  auto retry_after = [](const HttpResponse& r) {
    for (const auto& [name, value] : r.headers) {
      if (name == "Retry-After") return value;
    }
    return std::string();
  };
  const HttpResponse r =
      HttpResponse::FromStatus(absl::UnavailableError("no leader"));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(retry_after(r), std::to_string(kRetryAfterSeconds));
  EXPECT_NE(r.body.find("\"code\":\"unavailable\""), std::string::npos);
  EXPECT_EQ(retry_after(HttpResponse::Error(503, "log_unavailable", "x")),
            std::to_string(kRetryAfterSeconds));
  EXPECT_EQ(retry_after(HttpResponse::FromStatus(absl::InternalError("x"))),
            "");
  EXPECT_EQ(retry_after(HttpResponse::Error(409, "conflict", "x")), "");
  // 429 (a spent budget, a full queue) asks for a retry too.
  const HttpResponse exhausted =
      HttpResponse::FromStatus(absl::ResourceExhaustedError("budget spent"));
  EXPECT_EQ(exhausted.status, 429);
  EXPECT_EQ(retry_after(exhausted), std::to_string(kRetryAfterSeconds));
}

TEST(HttpResponseTest, EnsureRetryAfterCoversHandBuiltAnswersOnce) {
  auto count = [](const HttpResponse& r) {
    int n = 0;
    for (const auto& [name, value] : r.headers) n += name == "Retry-After";
    return n;
  };
  HttpResponse ready = HttpResponse::Json(503, "{\"status\":\"not_ready\"}");
  EnsureRetryAfter(ready);
  EXPECT_EQ(count(ready), 1);
  EnsureRetryAfter(ready);
  EXPECT_EQ(count(ready), 1);
  HttpResponse own = HttpResponse::Json(429, "{}");
  own.headers.emplace_back("retry-after", "30");
  EnsureRetryAfter(own);
  EXPECT_EQ(own.headers.size(), 1u);
  HttpResponse ok = HttpResponse::Json(200, "{}");
  EnsureRetryAfter(ok);
  EXPECT_TRUE(ok.headers.empty());
}

}  // namespace
}  // namespace clover::server
