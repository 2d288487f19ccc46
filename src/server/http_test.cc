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

}  // namespace
}  // namespace clover::server
