#include "server/router.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace clover::server {
namespace {

using ::testing::HasSubstr;

// Runs `handler` synchronously and returns its response.
HttpResponse Call(const Handler& handler, HttpRequest& req) {
  HttpResponse out;
  bool called = false;
  handler(req, [&](HttpResponse r) {
    out = std::move(r);
    called = true;
  });
  EXPECT_TRUE(called);
  return out;
}

HttpRequest Req(std::string method, std::string path) {
  HttpRequest r;
  r.method = std::move(method);
  r.path = std::move(path);
  return r;
}

Handler Echo(std::string name) {
  return [name](HttpRequest& req, Responder respond) {
    std::string body = name;
    for (const char* key : {"id", "*", "L", "N"}) {
      auto it = req.path_params.find(key);
      if (it != req.path_params.end())
        body += std::string(" ") + key + "=" + it->second;
    }
    respond(HttpResponse::Json(200, body));
  };
}

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_.Handle("GET", "/healthz", Echo("health"));
    router_.Handle("GET", "/v1/subjects/{id}", Echo("get"));
    router_.Handle("PUT", "/v1/subjects/{id}", Echo("put"));
    router_.Handle("DELETE", "/v1/subjects/{id}", Echo("delete"));
    router_.Handle("GET", "/v1/subjects/{id}/access-report", Echo("report"));
    router_.Handle("POST", "/v1/approvals/{id}/approve", Echo("approve"));
    router_.Handle("GET", "/v1/approvals/{id}", Echo("approval"));
    router_.Handle("GET", "/v1/approvals/pending", Echo("pending"));
    router_.Handle("GET", "/log/tile/{L}/{N}", Echo("tile"));
    router_.Handle("GET", "/log/*", Echo("log"));
    ASSERT_TRUE(router_.status().ok()) << router_.status();
    handler_ = router_.AsHandler();
  }
  Router router_;
  Handler handler_;
};

TEST_F(RouterTest, MatchesParamsAndRecordsRoute) {
  HttpRequest req = Req("GET", "/v1/subjects/u-42");
  HttpResponse r = Call(handler_, req);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "get id=u-42");
  EXPECT_EQ(req.route, "/v1/subjects/{id}");

  req = Req("GET", "/v1/subjects/u-42/access-report");
  EXPECT_EQ(Call(handler_, req).body, "report id=u-42");
  req = Req("POST", "/v1/approvals/a1/approve");
  EXPECT_EQ(Call(handler_, req).body, "approve id=a1");
  req = Req("GET", "/log/tile/0/x001/234");
  EXPECT_EQ(Call(handler_, req).body, "log *=tile/0/x001/234");
  req = Req("GET", "/log/tile/1/5");
  EXPECT_EQ(Call(handler_, req).body, "tile L=1 N=5");
  EXPECT_EQ(req.route, "/log/tile/{L}/{N}");
}

TEST_F(RouterTest, LiteralBeatsParam) {
  HttpRequest req = Req("GET", "/v1/approvals/pending");
  EXPECT_EQ(Call(handler_, req).body, "pending");
  req = Req("GET", "/v1/approvals/other");
  EXPECT_EQ(Call(handler_, req).body, "approval id=other");
}

TEST_F(RouterTest, UnknownPathIs404) {
  for (const char* path : {"/nope", "/v1/subjects", "/v1/subjects/",
                           "/v1/subjects/a/b", "", "/healthz/x"}) {
    HttpRequest req = Req("GET", path);
    HttpResponse r = Call(handler_, req);
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_THAT(r.body, HasSubstr("\"code\":\"not_found\"")) << path;
    EXPECT_EQ(req.route, "") << path;
  }
}

TEST_F(RouterTest, WrongMethodIs405WithAllow) {
  HttpRequest req = Req("POST", "/v1/subjects/u1");
  HttpResponse r = Call(handler_, req);
  EXPECT_EQ(r.status, 405);
  EXPECT_THAT(r.body, HasSubstr("method_not_allowed"));
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].first, "Allow");
  EXPECT_EQ(r.headers[0].second, "DELETE, GET, PUT");
  EXPECT_EQ(req.route, "/v1/subjects/{id}");
}

TEST(RouterErrorsTest, RejectsBadPatterns) {
  Router router;
  Handler h = [](HttpRequest&, Responder r) {
    r(HttpResponse::Json(200, "{}"));
  };
  EXPECT_FALSE(router.Add("GET", "nope", h).ok());
  EXPECT_FALSE(router.Add("GET", "/a/*/b", h).ok());
  EXPECT_FALSE(router.Add("GET", "/a/{}", h).ok());
  EXPECT_FALSE(router.Add("GET", "/a/{id", h).ok());
  EXPECT_FALSE(router.Add("GET", "/a/x{id}", h).ok());
  EXPECT_TRUE(router.Add("GET", "/a/{id}", h).ok());
  EXPECT_FALSE(router.Add("GET", "/a/{id}", h).ok());
  router.Handle("GET", "bad", h);
  EXPECT_FALSE(router.status().ok());
}

TEST(RouterErrorsTest, HandlerIsASnapshot) {
  Router router;
  ASSERT_TRUE(router
                  .Add("GET", "/a",
                       [](HttpRequest&, Responder r) {
                         r(HttpResponse::Json(200, "a"));
                       })
                  .ok());
  Handler h = router.AsHandler();
  ASSERT_TRUE(router
                  .Add("GET", "/b",
                       [](HttpRequest&, Responder r) {
                         r(HttpResponse::Json(200, "b"));
                       })
                  .ok());
  HttpRequest req = Req("GET", "/b");
  EXPECT_EQ(Call(h, req).status, 404);
  EXPECT_EQ(Call(router.AsHandler(), req).status, 200);
}

}  // namespace
}  // namespace clover::server
