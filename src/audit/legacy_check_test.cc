// The legacy-deletion check without a database: its `migration:` config
// section, and the check over a source read through an injected reader (the
// PostgreSQL reader and the auditor around it: tests/legacy_audit_test.cc).
#include "audit/legacy_check.h"

#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "audit/audit_config.h"
#include "audit/auditor_fixture.h"
#include "entry/legacy_deletion.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kv/kv_store.h"

namespace clover::audit {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::SizeIs;
using testing::WriteFile;

// A config with the given `migration:` section (text after "migration:").
absl::StatusOr<AuditorConfig> LoadWithMigration(testing::TempDir& dir,
                                                const std::string& migration) {
  auto log_key = testing::MakeKey("log.test/a");
  auto pkey = testing::MakeKey("auditor.test");
  WriteFile(dir.Sub("audit.yaml"),
            absl::StrCat(testing::ConfigYaml("  insecure_no_auth: true\n",
                                             log_key.verifier, pkey.verifier),
                         testing::kPrincipalsYaml, "migration:", migration));
  return LoadAuditorConfig(dir.Sub("audit.yaml"));
}

TEST(LegacyCheckConfigTest, SectionIsReadAndCheckedWithoutEchoingTheDsn) {
  testing::TempDir dir;
  WriteFile(dir.Sub("legacy.dsn"),
            "host=10.9.0.5 dbname=crm user=auditor_ro password=hunter2\n",
            /*secret=*/true);
  const std::string good = R"(
  interval: 5m
  sources:
    - source: "postgres:legacy-us:5432/crm/customers"
      dsn_file: legacy.dsn
      table: crm.customers
      key_column: customer_id
)";
  auto c = LoadWithMigration(dir, good);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->migration.interval, absl::Minutes(5));
  ASSERT_THAT(c->migration.sources, SizeIs(1));
  EXPECT_EQ(c->migration.sources[0].source,
            "postgres:legacy-us:5432/crm/customers");
  EXPECT_THAT(c->migration.sources[0].dsn, HasSubstr("password=hunter2"));
  EXPECT_EQ(c->migration.sources[0].table, "crm.customers");
  EXPECT_EQ(c->migration.sources[0].key_column, "customer_id");

  for (const auto& [from, to, field] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"table: crm.customers", "table: \"x; DROP TABLE y\"", "table"},
           {"key_column: customer_id", "key_column: a.b", "key_column"},
           {"\"postgres:legacy-us", "\"ndjson:legacy-us", "source"},
           {"interval: 5m", "interval: soon", "migration.interval"},
           {"key_column: customer_id", "key: customer_id", "sources[0].key"}}) {
    std::string bad = good;
    bad.replace(bad.find(from), from.size(), to);
    auto refused = LoadWithMigration(dir, bad);
    EXPECT_FALSE(refused.ok()) << to;
    EXPECT_THAT(std::string(refused.status().message()), HasSubstr(field))
        << to;
  }
  // A source listed twice is refused.
  auto twice =
      LoadWithMigration(dir, good + good.substr(good.find("    - source")));
  EXPECT_FALSE(twice.ok());
  // A DSN file others can read is refused; the error never quotes it.
  WriteFile(dir.Sub("legacy.dsn"), "host=x password=hunter2\n",
            /*secret=*/false);
  auto refused = LoadWithMigration(dir, good);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("dsn_file"));
  EXPECT_THAT(std::string(refused.status().message()),
              Not(HasSubstr("hunter2")));
}

TEST(LegacyCheckTest, IdentifiersAreRestrictedToAPlainAlphabet) {
  EXPECT_TRUE(IsPlainSqlIdentifier("customers", false));
  EXPECT_TRUE(IsPlainSqlIdentifier("crm.customers", true));
  EXPECT_TRUE(IsPlainSqlIdentifier("_t1", false));
  EXPECT_FALSE(IsPlainSqlIdentifier("crm.customers", false));
  EXPECT_FALSE(IsPlainSqlIdentifier("a.b.c", true));
  EXPECT_FALSE(IsPlainSqlIdentifier("1abc", false));
  EXPECT_FALSE(IsPlainSqlIdentifier("a\"b", false));
  EXPECT_FALSE(IsPlainSqlIdentifier("", false));
  EXPECT_FALSE(IsPlainSqlIdentifier("a b", false));
}

// An attestation of `keys` with no writes checked (the source check alone).
std::string Attestation(const std::string& source, uint64_t batch,
                        const std::vector<std::string>& keys,
                        uint64_t first_write) {
  entry::LegacyDeletion a;
  a.time = absl::FromUnixSeconds(1795000000);
  a.node = "n";
  a.region = "eu";
  a.migration = "m";
  a.source = source;
  a.batch = batch;
  a.records = keys.size();
  for (size_t i = 0; i < keys.size(); ++i) {
    a.key_hashes.push_back(entry::LegacyKeyHash(source, keys[i]));
    a.write_indexes.push_back(first_write + i);
  }
  a.subjects_root = entry::MigratedSubjectsRoot({});
  return entry::LegacyDeletionJson(a);
}

TEST(LegacyCheckTest, SourceRowsAreFoundOncePerEpisodeAndStateSurvives) {
  testing::TempDir dir;
  auto kv = kv::KvStore::Open(dir.Sub("store"));
  ASSERT_TRUE(kv.ok()) << kv.status();
  std::set<std::string> rows = {"k1", "k3"};
  int reads = 0;
  LegacyCheckOptions o;
  o.sources.push_back({"postgres:x/db/t", "", "t", "id"});
  auto reader = [&](const MigrationSource&,
                    const std::function<void(absl::string_view)>& each) {
    ++reads;
    for (const std::string& r : rows) each(r);
    return absl::OkStatus();
  };
  const absl::Time t0 = absl::FromUnixSeconds(1795000000);
  {
    LegacyCheck check(o, reader);
    kv::KvBatch batch;
    std::vector<LegacyCheck::Found> found;
    check.Observe("log", 10, Attestation("postgres:x/db/t", 0, {"k1", "k2"}, 0),
                  t0, batch, &found);
    check.Observe("log", 11, Attestation("postgres:x/db/t", 1, {"k4"}, 2), t0,
                  batch, &found);
    ASSERT_TRUE(found.empty());
    ASSERT_TRUE((*kv)->Write(batch).ok());
    check.CheckSources(t0, false, **kv, &found);
    ASSERT_THAT(found, SizeIs(1));
    EXPECT_EQ(found[0].finding.detector, kDetectorDeletionUnverified);
    EXPECT_THAT(found[0].finding.summary, HasSubstr("1 of its 2"));
    EXPECT_EQ(found[0].finding.indices, std::vector<uint64_t>{10});
    // Not due again before the interval; then found again: no new finding.
    found.clear();
    check.CheckSources(t0 + absl::Minutes(1), false, **kv, &found);
    EXPECT_EQ(reads, 1);
    check.CheckSources(t0 + o.interval, false, **kv, &found);
    EXPECT_EQ(reads, 2);
    EXPECT_TRUE(found.empty());
  }
  // Restarted: still present, not raised again; gone, then back: raised.
  LegacyCheck check(o, reader);
  ASSERT_TRUE(check.Load(**kv).ok());
  std::vector<LegacyCheck::Found> found;
  check.CheckSources(t0 + 2 * o.interval, false, **kv, &found);
  EXPECT_TRUE(found.empty());
  rows = {"k3"};
  check.CheckSources(t0 + 3 * o.interval, true, **kv, &found);
  EXPECT_TRUE(found.empty());
  rows = {"k3", "k4"};
  check.CheckSources(t0 + 4 * o.interval, true, **kv, &found);
  ASSERT_THAT(found, SizeIs(1));
  EXPECT_THAT(found[0].finding.summary, HasSubstr("back at the source"));
  EXPECT_EQ(found[0].finding.indices, std::vector<uint64_t>{11});
  // The report reads the same state from the store.
  auto summaries = LoadMigrationSummaries(**kv, o.sources);
  ASSERT_TRUE(summaries.ok()) << summaries.status();
  ASSERT_THAT(*summaries, SizeIs(1));
  EXPECT_EQ((*summaries)[0].batches, 2u);
  EXPECT_EQ((*summaries)[0].records, 3u);
  EXPECT_EQ((*summaries)[0].last_check, t0 + 4 * o.interval);
}

TEST(LegacyCheckTest, MalformedStoredStateIsDataLoss) {
  testing::TempDir dir;
  auto kv = kv::KvStore::Open(dir.Sub("store"));
  ASSERT_TRUE(kv.ok()) << kv.status();
  for (const char* bad :
       {"", "legacy-check 2\nentry {}", "legacy-check 1\norigin l\nindex 1\n",
        "legacy-check 1\norigin l\nindex x\nentry {}"}) {
    ASSERT_TRUE((*kv)->Put("legacycheck/l/1", bad).ok());
    LegacyCheck check({});
    EXPECT_EQ(check.Load(**kv).code(), absl::StatusCode::kDataLoss) << bad;
  }
}

}  // namespace
}  // namespace clover::audit
