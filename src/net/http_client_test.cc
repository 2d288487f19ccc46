#include "net/http_client.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/http.h"
#include "server/http_server.h"

namespace clover::net {
namespace {

// A loopback server: /big answers 4 KiB, /echo the method, its X-Test header
// and body, anything else 404.
class HttpClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server::HttpServerOptions o;
    o.threads = 1;
    auto s = server::HttpServer::Start(
        o, [](server::HttpRequest& req, server::Responder respond) {
          if (req.path == "/big") {
            server::HttpResponse r;
            r.content_type = "text/plain";
            r.body.assign(4096, 'x');
            return respond(std::move(r));
          }
          if (req.path == "/echo") {
            return respond(server::HttpResponse::Json(
                200, absl::StrCat("{\"m\":\"", req.method, "\",\"h\":\"",
                                  req.Header("x-test"), "\",\"b\":\"", req.body,
                                  "\"}")));
          }
          respond(server::HttpResponse::Error(404, "not_found", "none"));
        });
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = *std::move(s);
    base_ = absl::StrCat("http://127.0.0.1:", server_->port());
  }

  std::unique_ptr<server::HttpServer> server_;
  std::string base_;
};

TEST_F(HttpClientTest, SendsMethodHeadersAndBody) {
  HttpClient client;
  HttpCall call;
  call.method = "POST";
  const std::string url = base_ + "/echo";
  call.url = url;
  call.headers = {"X-Test: yes", "Content-Type: application/json"};
  call.body = "abc";
  auto a = client.Send(call);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->status, 200);
  EXPECT_EQ(a->body, R"({"m":"POST","h":"yes","b":"abc"})");
  EXPECT_EQ(a->content_type, "application/json");
  EXPECT_EQ(a->Header("content-type"), "application/json");
  // The handle is reused for the next call.
  call.method = "PUT";
  a = client.Send(call);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->body, R"({"m":"PUT","h":"yes","b":"abc"})");
}

TEST_F(HttpClientTest, BoundsTheAnswer) {
  HttpCall call;
  const std::string url = base_ + "/big";
  call.url = url;
  call.max_answer_bytes = 1000;
  auto a = ThreadHttpClient().Send(call);
  EXPECT_EQ(a.status().code(), absl::StatusCode::kResourceExhausted);
  call.max_answer_bytes = 4096;
  a = ThreadHttpClient().Send(call);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->body.size(), 4096u);
}

TEST_F(HttpClientTest, GetOkMapsStatuses) {
  HttpClient client;
  auto ok = GetOk(client, base_ + "/big", absl::Seconds(5), 1 << 20);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->size(), 4096u);
  auto missing = GetOk(client, base_ + "/nothing", absl::Seconds(5), 1 << 20);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
}

TEST_F(HttpClientTest, UnreachableAndForeignSchemesAreUnavailable) {
  const int port = server_->port();
  server_->Stop();
  server_.reset();
  HttpClient client;
  HttpCall call;
  const std::string url = absl::StrCat("http://127.0.0.1:", port, "/echo");
  call.url = url;
  call.timeout = absl::Seconds(5);
  EXPECT_EQ(client.Send(call).status().code(), absl::StatusCode::kUnavailable);
  // Errors name the URL without what may carry credentials.
  const std::string secret =
      absl::StrCat("http://user:pw@127.0.0.1:", port, "/hook?token=s3cret");
  call.url = secret;
  auto refused = client.Send(call);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(refused.status().message().find("s3cret"), std::string::npos);
  EXPECT_EQ(refused.status().message().find("pw@"), std::string::npos);
  EXPECT_NE(refused.status().message().find("/hook"), std::string::npos)
      << refused.status().message();
  const std::string file = "file:///etc/passwd";
  call.url = file;
  EXPECT_EQ(client.Send(call).status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace clover::net
