// `clover migrate legacy` end to end (issue 23): a throwaway PostgreSQL
// legacy database, the example deployment's first EU node and the US node
// as real `clover serve` processes, and the `clover` binary itself.
//   - every EU/US row lands in its home region (read back there and compared
//     with the hash of the record the test derives from the row itself) and
//     is gone from the source; CN, unknown-country and country-less rows stay
//     at the source and are quarantined; each batch's attestation is in its
//     node's log, parses, names exactly the batch's key hashes, and its write
//     indexes are the migration principal's writes; a re-run changes nothing.
//   - killed with SIGKILL at random points (10 rounds) and resumed, the run
//     ends in exactly that state: nothing lost, nothing attested twice.
//   - bad mapping or source input exits 2 with one line naming the place.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "audit/auditor.h"
#include "audit/legacy_check.h"
#include "audit/test_util.h"
#include "core/test_temp_dir.h"
#include "entry/legacy_deletion.h"
#include "entry/log_entry.h"
#include "gateway/http_client.h"
#include "gateway/local_deployment.h"
#include "gtest/gtest.h"
#include "log/client.h"
#include "log/fetch.h"
#include "log/note.h"
#include "policy/bundle.h"
#include "policy/signature.h"
#include "postgres_test_util.h"
#include "rapidjson/document.h"
#include "serve_process.h"
#include "vault/record.h"
#include "vault/record_hash.h"

namespace clover {
namespace {

// Row i's country: EU (IE, DE, FR), US (also lower case), CN, none, unknown.
const char* CountryOf(int64_t i) {
  static const char* kCountries[] = {"IE",    "DE", "US", "CN",
                                     nullptr, "FR", "us", "ZZ"};
  return kCountries[i % 8];
}
bool Migrated(int64_t i) {
  const int r = static_cast<int>(i % 8);
  return r == 0 || r == 1 || r == 2 || r == 5 || r == 6;
}
std::string RegionOf(int64_t i) {
  const int r = static_cast<int>(i % 8);
  return r == 2 || r == 6 ? "us" : "eu";
}

// The record a row must become (what the mapping below says).
std::string ExpectedHash(int64_t i) {
  vault::Record r;
  r.country = absl::AsciiStrToUpper(CountryOf(i));
  r.fields.push_back(
      {"email", false, absl::StrCat("u", i, "@mail.example"), {}});
  r.fields.push_back({"name", false, absl::StrCat("User ", i), {}});
  r.fields.push_back({"follows", true, "", {absl::StrCat("a", i % 5), "b"}});
  return vault::CanonicalRecordHash(r);
}

constexpr char kMapping[] = R"(migration: e2e-legacy
table: legacy_users
key: user_id
subject_prefix: "legacy-"
country: country
batch_size: 500
fields:
  email: {column: email, format: email}
  name: {column: full_name, format: text}
  follows: {column: follows, list_separator: ";"}
)";

struct ToolRun {
  int exit = -1;
  std::string out;
  std::string err;
};

class MigrateLegacyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CLOVER_REQUIRE_POSTGRES();
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    db_ = absl::AsciiStrToLower(absl::StrCat("legacy_", info->name()));
    ASSERT_TRUE(pgtest::Sql(absl::StrCat("CREATE DATABASE ", db_)).ok());
    dsn_ = absl::StrCat(pgtest::Dsn(), " dbname=", db_);
    auto d = LoadDeployment(
        absl::StrCat(CLOVER_SOURCE_DIR, "/examples/deployment.yaml"));
    ASSERT_TRUE(d.ok()) << d.status();
    auto nodes = gateway::PrepareLocalDeployment(*d, dir_.Sub("nodes"), 0,
                                                 gateway::FreeLoopbackPort);
    ASSERT_TRUE(nodes.ok()) << nodes.status();
    for (auto& n : *nodes) {
      if (n.dc != "ie-dub-1" && n.dc != "us-tx-1") continue;
      const std::string config = dir_.Sub(n.dc + ".yaml");
      std::ofstream(config) << gateway::NodeConfigYaml(
          n, absl::StrCat(CLOVER_SOURCE_DIR, "/examples"));
      nodes_[n.region] = n;
      pids_.push_back(test::ForkCloverServe(config, dir_.Sub(n.dc + ".log")));
      if (n.dc == "ie-dub-1") deployment_ = config;
    }
    for (const auto& [region, n] : nodes_) {
      ASSERT_TRUE(test::WaitUntilReady(n.endpoint, absl::Seconds(30)))
          << region;
    }
    std::ofstream(dir_.Sub("mapping.yaml")) << kMapping;
    std::ofstream(dir_.Sub("key"))
        << gateway::ExampleApiKey("legacy-migration");
    ASSERT_FALSE(gateway::ExampleApiKey("legacy-migration").empty());
  }

  void TearDown() override {
    for (pid_t p : pids_) {
      kill(p, SIGTERM);
      waitpid(p, nullptr, 0);
    }
  }

  void CreateRows(int64_t n) {
    ASSERT_TRUE(Sql("CREATE TABLE legacy_users (user_id bigint PRIMARY KEY, "
                    "country text, email text, full_name text, follows text)")
                    .ok());
    ASSERT_TRUE(
        Sql(absl::StrCat(
                "INSERT INTO legacy_users SELECT i, (ARRAY['IE','DE','US','CN',"
                "NULL,'FR','us','ZZ'])[1 + i % 8], 'u' || i || '@mail.example',"
                " 'User ' || i, 'a' || (i % 5) || ';b' FROM "
                "generate_series(1, ",
                n, ") i"))
            .ok());
  }

  absl::Status Sql(const std::string& sql) {
    auto c = pg::Connection::Open(dsn_);
    if (!c.ok()) return c.status();
    return (*c)->Exec(sql, "test sql");
  }

  // The user_ids still at the source.
  std::set<int64_t> SourceIds() {
    std::set<int64_t> out;
    PGconn* c = PQconnectdb(dsn_.c_str());
    PGresult* r = PQexec(c, "SELECT user_id FROM legacy_users");
    EXPECT_EQ(PQresultStatus(r), PGRES_TUPLES_OK) << PQerrorMessage(c);
    for (int i = 0; i < PQntuples(r); ++i) {
      out.insert(std::stoll(PQgetvalue(r, i, 0)));
    }
    PQclear(r);
    PQfinish(c);
    return out;
  }

  std::vector<std::string> Args(const std::vector<std::string>& extra) {
    std::vector<std::string> a = {"migrate",        "legacy",
                                  "--source",       dsn_,
                                  "--mapping",      dir_.Sub("mapping.yaml"),
                                  "--deployment",   deployment_,
                                  "--api-key-file", dir_.Sub("key"),
                                  "--journal",      dir_.Sub("journal")};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }

  pid_t Start(const std::vector<std::string>& args) {
    const std::string out = dir_.Sub("tool.out");
    const std::string err = dir_.Sub("tool.err");
    pid_t pid = fork();
    if (pid == 0) {
      int o = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      int e = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      dup2(o, 1);
      dup2(e, 2);
      std::vector<char*> argv = {const_cast<char*>(CLOVER_BINARY)};
      for (const std::string& s : args)
        argv.push_back(const_cast<char*>(s.c_str()));
      argv.push_back(nullptr);
      execv(CLOVER_BINARY, argv.data());
      _exit(127);
    }
    return pid;
  }

  ToolRun Finish(pid_t pid) {
    int status = 0;
    waitpid(pid, &status, 0);
    ToolRun r;
    r.exit = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = Read(dir_.Sub("tool.out"));
    r.err = Read(dir_.Sub("tool.err"));
    return r;
  }

  ToolRun Run(const std::vector<std::string>& args) {
    return Finish(Start(args));
  }

  static std::string Read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  // Every migrated row is in its home region with exactly the row's record:
  // read back through the node (as the migration principal) in batches.
  void ExpectAllHome(int64_t n) {
    std::map<std::string, std::vector<int64_t>> by_region;
    for (int64_t i = 1; i <= n; ++i) {
      if (Migrated(i)) by_region[RegionOf(i)].push_back(i);
    }
    const std::vector<std::string> headers = {
        "Authorization: Bearer " + gateway::ExampleApiKey("legacy-migration"),
        "X-Clover-Purpose: migration"};
    for (const auto& [region, ids] : by_region) {
      gateway::HttpClient c;
      for (size_t at = 0; at < ids.size(); at += 1000) {
        std::string body = "{\"subjects\":[";
        const size_t end = std::min(ids.size(), at + 1000);
        for (size_t k = at; k < end; ++k) {
          absl::StrAppend(&body, k > at ? "," : "", "\"legacy-", ids[k], "\"");
        }
        body.append("]}");
        auto r = c.Send(
            "POST", nodes_[region].endpoint + "/v1/migrations/records/verify",
            headers, body);
        ASSERT_TRUE(r.ok()) << r.status();
        ASSERT_EQ(r->status, 200) << r->body;
        rapidjson::Document d;
        d.Parse(r->body.c_str());
        ASSERT_TRUE(d.IsObject() && d["results"].IsArray());
        ASSERT_EQ(d["results"].Size(), end - at);
        for (size_t k = at; k < end; ++k) {
          const auto& item =
              d["results"][static_cast<rapidjson::SizeType>(k - at)];
          ASSERT_EQ(item["status"].GetInt(), 200)
              << "legacy-" << ids[k] << " not in region " << region;
          ASSERT_EQ(std::string(item["sha256"].GetString()),
                    ExpectedHash(ids[k]))
              << "legacy-" << ids[k];
        }
      }
    }
  }

  std::set<int64_t> ExpectedLeft(int64_t n) {
    std::set<int64_t> out;
    for (int64_t i = 1; i <= n; ++i) {
      if (!Migrated(i)) out.insert(i);
    }
    return out;
  }

  struct JournalBatch {
    std::string region;
    std::vector<std::string> keys;
    std::vector<std::string> subjects;
    int64_t attestation = -1;
  };

  std::map<uint64_t, JournalBatch> Journal() {
    std::map<uint64_t, JournalBatch> out;
    std::istringstream in(Read(dir_.Sub("journal")));
    std::string line;
    while (std::getline(in, line)) {
      rapidjson::Document d;
      d.Parse(line.c_str());
      if (!d.IsObject() || !d.HasMember("batch")) continue;
      JournalBatch& b = out[d["batch"].GetUint64()];
      const std::string phase = d["phase"].GetString();
      if (phase == "planned") {
        b.region = d["region"].GetString();
        for (const auto& k : d["keys"].GetArray())
          b.keys.push_back(k.GetString());
        for (const auto& s : d["subjects"].GetArray()) {
          b.subjects.push_back(s.GetString());
        }
      } else if (phase == "attested") {
        b.attestation = d["log_index"].GetInt64();
      }
    }
    return out;
  }

  std::unique_ptr<log::LogClient> LogOf(const std::string& region) {
    auto v = log::ParseVerifierKey(nodes_[region].verifier_key);
    EXPECT_TRUE(v.ok());
    std::vector<std::unique_ptr<log::NoteVerifier>> vs;
    vs.push_back(*std::move(v));
    return *log::LogClient::Create(
        log::HttpFetcher(nodes_[region].endpoint + "/log"), std::move(vs));
  }

  // Each batch of the journal is attested once, in its region's log, and the
  // attestations together name every migrated row's key exactly once.
  void ExpectAttested(int64_t n, const std::string& source) {
    std::map<uint64_t, JournalBatch> batches = Journal();
    std::multiset<std::string> attested;
    std::map<std::string, std::unique_ptr<log::LogClient>> logs;
    for (const std::string r : {"eu", "us"}) logs[r] = LogOf(r);
    std::map<std::string, log::VerifiedCheckpoint> cps;
    for (auto& [r, l] : logs) {
      auto cp = l->FetchCheckpoint();
      ASSERT_TRUE(cp.ok()) << cp.status();
      cps[r] = *cp;
    }
    for (const auto& [number, b] : batches) {
      ASSERT_GE(b.attestation, 0) << "batch " << number << " not attested";
      auto text =
          logs[b.region]->FetchEntry(cps[b.region].checkpoint, b.attestation);
      ASSERT_TRUE(text.ok()) << text.status();
      auto a = entry::ParseLegacyDeletion(*text);
      ASSERT_TRUE(a.ok()) << a.status() << " " << *text;
      EXPECT_EQ(a->migration, "e2e-legacy");
      EXPECT_EQ(a->source, source);
      EXPECT_EQ(a->batch, number);
      EXPECT_EQ(a->region, b.region);
      EXPECT_EQ(a->records, b.keys.size());
      std::set<std::string> want;
      for (const std::string& k : b.keys) {
        want.insert(entry::LegacyKeyHash(source, k));
        EXPECT_TRUE(Migrated(std::stoll(k))) << k;
        EXPECT_EQ(RegionOf(std::stoll(k)), b.region) << k;
      }
      EXPECT_EQ(
          std::set<std::string>(a->key_hashes.begin(), a->key_hashes.end()),
          want);
      attested.insert(a->key_hashes.begin(), a->key_hashes.end());
      // One of its write indexes: the migration principal's write.
      auto w = logs[b.region]->FetchEntry(
          cps[b.region].checkpoint, a->write_indexes[number % a->records]);
      ASSERT_TRUE(w.ok());
      entry::LogEntry e;
      ASSERT_TRUE(entry::ParseLogEntry(*w, &e).ok());
      EXPECT_EQ(e.decision.action, "write");
      EXPECT_EQ(e.decision.principal_id, "legacy-migration");
      EXPECT_EQ(e.decision.purpose, "migration");
    }
    std::multiset<std::string> want;
    for (int64_t i = 1; i <= n; ++i) {
      if (Migrated(i))
        want.insert(entry::LegacyKeyHash(source, absl::StrCat(i)));
    }
    EXPECT_EQ(attested.size(), want.size());
    EXPECT_TRUE(attested == want) << "attested keys differ from migrated rows";
  }

  static rapidjson::Document Json(const std::string& text) {
    rapidjson::Document d;
    d.Parse(text.c_str());
    EXPECT_TRUE(d.IsObject()) << text;
    return d;
  }

  test::TempDir dir_{"migrate-legacy"};
  std::string db_;
  std::string dsn_;
  std::string deployment_;
  std::map<std::string, gateway::LocalNode> nodes_;
  std::vector<pid_t> pids_;
};

TEST_F(MigrateLegacyTest, EveryRowHomeVerifiedDeletedAndAttested) {
  constexpr int64_t kRows = 100000;
  CreateRows(kRows);
  // The plan first: counts per region, quarantine, nothing touched.
  ToolRun plan = Run(Args({"--dry-run", "--json"}));
  ASSERT_EQ(plan.exit, 0) << plan.err;
  {
    rapidjson::Document p = Json(plan.out);
    EXPECT_EQ(p["records"]["eu"].GetUint64(), 3 * kRows / 8);
    EXPECT_EQ(p["records"]["us"].GetUint64(), 2 * kRows / 8);
    EXPECT_EQ(p["quarantined"]["no_home_region:cn"].GetUint64(), kRows / 8);
    EXPECT_EQ(p["quarantined"]["missing_country"].GetUint64(), kRows / 8);
    EXPECT_EQ(p["quarantined"]["unknown_country"].GetUint64(), kRows / 8);
  }
  EXPECT_EQ(SourceIds().size(), static_cast<size_t>(kRows));

  ToolRun run = Run(Args({"--json"}));
  ASSERT_EQ(run.exit, 0) << run.err;
  rapidjson::Document s = Json(run.out);
  EXPECT_EQ(s["records"]["eu"].GetUint64(), 3 * kRows / 8);
  EXPECT_EQ(s["records"]["us"].GetUint64(), 2 * kRows / 8);
  EXPECT_EQ(s["deleted"].GetUint64(), 5 * kRows / 8);
  const std::string source = s["source"].GetString();
  EXPECT_TRUE(absl::StartsWith(source, "postgres:")) << source;
  EXPECT_TRUE(absl::EndsWith(source, absl::StrCat("/", db_, "/legacy_users")))
      << source;
  std::cerr << "migrated " << 5 * kRows / 8 << " records at "
            << s["records_per_second"].GetDouble() << " records/s\n";

  EXPECT_EQ(SourceIds(), ExpectedLeft(kRows));
  ExpectAllHome(kRows);
  ExpectAttested(kRows, source);
  // The quarantine report lists the rows left behind.
  const std::string q = Read(s["quarantine_file"].GetString());
  EXPECT_EQ(std::count(q.begin(), q.end(), '\n'), 3 * kRows / 8);

  // A re-run changes nothing.
  const std::string journal = Read(dir_.Sub("journal"));
  ToolRun again = Run(Args({"--json"}));
  ASSERT_EQ(again.exit, 0) << again.err;
  rapidjson::Document a = Json(again.out);
  EXPECT_EQ(a["batches"].GetUint64(), 0u);
  EXPECT_EQ(a["deleted"].GetUint64(), 0u);
  EXPECT_TRUE(a["records"].ObjectEmpty());
  EXPECT_EQ(Read(dir_.Sub("journal")), journal);
  EXPECT_EQ(SourceIds(), ExpectedLeft(kRows));
}

// The whole path of issue 23 with both parties: the tool migrates, deletes
// and has the nodes attest; an auditor following both nodes' logs with
// read-only access to the source verifies every attestation, and raises
// deletion_unverified once an attested row is put back at the source.
TEST_F(MigrateLegacyTest,
       TheAuditorVerifiesEveryAttestationAndSeesARowPutBack) {
  constexpr int64_t kRows = 4000;
  CreateRows(kRows);
  ToolRun run = Run(Args({"--json"}));
  ASSERT_EQ(run.exit, 0) << run.err;
  rapidjson::Document s = Json(run.out);
  const std::string source = s["source"].GetString();
  ASSERT_GT(s["deleted"].GetUint64(), 0u);

  const std::string adir = dir_.Sub("auditor");
  std::filesystem::create_directories(adir);
  auto secret = [](const std::string& path, const std::string& text) {
    std::ofstream(path) << text;
    std::filesystem::permissions(path, std::filesystem::perms::owner_read |
                                           std::filesystem::perms::owner_write);
  };
  secret(adir + "/witness.key",
         audit::testing::MakeKey("auditor.migrate/witness",
                                 log::kNoteTypeCosignature)
             .signer);
  secret(adir + "/journal.key",
         audit::testing::MakeKey("auditor.migrate/incidents").signer);
  const audit::testing::TestKey policy_key =
      audit::testing::MakeKey("auditor.migrate");
  const gateway::LocalNode& eu = nodes_.at("eu");
  const std::string policy_path = adir + "/policy.yaml";
  const std::string text = Read(eu.deployment.policy.file);
  std::ofstream(policy_path) << text;
  auto bundle = policy::ParseBundle(text, policy_path);
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  std::ofstream(policy::SignaturePath(policy_path))
      << *policy::SignPolicy(bundle->sha256, policy_key.signer);
  audit::AuditorConfig c;
  c.name = "auditor.migrate";
  c.data_dir = adir + "/data";
  c.witness_key_file = adir + "/witness.key";
  c.journal_key_file = adir + "/journal.key";
  c.insecure_no_auth = true;
  for (const auto& [region, n] : nodes_) {
    c.logs.push_back(
        {{n.deployment.log.origin, n.endpoint + "/log", {n.verifier_key}}, ""});
  }
  c.policy_bundles = {policy_path};
  c.policy_keys = {policy_key.verifier};
  c.migration.sources.push_back({source, dsn_, "legacy_users", "user_id"});
  auto auditor = audit::Auditor::Create(c);
  ASSERT_TRUE(auditor.ok()) << auditor.status();

  auto unverified = [&] {
    size_t n = 0;
    for (const audit::Incident& i :
         (*auditor)->incidents().List(std::nullopt)) {
      if (i.detector == audit::kDetectorDeletionUnverified) ++n;
    }
    return n;
  };
  auto summary = [&] {
    audit::MigrationSummary total;
    for (const audit::MigrationSummary& m : (*auditor)->MigrationSummaries()) {
      EXPECT_EQ(m.source, source);
      total.batches += m.batches;
      total.records += m.records;
      total.verified += m.verified;
      total.unverified += m.unverified;
    }
    return total;
  };
  // Polls until every log is followed to its end (bounded).
  for (int round = 0; round < 50; ++round) {
    auto polled = (*auditor)->PollOnce();
    ASSERT_TRUE(polled.ok()) << polled.status();
    (*auditor)->CheckMigrationSourcesOnce();
    if (summary().verified == summary().batches && summary().batches > 0) {
      break;
    }
  }
  const audit::MigrationSummary all = summary();
  EXPECT_EQ(all.records, s["deleted"].GetUint64());
  EXPECT_GT(all.batches, 1u);
  EXPECT_EQ(all.verified, all.batches);
  EXPECT_EQ(all.unverified, 0u);
  EXPECT_EQ(unverified(), 0u);

  // An attested row comes back at the source (a restore from a backup).
  ASSERT_EQ(ExpectedLeft(kRows).count(1), 0u);  // row 1 was migrated
  ASSERT_TRUE(Sql("INSERT INTO legacy_users VALUES (1, 'IE', "
                  "'u1@mail.example', 'User 1', 'a1;b')")
                  .ok());
  for (int round = 0; round < 50 && unverified() == 0; ++round) {
    (*auditor)->CheckMigrationSourcesOnce();
  }
  EXPECT_EQ(unverified(), 1u);
  EXPECT_EQ(summary().unverified, 1u);
}

TEST_F(MigrateLegacyTest, KilledAtRandomPointsResumesToTheSameEnd) {
  constexpr int64_t kRows = 6000;
  CreateRows(kRows);
  ASSERT_TRUE(Sql("SELECT 1").ok());
  // Small batches: many phases to be killed in.
  std::ofstream(dir_.Sub("mapping.yaml"))
      << absl::StrReplaceAll(kMapping, {{"batch_size: 500", "batch_size: 50"}});
  std::mt19937 rng(::testing::UnitTest::GetInstance()->random_seed());
  int killed = 0;
  bool finished = false;
  for (int round = 0; round < 40 && killed < 10 && !finished; ++round) {
    // Kill once the journal has grown by a random number of bytes since the
    // round started (or the run ended by itself).
    struct stat st {};
    const off_t before =
        stat(dir_.Sub("journal").c_str(), &st) == 0 ? st.st_size : 0;
    // The whole journal is about 110 KB (75 batches, ~1.4 KB each): kills
    // land in every phase of every part of the run.
    const off_t grow = std::uniform_int_distribution<off_t>(200, 6000)(rng);
    pid_t pid = Start(Args({"--workers", "4"}));
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    bool exited = false;
    while (absl::Now() < deadline) {
      int status = 0;
      if (waitpid(pid, &status, WNOHANG) == pid) {
        exited = finished = true;
        ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
            << Read(dir_.Sub("tool.err"));
        break;
      }
      if (stat(dir_.Sub("journal").c_str(), &st) == 0 &&
          st.st_size >= before + grow) {
        break;
      }
      absl::SleepFor(absl::Milliseconds(2));
    }
    if (!exited) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      ++killed;
    }
  }
  EXPECT_EQ(killed, 10) << "the run finished before ten kills";
  ToolRun last = Run(Args({"--json"}));
  ASSERT_EQ(last.exit, 0) << last.err;
  rapidjson::Document s = Json(last.out);
  const std::string source = s["source"].GetString();
  EXPECT_EQ(SourceIds(), ExpectedLeft(kRows));
  ExpectAllHome(kRows);
  ExpectAttested(kRows, source);
  uint64_t total = 0;
  for (const auto& m : s["migrated_total"].GetObject())
    total += m.value.GetUint64();
  EXPECT_EQ(total, static_cast<uint64_t>(5 * kRows / 8));
}

TEST_F(MigrateLegacyTest, BadInputExitsTwoWithOneLine) {
  CreateRows(16);
  auto one_line = [](const ToolRun& r) {
    return std::count(r.err.begin(), r.err.end(), '\n') == 1;
  };
  std::ofstream(dir_.Sub("mapping.yaml"))
      << "table: legacy_users\nkey: user_id\ncountry: country\nfields:\n"
         "  email: {column: email, format: e164}\n";
  ToolRun r = Run(Args({"--dry-run"}));
  EXPECT_EQ(r.exit, 2);
  EXPECT_TRUE(one_line(r)) << r.err;
  EXPECT_TRUE(absl::StrContains(
      r.err, absl::StrCat(dir_.Sub("mapping.yaml"),
                          ":5:34: field 'fields.email.format'")))
      << r.err;

  std::ofstream(dir_.Sub("mapping.yaml"))
      << "table: legacy_users\nkey: user_id\ncountry: nation\nfields:\n"
         "  email: email\n";
  r = Run(Args({"--dry-run"}));
  EXPECT_EQ(r.exit, 2);
  EXPECT_TRUE(one_line(r)) << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "has no column 'nation'")) << r.err;

  std::ofstream(dir_.Sub("mapping.yaml"))
      << "key: user_id\ncountry: country\nfields:\n  email: email\n";
  std::ofstream(dir_.Sub("dump.csv"))
      << "user_id,country,email\n1,IE,a@b.example\n2,\"IE,x@b.example\n";
  std::vector<std::string> args = Args({});
  args[3] = dir_.Sub("dump.csv");
  r = Run(args);
  EXPECT_EQ(r.exit, 2);
  EXPECT_TRUE(one_line(r)) << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, dir_.Sub("dump.csv") + ":3:")) << r.err;
  EXPECT_EQ(SourceIds().size(), 16u);
}

// The node's migration endpoints attacked directly: an attestation only for
// the migration principal, only over its own migration writes of the named
// subjects, once per (migration, batch); the read-back answers hashes only.
TEST_F(MigrateLegacyTest, AttestationEndpointRefusesWhatItCannotVouchFor) {
  const std::string eu = nodes_["eu"].endpoint;
  auto headers = [](const std::string& principal, const std::string& purpose) {
    return std::vector<std::string>{
        "Authorization: Bearer " + gateway::ExampleApiKey(principal),
        "X-Clover-Purpose: " + purpose};
  };
  const auto migration = headers("legacy-migration", "migration");
  gateway::HttpClient c;
  auto post = [&](const std::vector<std::string>& h, const std::string& path,
                  const std::string& body) {
    auto r = c.Send("POST", eu + path, h, body);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : gateway::ClientResponse{};
  };
  // Two records written by the migration principal, one by accounts-eu.
  auto w = post(
      migration, "/v1/migrations/records",
      R"({"records":[{"id":"m-1","country":"IE","fields":{"email":"a@b.example"}},)"
      R"({"id":"m-2","country":"DE","fields":{"name":"B"}},)"
      R"({"id":"m-3","country":"US","fields":{"name":"C"}}]})");
  ASSERT_EQ(w.status, 200) << w.body;
  rapidjson::Document wd = Json(w.body);
  ASSERT_EQ(wd["results"][0]["status"].GetInt(), 201) << w.body;
  ASSERT_EQ(wd["results"][1]["status"].GetInt(), 201) << w.body;
  EXPECT_EQ(wd["results"][2]["status"].GetInt(), 421)
      << "a US record is not stored in the EU";
  const uint64_t i1 = wd["results"][0]["log_index"].GetUint64();
  const uint64_t i2 = wd["results"][1]["log_index"].GetUint64();
  auto other = c.Send("PUT", eu + "/v1/subjects/m-4",
                      headers("accounts-eu", "account_management"),
                      R"({"country":"IE","fields":{"name":"D"}})");
  ASSERT_TRUE(other.ok());
  ASSERT_EQ(other->status, 201) << other->body;
  const uint64_t i4 = Json(other->body)["log_index"].GetUint64();

  auto attest = [&](const std::vector<std::string>& h, uint64_t batch,
                    const std::string& subjects, const std::string& indexes) {
    return post(
        h, "/v1/migrations/deletions",
        absl::StrCat(
            R"({"migration":"adv","source":"postgres:h:5432/d/t","batch":)",
            batch, R"(,"subjects":)", subjects,
            R"(,"keys":["k1","k2"],"write_indexes":)", indexes, "}"));
  };
  const std::string subjects = R"(["m-1","m-2"])";
  const std::string good = absl::StrCat("[", i1, ",", i2, "]");
  // Another principal, or the migration principal with another purpose.
  EXPECT_EQ(
      attest(headers("accounts-eu", "account_management"), 0, subjects, good)
          .status,
      403);
  EXPECT_EQ(attest(headers("legacy-migration", "account_management"), 0,
                   subjects, good)
                .status,
            403);
  // Write indexes swapped between the subjects, someone else's write, an
  // index past the log, one given twice.
  EXPECT_EQ(attest(migration, 0, subjects, absl::StrCat("[", i2, ",", i1, "]"))
                .status,
            409);
  EXPECT_EQ(attest(migration, 0, R"(["m-1","m-4"])",
                   absl::StrCat("[", i1, ",", i4, "]"))
                .status,
            409);
  EXPECT_EQ(
      attest(migration, 0, subjects, absl::StrCat("[", i1, ",", 1u << 30, "]"))
          .status,
      409);
  EXPECT_EQ(attest(migration, 0, subjects, absl::StrCat("[", i1, ",", i1, "]"))
                .status,
            400);
  EXPECT_EQ(attest(migration, 0, R"(["m-1"])", good).status, 400);
  // The real one, then its repeat: the same entry, nothing appended.
  auto first = attest(migration, 0, subjects, good);
  ASSERT_EQ(first.status, 201) << first.body;
  auto again = attest(migration, 0, subjects, good);
  ASSERT_EQ(again.status, 200) << again.body;
  const uint64_t index = Json(first.body)["log_index"].GetUint64();
  EXPECT_EQ(Json(again.body)["log_index"].GetUint64(), index);
  EXPECT_TRUE(Json(again.body)["repeated"].GetBool());
  auto log = LogOf("eu");
  auto cp = log->FetchCheckpoint();
  ASSERT_TRUE(cp.ok());
  auto text = log->FetchEntry(cp->checkpoint, index);
  ASSERT_TRUE(text.ok());
  auto a = entry::ParseLegacyDeletion(*text);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->records, 2u);
  EXPECT_EQ(a->write_indexes,
            (std::vector<uint64_t>{std::min(i1, i2), std::max(i1, i2)}));
  EXPECT_FALSE(absl::StrContains(*text, "\"k1\"")) << "a raw key in the log";
  EXPECT_EQ(cp->checkpoint.size, index + 1) << "the repeat appended something";

  // The read-back: the stored record's hash, no value; an unknown subject 404.
  auto v = post(migration, "/v1/migrations/records/verify",
                R"({"subjects":["m-1","nobody"]})");
  ASSERT_EQ(v.status, 200) << v.body;
  EXPECT_FALSE(absl::StrContains(v.body, "a@b.example"));
  rapidjson::Document vd = Json(v.body);
  vault::Record r1;
  r1.country = "IE";
  r1.fields.push_back({"email", false, "a@b.example", {}});
  EXPECT_EQ(std::string(vd["results"][0]["sha256"].GetString()),
            vault::CanonicalRecordHash(r1));
  EXPECT_EQ(vd["results"][1]["status"].GetInt(), 404);
  // Nobody else reads back through it: the policy refuses (and logs) it.
  auto refused =
      post(headers("accounts-eu", "account_management"),
           "/v1/migrations/records/verify", R"({"subjects":["m-1"]})");
  EXPECT_EQ(Json(refused.body)["results"][0]["status"].GetInt(), 403);
  // Batches beyond the limits.
  std::string many = "{\"subjects\":[";
  for (int i = 0; i < 1001; ++i) absl::StrAppend(&many, i ? "," : "", "\"s\"");
  many.append("]}");
  EXPECT_EQ(post(migration, "/v1/migrations/records/verify", many).status, 400);
}

// The batch write endpoint decides each record on its own: in one batch,
// records the policy refuses are refused (403) and logged, each with an entry
// of its own, and nothing of them is stored; the others are stored (one
// durable vault write) and each logged as its own write.
TEST_F(MigrateLegacyTest, BatchWriteStoresTheAllowedRecordsAndRefusesTheRest) {
  const std::string eu = nodes_["eu"].endpoint;
  // EU support may write EU subjects, not UK or Swiss ones.
  const std::vector<std::string> support = {
      "Authorization: Bearer " + gateway::ExampleApiKey("eu-support-1"),
      "X-Clover-Purpose: customer_support"};
  const std::vector<std::string> migration = {
      "Authorization: Bearer " + gateway::ExampleApiKey("legacy-migration"),
      "X-Clover-Purpose: migration"};
  gateway::HttpClient c;
  auto w =
      c.Send("POST", eu + "/v1/migrations/records", support,
             R"({"records":[{"id":"p-1","country":"IE","fields":{"name":"A"}},)"
             R"({"id":"p-2","country":"CH","fields":{"name":"B"}},)"
             R"({"id":"p-3","country":"DE","fields":{"name":"C"}},)"
             R"({"id":"p-4","country":"GB","fields":{"name":"D"}}]})");
  ASSERT_TRUE(w.ok()) << w.status();
  ASSERT_EQ(w->status, 200) << w->body;
  rapidjson::Document wd = Json(w->body);
  ASSERT_EQ(wd["results"].Size(), 4u);
  const int expected[] = {201, 403, 201, 403};
  // A write answers its entry's index beside its status, a refusal inside
  // its error.
  std::vector<uint64_t> at;
  for (int i = 0; i < 4; ++i) {
    const rapidjson::Value& r = wd["results"][i];
    EXPECT_EQ(r["status"].GetInt(), expected[i]) << w->body;
    const rapidjson::Value& holder = expected[i] == 201 ? r : r["error"];
    ASSERT_TRUE(holder.IsObject() && holder.HasMember("log_index") &&
                holder["log_index"].IsUint64())
        << w->body;
    at.push_back(holder["log_index"].GetUint64());
  }
  const std::set<uint64_t> indexes(at.begin(), at.end());
  EXPECT_EQ(indexes.size(), 4u) << "one log entry per record";
  auto log = LogOf("eu");
  auto cp = log->FetchCheckpoint();
  ASSERT_TRUE(cp.ok());
  for (int i = 0; i < 4; ++i) {
    auto text = log->FetchEntry(cp->checkpoint, at[i]);
    ASSERT_TRUE(text.ok()) << text.status();
    entry::LogEntry e;
    ASSERT_TRUE(entry::ParseLogEntry(*text, &e).ok()) << *text;
    EXPECT_EQ(e.decision.action, "write");
    EXPECT_EQ(e.decision.principal_id, "eu-support-1");
    EXPECT_EQ(e.decision.records, expected[i] == 201 ? 1u : 0u) << *text;
  }
  // Read back: the allowed records are stored, the refused ones are not.
  auto v = c.Send("POST", eu + "/v1/migrations/records/verify", migration,
                  R"({"subjects":["p-1","p-2","p-3","p-4"]})");
  ASSERT_TRUE(v.ok());
  ASSERT_EQ(v->status, 200) << v->body;
  rapidjson::Document vd = Json(v->body);
  EXPECT_EQ(vd["results"][0]["status"].GetInt(), 200) << v->body;
  EXPECT_EQ(vd["results"][1]["status"].GetInt(), 404) << v->body;
  EXPECT_EQ(vd["results"][2]["status"].GetInt(), 200) << v->body;
  EXPECT_EQ(vd["results"][3]["status"].GetInt(), 404) << v->body;
}

}  // namespace
}  // namespace clover
