#include "gateway/auth.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "core/clock.h"
#include "core/test_temp_dir.h"
#include "gateway/jwt.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/http.h"

namespace clover::gateway {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const absl::Time kNow = absl::FromUnixSeconds(1800000000);

std::string HexSha256(const std::string& s) {
  unsigned char d[32];
  unsigned int n = 0;
  EVP_Digest(s.data(), s.size(), d, &n, EVP_sha256(), nullptr);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : d) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

class AuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Principal svc;
    svc.id = "us-recommender";
    svc.org = "Clover US";
    svc.credentials.api_key_sha256 = HexSha256("sk-live-recommender-123");
    Principal emp;
    emp.id = "eu-support-1";
    emp.kind = PrincipalKind::kEmployee;
    emp.credentials.cert_subject = "CN=eu-support-1,O=Clover EU Support";
    Principal ed = MakeJwtPrincipal("cn-engineer", /*ed25519=*/true);
    Principal ec = MakeJwtPrincipal("auditor", /*ed25519=*/false);
    principals_ = {svc, emp, ed, ec};
    auto auth = Authenticator::Create(principals_, AuthOptions{&clock_});
    ASSERT_TRUE(auth.ok()) << auth.status();
    auth_ = *std::move(auth);
  }
  Principal MakeJwtPrincipal(const std::string& id, bool ed25519) {
    EVP_PKEY* pkey = ed25519
                         ? EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519")
                         : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
    std::string pub_path = (dir_ / (id + ".pub.pem")).string();
    FILE* f = fopen(pub_path.c_str(), "w");
    PEM_write_PUBKEY(f, pkey);
    fclose(f);
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(bio, pkey, nullptr, nullptr, 0, nullptr, nullptr);
    char* data = nullptr;
    long len = BIO_get_mem_data(bio, &data);
    signers_[id] =
        *JwtSigner::FromPem(std::string(data, static_cast<size_t>(len)));
    BIO_free(bio);
    EVP_PKEY_free(pkey);
    Principal p;
    p.id = id;
    p.credentials.jwt =
        JwtCredential{"https://idp.clover.example", "clover-gateway", pub_path};
    return p;
  }

  std::string Token(const std::string& signer, const std::string& sub,
                    int64_t exp_offset = 600,
                    const std::string& aud = "clover-gateway",
                    const std::string& iss = "https://idp.clover.example") {
    std::string payload = absl::StrCat(
        R"({"sub":")", sub, R"(","iss":")", iss, R"(","aud":")", aud,
        R"(","exp":)", absl::ToUnixSeconds(kNow) + exp_offset, "}");
    return *signers_.at(signer)->Sign(payload);
  }

  absl::StatusOr<const Principal*> WithHeader(const std::string& name,
                                              const std::string& value) {
    server::HttpRequest req;
    req.headers[name] = value;
    return auth_->Authenticate(req);
  }

  test::TempDir tmp_{"auth"};
  std::filesystem::path dir_ = tmp_.path();
  FakeClock clock_{kNow};
  std::vector<Principal> principals_;
  std::map<std::string, std::unique_ptr<JwtSigner>> signers_;
  std::unique_ptr<Authenticator> auth_;
};

TEST_F(AuthTest, ApiKeyInEitherHeader) {
  auto a = WithHeader("authorization", "Bearer sk-live-recommender-123");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ((*a)->id, "us-recommender");
  auto b = WithHeader("x-api-key", "sk-live-recommender-123");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b, *a);
  auto c = WithHeader("authorization", "bearer   sk-live-recommender-123");
  ASSERT_TRUE(c.ok()) << "scheme is case-insensitive";
}

TEST_F(AuthTest, WrongApiKeyNeverEchoed) {
  for (std::string key :
       {"sk-live-recommender-124", "sk-live-recommender-12", "x"}) {
    auto r = WithHeader("x-api-key", key);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kUnauthenticated);
    EXPECT_THAT(std::string(r.status().message()), Not(HasSubstr(key)));
    auto r2 = WithHeader("authorization", "Bearer " + key);
    EXPECT_EQ(r2.status().code(), absl::StatusCode::kUnauthenticated);
    EXPECT_THAT(std::string(r2.status().message()), Not(HasSubstr(key)));
  }
  EXPECT_EQ(WithHeader("x-api-key", std::string(5000, 'k')).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(WithHeader("authorization", "Basic dXNlcjpwYXNz").status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(AuthTest, NoCredentials) {
  server::HttpRequest req;
  auto r = auth_->Authenticate(req);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("no credentials"));
}

TEST_F(AuthTest, ClientCertificateSubject) {
  server::HttpRequest req;
  req.client_cert_subject = "CN=eu-support-1,O=Clover EU Support";
  auto r = auth_->Authenticate(req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)->id, "eu-support-1");
  req.client_cert_subject = "CN=intruder,O=Clover EU Support";
  EXPECT_EQ(auth_->Authenticate(req).status().code(),
            absl::StatusCode::kUnauthenticated);
  // An explicit credential wins over the certificate and is not bypassed when
  // wrong.
  req.client_cert_subject = "CN=eu-support-1,O=Clover EU Support";
  req.headers["x-api-key"] = "wrong";
  EXPECT_EQ(auth_->Authenticate(req).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(AuthTest, JwtEdDSAAndES256) {
  auto ed = WithHeader("authorization",
                       "Bearer " + Token("cn-engineer", "cn-engineer"));
  ASSERT_TRUE(ed.ok()) << ed.status();
  EXPECT_EQ((*ed)->id, "cn-engineer");
  auto es =
      WithHeader("authorization", "Bearer " + Token("auditor", "auditor"));
  ASSERT_TRUE(es.ok()) << es.status();
  EXPECT_EQ((*es)->id, "auditor");
}

TEST_F(AuthTest, JwtFailures) {
  auto expect_fail = [&](const std::string& token, const std::string& why) {
    auto r = WithHeader("authorization", "Bearer " + token);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kUnauthenticated) << why;
    EXPECT_THAT(std::string(r.status().message()), HasSubstr(why));
    EXPECT_THAT(std::string(r.status().message()),
                Not(HasSubstr(token.substr(0, 20))));
  };
  expect_fail(Token("cn-engineer", "cn-engineer", -3600), "expired");
  expect_fail(Token("cn-engineer", "cn-engineer", 600, "other-aud"),
              "audience");
  expect_fail(Token("cn-engineer", "cn-engineer", 600, "clover-gateway",
                    "https://evil"),
              "issuer");
  // Signed by the auditor's key but claiming to be the engineer.
  expect_fail(Token("auditor", "cn-engineer"), "algorithm");
  // Unknown subject, and a principal without a JWT key.
  expect_fail(Token("cn-engineer", "nobody"), "'sub'");
  expect_fail(Token("cn-engineer", "us-recommender"), "'sub'");
  // Bad signature: flip one signature character.
  std::string t = Token("auditor", "auditor");
  t[t.size() - 5] = t[t.size() - 5] == 'A' ? 'B' : 'A';
  expect_fail(t, "signature");
  expect_fail("a.b.c", "malformed");
  // Within leeway: still accepted; the clock moving past it ends that.
  std::string soon = Token("cn-engineer", "cn-engineer", -30);
  EXPECT_TRUE(WithHeader("authorization", "Bearer " + soon).ok());
  clock_.Advance(absl::Minutes(2));
  EXPECT_FALSE(WithHeader("authorization", "Bearer " + soon).ok());
}

TEST_F(AuthTest, CreateRejectsBadConfig) {
  std::vector<Principal> bad = {principals_[0]};
  bad[0].credentials.api_key_sha256 = "abc";
  auto r = Authenticator::Create(bad, AuthOptions{&clock_});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("us-recommender"));
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("api_key_sha256"));

  bad[0].credentials.api_key_sha256 = std::string(63, 'a') + "g";
  EXPECT_FALSE(Authenticator::Create(bad, AuthOptions{&clock_}).ok());

  std::vector<Principal> dup = {principals_[0], principals_[0]};
  dup[1].id = "copy";
  EXPECT_THAT(
      std::string(
          Authenticator::Create(dup, AuthOptions{&clock_}).status().message()),
      HasSubstr("another principal"));
  dup[1].id = "us-recommender";
  EXPECT_FALSE(Authenticator::Create(dup, AuthOptions{&clock_}).ok());

  std::vector<Principal> missing = {principals_[2]};
  missing[0].credentials.jwt->public_key_file = "/nonexistent/key.pem";
  auto m = Authenticator::Create(missing, AuthOptions{&clock_});
  EXPECT_EQ(m.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(m.status().message()), HasSubstr("cn-engineer"));

  // Upper-case hex is accepted as the same hash.
  std::vector<Principal> upper = {principals_[0]};
  for (char& c : upper[0].credentials.api_key_sha256)
    c = static_cast<char>(toupper(c));
  auto u = Authenticator::Create(upper, AuthOptions{&clock_});
  ASSERT_TRUE(u.ok());
  EXPECT_TRUE((*u)->AuthenticateApiKey("sk-live-recommender-123").ok());
}

}  // namespace
}  // namespace clover::gateway
