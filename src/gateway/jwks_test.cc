#include "gateway/jwks.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/clock.h"
#include "gateway/auth.h"
#include "gateway/jwks_cache.h"
#include "gateway/jwks_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace clover::gateway {
namespace {

using ::testing::HasSubstr;
using testing::IdpKey;
using testing::Jwks;
using testing::MakeIdpKey;

constexpr char kIssuer[] = "https://idp.example/realms/staff";
constexpr char kAudience[] = "clover";

// Generated once: RSA key generation takes a while.
struct Keys {
  std::unique_ptr<IdpKey> ed = MakeIdpKey("EdDSA", "ed-1");
  std::unique_ptr<IdpKey> ec = MakeIdpKey("ES256", "ec-1");
  std::unique_ptr<IdpKey> rsa = MakeIdpKey("RS256", "rsa-1");
  std::unique_ptr<IdpKey> ed2 = MakeIdpKey("EdDSA", "ed-2");
};
const Keys& K() {
  static const Keys* keys = new Keys();
  return *keys;
}

// ---- the parser ----

TEST(ParseJwksTest, ReadsEd25519P256AndRsaKeys) {
  auto set = ParseJwks(Jwks({K().ed.get(), K().ec.get(), K().rsa.get()}));
  ASSERT_TRUE(set.ok()) << set.status();
  ASSERT_EQ(set->by_kid.size(), 3u);
  EXPECT_EQ(set->by_kid.at("ed-1")->algorithm(), JwtAlgorithm::kEdDSA);
  EXPECT_EQ(set->by_kid.at("ec-1")->algorithm(), JwtAlgorithm::kES256);
  EXPECT_EQ(set->by_kid.at("rsa-1")->algorithm(), JwtAlgorithm::kRS256);
}

TEST(ParseJwksTest, SkipsKeysForOthers) {
  // An encryption key, an RS512 key and a P-384 key: not ours, ignored.
  std::string enc = absl::StrReplaceAll(
      K().rsa->jwk, {{"\"use\":\"sig\"", "\"use\":\"enc\""},
                     {"\"kid\":\"rsa-1\"", "\"kid\":\"enc-1\""}});
  std::string rs512 = absl::StrReplaceAll(
      K().rsa->jwk, {{"\"alg\":\"RS256\"", "\"alg\":\"RS512\""},
                     {"\"kid\":\"rsa-1\"", "\"kid\":\"rs512\""}});
  std::string p384 = absl::StrReplaceAll(
      K().ec->jwk, {{"P-256", "P-384"},
                    {"\"alg\":\"ES256\"", "\"alg\":\"ES384\""},
                    {"ec-1", "ec-384"}});
  auto set = ParseJwks(absl::StrCat("{\"keys\":[", enc, ",", rs512, ",", p384,
                                    ",", K().ed->jwk, "]}"));
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->by_kid.size(), 1u);
  EXPECT_EQ(set->skipped, 3u);
}

void ExpectRefused(const std::string& doc, const std::string& why) {
  auto set = ParseJwks(doc);
  ASSERT_FALSE(set.ok()) << "accepted: " << doc.substr(0, 200);
  EXPECT_TRUE(absl::IsInvalidArgument(set.status()));
  EXPECT_THAT(set.status().message(), HasSubstr(why));
}

TEST(ParseJwksTest, RefusesMalformedDocuments) {
  ExpectRefused("", "invalid JSON");
  ExpectRefused("[]", "not a JSON object");
  ExpectRefused("{}", "no 'keys' array");
  ExpectRefused("{\"keys\":{}}", "no 'keys' array");
  ExpectRefused("{\"keys\":[],\"keys\":[]}", "duplicate member name");
  ExpectRefused("{\"keys\":[1]}", "not a JSON object");
  ExpectRefused("{\"keys\":[{\"kid\":\"a\"}]}", "missing 'kty'");
  ExpectRefused("{\"keys\":[{\"kty\":7}]}", "'kty' must be a string");
  // Huge: refused before parsing.
  ExpectRefused(absl::StrCat("{\"keys\":[],\"pad\":\"",
                             std::string(kMaxJwksBytes, 'a'), "\"}"),
                "larger than");
  std::vector<const IdpKey*> many(kMaxJwksKeys + 1, K().ed.get());
  ExpectRefused(Jwks(many), "more than");
}

TEST(ParseJwksTest, RefusesDuplicateKidsAndMembers) {
  std::string other_ed_same_kid =
      absl::StrReplaceAll(K().ed2->jwk, {{"ed-2", "ed-1"}});
  ExpectRefused(
      absl::StrCat("{\"keys\":[", K().ed->jwk, ",", other_ed_same_kid, "]}"),
      "duplicate 'kid'");
  std::string twice_x = absl::StrReplaceAll(
      K().ed->jwk, {{"\"kty\":\"OKP\"", "\"x\":\"AAAA\",\"kty\":\"OKP\""}});
  ExpectRefused(absl::StrCat("{\"keys\":[", twice_x, "]}"),
                "duplicate member name");
}

TEST(ParseJwksTest, RefusesMalformedKeys) {
  const std::string no_kid =
      absl::StrReplaceAll(K().ed->jwk, {{"\"kid\":\"ed-1\",", ""}});
  ExpectRefused(absl::StrCat("{\"keys\":[", no_kid, "]}"), "missing 'kid'");
  ExpectRefused(
      "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"a\","
      "\"x\":\"not base64!\"}]}",
      "not base64url");
  ExpectRefused(
      "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"a\","
      "\"x\":\"AAAA\"}]}",
      "32 bytes");
  // A P-256 "point" that is not on the curve (x = y = 1).
  const std::string one = Base64UrlEncode(std::string(31, '\0') + "\x01");
  ExpectRefused(absl::StrCat("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\","
                             "\"kid\":\"a\",\"x\":\"",
                             one, "\",\"y\":\"", one, "\"}]}"),
                "not a valid public key");
  // RSA-1024 and an even exponent.
  const std::string n1024 = Base64UrlEncode("\xc1" + std::string(127, '\x07'));
  ExpectRefused(absl::StrCat("{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"a\",\"n\":"
                             "\"",
                             n1024, "\",\"e\":\"AQAB\"}]}"),
                "2048 to 8192 bits");
  ExpectRefused(absl::StrReplaceAll(Jwks({K().rsa.get()}),
                                    {{"\"e\":\"AQAB\"", "\"e\":\"AQAA\""}}),
                "exponent");
  // An "alg" of another family on a key of ours.
  ExpectRefused(
      absl::StrReplaceAll(Jwks({K().rsa.get()}),
                          {{"\"alg\":\"RS256\"", "\"alg\":\"ES256\""}}),
      "does not fit");
  ExpectRefused(
      absl::StrReplaceAll(Jwks({K().rsa.get()}),
                          {{"\"alg\":\"RS256\"", "\"alg\":\"HS256\""}}),
      "does not fit");
}

TEST(ParseJwksTest, RefusesPrivateAndSecretKeyMaterial) {
  ExpectRefused(absl::StrReplaceAll(Jwks({K().ed.get()}),
                                    {{"\"kty\"", "\"d\":\"AAAA\",\"kty\""}}),
                "private or secret key member 'd'");
  // A symmetric key: an HS256 secret must never be a verification key.
  ExpectRefused(
      "{\"keys\":[{\"kty\":\"oct\",\"kid\":\"h\",\"k\":\"c2VjcmV0\"}]}",
      "member 'k'");
}

TEST(ParseJwksTest, ErrorsDoNotEchoKeyMaterial) {
  auto set = ParseJwks(absl::StrReplaceAll(
      Jwks({K().rsa.get()}), {{"\"e\":\"AQAB\"", "\"e\":\"AQAA\""}}));
  ASSERT_FALSE(set.ok());
  const std::string n =
      K().rsa->jwk.substr(K().rsa->jwk.find("\"n\":\"") + 5, 40);
  EXPECT_THAT(std::string(set.status().message()),
              ::testing::Not(HasSubstr(n)));
}

// ---- the cache and the provider ----

// A provider whose JWKS the test changes at will, counting fetches.
class FakeIdp {
 public:
  void Serve(std::string doc) {
    absl::MutexLock lock(&mu_);
    doc_ = std::move(doc);
    fail_ = false;
  }
  void Fail() {
    absl::MutexLock lock(&mu_);
    fail_ = true;
  }
  JwksFetcher Fetcher() {
    return [this]() -> absl::StatusOr<std::string> {
      absl::MutexLock lock(&mu_);
      if (fail_) return absl::UnavailableError("connection refused");
      return doc_;
    };
  }

 private:
  absl::Mutex mu_;
  std::string doc_;
  bool fail_ = false;
};

IdentityProviderConfig Config() {
  IdentityProviderConfig c;
  c.id = "staff-idp";
  c.issuer = kIssuer;
  c.audience = kAudience;
  c.jwks_url = "https://idp.example/certs";
  c.refresh_interval = absl::Minutes(5);
  c.min_refresh_interval = absl::Seconds(30);
  c.max_staleness = absl::Hours(1);
  return c;
}

Principal Staff(const std::string& id, const std::string& subject) {
  Principal p;
  p.id = id;
  p.kind = PrincipalKind::kEmployee;
  p.org = "staff";
  p.roles = {"support"};
  p.country = "IE";
  p.jurisdiction = "eu";
  JwtCredential j;
  j.provider = "staff-idp";
  j.subject = subject;
  p.credentials.jwt = j;
  return p;
}

class JwksAuthTest : public ::testing::Test {
 protected:
  void SetUp() override { Build(Config()); }

  void Build(IdentityProviderConfig c) {
    idp_ = std::make_shared<JwksIdentityProvider>(c, &clock_, fake_.Fetcher());
    AuthOptions o;
    o.clock = &clock_;
    o.identity_providers.push_back(idp_);
    auto auth = Authenticator::Create(
        {Staff("alice", "uuid-alice"), Staff("bob", "bob")}, o);
    ASSERT_TRUE(auth.ok()) << auth.status();
    auth_ = *std::move(auth);
  }

  std::string Claims(const std::string& sub,
                     absl::Duration exp_in = absl::Minutes(10),
                     const std::string& extra = "") const {
    const int64_t now = absl::ToUnixSeconds(clock_.Now());
    return absl::StrCat("{\"iss\":\"", kIssuer, "\",\"aud\":[\"", kAudience,
                        "\",\"account\"],\"sub\":\"", sub, "\",\"iat\":", now,
                        ",\"exp\":", now + absl::ToInt64Seconds(exp_in), extra,
                        "}");
  }

  absl::StatusOr<std::string> Who(const std::string& token) {
    auto p = auth_->AuthenticateJwt(token);
    if (!p.ok()) return p.status();
    return (*p)->id;
  }

  FakeClock clock_{absl::FromUnixSeconds(1'800'000'000)};
  FakeIdp fake_;
  std::shared_ptr<JwksIdentityProvider> idp_;
  std::unique_ptr<Authenticator> auth_;
};

TEST_F(JwksAuthTest, AcceptsEachKeyTypeAndMapsTheClaimToAPrincipal) {
  fake_.Serve(Jwks({K().ed.get(), K().ec.get(), K().rsa.get()}));
  ASSERT_TRUE(idp_->cache().Refresh().ok());
  for (const IdpKey* k : {K().ed.get(), K().ec.get(), K().rsa.get()}) {
    EXPECT_EQ(Who(k->Token(Claims("uuid-alice"))).value_or("refused"), "alice")
        << k->alg;
  }
  EXPECT_EQ(Who(K().ed->Token(Claims("bob"))).value_or("refused"), "bob");
  // A subject the provider vouches for but no principal maps: refused.
  auto stranger = Who(K().ed->Token(Claims("uuid-mallory")));
  EXPECT_TRUE(absl::IsUnauthenticated(stranger.status()));
  // The claim value is the provider's subject, not a Clover id.
  EXPECT_FALSE(Who(K().ed->Token(Claims("alice"))).ok());
}

TEST_F(JwksAuthTest, RefusesAlgNone) {
  fake_.Serve(Jwks({K().ed.get()}));
  ASSERT_TRUE(idp_->cache().Refresh().ok());
  const std::string input =
      absl::StrCat(Base64UrlEncode("{\"alg\":\"none\",\"kid\":\"ed-1\"}"), ".",
                   Base64UrlEncode(Claims("uuid-alice")));
  EXPECT_FALSE(Who(input + ".").ok());
  EXPECT_FALSE(Who(input + ".AAAA").ok());
  auto none = Who(K().ed->Token(Claims("uuid-alice"), "none"));
  EXPECT_TRUE(absl::IsUnauthenticated(none.status()));
}

TEST_F(JwksAuthTest, RefusesHs256SignedWithThePublicKey) {
  fake_.Serve(Jwks({K().rsa.get()}));
  ASSERT_TRUE(idp_->cache().Refresh().ok());
  // The classic algorithm confusion: HMAC keyed with the public key's bytes.
  const std::string input = absl::StrCat(
      Base64UrlEncode("{\"alg\":\"HS256\",\"kid\":\"rsa-1\",\"typ\":\"JWT\"}"),
      ".", Base64UrlEncode(Claims("uuid-alice")));
  for (const std::string& secret : {K().rsa->public_pem, K().rsa->jwk}) {
    unsigned char mac[32];
    unsigned int len = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(input.data()), input.size(),
         mac, &len);
    auto r = Who(absl::StrCat(
        input, ".",
        Base64UrlEncode(std::string(reinterpret_cast<char*>(mac), len))));
    EXPECT_TRUE(absl::IsUnauthenticated(r.status()));
    EXPECT_THAT(r.status().message(), HasSubstr("algorithm not accepted"));
  }
}

TEST_F(JwksAuthTest, RefusesAnAlgThatDoesNotFitTheKidsKey) {
  fake_.Serve(Jwks({K().ed.get(), K().ec.get()}));
  ASSERT_TRUE(idp_->cache().Refresh().ok());
  // Signed by the P-256 key but naming the Ed25519 key's kid, and the
  // reverse; and a token claiming RS256 for an EdDSA kid.
  auto signer = K().ec.get();
  const std::string claims = Claims("uuid-alice");
  std::string forged =
      absl::StrCat(Base64UrlEncode("{\"alg\":\"ES256\",\"kid\":\"ed-1\"}"), ".",
                   Base64UrlEncode(claims));
  forged += "." + Base64UrlEncode(*signer->signer->SignBytes(forged));
  auto r = Who(forged);
  EXPECT_TRUE(absl::IsUnauthenticated(r.status()));
  EXPECT_THAT(r.status().message(), HasSubstr("algorithm not accepted"));
  EXPECT_FALSE(Who(K().ed->Token(claims, "RS256")).ok());
  EXPECT_FALSE(Who(K().ed->Token(claims, "ES256")).ok());
  // No kid at all.
  std::string no_kid = *K().ed->signer->Sign(claims);
  EXPECT_THAT(Who(no_kid).status().message(), HasSubstr("no 'kid'"));
}

TEST_F(JwksAuthTest, RefusesExpiredNotYetValidWrongIssuerAndAudience) {
  fake_.Serve(Jwks({K().ed.get()}));
  ASSERT_TRUE(idp_->cache().Refresh().ok());
  const int64_t now = absl::ToUnixSeconds(clock_.Now());
  auto token = [&](const std::string& claims) { return K().ed->Token(claims); };
  EXPECT_TRUE(Who(token(Claims("uuid-alice"))).ok());
  // Expired beyond the 60 s leeway; within it still good.
  EXPECT_THAT(Who(token(absl::StrCat(
                      "{\"iss\":\"", kIssuer, "\",\"aud\":\"", kAudience,
                      "\",\"sub\":\"uuid-alice\",\"exp\":", now - 61, "}")))
                  .status()
                  .message(),
              HasSubstr("expired"));
  EXPECT_TRUE(
      Who(token(absl::StrCat("{\"iss\":\"", kIssuer, "\",\"aud\":\"", kAudience,
                             "\",\"sub\":\"uuid-alice\","
                             "\"exp\":",
                             now - 30, "}")))
          .ok());
  EXPECT_THAT(Who(token(Claims("uuid-alice", absl::Minutes(10),
                               absl::StrCat(",\"nbf\":", now + 120))))
                  .status()
                  .message(),
              HasSubstr("not yet valid"));
  EXPECT_THAT(Who(token(absl::StrCat("{\"iss\":\"", kIssuer,
                                     "\",\"aud\":\"other\",\"sub\":\"uuid-"
                                     "alice\",\"exp\":",
                                     now + 60, "}")))
                  .status()
                  .message(),
              HasSubstr("audience"));
  // Another issuer is not this provider's: no principal has a key for it.
  auto wrong_iss = Who(token(
      absl::StrCat("{\"iss\":\"https://evil.example\",\"aud\":\"", kAudience,
                   "\",\"sub\":\"uuid-alice\",\"exp\":", now + 60, "}")));
  EXPECT_TRUE(absl::IsUnauthenticated(wrong_iss.status()));
  // Longer-lived than max_lifetime (24 h).
  EXPECT_FALSE(Who(token(Claims("uuid-alice", absl::Hours(48)))).ok());
}

TEST_F(JwksAuthTest, RemovedKeyIsRefusedAndNewKeyAcceptedAfterRefresh) {
  fake_.Serve(Jwks({K().ed.get()}));
  ASSERT_TRUE(idp_->cache().Refresh().ok());
  const std::string old_token = K().ed->Token(Claims("uuid-alice"));
  const std::string new_token = K().ed2->Token(Claims("uuid-alice"));
  EXPECT_TRUE(Who(old_token).ok());
  // Rotation: the provider publishes ed-2 alongside ed-1. A token naming
  // ed-2 makes the node fetch once (the last fetch is older than
  // min_refresh_interval), without a restart.
  fake_.Serve(Jwks({K().ed.get(), K().ed2.get()}));
  clock_.Advance(absl::Seconds(31));
  EXPECT_EQ(Who(new_token).value_or("refused"), "alice");
  // Removal: ed-1 is gone after the next refresh.
  fake_.Serve(Jwks({K().ed2.get()}));
  ASSERT_TRUE(idp_->cache().Refresh().ok());
  auto removed = Who(old_token);
  EXPECT_TRUE(absl::IsUnauthenticated(removed.status()));
  EXPECT_THAT(removed.status().message(), HasSubstr("'kid' is not a key"));
  EXPECT_TRUE(Who(new_token).ok());
}

TEST_F(JwksAuthTest, UnknownKidFloodCostsOneFetchPerInterval) {
  fake_.Serve(Jwks({K().ed.get()}));
  ASSERT_TRUE(idp_->cache().Refresh().ok());
  const int64_t before = idp_->cache().fetch_count();
  clock_.Advance(absl::Seconds(31));
  for (int i = 0; i < 1000; ++i) {
    std::string t =
        absl::StrCat(Base64UrlEncode(absl::StrCat(
                         "{\"alg\":\"EdDSA\",\"kid\":\"random-", i, "\"}")),
                     ".", Base64UrlEncode(Claims("uuid-alice")), ".",
                     Base64UrlEncode(std::string(64, 'x')));
    EXPECT_FALSE(Who(t).ok());
  }
  EXPECT_EQ(idp_->cache().fetch_count() - before, 1);
  clock_.Advance(absl::Seconds(31));
  for (int i = 0; i < 100; ++i) {
    (void)Who(K().ed2->Token(Claims("uuid-alice")));
  }
  EXPECT_EQ(idp_->cache().fetch_count() - before, 2);
  // Known kids never fetch.
  for (int i = 0; i < 100; ++i)
    EXPECT_TRUE(Who(K().ed->Token(Claims("bob"))).ok());
  EXPECT_EQ(idp_->cache().fetch_count() - before, 2);
}

TEST_F(JwksAuthTest, BadDocumentsKeepTheLastGoodSet) {
  fake_.Serve(Jwks({K().ed.get()}));
  ASSERT_TRUE(idp_->cache().Refresh().ok());
  const std::string token = K().ed->Token(Claims("uuid-alice"));
  const std::string dup =
      absl::StrCat("{\"keys\":[", K().ed->jwk, ",",
                   absl::StrReplaceAll(K().ed2->jwk, {{"ed-2", "ed-1"}}), "]}");
  for (const std::string& bad :
       {std::string("<html>502 Bad Gateway</html>"), std::string("{}"), dup,
        absl::StrCat("{\"keys\":[],\"x\":\"", std::string(kMaxJwksBytes, 'a'),
                     "\"}"),
        absl::StrReplaceAll(Jwks({K().ed.get()}),
                            {{"\"x\":", "\"x\":1,\"y\":"}})}) {
    fake_.Serve(bad);
    absl::Status s = idp_->cache().Refresh();
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
    EXPECT_THAT(s.message(), HasSubstr("JWKS"));
    EXPECT_TRUE(Who(token).ok()) << "lost the last good set after: " << s;
  }
  fake_.Fail();
  EXPECT_FALSE(idp_->cache().Refresh().ok());
  EXPECT_TRUE(Who(token).ok());
  EXPECT_FALSE(auth_->IdentityHealth().has_value());
}

TEST_F(JwksAuthTest, FailsClosedAfterMaxStalenessAndRecovers) {
  fake_.Serve(Jwks({K().ed.get()}));
  ASSERT_TRUE(idp_->cache().Refresh().ok());
  fake_.Fail();
  clock_.Advance(absl::Minutes(59));
  EXPECT_FALSE(idp_->cache().Refresh().ok());
  EXPECT_TRUE(Who(K().ed->Token(Claims("uuid-alice"))).ok());
  clock_.Advance(absl::Minutes(2));  // 61 min since the last good fetch
  auto stale = Who(K().ed->Token(Claims("uuid-alice")));
  EXPECT_TRUE(absl::IsUnavailable(stale.status())) << stale.status();
  auto problem = auth_->IdentityHealth();
  ASSERT_TRUE(problem.has_value());
  EXPECT_EQ(problem->reason, "identity_unavailable");
  fake_.Serve(Jwks({K().ed.get()}));
  ASSERT_TRUE(idp_->cache().Refresh().ok());
  EXPECT_TRUE(Who(K().ed->Token(Claims("uuid-alice"))).ok());
  EXPECT_FALSE(auth_->IdentityHealth().has_value());
}

TEST_F(JwksAuthTest, NeverFetchedIsUnavailable) {
  fake_.Fail();
  EXPECT_TRUE(idp_->cache().Health().has_value());
  EXPECT_TRUE(
      absl::IsUnavailable(Who(K().ed->Token(Claims("uuid-alice"))).status()));
}

TEST_F(JwksAuthTest, MapsAConfiguredClaim) {
  IdentityProviderConfig c = Config();
  c.claim = "preferred_username";
  Build(c);
  fake_.Serve(Jwks({K().ed.get()}));
  ASSERT_TRUE(idp_->cache().Refresh().ok());
  EXPECT_EQ(Who(K().ed->Token(Claims("someone", absl::Minutes(10),
                                     ",\"preferred_username\":\"uuid-alice\"")))
                .value_or("refused"),
            "alice");
  EXPECT_FALSE(Who(K().ed->Token(Claims("uuid-alice"))).ok());
  EXPECT_FALSE(Who(K().ed->Token(Claims("x", absl::Minutes(10),
                                        ",\"preferred_username\":7")))
                   .ok());
}

TEST(JwksAuthCreateTest, RefusesAnUnknownProvider) {
  AuthOptions o;
  auto auth = Authenticator::Create({Staff("alice", "a")}, o);
  EXPECT_FALSE(auth.ok());
  EXPECT_THAT(auth.status().message(), HasSubstr("credentials.jwt.provider"));
}

TEST(JwksFetcherTest, ReadsAFileAndRefusesAHugeOne) {
  const std::string dir = ::testing::TempDir();
  const std::string path = dir + "/jwks_fetcher_test.json";
  {
    FILE* f = fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::string doc = Jwks({K().ed.get()});
    fwrite(doc.data(), 1, doc.size(), f);
    fclose(f);
  }
  IdentityProviderConfig c = Config();
  c.jwks_url.clear();
  c.jwks_file = path;
  JwksIdentityProvider idp(c, nullptr);
  EXPECT_TRUE(idp.cache().Refresh().ok());
  {
    FILE* f = fopen(path.c_str(), "w");
    std::string big(kMaxJwksBytes + 100, ' ');
    fwrite(big.data(), 1, big.size(), f);
    fclose(f);
  }
  EXPECT_THAT(idp.cache().Refresh().message(), HasSubstr("larger than"));
  c.jwks_file = dir + "/no-such-jwks.json";
  JwksIdentityProvider missing(c, nullptr);
  EXPECT_TRUE(absl::IsNotFound(missing.cache().Refresh()));
}

}  // namespace
}  // namespace clover::gateway
