// The `identity_providers` section and `credentials.jwt.provider` as the
// deployment loader (and so `clover config check`) validates them.
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "config/deployment.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace clover {
namespace {

using ::testing::HasSubstr;

std::string Example() {
  std::ifstream in(
      absl::StrCat(CLOVER_SOURCE_DIR, "/examples/deployment-idp.yaml"));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

absl::StatusOr<Deployment> Parse(const std::string& yaml) {
  // Named inside examples/ so the relative includes resolve.
  return ParseDeployment(
      yaml, absl::StrCat(CLOVER_SOURCE_DIR, "/examples/idp-test.yaml"));
}

TEST(IdentityProviderConfigTest, TheExampleLoads) {
  auto d = Parse(Example());
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_EQ(d->identity_providers.size(), 1u);
  const IdentityProviderConfig& c = d->identity_providers[0];
  EXPECT_EQ(c.id, "staff-sso");
  EXPECT_EQ(c.claim, "sub");
  EXPECT_EQ(c.min_refresh_interval, absl::Seconds(30));
  EXPECT_EQ(c.max_lifetime, absl::Hours(1));
  const Principal* p = d->FindPrincipal("eu-support-sso-1");
  ASSERT_NE(p, nullptr);
  ASSERT_TRUE(p->credentials.jwt.has_value());
  EXPECT_EQ(p->credentials.jwt->provider, "staff-sso");
  EXPECT_EQ(p->credentials.jwt->subject,
            "7d4e0f2a-1b9c-4c55-9d8e-3a1f0b6c2e91");
}

void ExpectRefused(const std::string& from, const std::string& to,
                   const std::string& why) {
  const std::string yaml = absl::StrReplaceAll(Example(), {{from, to}});
  ASSERT_NE(yaml, Example()) << "no change: " << from;
  auto d = Parse(yaml);
  ASSERT_FALSE(d.ok()) << "accepted with " << to;
  EXPECT_THAT(d.status().message(), HasSubstr(why));
}

TEST(IdentityProviderConfigTest, RefusesBadSettings) {
  const std::string url =
      "jwks_url: https://sso.clover.example/realms/staff/protocol/"
      "openid-connect/certs";
  ExpectRefused(url, "jwks_url: http://sso.clover.example/certs",
                "must be https://");
  ExpectRefused(url, "jwks_url: http://127.0.0.1:8080/certs",
                "must be https://");
  ExpectRefused(url, absl::StrCat(url, "\n    jwks_file: jwks.json"),
                "exactly one of jwks_url, jwks_file");
  ExpectRefused("refresh_seconds: 300", "refresh_seconds: 1",
                "between 10 and 86400");
  ExpectRefused("max_staleness_seconds: 86400", "max_staleness_seconds: 60",
                "at least refresh_seconds");
  ExpectRefused("claim: sub", "claims: sub", "claims");
  ExpectRefused("provider: staff-sso\n", "provider: nobody\n",
                "unknown identity provider 'nobody'");
  ExpectRefused("subject: 0c9b7a55-61d3-4f0e-8a2b-5e4c3d2b1a09",
                "subject: 7d4e0f2a-1b9c-4c55-9d8e-3a1f0b6c2e91",
                "two principals map subject");
  // A provider credential cannot also carry a static key.
  ExpectRefused("provider: staff-sso\n",
                "provider: staff-sso\n        public_key_file: k.pem\n",
                "public_key_file");
}

TEST(IdentityProviderConfigTest, LoopbackHttpOnlyWhenAllowed) {
  const std::string url =
      "jwks_url: https://sso.clover.example/realms/staff/protocol/"
      "openid-connect/certs";
  auto d = Parse(absl::StrReplaceAll(
      Example(), {{url,
                   "jwks_url: http://127.0.0.1:8080/certs\n    "
                   "allow_insecure_http: true"}}));
  EXPECT_TRUE(d.ok()) << d.status();
  auto far = Parse(absl::StrReplaceAll(
      Example(), {{url,
                   "jwks_url: http://10.0.0.1:8080/certs\n    "
                   "allow_insecure_http: true"}}));
  EXPECT_FALSE(far.ok());
}

}  // namespace
}  // namespace clover
