// Identity-provider tokens end to end: an EU node of the example deployment
// configured with a JWKS URL served over TLS (a throwaway CA, 127.0.0.1) by
// this test. A token signed by the test's key is accepted, a key published
// later is accepted without a restart, a key withdrawn is refused, a flood of
// unknown kids costs few fetches, garbage keeps the last good set, and a
// provider that cannot be reached makes /readyz 503 identity_unavailable.
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "config/deployment.h"
#include "core/owned_dir.h"
#include "gateway/http_client.h"
#include "gateway/jwks_cache.h"
#include "gateway/jwks_test_util.h"
#include "gateway/local_deployment.h"
#include "gateway/node.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/http_server.h"

namespace clover::gateway {
namespace {

using testing::IdpKey;
using testing::Jwks;
using testing::MakeIdpKey;

constexpr char kIssuer[] = "https://sso.test.example/realms/staff";

// The provider: its JWKS endpoint, the document it serves and a fetch count.
struct Idp {
  absl::Mutex mu;
  std::string doc ABSL_GUARDED_BY(mu);
  int fetches ABSL_GUARDED_BY(mu) = 0;
  void Serve(std::string d) {
    absl::MutexLock lock(&mu);
    doc = std::move(d);
  }
  int Fetches() {
    absl::MutexLock lock(&mu);
    return fetches;
  }
};

class JwksE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { setup_error_ = new std::string(Start()); }
  void SetUp() override { ASSERT_TRUE(setup_error_->empty()) << *setup_error_; }

  static std::string Start() {
    auto made = CreateOwnedTempDir("jwks-e2e");
    if (!made.ok()) return made.status().ToString();
    dir_ = new std::string(*made);
    // A CA and a server certificate for 127.0.0.1, and an unrelated CA.
    std::ofstream(*dir_ + "/server.ext")
        << "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n";
    const std::string ec =
        " -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes ";
    const std::string script = absl::StrCat(
        "set -e; cd ", *dir_, "; openssl req -x509", ec,
        "-keyout ca.key -out ca.crt -subj '/CN=IdP Test CA' -days 1;",
        "openssl req -x509", ec,
        "-keyout other.key -out other.crt -subj '/CN=Other CA' -days 1;",
        "openssl req", ec,
        "-keyout server.key -out server.csr -subj '/CN=idp';",
        "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key "
        "-CAcreateserial -days 1 -extfile server.ext -out server.crt");
    if (std::system(("sh -c \"" + script + "\" >" + *dir_ + "/openssl.log 2>&1")
                        .c_str()) != 0) {
      return "openssl failed";
    }
    key_a_ = MakeIdpKey("ES256", "key-a").release();
    key_b_ = MakeIdpKey("RS256", "key-b").release();
    if (key_a_ == nullptr || key_b_ == nullptr) return "key generation failed";
    idp_ = new Idp();
    idp_->Serve(Jwks({key_a_}));
    server::HttpServerOptions so;
    so.threads = 1;
    so.access_log = false;
    so.tls = server::TlsServerOptions{*dir_ + "/server.crt",
                                      *dir_ + "/server.key", ""};
    auto server = server::HttpServer::Start(
        so, [](server::HttpRequest& req, server::Responder respond) {
          std::string body;
          {
            absl::MutexLock lock(&idp_->mu);
            ++idp_->fetches;
            body = idp_->doc;
          }
          respond(server::HttpResponse::Json(200, std::move(body)));
        });
    if (!server.ok()) return server.status().ToString();
    server_ = server->release();
    url_ = new std::string(
        absl::StrCat("https://127.0.0.1:", server_->port(), "/certs"));

    auto d = LoadDeployment(
        absl::StrCat(CLOVER_SOURCE_DIR, "/examples/deployment.yaml"));
    if (!d.ok()) return d.status().ToString();
    IdentityProviderConfig c;
    c.id = "staff-sso";
    c.issuer = kIssuer;
    c.audience = "clover-gateway";
    c.jwks_url = *url_;
    c.ca_file = *dir_ + "/ca.crt";
    c.min_refresh_interval = absl::Seconds(1);
    d->identity_providers.push_back(c);
    // A second provider nobody can reach: the node is not ready.
    IdentityProviderConfig dead = c;
    dead.id = "dead-sso";
    dead.issuer = "https://dead.example";
    dead.jwks_url = absl::StrCat("https://127.0.0.1:", FreeLoopbackPort(), "/");
    d->identity_providers.push_back(dead);
    Principal p = *d->FindPrincipal("eu-support-1");
    p.id = "eu-support-sso";
    p.credentials = Credentials{};
    p.credentials.jwt = JwtCredential{};
    p.credentials.jwt->provider = "staff-sso";
    p.credentials.jwt->subject = "3f1c9a2e-uuid";
    d->principals.push_back(p);
    auto nodes = PrepareLocalDeployment(*d, *dir_, 0, FreeLoopbackPort);
    if (!nodes.ok()) return nodes.status().ToString();
    for (LocalNode& n : *nodes) {
      if (n.dc != "ie-dub-1") continue;
      NodeOptions o;
      o.threads = 2;
      auto node = Node::Start(n.deployment, o);
      if (!node.ok()) return node.status().ToString();
      node_ = node->release();
      eu_ = new std::string(n.endpoint);
    }
    return eu_ != nullptr ? "" : "no ie-dub-1 node";
  }

  static void TearDownTestSuite() {
    if (node_ != nullptr) node_->Shutdown();
    delete node_;
    if (server_ != nullptr) server_->Stop();
    delete server_;
    if (dir_ != nullptr) {
      EXPECT_TRUE(RemoveOwnedDir(*dir_).ok()) << *dir_;
    }
  }

  static std::string Claims(const std::string& sub = "3f1c9a2e-uuid") {
    const int64_t now = absl::ToUnixSeconds(absl::Now());
    return absl::StrCat("{\"iss\":\"", kIssuer,
                        "\",\"aud\":\"clover-gateway\",\"sub\":\"", sub,
                        "\",\"iat\":", now, ",\"exp\":", now + 300, "}");
  }

  // The status of a read as the token's principal.
  int StatusWith(const std::string& token) {
    auto r = client_.Send("GET", absl::StrCat(*eu_, "/v1/subjects/eu-0"),
                          {"Authorization: Bearer " + token,
                           "X-Clover-Purpose: customer_support"});
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->status : 0;
  }

  // Polls `probe` until it returns true, for at most `limit`.
  template <typename F>
  static bool Within(absl::Duration limit, F probe) {
    const absl::Time end = absl::Now() + limit;
    while (absl::Now() < end) {
      if (probe()) return true;
      absl::SleepFor(absl::Milliseconds(100));
    }
    return probe();
  }

  static std::string RandomKidToken(int i) {
    const std::string header =
        absl::StrCat("{\"alg\":\"ES256\",\"kid\":\"unknown-", i, "-",
                     absl::ToUnixNanos(absl::Now()), "\"}");
    return absl::StrCat(Base64UrlEncode(header), ".", Base64UrlEncode(Claims()),
                        ".", Base64UrlEncode(std::string(64, '\x01')));
  }

  HttpClient client_;
  static std::string* setup_error_;
  static std::string* dir_;
  static std::string* url_;
  static std::string* eu_;
  static IdpKey* key_a_;
  static IdpKey* key_b_;
  static Idp* idp_;
  static server::HttpServer* server_;
  static Node* node_;
};

std::string* JwksE2eTest::setup_error_ = nullptr;
std::string* JwksE2eTest::dir_ = nullptr;
std::string* JwksE2eTest::url_ = nullptr;
std::string* JwksE2eTest::eu_ = nullptr;
IdpKey* JwksE2eTest::key_a_ = nullptr;
IdpKey* JwksE2eTest::key_b_ = nullptr;
Idp* JwksE2eTest::idp_ = nullptr;
server::HttpServer* JwksE2eTest::server_ = nullptr;
Node* JwksE2eTest::node_ = nullptr;

// Runs first (gtest keeps declaration order): key-a only is published.
TEST_F(JwksE2eTest, RotationAndRemovalOverTls) {
  idp_->Serve(Jwks({key_a_}));
  const std::string token_a = key_a_->Token(Claims());
  const std::string token_b = key_b_->Token(Claims());
  EXPECT_NE(StatusWith(token_a), 401);
  EXPECT_EQ(StatusWith(key_a_->Token(Claims("someone-else"))), 401);
  EXPECT_EQ(StatusWith(token_b), 401);
  // Rotation: the provider adds key-b; the node fetches on the unknown kid
  // (at most once a second) and accepts it, no restart.
  idp_->Serve(Jwks({key_a_, key_b_}));
  EXPECT_TRUE(
      Within(absl::Seconds(10), [&] { return StatusWith(token_b) != 401; }));
  EXPECT_NE(StatusWith(token_a), 401);
  // Removal: key-a withdrawn; once the node has refreshed (here triggered by
  // a token with an unknown kid), key-a's tokens are refused.
  idp_->Serve(Jwks({key_b_}));
  int i = 0;
  EXPECT_TRUE(Within(absl::Seconds(10), [&] {
    (void)StatusWith(RandomKidToken(i++));
    return StatusWith(token_a) == 401;
  }));
  EXPECT_NE(StatusWith(token_b), 401);
}

TEST_F(JwksE2eTest, UnknownKidFloodIsBounded) {
  idp_->Serve(Jwks({key_a_, key_b_}));
  const int before = idp_->Fetches();
  const absl::Time start = absl::Now();
  for (int i = 0; i < 200; ++i) EXPECT_EQ(StatusWith(RandomKidToken(i)), 401);
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  // One fetch per min_refresh_interval (1 s), plus the periodic refresh.
  EXPECT_LE(idp_->Fetches() - before, static_cast<int>(seconds) + 2)
      << "200 tokens in " << seconds << " s";
}

TEST_F(JwksE2eTest, GarbageKeepsTheLastGoodSet) {
  idp_->Serve(Jwks({key_a_, key_b_}));
  const std::string token_b = key_b_->Token(Claims());
  ASSERT_TRUE(
      Within(absl::Seconds(10), [&] { return StatusWith(token_b) != 401; }));
  idp_->Serve("<html>upstream timed out</html>");
  const int before = idp_->Fetches();
  int i = 0;
  // Fetches happen (triggered by unknown kids) yet key-b stays usable.
  EXPECT_TRUE(Within(absl::Seconds(10), [&] {
    (void)StatusWith(RandomKidToken(i++));
    return idp_->Fetches() > before;
  }));
  EXPECT_NE(StatusWith(token_b), 401);
  idp_->Serve(Jwks({key_a_, key_b_}));
}

TEST_F(JwksE2eTest, UnreachableProviderMakesTheNodeNotReady) {
  auto r = client_.Send("GET", absl::StrCat(*eu_, "/readyz"), {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 503);
  EXPECT_THAT(r->body, ::testing::HasSubstr("identity_unavailable"));
  // The unreachable provider's tokens are refused, never accepted unchecked.
  EXPECT_NE(StatusWith(key_a_->Token(absl::StrCat(
                "{\"iss\":\"https://dead.example\",\"aud\":\"clover-gateway\","
                "\"sub\":\"x\",\"exp\":",
                absl::ToUnixSeconds(absl::Now()) + 60, "}"))),
            200);
}

TEST_F(JwksE2eTest, UntrustedCertificateIsRefused) {
  IdentityProviderConfig c;
  c.id = "x";
  c.jwks_url = *url_;
  for (const std::string& ca : {*dir_ + "/other.crt", std::string()}) {
    c.ca_file = ca;
    JwksCache cache(MakeJwksFetcher(c), JwksCacheOptions{"x"});
    absl::Status s = cache.Refresh();
    EXPECT_TRUE(absl::IsUnavailable(s)) << s;
    EXPECT_TRUE(cache.Health().has_value());
  }
  c.ca_file = *dir_ + "/ca.crt";
  JwksCache trusted(MakeJwksFetcher(c), JwksCacheOptions{"x"});
  EXPECT_TRUE(trusted.Refresh().ok());
}

}  // namespace
}  // namespace clover::gateway
