#include "config/deployment.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "core/test_temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace clover {
namespace {

using ::testing::HasSubstr;

constexpr char kValid[] = R"(node:
  id: ie-dub-1-a
  region: eu
  dc: ie-dub-1
  listen: 127.0.0.1:8441
  data_dir: data/ie
jurisdictions:
  eu: {name: EU, countries: [IE, DE, "NO"]}
  us: {countries: [US]}
  cn: {countries: [CN]}
regions:
  eu:
    jurisdictions: [eu]
    dcs:
      ie-dub-1: {country: IE, endpoint: "http://127.0.0.1:8441"}
      no-ham-1: {country: "NO", endpoint: "http://127.0.0.1:8443"}
  us:
    jurisdictions: [us]
    dcs:
      us-tx-1: {country: US, endpoint: "http://127.0.0.1:8451"}
schema:
  fields:
    email: {category: contact, restricted: true, format: email, method: hmac}
    phone: {category: contact, restricted: true, format: e164, method: ff1}
    ip_address: {category: network, restricted: true, format: ip, method: generalize}
principals:
  - id: eu-support-1
    kind: employee
    org: support
    roles: [support]
    country: IE
    credentials:
      api_key_sha256: 0c4d8f61ef0581f6b93096beac285491b2317cf274253db9f1a29fa07b060a7f
  - id: cn-engineer-1
    kind: employee
    org: eng
    roles: [engineer]
    country: CN
    credentials:
      cert_subject: "CN=cn-engineer-1"
purposes: [customer_support, service_operation]
storage: {driver: rocksdb}
log:
  origin: log.eu.example/ie-dub-1
  key_file: keys/note.key
  max_batch_wait_ms: 5
keys:
  kek_file: keys/kek
  pseudonym_key_file: keys/pseudonym
policy:
  file: policy.yaml
)";

// Loads kValid with `from` replaced by `to`, expecting an InvalidArgument whose
// message contains every one of `needles`.
void ExpectError(absl::string_view from, absl::string_view to,
                 std::initializer_list<absl::string_view> needles) {
  std::string text = absl::StrReplaceAll(kValid, {{from, to}});
  ASSERT_NE(text, kValid) << "replacement did not apply: " << from;
  auto d = ParseDeployment(text, "conf/node.yaml");
  ASSERT_FALSE(d.ok()) << "expected an error after replacing " << from;
  EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument);
  for (absl::string_view n : needles) {
    EXPECT_THAT(std::string(d.status().message()), HasSubstr(std::string(n)));
  }
}

TEST(ConfigTest, LoadsValidConfig) {
  auto d = ParseDeployment(kValid, "conf/node.yaml");
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_TRUE(d->node.has_value());
  EXPECT_EQ(d->node->dc, "ie-dub-1");
  EXPECT_EQ(d->node->listen_port, 8441);
  EXPECT_EQ(d->node->data_dir, "conf/data/ie");
  EXPECT_EQ(d->log.max_batch_wait, absl::Milliseconds(5));
  EXPECT_EQ(d->log.key_file, "conf/keys/note.key");
  EXPECT_EQ(d->JurisdictionOfCountry("NO")->id, "eu");
  EXPECT_EQ(d->HomeRegionOfJurisdiction("eu")->id, "eu");
  EXPECT_EQ(d->HomeRegionOfJurisdiction("cn"), nullptr);
  EXPECT_EQ(d->FindPrincipal("cn-engineer-1")->jurisdiction, "cn");
  EXPECT_EQ(d->schema.Find("phone")->method, PseudonymMethod::kFf1);
  EXPECT_TRUE(d->schema.Find("email")->restricted);
  EXPECT_EQ(d->schema.Find("nope"), nullptr);
}

TEST(ConfigTest, ErrorsNameFileLineColumnAndField) {
  ExpectError("    roles: [support]\n",
              "    roles: [support]\n    colour: blue\n",
              {"conf/node.yaml:31:5: field 'principals[eu-support-1].colour': "
               "unknown key"});
}

TEST(ConfigTest, RejectsInvalidYaml) {
  ExpectError("  us: {countries: [US]}", "  us: {countries: [US]",
              {"conf/node.yaml:", "invalid YAML"});
}

TEST(ConfigTest, RejectsUnknownTopLevelKey) {
  ExpectError("storage: {driver: rocksdb}",
              "storage: {driver: rocksdb}\nstorag: {}",
              {"field 'storag': unknown key"});
}

TEST(ConfigTest, RejectsCountryInTwoJurisdictions) {
  ExpectError(
      "us: {countries: [US]}", "us: {countries: [US, DE]}",
      {"jurisdictions.us.countries[1]", "already in jurisdiction 'eu'"});
}

TEST(ConfigTest, RejectsNonIsoCountry) {
  ExpectError("countries: [US]", "countries: [XX]", {"not an ISO 3166-1"});
}

TEST(ConfigTest, RejectsRegionWithoutDcs) {
  ExpectError(
      "      us-tx-1: {country: US, endpoint: \"http://127.0.0.1:8451\"}\n", "",
      {"regions.us.dcs", "at least one data centre"});
}

TEST(ConfigTest, RejectsUnknownJurisdictionInRegion) {
  ExpectError("    jurisdictions: [us]", "    jurisdictions: [mars]",
              {"regions.us.jurisdictions[0]", "unknown jurisdiction 'mars'"});
}

TEST(ConfigTest, RejectsJurisdictionInTwoRegions) {
  ExpectError("    jurisdictions: [us]", "    jurisdictions: [us, eu]",
              {"already stored in region 'eu'"});
}

TEST(ConfigTest, RejectsBadEndpoint) {
  ExpectError("\"http://127.0.0.1:8451\"", "\"ftp://x\"",
              {"regions.us.dcs.us-tx-1.endpoint"});
}

TEST(ConfigTest, RejectsNodeDcOutsideRegion) {
  ExpectError("  dc: ie-dub-1", "  dc: us-tx-1",
              {"conf/node.yaml:4:7: field 'node.dc'", "not in region 'eu'"});
}

TEST(ConfigTest, RejectsUnknownRegion) {
  ExpectError("  region: eu", "  region: mars",
              {"node.region", "unknown region"});
}

TEST(ConfigTest, RejectsBadListen) {
  ExpectError("127.0.0.1:8441\n", "localhost\n", {"node.listen", "HOST:PORT"});
  ExpectError("127.0.0.1:8441\n", "localhost:99999\n", {"node.listen"});
}

TEST(ConfigTest, NodeMaxConnections) {
  auto d = ParseDeployment(kValid, "conf/node.yaml");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->node->max_connections, 1024);
  std::string text = absl::StrReplaceAll(
      kValid,
      {{"127.0.0.1:8441\n", "127.0.0.1:8441\n  max_connections: 50\n"}});
  d = ParseDeployment(text, "conf/node.yaml");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->node->max_connections, 50);
  ExpectError("127.0.0.1:8441\n", "127.0.0.1:8441\n  max_connections: 0\n",
              {"node.max_connections"});
}

TEST(ConfigTest, LogWitnesses) {
  std::string text = absl::StrReplaceAll(
      kValid, {{"  max_batch_wait_ms: 5\n",
                "  max_batch_wait_ms: 5\n  witnesses:\n"
                "    - {url: http://w.example:8470, verifier_key: w+1+AQ}\n"}});
  auto d = ParseDeployment(text, "conf/node.yaml");
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_EQ(d->log.witnesses.size(), 1u);
  EXPECT_EQ(d->log.witnesses[0].url, "http://w.example:8470");
  EXPECT_EQ(d->log.witnesses[0].verifier_key, "w+1+AQ");
  ExpectError("  max_batch_wait_ms: 5\n",
              "  max_batch_wait_ms: 5\n  witnesses:\n"
              "    - {url: ftp://w, verifier_key: k}\n",
              {"log.witnesses[0].url", "http://"});
  ExpectError("  max_batch_wait_ms: 5\n",
              "  max_batch_wait_ms: 5\n  witnesses:\n    - {url: http://w}\n",
              {"log.witnesses[0].verifier_key"});
  ExpectError("  max_batch_wait_ms: 5\n",
              "  max_batch_wait_ms: 5\n  witnesses: http://w\n",
              {"log.witnesses", "expected a list"});
}

TEST(ConfigTest, ApprovalAttestationKeys) {
  auto d = ParseDeployment(kValid, "conf/node.yaml");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_TRUE(d->approvals.attestation_keys.empty());
  std::string text = absl::StrReplaceAll(
      kValid,
      {{"policy:\n", "approvals:\n  attestation_keys: [a+1+AQ]\npolicy:\n"}});
  d = ParseDeployment(text, "conf/node.yaml");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->approvals.attestation_keys, std::vector<std::string>{"a+1+AQ"});
  ExpectError("policy:\n", "approvals:\n  attestation_key: [a]\npolicy:\n",
              {"approvals.attestation_key"});
}

TEST(ConfigTest, RejectsUnknownCategory) {
  ExpectError(
      "category: network", "category: telepathy",
      {"schema.fields.ip_address.category", "unknown category 'telepathy'"});
}

TEST(ConfigTest, RejectsUnknownMethod) {
  ExpectError("format: email, method: hmac", "format: email, method: rot13",
              {"schema.fields.email.method", "unknown method 'rot13'"});
}

TEST(ConfigTest, RejectsUnknownFormat) {
  ExpectError("format: email", "format: emoji", {"schema.fields.email.format"});
}

TEST(ConfigTest, RejectsMethodThatCannotTransformFormat) {
  ExpectError("format: email, method: hmac", "format: email, method: ff1",
              {"schema.fields.email.method", "cannot transform"});
}

TEST(ConfigTest, RejectsDuplicatePrincipal) {
  ExpectError("  - id: cn-engineer-1", "  - id: eu-support-1",
              {"duplicate principal 'eu-support-1'"});
}

TEST(ConfigTest, RejectsClearTextApiKey) {
  ExpectError(
      "      api_key_sha256: "
      "0c4d8f61ef0581f6b93096beac285491b2317cf274253db9f1a29fa07b060a7f",
      "      api_key: hunter2-super-secret",
      {"principals[eu-support-1].credentials.api_key", "clear text"});
  // The secret itself must never be echoed.
  std::string text = absl::StrReplaceAll(
      kValid,
      {{"api_key_sha256: "
        "0c4d8f61ef0581f6b93096beac285491b2317cf274253db9f1a29fa07b060a7f",
        "api_key: hunter2-super-secret"}});
  auto d = ParseDeployment(text, "x.yaml");
  ASSERT_FALSE(d.ok());
  EXPECT_THAT(std::string(d.status().message()),
              ::testing::Not(HasSubstr("hunter2")));
}

TEST(ConfigTest, RejectsMalformedKeyHash) {
  ExpectError(
      "0c4d8f61ef0581f6b93096beac285491b2317cf274253db9f1a29fa07b060a7f", "ABC",
      {"api_key_sha256", "64 lower-case hex"});
}

TEST(ConfigTest, JwtMaxLifetime) {
  constexpr absl::string_view kCert =
      "      cert_subject: \"CN=cn-engineer-1\"";
  auto with_jwt = [&](absl::string_view extra) {
    return absl::StrReplaceAll(
        kValid, {{kCert, absl::StrCat("      jwt:\n        issuer: idp\n"
                                      "        audience: clover\n"
                                      "        public_key_file: k.pem\n",
                                      extra)}});
  };
  auto d = ParseDeployment(with_jwt(""), "conf/node.yaml");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->FindPrincipal("cn-engineer-1")->credentials.jwt->max_lifetime,
            absl::Hours(24));
  d = ParseDeployment(with_jwt("        max_lifetime_seconds: 900\n"),
                      "conf/node.yaml");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->FindPrincipal("cn-engineer-1")->credentials.jwt->max_lifetime,
            absl::Minutes(15));
  for (absl::string_view bad : {"0", "2592001", "1h"}) {
    d = ParseDeployment(
        with_jwt(absl::StrCat("        max_lifetime_seconds: ", bad, "\n")),
        "conf/node.yaml");
    ASSERT_FALSE(d.ok()) << bad;
    EXPECT_THAT(std::string(d.status().message()),
                HasSubstr("credentials.jwt.max_lifetime_seconds"));
  }
}

TEST(ConfigTest, RejectsPrincipalWithoutCredentials) {
  ExpectError(
      "    credentials:\n      cert_subject: \"CN=cn-engineer-1\"", "",
      {"principals[cn-engineer-1].credentials", "at least one credential"});
}

TEST(ConfigTest, RejectsPrincipalCountryWithoutJurisdiction) {
  ExpectError("    country: CN", "    country: JP",
              {"country JP belongs to no jurisdiction"});
}

TEST(ConfigTest, RejectsUnknownPrincipalKind) {
  ExpectError("kind: employee\n    org: eng", "kind: robot\n    org: eng",
              {"principals[cn-engineer-1].kind", "unknown kind 'robot'"});
}

TEST(ConfigTest, RejectsUnknownStorageDriver) {
  ExpectError("driver: rocksdb", "driver: floppy",
              {"storage.driver", "unknown driver"});
}

TEST(ConfigTest, PostgresNeedsDsn) {
  ExpectError("driver: rocksdb", "driver: postgres",
              {"storage.postgres_dsn", "missing"});
}

// Issue 19: how long PostgreSQL calls ride out a failover before a 503.
TEST(ConfigTest, PostgresRetrySeconds) {
  const std::string from = "storage: {driver: rocksdb}";
  const std::string pg =
      "storage:\n  driver: postgres\n  postgres_dsn: 'host=a,b port=1,2 "
      "target_session_attrs=read-write'";
  const std::string dc = "endpoint: \"http://127.0.0.1:8441\"}";
  const std::string dc_hosts =
      "endpoint: \"http://127.0.0.1:8441\", db_hosts: [a:1, b]}";
  auto dflt =
      ParseDeployment(absl::StrReplaceAll(kValid, {{from, pg}, {dc, dc_hosts}}),
                      "conf/node.yaml");
  ASSERT_TRUE(dflt.ok()) << dflt.status();
  EXPECT_EQ(dflt->storage.postgres_retry, absl::Seconds(10));
  EXPECT_EQ(dflt->storage.postgres_dsn,
            "host=a,b port=1,2 target_session_attrs=read-write");
  auto set = ParseDeployment(
      absl::StrReplaceAll(
          kValid,
          {{from, pg + "\n  postgres_retry_seconds: 30"}, {dc, dc_hosts}}),
      "conf/node.yaml");
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->storage.postgres_retry, absl::Seconds(30));
  ExpectError(from, pg + "\n  postgres_retry_seconds: 301",
              {"storage.postgres_retry_seconds", "between 0 and 300"});
}

// Issue 19, residency: a region's DCs stand in its jurisdictions' countries.
TEST(ConfigTest, RejectsDcOutsideRegionJurisdictions) {
  ExpectError("ie-dub-1: {country: IE,", "ie-dub-1: {country: US,",
              {"conf/node.yaml:15:", "regions.eu.dcs.ie-dub-1.country",
               "country US is in none of the region's jurisdictions (eu)"});
  ExpectError("no-ham-1: {country: \"NO\",", "no-ham-1: {country: SG,",
              {"conf/node.yaml:16:", "regions.eu.dcs.no-ham-1.country",
               "country SG is in none"});
}

// Issue 19, residency: the database hosts are declared per DC, and the DSN
// may name only those of the node's region.
TEST(ConfigTest, PostgresDsnHostsMustBeDeclaredInTheRegion) {
  const std::string from = "storage: {driver: rocksdb}";
  const std::string ie = "endpoint: \"http://127.0.0.1:8441\"}";
  const std::string no = "endpoint: \"http://127.0.0.1:8443\"}";
  const std::string us = "endpoint: \"http://127.0.0.1:8451\"}";
  auto with = [&](const std::string& dsn) {
    return absl::StrReplaceAll(
        kValid,
        {{from, "storage:\n  driver: postgres\n  postgres_dsn: '" + dsn + "'"},
         {ie,
          "endpoint: \"http://127.0.0.1:8441\", db_hosts: "
          "[\"10.0.1.5:5432\", pg-ie.example]}"},
         {no,
          "endpoint: \"http://127.0.0.1:8443\", db_hosts: "
          "[\"[fd00::7]:6432\", /run/pg]}"},
         {us,
          "endpoint: \"http://127.0.0.1:8451\", db_hosts: "
          "[pg-us.example]}"}});
  };
  for (const char* ok :
       {"host=10.0.1.5,pg-ie.example,fd00::7 port=5432,7000,6432 dbname=c",
        "host=/run/pg dbname=c", "hostaddr=10.0.1.5 dbname=c",
        "postgresql://u:pw@10.0.1.5,pg-ie.example:1,[fd00::7]:6432/c"
        "?target_session_attrs=read-write"}) {
    auto d = ParseDeployment(with(ok), "conf/node.yaml");
    EXPECT_TRUE(d.ok()) << ok << ": " << d.status();
  }
  for (const char* bad :
       {"host=10.0.1.5,pg-us.example port=5432 dbname=c",  // another region
        "host=10.0.1.5 port=5433 dbname=c",                // another port
        "host=10.0.1.6 dbname=c",                          // undeclared
        "host=pg-ie.example hostaddr=192.0.2.1 dbname=c",  // hostaddr wins
        "dbname=c",                                        // libpq default
        "service=prod", "postgresql://pg-us.example/c",
        "postgresql://10.0.1.5/c?host=pg-us.example"}) {
    auto d = ParseDeployment(with(bad), "conf/node.yaml");
    ASSERT_FALSE(d.ok()) << bad;
    EXPECT_THAT(std::string(d.status().message()),
                testing::HasSubstr("field 'storage.postgres_dsn'"))
        << bad;
    EXPECT_THAT(std::string(d.status().message()),
                testing::StartsWith("conf/node.yaml:"))
        << bad;
    EXPECT_THAT(std::string(d.status().message()),
                testing::Not(testing::HasSubstr("pw")));
  }
  auto d =
      ParseDeployment(with("host=pg-us.example dbname=c"), "conf/node.yaml");
  ASSERT_FALSE(d.ok());
  EXPECT_THAT(std::string(d.status().message()),
              testing::HasSubstr("host pg-us.example port 5432 is not a "
                                 "declared db_hosts entry of a data centre "
                                 "of region eu"));
}

TEST(ConfigTest, PatroniUrls) {
  const std::string from = "storage: {driver: rocksdb}";
  const std::string pg =
      "storage:\n  driver: postgres\n  postgres_dsn: 'host=a'\n"
      "  patroni_urls: [\"http://a:8008\", \"https://b:8008\"]";
  const std::string dc = "endpoint: \"http://127.0.0.1:8441\"}";
  const std::string dc_hosts =
      "endpoint: \"http://127.0.0.1:8441\", db_hosts: [a]}";
  auto d =
      ParseDeployment(absl::StrReplaceAll(kValid, {{from, pg}, {dc, dc_hosts}}),
                      "conf/node.yaml");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->storage.patroni_urls,
            (std::vector<std::string>{"http://a:8008", "https://b:8008"}));
  EXPECT_EQ(d->FindRegion("eu")->dcs[0].db_hosts,
            std::vector<std::string>{"a"});
  auto bad = ParseDeployment(
      absl::StrReplaceAll(
          kValid, {{from, absl::StrReplaceAll(pg, {{"https://b", "ftp://b"}})},
                   {dc, dc_hosts}}),
      "conf/node.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()),
              testing::HasSubstr("storage.patroni_urls"));
}

TEST(ConfigTest, RejectsMissingSection) {
  ExpectError("schema:\n  fields:", "schemata:\n  fields:", {"unknown key"});
}

TEST(ConfigTest, RejectsNodeWithoutLog) {
  ExpectError(
      "log:\n  origin: log.eu.example/ie-dub-1\n  key_file: keys/note.key\n  "
      "max_batch_wait_ms: 5\n",
      "", {"'log'", "needs a log section"});
}

TEST(ConfigTest, RejectsBatchOutOfRange) {
  ExpectError("max_batch_wait_ms: 5", "max_batch_wait_ms: -1",
              {"log.max_batch_wait_ms"});
  ExpectError("max_batch_wait_ms: 5", "max_batch_wait_ms: soon",
              {"expected an integer"});
}

TEST(ConfigTest, RejectsDuplicateKey) {
  ExpectError("  cn: {countries: [CN]}",
              "  cn: {countries: [CN]}\n  cn: {countries: [CN]}",
              {"jurisdictions.cn", "duplicate key"});
}

TEST(ConfigTest, PrivacyBudget) {
  auto d = ParseDeployment(
      absl::StrCat(kValid, "privacy: {daily_epsilon_budget: 2.5}\n"), "x");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->privacy.daily_epsilon_budget, 2.5);
  ExpectError("policy:\n", "privacy: {daily_epsilon_budget: -1}\npolicy:\n",
              {"privacy.daily_epsilon_budget", "positive"});
}

TEST(ConfigTest, MinCohort) {
  auto d = ParseDeployment(kValid, "x");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->privacy.min_cohort, 10);
  d = ParseDeployment(absl::StrCat(kValid, "privacy: {min_cohort: 25}\n"), "x");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->privacy.min_cohort, 25);
  // A cohort of one is no cohort.
  ExpectError("policy:\n", "privacy: {min_cohort: 1}\npolicy:\n",
              {"privacy.min_cohort", "from 2"});
  ExpectError("policy:\n", "privacy: {min_cohort: many}\npolicy:\n",
              {"privacy.min_cohort"});
}

TEST(ConfigTest, DeclaredPurposes) {
  auto d = ParseDeployment(kValid, "x");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->purposes, (std::vector<std::string>{"customer_support",
                                                   "service_operation"}));
  EXPECT_TRUE(d->IsDeclaredPurpose("customer_support"));
  EXPECT_FALSE(d->IsDeclaredPurpose("marketing"));
  EXPECT_FALSE(d->IsDeclaredPurpose(""));
  // One line, file:line, for each mistake.
  ExpectError("purposes: [customer_support, service_operation]\n", "",
              {"conf/node.yaml:1:1", "purposes", "needs a purposes list"});
  ExpectError("purposes: [customer_support, service_operation]",
              "purposes: [customer_support, Customer.Support]",
              {"conf/node.yaml:", "purposes[1]", "not a valid purpose"});
  ExpectError("purposes: [customer_support, service_operation]",
              "purposes: [customer_support, customer_support]",
              {"purposes[1]", "listed twice"});
  ExpectError("purposes: [customer_support, service_operation]", "purposes: []",
              {"purposes", "non-empty list"});
  ExpectError("purposes: [customer_support, service_operation]",
              "purposes: {a: b}", {"purposes", "non-empty list"});
  // A deployment-wide file (no node) may leave them out.
  std::string no_node = kValid;
  no_node = no_node.substr(no_node.find("jurisdictions:"));
  no_node = absl::StrReplaceAll(
      no_node, {{"purposes: [customer_support, service_operation]\n", ""}});
  auto wide = ParseDeployment(no_node, "x");
  ASSERT_TRUE(wide.ok()) << wide.status();
  EXPECT_TRUE(wide->purposes.empty());
}

TEST(ConfigTest, RetiredKekFiles) {
  auto d = ParseDeployment(
      absl::StrReplaceAll(
          kValid, {{"  kek_file: keys/kek\n",
                    "  kek_file: keys/kek2\n  retired_kek_files: [keys/kek, "
                    "/etc/clover/kek0]\n"}}),
      "/srv/node.yaml");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->keys.kek_file, "/srv/keys/kek2");
  EXPECT_EQ(d->keys.retired_kek_files,
            (std::vector<std::string>{"/srv/keys/kek", "/etc/clover/kek0"}));
  ExpectError("  pseudonym_key_file: keys/pseudonym",
              "  pseudonym_key_file: keys/pseudonym\n  retired_kek_files: "
              "{a: b}",
              {"keys.retired_kek_files", "expected a list of strings"});
}

TEST(ConfigTest, KeyReleaseIsOptionalAndChecked) {
  auto none = ParseDeployment(kValid, "/srv/node.yaml");
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->keys.release.has_value());
  const std::string release =
      "  pseudonym_key_file: keys/pseudonym\n  release:\n"
      "    url: https://kms.example:8443/\n    ca_file: ca.crt\n"
      "    cert_file: node.crt\n    key_file: node.key\n"
      "    cache_ttl_s: 30\n    cache_entries: 500\n";
  auto d = ParseDeployment(
      absl::StrReplaceAll(
          kValid, {{"  pseudonym_key_file: keys/pseudonym\n", release}}),
      "/srv/node.yaml");
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_TRUE(d->keys.release.has_value());
  EXPECT_EQ(d->keys.release->url, "https://kms.example:8443");
  EXPECT_EQ(d->keys.release->ca_file, "/srv/ca.crt");
  EXPECT_EQ(d->keys.release->cache_ttl, absl::Seconds(30));
  EXPECT_EQ(d->keys.release->cache_entries, 500);
  EXPECT_EQ(d->keys.release->timeout, absl::Seconds(2));
  EXPECT_EQ(d->keys.release->status_poll, absl::Seconds(5));
  ExpectError("  pseudonym_key_file: keys/pseudonym\n",
              "  pseudonym_key_file: keys/pseudonym\n  release: {url: "
              "\"http://kms\", ca_file: a, cert_file: b, key_file: c}\n",
              {"keys.release.url", "https://"});
  ExpectError("  pseudonym_key_file: keys/pseudonym\n",
              "  pseudonym_key_file: keys/pseudonym\n  release: {url: "
              "\"https://kms\", ca_file: a, cert_file: b, key_file: c, "
              "cache_ttl_s: 7200}\n",
              {"keys.release.cache_ttl_s"});
  ExpectError("  pseudonym_key_file: keys/pseudonym\n",
              "  pseudonym_key_file: keys/pseudonym\n  release: {url: "
              "\"https://kms\", ca_file: a, cert_file: b}\n",
              {"keys.release.key_file"});
  ExpectError("  pseudonym_key_file: keys/pseudonym\n",
              "  pseudonym_key_file: keys/pseudonym\n  release: {url: "
              "\"https://kms\", ca_file: a, cert_file: b, key_file: c, "
              "ttl: 1}\n",
              {"keys.release.ttl"});
}

TEST(ConfigTest, PurgeIntervalDefaultsToADayAndIsBounded) {
  auto d = ParseDeployment(kValid, "/srv/node.yaml");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->keys.purge_interval, absl::Hours(24));
  auto hourly = ParseDeployment(
      absl::StrReplaceAll(kValid, {{"  kek_file: keys/kek\n",
                                    "  kek_file: keys/kek\n"
                                    "  purge_interval_s: 3600\n"}}),
      "/srv/node.yaml");
  ASSERT_TRUE(hourly.ok()) << hourly.status();
  EXPECT_EQ(hourly->keys.purge_interval, absl::Hours(1));
  for (const char* bad : {"0", "86401", "soon"}) {
    auto d2 = ParseDeployment(
        absl::StrReplaceAll(kValid, {{"  kek_file: keys/kek\n",
                                      absl::StrCat("  kek_file: keys/kek\n"
                                                   "  purge_interval_s: ",
                                                   bad, "\n")}}),
        "/srv/node.yaml");
    EXPECT_FALSE(d2.ok()) << bad;
    if (!d2.ok()) {
      EXPECT_NE(d2.status().message().find("purge_interval_s"),
                absl::string_view::npos)
          << d2.status();
    }
  }
}

TEST(ConfigTest, SignedPolicyNeedsAuditorKeys) {
  ExpectError("  file: policy.yaml",
              "  file: policy.yaml\n  require_signed_policy: true",
              {"policy.auditor_keys"});
}

TEST(ConfigTest, SignedPrincipalsNeedAFileAndAuditorKeys) {
  ExpectError("  file: policy.yaml",
              "  file: policy.yaml\n  require_signed_principals: true",
              {"policy.auditor_keys"});
  // Inline principals cannot carry a detached signature.
  ExpectError("  file: policy.yaml",
              "  file: policy.yaml\n  require_signed_principals: true\n"
              "  auditor_keys: [\"k+00000000+AAAA\"]",
              {"policy.require_signed_principals", "must name a file"});
}

class ConfigFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(dir_ / "shared");
  }
  void Write(const std::string& rel, const std::string& text) {
    std::ofstream(dir_ / rel) << text;
  }
  test::TempDir tmp_{"config"};
  std::filesystem::path dir_ = tmp_.path();
};

TEST_F(ConfigFileTest, IncludedSectionsAndErrorsInThem) {
  std::string text = kValid;
  size_t schema_start = text.find("schema:\n");
  size_t schema_end = text.find("principals:\n");
  std::string schema =
      text.substr(schema_start + 8, schema_end - schema_start - 8);
  // Un-indent the included schema by two spaces.
  schema = absl::StrReplaceAll(schema, {{"\n  ", "\n"}});
  schema = schema.substr(2);
  text.replace(schema_start, schema_end - schema_start,
               "schema: shared/schema.yaml\n");
  Write("node.yaml", text);
  Write("shared/schema.yaml", schema);
  auto d = LoadDeployment((dir_ / "node.yaml").string());
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->schema.fields.size(), 3u);

  Write("shared/schema.yaml",
        absl::StrReplaceAll(schema, {{"network", "psychic"}}));
  d = LoadDeployment((dir_ / "node.yaml").string());
  ASSERT_FALSE(d.ok());
  EXPECT_THAT(std::string(d.status().message()),
              HasSubstr("shared/schema.yaml:4:"));
  EXPECT_THAT(std::string(d.status().message()),
              HasSubstr("unknown category 'psychic'"));

  std::filesystem::rename(dir_ / "shared/schema.yaml",
                          dir_ / "shared/schema.yaml.moved");
  d = LoadDeployment((dir_ / "node.yaml").string());
  ASSERT_FALSE(d.ok());
  EXPECT_THAT(std::string(d.status().message()),
              HasSubstr("cannot read included file"));
}

TEST_F(ConfigFileTest, MissingFileIsNotFound) {
  auto d = LoadDeployment((dir_ / "absent.yaml").string());
  EXPECT_EQ(d.status().code(), absl::StatusCode::kNotFound);
}

TEST(ConfigExamplesTest, PrincipalDirectoryLoadsAlone) {
  auto d = LoadDeployment("examples/deployment.yaml");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_THAT(d->principals_file,
              ::testing::EndsWith("examples/principals.yaml"));
  auto alone = LoadPrincipalDirectory("examples/principals.yaml",
                                      "examples/jurisdictions.yaml");
  ASSERT_TRUE(alone.ok()) << alone.status();
  ASSERT_EQ(alone->size(), d->principals.size());
  for (size_t i = 0; i < alone->size(); ++i) {
    EXPECT_EQ((*alone)[i].id, d->principals[i].id);
    EXPECT_EQ((*alone)[i].jurisdiction, d->principals[i].jurisdiction);
    EXPECT_EQ((*alone)[i].roles, d->principals[i].roles);
  }
}

TEST(ConfigExamplesTest, EveryExampleConfigLoads) {
  for (const char* f :
       {"examples/deployment.yaml", "examples/nodes/ie-dub-1.yaml",
        "examples/nodes/ie-dub-2.yaml", "examples/nodes/no-ham-1.yaml",
        "examples/nodes/us-tx-1.yaml"}) {
    auto d = LoadDeployment(absl::StrCat(CLOVER_SOURCE_DIR, "/", f));
    ASSERT_TRUE(d.ok()) << f << ": " << d.status();
    EXPECT_GE(d->principals.size(), 6u);
    EXPECT_EQ(d->HomeRegionOfJurisdiction("eu")->dcs.size(), 3u);
  }
}

// keys.kek.pkcs11: the KEK in a PKCS#11 token instead of keys.kek_file.
TEST(ConfigTest, Pkcs11Kek) {
  const std::string hsm =
      "  kek:\n"
      "    pkcs11:\n"
      "      module: /usr/lib/softhsm/libsofthsm2.so\n"
      "      token: clover-eu\n"
      "      label: kek-2\n"
      "      pin_file: keys/hsm.pin\n"
      "      retired_labels: [kek-1]\n";
  auto d = ParseDeployment(
      absl::StrReplaceAll(kValid, {{"  kek_file: keys/kek\n", hsm}}),
      "conf/node.yaml");
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_TRUE(d->keys.pkcs11_kek.has_value());
  EXPECT_TRUE(d->keys.kek_file.empty());
  EXPECT_EQ(d->keys.pkcs11_kek->module, "/usr/lib/softhsm/libsofthsm2.so");
  EXPECT_EQ(d->keys.pkcs11_kek->token, "clover-eu");
  EXPECT_EQ(d->keys.pkcs11_kek->label, "kek-2");
  EXPECT_EQ(d->keys.pkcs11_kek->pin_file, "conf/keys/hsm.pin");
  EXPECT_EQ(d->keys.pkcs11_kek->retired_labels,
            std::vector<std::string>{"kek-1"});
  // A bare module name is left to dlopen; no PIN in the config itself.
  d = ParseDeployment(
      absl::StrReplaceAll(
          kValid,
          {{"  kek_file: keys/kek\n",
            absl::StrReplaceAll(hsm, {{"/usr/lib/softhsm/libsofthsm2.so",
                                       "libsofthsm2.so"}})}}),
      "conf/node.yaml");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->keys.pkcs11_kek->module, "libsofthsm2.so");
  EXPECT_FALSE(d->keys.kek_file.empty() && !d->keys.pkcs11_kek.has_value());

  // Each mistake: one line naming file:line:col and the key.
  const std::string kek_line = "  kek_file: keys/kek\n";
  const size_t line =
      std::count(kValid, kValid + std::string(kValid).find(kek_line), '\n') + 1;
  ExpectError(kek_line, kek_line + hsm,
              {absl::StrCat("conf/node.yaml:", line + 1, ":3"), "keys.kek",
               "not both"});
  ExpectError(
      kek_line,
      absl::StrReplaceAll(hsm, {{"      pin_file: keys/hsm.pin\n", ""}}),
      {absl::StrCat("conf/node.yaml:", line + 2, ":"),
       "keys.kek.pkcs11.pin_file", "missing"});
  ExpectError(kek_line, absl::StrReplaceAll(hsm, {{"pin_file", "pin"}}),
              {absl::StrCat("conf/node.yaml:", line + 5, ":7"),
               "keys.kek.pkcs11.pin", "unknown key"});
  ExpectError(kek_line, absl::StrReplaceAll(hsm, {{"kek-2", "epoch:x"}}),
              {absl::StrCat("conf/node.yaml:", line + 4, ":14"),
               "not a usable key label"});
  ExpectError(
      kek_line, absl::StrReplaceAll(hsm, {{"[kek-1]", "[kek-2]"}}),
      {absl::StrCat("conf/node.yaml:", line + 6, ":24"), "given twice"});
  ExpectError(kek_line, "  kek: {hsm: x}\n",
              {absl::StrCat("conf/node.yaml:", line, ":9"), "keys.kek.hsm"});
  ExpectError(kek_line,
              absl::StrReplaceAll(hsm, {{"clover-eu", std::string(33, 't')}}),
              {"keys.kek.pkcs11.token", "at most 32"});
}

}  // namespace
}  // namespace clover
