// External key release: the release layer's crypto, the protocol parser, and
// the service with a real vault over mutual TLS on loopback.
#include <atomic>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/json_parse.h"
#include "core/test_temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "log/client.h"
#include "log/note.h"
#include "net/http_client.h"
#include "rapidjson/document.h"
#include "release/release_key.h"
#include "release/release_protocol.h"
#include "release/release_service.h"
#include "release/released_kek.h"
#include "release/test_util.h"
#include "vault/record_parser.h"
#include "vault/rocksdb_storage.h"
#include "vault/test_util.h"
#include "vault/vault.h"

namespace clover::release {
namespace {

using ::testing::HasSubstr;

crypto::SecretKey Fill(uint8_t b) {
  crypto::SecretKey k;
  k.fill(b);
  return k;
}

TEST(ReleaseKeyTest, SealsToThePublicKeyAndOnlyThePrivateKeyOpens) {
  auto key = ReleaseKey::FromSecret(Fill(7));
  auto other = ReleaseKey::FromSecret(Fill(8));
  ASSERT_TRUE(key.ok() && other.ok());
  const std::string id = ReleaseId((*key)->public_key(), "kek-1");
  EXPECT_TRUE(absl::StartsWith(id, kReleaseIdPrefix));
  EXPECT_NE(id, ReleaseId((*key)->public_key(), "kek-2"));
  auto sealed = SealToRelease((*key)->public_key(), id, "inner bytes");
  ASSERT_TRUE(sealed.ok()) << sealed.status();
  EXPECT_TRUE(IsReleaseSealed(*sealed));
  EXPECT_FALSE(absl::StrContains(*sealed, "inner bytes"));
  auto opened = (*key)->Open(*sealed);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(*opened, "inner bytes");
  EXPECT_EQ((*other)->Open(*sealed).status().code(),
            absl::StatusCode::kDataLoss);
  for (size_t i = 1; i < sealed->size(); i += 7) {
    std::string bad = *sealed;
    bad[i] ^= 1;
    EXPECT_FALSE((*key)->Open(bad).ok()) << "flipped byte " << i;
  }
  EXPECT_EQ((*key)->Open("\x05kek-1xxxx").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE((*key)->Open(sealed->substr(0, 30)).ok());
}

TEST(ReleaseProtocolTest, RoundTripsAndRefusesMalformedRequests) {
  ReleaseRequest r;
  r.region = "eu";
  r.wrapped = std::string("\x00\xff\x10", 3);
  r.justification = {"eu-support-1", "customer_support", "read", 42, "pA"};
  auto back = ParseReleaseRequest(EncodeReleaseRequest(r));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->wrapped, r.wrapped);
  EXPECT_EQ(back->justification.decision_index, 42u);
  EXPECT_EQ(back->justification.principal, "eu-support-1");
  for (
      const char* bad : {
          "",
          "{",
          "[]",
          "null",
          R"({"region":"eu"})",
          R"({"region":"eu","wrapped":"!!","justification":{}})",
          R"({"region":"eu","wrapped":"AA==","justification":[]})",
          R"({"region":"eu","wrapped":"AA==","justification":{"principal":"a","purpose":"b","code":"c","subject":"s","decision_index":-1}})",
          R"({"region":"eu","wrapped":"AA==","justification":{"principal":"","purpose":"b","code":"c","subject":"s"}})",
          R"({"region":"eu","region":"us","wrapped":"AA==","justification":{"principal":"a","purpose":"b","code":"c","subject":"s"}})",
          R"({"region":"eu","wrapped":"AA==","extra":1,"justification":{"principal":"a","purpose":"b","code":"c","subject":"s"}})",
      }) {
    EXPECT_EQ(ParseReleaseRequest(bad).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
  absl::Status e = KeyReleaseError(kKeyReleaseRefused, "no");
  EXPECT_EQ(e.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(KeyReleaseCode(e), std::string(kKeyReleaseRefused));
  EXPECT_EQ(KeyReleaseCode(absl::PermissionDeniedError("x")), std::nullopt);
}

// One service per suite (certificates take a moment); each test opens its
// own vault.
class KeyReleaseServiceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::make_unique<test::TempDir>("release");
    ASSERT_TRUE(testing::WriteServiceFiles(dir_->path()).ok());
    auto config = LoadServiceConfig(F("service.yaml"));
    ASSERT_TRUE(config.ok()) << config.status();
    auto s = ReleaseService::Create(*config);
    ASSERT_TRUE(s.ok()) << s.status();
    service_ = std::move(*s);
    ASSERT_TRUE(service_->Start().ok());
  }
  static void TearDownTestSuite() {
    service_.reset();
    dir_.reset();
  }
  static std::string F(const std::string& name) { return dir_->Sub(name); }
  static std::string Url() {
    return absl::StrCat("https://127.0.0.1:", service_->port());
  }

  void SetUp() override {
    if (service_->IsCutOff("eu")) {
      ASSERT_TRUE(service_->SetCutOff("eu", false, "test").ok());
    }
  }

  ReleaseClientOptions Client(const std::string& who = "node") {
    ReleaseClientOptions o;
    o.url = Url();
    o.region = "eu";
    o.ca_file = F("ca.crt");
    o.cert_file = F(who + ".crt");
    o.key_file = F(who + ".key");
    o.timeout = absl::Seconds(2);
    o.subject_label = [](absl::string_view s) {
      return absl::StrCat("pseudonym-of-", s);
    };
    o.on_failure = [this](const absl::Status&) { ++failures_; };
    return o;
  }

  // A vault whose KEK is under the release layer of `client`.
  std::unique_ptr<vault::Vault> OpenVault(ReleaseClientOptions client,
                                          absl::Duration ttl = absl::Minutes(5),
                                          std::string dir = "") {
    if (dir.empty()) {
      vault_dirs_.push_back(std::make_unique<test::TempDir>("release-vault"));
      dir = vault_dirs_.back()->path();
    }
    auto storage = vault::OpenRocksDbStorage(dir, {});
    EXPECT_TRUE(storage.ok()) << storage.status();
    if (!storage.ok()) return nullptr;
    vault::VaultOptions o;
    o.region = "eu";
    o.subject_cache_ttl = ttl;
    o.kek_layer = [client](std::unique_ptr<vault::KeyEncryptionKey> kek) {
      return NewReleasedKek(std::move(kek), client);
    };
    auto v = vault::Vault::Open(deployment_, o, *std::move(storage),
                                vault::FileKeyEncryptionKey::FromKey(Fill(5)),
                                Fill(9));
    return v.ok() ? *std::move(v) : nullptr;
  }

  vault::Record RecordOf(const std::string& id) {
    auto r = vault::ParseRecordJson(
        deployment_.schema,
        absl::StrCat(R"({"country":"IE","fields":{"email":")", id,
                     R"(@mail.example","name":"Name )", id, R"("}})"));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : vault::Record{};
  }

  // The release log, fetched over the public listener (TLS, no client
  // certificate) and verified with the log client the decision log uses.
  std::vector<std::string> VerifiedLogEntries() {
    const std::string base =
        absl::StrCat("https://127.0.0.1:", service_->public_port(), "/log/");
    const std::string ca = F("ca.crt");
    log::Fetcher fetch =
        [base, ca](absl::string_view path) -> absl::StatusOr<std::string> {
      net::HttpCall call;
      const std::string url = base + std::string(path);
      call.url = url;
      call.ca_file = ca;
      call.timeout = absl::Seconds(5);
      auto a = net::HttpClient().Send(call);
      if (!a.ok()) return a.status();
      if (a->status == 404) return absl::NotFoundError(url);
      if (a->status != 200) return absl::UnavailableError(a->body);
      return a->body;
    };
    std::vector<std::unique_ptr<log::NoteVerifier>> verifiers;
    auto v = log::ParseVerifierKey(service_->verifier_key());
    EXPECT_TRUE(v.ok());
    if (!v.ok()) return {};
    verifiers.push_back(*std::move(v));
    auto client =
        log::LogClient::Create(fetch, std::move(verifiers), testing::kOrigin);
    EXPECT_TRUE(client.ok());
    if (!client.ok()) return {};
    auto cp = (*client)->FetchCheckpoint();
    EXPECT_TRUE(cp.ok()) << cp.status();
    if (!cp.ok()) return {};
    auto all = (*client)->VerifyAllEntries(cp->checkpoint);
    EXPECT_TRUE(all.ok()) << all.status();
    std::vector<std::string> entries;
    for (uint64_t i = 0; i < cp->checkpoint.size; ++i) {
      auto e = (*client)->FetchEntry(cp->checkpoint, i);
      EXPECT_TRUE(e.ok()) << e.status();
      if (e.ok()) entries.push_back(*e);
    }
    return entries;
  }

  net::HttpAnswer Post(const std::string& path, const std::string& body,
                       const std::string& who = "node") {
    net::HttpCall call;
    call.method = "POST";
    const std::string url = Url() + path;
    call.url = url;
    call.body = body;
    call.ca_file = F("ca.crt");
    call.client_cert_file = F(who + ".crt");
    call.client_key_file = F(who + ".key");
    auto a = net::HttpClient().Send(call);
    EXPECT_TRUE(a.ok()) << a.status();
    return a.ok() ? *a : net::HttpAnswer{};
  }

  static std::unique_ptr<test::TempDir> dir_;
  static std::unique_ptr<ReleaseService> service_;
  Deployment deployment_ = vault::testing::TestDeployment();
  std::vector<std::unique_ptr<test::TempDir>> vault_dirs_;
  std::atomic<int> failures_{0};
  const vault::AccessContext ctx_{"eu-support-1", "customer_support", "read",
                                  17};
};
std::unique_ptr<test::TempDir> KeyReleaseServiceTest::dir_;
std::unique_ptr<ReleaseService> KeyReleaseServiceTest::service_;

TEST_F(KeyReleaseServiceTest, ReadsNeedAReleaseAndEachIsLoggedWithItsWhy) {
  auto v = OpenVault(Client());
  ASSERT_NE(v, nullptr);
  ASSERT_TRUE(v->Put("s-1", RecordOf("s-1")).ok());
  const uint64_t before = service_->log().Size();
  auto r = v->Get("s-1", {"email"}, ctx_);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_NE(r->Find("email"), nullptr);
  EXPECT_EQ(r->Find("email")->value, "s-1@mail.example");
  EXPECT_EQ(service_->log().Size(), before + 1);  // one release, logged
  // Cached: no second release.
  ASSERT_TRUE(v->Get("s-1", {"email"}, ctx_).ok());
  EXPECT_EQ(service_->log().Size(), before + 1);

  std::vector<std::string> entries = VerifiedLogEntries();
  ASSERT_EQ(entries.size(), before + 1);
  rapidjson::Document d;
  ASSERT_TRUE(ParseJson(entries.back(), &d).ok());
  EXPECT_STREQ(d["type"].GetString(), "release");
  EXPECT_STREQ(d["outcome"].GetString(), "released");
  EXPECT_STREQ(d["principal"].GetString(), "eu-support-1");
  EXPECT_STREQ(d["purpose"].GetString(), "customer_support");
  EXPECT_STREQ(d["code"].GetString(), "read");
  EXPECT_EQ(d["decision_index"].GetUint64(), 17u);
  EXPECT_STREQ(d["subject"].GetString(), "pseudonym-of-s-1");
  EXPECT_STREQ(d["node"].GetString(), "CN=eu-node-1");
  EXPECT_STREQ(d["region"].GetString(), "eu");
  // The service never sees the subject id nor the data key.
  EXPECT_FALSE(absl::StrContains(entries.back(), "\"s-1\""));
}

TEST_F(KeyReleaseServiceTest, StoredKeysDoNotOpenWithTheKekAlone) {
  const std::string dir =
      vault_dirs_
          .emplace_back(std::make_unique<test::TempDir>("release-store"))
          ->path();
  {
    auto v = OpenVault(Client(), absl::Minutes(5), dir);
    ASSERT_NE(v, nullptr);
    ASSERT_TRUE(v->Put("s-2", RecordOf("s-2")).ok());
  }
  // What an attacker with the node's disk and KEK file has: the store opens
  // no key (not even the erasure epoch's, sealed under the release layer).
  {
    auto storage = vault::OpenRocksDbStorage(dir, {});
    ASSERT_TRUE(storage.ok());
    vault::VaultOptions o;
    o.region = "eu";
    auto plain = vault::Vault::Open(
        deployment_, o, *std::move(storage),
        vault::FileKeyEncryptionKey::FromKey(Fill(5)), Fill(9));
    ASSERT_FALSE(plain.ok());
  }
  // A client the partner does not release to gets nothing either.
  EXPECT_EQ(OpenVault(Client("intruder"), absl::Minutes(5), dir), nullptr);
  // The node itself, with the service's release, reads it.
  auto v = OpenVault(Client(), absl::Minutes(5), dir);
  ASSERT_NE(v, nullptr);
  auto r = v->Get("s-2", {"email"}, ctx_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->Find("email")->value, "s-2@mail.example");
}

TEST_F(KeyReleaseServiceTest, CutOffFailsClosedWithinTheCacheTtlAndRestores) {
  const absl::Duration ttl = absl::Milliseconds(300);
  auto v = OpenVault(Client(), ttl);
  ASSERT_NE(v, nullptr);
  ASSERT_TRUE(v->Put("s-3", RecordOf("s-3")).ok());
  ASSERT_TRUE(v->Get("s-3", {}, ctx_).ok());
  const uint64_t before = service_->log().Size();
  ASSERT_TRUE(service_->SetCutOff("eu", true, "test").ok());
  // Within the TTL the cached key may still serve; after it, never.
  const absl::Time cut = absl::Now();
  absl::StatusOr<vault::Record> r = v->Get("s-3", {}, ctx_);
  while (r.ok() && absl::Now() - cut < ttl + absl::Seconds(5)) {
    r = v->Get("s-3", {}, ctx_);
  }
  ASSERT_FALSE(r.ok());
  EXPECT_LE(absl::Now() - cut, ttl + absl::Seconds(2));
  EXPECT_EQ(KeyReleaseCode(r.status()), std::string(kKeyReleaseRefused));
  EXPECT_THAT(r.status().message(), HasSubstr("region_cut_off"));
  EXPECT_GE(failures_.load(), 1);
  // A new subject is refused at once too, and each refusal is logged.
  ASSERT_TRUE(v->Put("s-4", RecordOf("s-4")).ok());
  EXPECT_FALSE(v->Get("s-4", {}, ctx_).ok());
  std::vector<std::string> entries = VerifiedLogEntries();
  ASSERT_GE(entries.size(), before + 3);
  EXPECT_THAT(entries[before], HasSubstr("\"type\":\"cutoff\""));
  EXPECT_THAT(entries.back(), HasSubstr("\"reason\":\"region_cut_off\""));
  EXPECT_THAT(entries.back(), HasSubstr("\"outcome\":\"refused\""));
  // Restored: reads resume.
  ASSERT_TRUE(service_->SetCutOff("eu", false, "test").ok());
  auto back = v->Get("s-3", {"email"}, ctx_);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->Find("email")->value, "s-3@mail.example");
  EXPECT_TRUE(v->Get("s-4", {}, ctx_).ok());
}

TEST_F(KeyReleaseServiceTest, TheStatusPollFlushesHotKeysOnACutOff) {
  // As the node wires it: a refusal (here, the poll's) flushes the cache.
  auto slot = std::make_shared<std::atomic<vault::Vault*>>(nullptr);
  ReleaseClientOptions o = Client();
  o.status_poll = absl::Milliseconds(50);
  o.on_failure = [slot](const absl::Status& s) {
    if (KeyReleaseCode(s) == kKeyReleaseRefused) {
      if (vault::Vault* v = slot->load()) v->DropKeyCache();
    }
  };
  auto v = OpenVault(o, absl::Minutes(5));  // a TTL far beyond the test
  ASSERT_NE(v, nullptr);
  slot->store(v.get());
  ASSERT_TRUE(v->Put("s-7", RecordOf("s-7")).ok());
  ASSERT_TRUE(v->Get("s-7", {}, ctx_).ok());  // cached now
  ASSERT_TRUE(service_->SetCutOff("eu", true, "test").ok());
  const absl::Time cut = absl::Now();
  absl::StatusOr<vault::Record> r = v->Get("s-7", {}, ctx_);
  while (r.ok() && absl::Now() - cut < absl::Seconds(10)) {
    absl::SleepFor(absl::Milliseconds(10));
    r = v->Get("s-7", {}, ctx_);
  }
  ASSERT_FALSE(r.ok()) << "a hot key kept serving after the cut-off";
  EXPECT_LT(absl::Now() - cut, absl::Seconds(3));
  EXPECT_EQ(KeyReleaseCode(r.status()), std::string(kKeyReleaseRefused));
  ASSERT_TRUE(service_->SetCutOff("eu", false, "test").ok());
  EXPECT_TRUE(v->Get("s-7", {}, ctx_).ok());
}

TEST_F(KeyReleaseServiceTest, AJustificationThePolicyRefusesIsDeniedAndLogged) {
  auto v = OpenVault(Client(), absl::ZeroDuration());
  ASSERT_NE(v, nullptr);
  ASSERT_TRUE(v->Put("s-5", RecordOf("s-5")).ok());
  for (const vault::AccessContext& why :
       {vault::AccessContext{"eu-support-1", "marketing", "read", 3},
        vault::AccessContext{"eu-support-1", "customer_support", "bulk", 3}}) {
    const uint64_t before = service_->log().Size();
    auto r = v->Get("s-5", {}, why);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(KeyReleaseCode(r.status()), std::string(kKeyReleaseRefused));
    EXPECT_THAT(r.status().message(), HasSubstr("justification_refused"));
    ASSERT_EQ(service_->log().Size(), before + 1);
    std::vector<std::string> entries = VerifiedLogEntries();
    EXPECT_THAT(entries.back(), HasSubstr("\"outcome\":\"refused\""));
    EXPECT_THAT(entries.back(), HasSubstr(why.purpose));
  }
  EXPECT_TRUE(v->Get("s-5", {}, ctx_).ok());
  // A refused request whose key claims a binary id: logged, and the entry
  // stays valid (UTF-8) JSON.
  net::HttpAnswer a =
      Post("/v1/release",
           absl::StrCat(
               R"({"region":"eu","wrapped":")",
               absl::Base64Escape("\x03\xff\xfe\xfdrest"),
               R"(","justification":{"principal":"p","purpose":"marketing",)"
               R"("code":"read","subject":""}})"));
  EXPECT_EQ(a.status, 403) << a.body;
  EXPECT_THAT(a.body, HasSubstr("justification_refused"));
  EXPECT_THAT(a.body, HasSubstr("log_index"));
  std::vector<std::string> entries = VerifiedLogEntries();
  rapidjson::Document d;
  ASSERT_TRUE(ParseJson(entries.back(), &d).ok()) << entries.back();
  EXPECT_STREQ(d["key_id"].GetString(), "hex:fffefd");
}

TEST_F(KeyReleaseServiceTest, NodesWithoutAValidCredentialAreRefused) {
  auto v = OpenVault(Client(), absl::ZeroDuration());
  ASSERT_NE(v, nullptr);
  ASSERT_TRUE(v->Put("s-6", RecordOf("s-6")).ok());
  // Signed by the partner's CA but not a node of the region: refused, logged.
  ReleaseClientOptions intruder = Client("intruder");
  intruder.public_key = service_->PublicKey("eu");
  auto kek =
      NewReleasedKek(vault::FileKeyEncryptionKey::FromKey(Fill(5)), intruder);
  ASSERT_TRUE(kek.ok());
  auto wrapped = (*kek)->Wrap(std::string(32, 'k'), "x");
  ASSERT_TRUE(wrapped.ok());
  auto refused = (*kek)->Unwrap(
      *wrapped, "x", {"eu-support-1", "customer_support", "s", "read", 1});
  EXPECT_EQ(KeyReleaseCode(refused.status()), std::string(kKeyReleaseRefused));
  EXPECT_THAT(refused.status().message(), HasSubstr("node_not_allowed"));
  // A certificate the partner's CA did not sign, and none at all: the TLS
  // handshake fails; the node fails closed as "unavailable".
  for (const char* who : {"stranger", ""}) {
    ReleaseClientOptions o = Client(who);
    if (std::string(who).empty()) o.cert_file = o.key_file = "";
    o.public_key = service_->PublicKey("eu");
    auto k = NewReleasedKek(vault::FileKeyEncryptionKey::FromKey(Fill(5)), o);
    ASSERT_TRUE(k.ok());
    auto r = (*k)->Unwrap(*wrapped, "x",
                          {"eu-support-1", "customer_support", "s", "read", 1});
    ASSERT_FALSE(r.ok()) << who;
    EXPECT_EQ(KeyReleaseCode(r.status()), std::string(kKeyReleaseUnavailable))
        << who;
  }
  // Only admins cut regions off.
  net::HttpAnswer a = Post("/v1/admin/regions/eu/cutoff", "", "node");
  EXPECT_EQ(a.status, 403);
  EXPECT_THAT(a.body, HasSubstr("not_admin"));
  EXPECT_FALSE(service_->IsCutOff("eu"));
  a = Post("/v1/admin/regions/eu/cutoff", "", "admin");
  EXPECT_EQ(a.status, 200) << a.body;
  EXPECT_TRUE(service_->IsCutOff("eu"));
  a = Post("/v1/admin/regions/eu/restore", "", "admin");
  EXPECT_EQ(a.status, 200) << a.body;
  EXPECT_FALSE(service_->IsCutOff("eu"));
  EXPECT_EQ(Post("/v1/admin/regions/mars/cutoff", "", "admin").status, 404);
}

TEST_F(KeyReleaseServiceTest, MalformedRequestsGet4xxJson) {
  const std::string just =
      R"("justification":{"principal":"a","purpose":"customer_support","code":"read","subject":"s"})";
  struct Case {
    std::string body;
    int status;
  };
  std::vector<Case> cases = {
      {"", 400},
      {"{", 400},
      {"[1,2]", 400},
      {std::string(20000, 'x'), 413},
      {R"({"region":"eu"})", 400},
      {absl::StrCat(R"({"region":"eu","wrapped":"%%%",)", just, "}"), 400},
      {absl::StrCat(R"({"region":"mars","wrapped":"AAAA",)", just, "}"), 404},
      {absl::StrCat(R"({"region":"eu","wrapped":"AAAA",)", just, "}"), 400},
      {absl::StrCat(R"({"region":"eu","wrapped":")",
                    absl::Base64Escape("\x0brelease:abcxxxxxxxxxxxxxxxxxxxxxxx"
                                       "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                                       "xxxxxxxxxxxxxxxxx"),
                    R"(",)", just, "}"),
       400},
  };
  const uint64_t before = service_->log().Size();
  for (const Case& c : cases) {
    net::HttpAnswer a = Post("/v1/release", c.body);
    EXPECT_EQ(a.status, c.status) << c.body.substr(0, 80) << " -> " << a.body;
    rapidjson::Document d;
    ASSERT_TRUE(ParseJson(a.body, &d).ok()) << a.body;
    ASSERT_TRUE(d.IsObject() && d.HasMember("error"));
    EXPECT_TRUE(d["error"]["code"].IsString());
    EXPECT_TRUE(d["error"]["message"].IsString());
  }
  EXPECT_EQ(service_->log().Size(), before);  // nothing was decided
}

TEST_F(KeyReleaseServiceTest, AnUnreachableServiceFailsClosedQuickly) {
  ReleaseClientOptions o = Client();
  o.url = "https://127.0.0.1:1";  // nothing listens
  o.public_key = service_->PublicKey("eu");
  o.timeout = absl::Milliseconds(500);
  auto k = NewReleasedKek(vault::FileKeyEncryptionKey::FromKey(Fill(5)), o);
  ASSERT_TRUE(k.ok());
  auto wrapped = (*k)->Wrap(std::string(32, 'k'), "x");
  ASSERT_TRUE(wrapped.ok());
  const absl::Time start = absl::Now();
  auto r = (*k)->Unwrap(*wrapped, "x", {"a", "customer_support", "x", "read"});
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(KeyReleaseCode(r.status()), std::string(kKeyReleaseUnavailable));
}

}  // namespace
}  // namespace clover::release
