// The region's access index and logs on PostgreSQL (issue 19, item 2), with
// two real `clover serve` nodes (ie-dub-1 and no-ham-1) sharing one database:
// a subject's access report, asked through either node, lists both nodes'
// decisions, each proved against its own node's signed checkpoint; a node
// serves the other's log read-only at /logs/<dc>/...; after the other node is
// SIGKILLed it still serves that log and still reports its decisions, also
// those the dead node never indexed, and an auditor that followed it at the
// dead node keeps following it there. A report misattributing a decision, or
// with a tampered proof, entry or checkpoint, fails verification.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "audit/fetcher.h"
#include "audit/follower.h"
#include "core/canonical_json.h"
#include "core/test_temp_dir.h"
#include "gateway/access_index.h"
#include "gateway/http_client.h"
#include "gateway/local_deployment.h"
#include "gateway/regional_access_index.h"
#include "gateway_test_client.h"
#include "gtest/gtest.h"
#include "kv/kv_store.h"
#include "kv/postgres_kv_store.h"
#include "log/client.h"
#include "log/fetch.h"
#include "log/log_reader.h"
#include "log/merkle.h"
#include "log/note.h"
#include "postgres_test_util.h"
#include "rapidjson/document.h"
#include "serve_process.h"

namespace clover::gateway {
namespace {

constexpr char kDublin[] = "ie-dub-1";
constexpr char kHamar[] = "no-ham-1";

// What a verifier holds: each node's log verifier key.
using Keys = std::map<std::string, std::string>;  // dc -> verifier key

std::unique_ptr<log::LogClient> ClientFor(const std::string& verifier_key,
                                          const std::string& base_url) {
  auto v = log::ParseVerifierKey(verifier_key);
  EXPECT_TRUE(v.ok()) << v.status();
  if (!v.ok()) return nullptr;
  std::vector<std::unique_ptr<log::NoteVerifier>> vs;
  vs.push_back(*std::move(v));
  auto c = log::LogClient::Create(log::HttpFetcher(base_url), std::move(vs));
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *std::move(c) : nullptr;
}

// Verifies one node's part of an access report as a verifier holding only
// the nodes' verifier keys would: `checkpoint` signed by the key of `dc`,
// every entry's inclusion proof against that checkpoint's root, every entry
// naming `pseudonym` and attributed to `dc`. Returns the entries' indices.
absl::StatusOr<std::vector<uint64_t>> VerifyPart(
    const Keys& keys, const std::string& dc, const std::string& checkpoint,
    const rapidjson::Value& entries, const std::string& pseudonym) {
  auto key = keys.find(dc);
  if (key == keys.end()) return absl::NotFoundError("no key for " + dc);
  auto client = ClientFor(key->second, "http://127.0.0.1:1");
  if (client == nullptr) return absl::InternalError("no client");
  auto cp = client->OpenCheckpointNote(checkpoint);
  if (!cp.ok()) return cp.status();
  std::vector<uint64_t> out;
  for (const auto& e : entries.GetArray()) {
    if (!e.HasMember("dc") || e["dc"].GetString() != dc) {
      return absl::InvalidArgumentError("entry attributed to another node");
    }
    auto bytes = CanonicalJson(e["entry"]);
    if (!bytes.ok()) return bytes.status();
    if (bytes->find(absl::StrCat("\"subject\":\"", pseudonym, "\"")) ==
        std::string::npos) {
      return absl::InvalidArgumentError("entry names another subject");
    }
    std::vector<log::Hash> proof;
    for (const auto& h : e["inclusion_proof"].GetArray()) {
      std::string raw;
      if (!absl::Base64Unescape(h.GetString(), &raw) || raw.size() != 32) {
        return absl::InvalidArgumentError("malformed proof hash");
      }
      log::Hash hash;
      std::copy(raw.begin(), raw.end(), hash.begin());
      proof.push_back(hash);
    }
    const uint64_t index = e["index"].GetUint64();
    if (absl::Status s = log::VerifyInclusion(index, cp->checkpoint.size,
                                              log::LeafHash(*bytes), proof,
                                              cp->checkpoint.root);
        !s.ok()) {
      return s;
    }
    out.push_back(index);
  }
  return out;
}

// Every part of a regional report, verified: dc -> the entries' indices.
absl::StatusOr<std::map<std::string, std::vector<uint64_t>>> VerifyReport(
    const Keys& keys, const rapidjson::Document& doc) {
  std::map<std::string, std::vector<uint64_t>> out;
  const std::string pseudonym = doc["subject_pseudonym"].GetString();
  auto own =
      VerifyPart(keys, doc["dc"].GetString(), doc["checkpoint"].GetString(),
                 doc["entries"], pseudonym);
  if (!own.ok()) return own.status();
  out[doc["dc"].GetString()] = *own;
  for (const auto& part : doc["region_logs"].GetArray()) {
    auto other =
        VerifyPart(keys, part["dc"].GetString(), part["checkpoint"].GetString(),
                   part["entries"], pseudonym);
    if (!other.ok()) return other.status();
    out[part["dc"].GetString()] = *other;
  }
  return out;
}

class RegionalAccessTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (auto& [dc, pid] : pids_) {
      if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, nullptr, 0);
      }
    }
  }

  void Start(const std::string& db) {
    ASSERT_TRUE(pgtest::Sql("CREATE DATABASE " + db).ok());
    auto d = LoadDeployment(
        absl::StrCat(CLOVER_SOURCE_DIR, "/examples/deployment.yaml"));
    ASSERT_TRUE(d.ok()) << d.status();
    d->storage.driver = StorageDriver::kPostgres;
    d->storage.postgres_dsn = pgtest::Dsn() + " dbname=" + db;
    // The test server is the region's database (the residency rule).
    auto hosts = ParseDsnHosts(d->storage.postgres_dsn);
    ASSERT_TRUE(hosts.ok()) << hosts.status();
    for (Region& r : d->regions) {
      if (r.id != "eu") continue;
      for (DataCenter& dc : r.dcs) {
        for (const DsnHost& h : *hosts) dc.db_hosts.push_back(h.host);
      }
    }
    auto nodes = PrepareLocalDeployment(*d, dir_.path(), 0, FreeLoopbackPort);
    ASSERT_TRUE(nodes.ok()) << nodes.status();
    for (const LocalNode& n : *nodes) {
      if (n.dc != kDublin && n.dc != kHamar) continue;
      endpoint_[n.dc] = n.endpoint;
      keys_[n.dc] = n.verifier_key;
      const std::string config = dir_.Sub(n.dc + ".yaml");
      std::ofstream(config)
          << NodeConfigYaml(n, absl::StrCat(CLOVER_SOURCE_DIR, "/examples"));
      pids_[n.dc] = test::ForkCloverServe(config, dir_.Sub(n.dc + ".log"));
    }
    for (const char* dc : {kDublin, kHamar}) {
      if (!test::WaitUntilReady(endpoint_[dc], absl::Seconds(30))) {
        std::ifstream in(dir_.Sub(std::string(dc) + ".log"));
        std::stringstream log;
        log << in.rdbuf();
        FAIL() << dc << " did not become ready:\n" << log.str();
      }
    }
  }

  ClientResponse Call(const std::string& dc, absl::string_view principal,
                      absl::string_view method, const std::string& path,
                      absl::string_view purpose = {},
                      absl::string_view body = {}) {
    return e2e::CallAs(client_, principal, method, endpoint_[dc] + path,
                       purpose, body);
  }
  void Read(const std::string& dc, const std::string& subject) {
    EXPECT_EQ(
        Call(dc, "eu-support-1", "GET",
             "/v1/subjects/" + subject + "?fields=email", "customer_support")
            .status,
        200);
  }
  rapidjson::Document Report(const std::string& dc,
                             const std::string& subject) {
    auto r = Call(dc, "auditor", "GET",
                  "/v1/subjects/" + subject + "/access-report");
    EXPECT_EQ(r.status, 200) << r.body;
    return e2e::ParseBody(r.body);
  }

  // The whole report, page by page (docs/api.md "Paging": at most `limit`
  // entries per log per page): each page verified against the checkpoints it
  // carries, the entries of every page merged per DC (each exactly once).
  absl::StatusOr<std::map<std::string, std::vector<uint64_t>>> WalkReport(
      const std::string& dc, const std::string& subject) {
    std::map<std::string, std::vector<uint64_t>> out;
    std::string token;
    for (int pages = 0; pages < 100; ++pages) {
      std::string path = "/v1/subjects/" + subject + "/access-report?limit=500";
      if (!token.empty()) path += "&page_token=" + token;
      auto r = Call(dc, "auditor", "GET", path);
      if (r.status != 200) return absl::InternalError(r.body);
      rapidjson::Document doc = e2e::ParseBody(r.body);
      auto v = VerifyReport(keys_, doc);
      if (!v.ok()) return v.status();
      for (auto& [d, indices] : *v) {
        out[d].insert(out[d].end(), indices.begin(), indices.end());
      }
      if (!doc.HasMember("next_page_token")) {
        for (auto& [d, indices] : out) {
          std::set<uint64_t> unique(indices.begin(), indices.end());
          if (unique.size() != indices.size())
            return absl::InternalError("an entry was reported twice");
        }
        return out;
      }
      token = doc["next_page_token"].GetString();
    }
    return absl::InternalError("report did not end");
  }

  test::TempDir dir_{"regional-access"};
  HttpClient client_{absl::Seconds(30)};
  std::map<std::string, std::string> endpoint_;
  std::map<std::string, pid_t> pids_;
  Keys keys_;
};

TEST_F(RegionalAccessTest, ReportsEveryNodesDecisionsWithTheirProofs) {
  CLOVER_REQUIRE_POSTGRES();
  ASSERT_NO_FATAL_FAILURE(Start("regional_access"));
  ASSERT_EQ(Call(kDublin, "accounts-eu", "PUT", "/v1/subjects/ra-1",
                 "account_management",
                 R"({"country":"IE","fields":{"email":"a@mail.example"}})")
                .status,
            201);
  ASSERT_EQ(Call(kDublin, "accounts-eu", "PUT", "/v1/subjects/ra-2",
                 "account_management",
                 R"({"country":"IE","fields":{"email":"b@mail.example"}})")
                .status,
            201);
  Read(kDublin, "ra-1");
  Read(kHamar, "ra-1");
  Read(kHamar, "ra-1");
  Read(kHamar, "ra-2");  // another subject: in no report of ra-1

  // Asked through either node: both nodes' decisions, each proved against
  // its own node's checkpoint and key.
  for (const char* asked : {kDublin, kHamar}) {
    SCOPED_TRACE(asked);
    rapidjson::Document doc = Report(asked, "ra-1");
    ASSERT_TRUE(doc.IsObject());
    EXPECT_EQ(std::string(doc["dc"].GetString()), asked);
    ASSERT_TRUE(doc.HasMember("region_logs"));
    EXPECT_EQ(doc["unavailable_logs"].Size(), 0u);
    auto verified = VerifyReport(keys_, doc);
    ASSERT_TRUE(verified.ok()) << verified.status();
    // Dublin: the write and one read (and, asked at Dublin, earlier
    // reports' look-ups); Hamar: two reads (and its look-ups).
    EXPECT_GE((*verified)[kDublin].size(), 2u);
    EXPECT_GE((*verified)[kHamar].size(), 2u);
    for (const auto& part : doc["region_logs"].GetArray()) {
      EXPECT_NE(std::string(part["dc"].GetString()), asked);
      EXPECT_TRUE(part["complete"].GetBool());
      EXPECT_NE(std::string(part["origin"].GetString()),
                std::string(doc["origin"].GetString()));
    }
  }

  // Attacks on the report, each caught by the verifier.
  rapidjson::Document doc = Report(kHamar, "ra-1");
  ASSERT_TRUE(VerifyReport(keys_, doc).ok());
  ASSERT_EQ(doc["region_logs"].Size(), 1u);
  auto& dublin_part = doc["region_logs"][0];
  ASSERT_GE(dublin_part["entries"].Size(), 1u);
  const std::string pseudonym = doc["subject_pseudonym"].GetString();
  {
    // Dublin's part presented as Hamar's: Hamar's key does not sign
    // Dublin's checkpoint.
    auto r = VerifyPart(keys_, kHamar, dublin_part["checkpoint"].GetString(),
                        rapidjson::Value(rapidjson::kArrayType), pseudonym);
    EXPECT_FALSE(r.ok());
  }
  {
    // A Dublin decision moved into Hamar's part (relabelled): its proof does
    // not lead to Hamar's root.
    rapidjson::Document moved;
    moved.CopyFrom(doc, moved.GetAllocator());
    rapidjson::Value e;
    e.CopyFrom(moved["region_logs"][0]["entries"][0], moved.GetAllocator());
    e["dc"].SetString(kHamar, moved.GetAllocator());
    moved["entries"].PushBack(e, moved.GetAllocator());
    EXPECT_FALSE(VerifyReport(keys_, moved).ok());
  }
  {
    // A tampered proof hash.
    rapidjson::Document bad;
    bad.CopyFrom(doc, bad.GetAllocator());
    auto& proof = bad["region_logs"][0]["entries"][0]["inclusion_proof"];
    ASSERT_GT(proof.Size(), 0u);
    std::string raw;
    ASSERT_TRUE(absl::Base64Unescape(proof[0].GetString(), &raw));
    raw[0] ^= 1;
    proof[0].SetString(absl::Base64Escape(raw).c_str(), bad.GetAllocator());
    EXPECT_FALSE(VerifyReport(keys_, bad).ok());
  }
  {
    // A tampered entry (its action rewritten).
    rapidjson::Document bad;
    bad.CopyFrom(doc, bad.GetAllocator());
    auto& entry = bad["region_logs"][0]["entries"][0]["entry"];
    ASSERT_TRUE(entry.HasMember("action"));
    entry["action"].SetString("nothing", bad.GetAllocator());
    EXPECT_FALSE(VerifyReport(keys_, bad).ok());
  }
  {
    // The wrong index for a proved entry.
    rapidjson::Document bad;
    bad.CopyFrom(doc, bad.GetAllocator());
    auto& e = bad["region_logs"][0]["entries"][0];
    e["index"].SetUint64(e["index"].GetUint64() + 1);
    EXPECT_FALSE(VerifyReport(keys_, bad).ok());
  }

  // Figures: 1,000 more reads of the subject through Hamar (4 clients),
  // then the report through Dublin (proofs for every entry of both nodes).
  {
    const absl::Time start = absl::Now();
    std::vector<std::thread> readers;
    std::atomic<int> ok{0};
    for (int t = 0; t < 4; ++t) {
      readers.emplace_back([&] {
        HttpClient own(absl::Seconds(30));
        for (int i = 0; i < 250; ++i) {
          auto r =
              e2e::CallAs(own, "eu-support-1", "GET",
                          endpoint_[kHamar] + "/v1/subjects/ra-1?fields=email",
                          "customer_support");
          if (r.status == 200) ++ok;
        }
      });
    }
    for (auto& t : readers) t.join();
    const absl::Duration reads = absl::Now() - start;
    EXPECT_EQ(ok, 1000);
    const absl::Time asked = absl::Now();
    auto v = WalkReport(kDublin, "ra-1");
    const absl::Duration report = absl::Now() - asked;
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_GE((*v)[kHamar].size(), 1002u);
    std::printf(
        "[figures] 1000 reads through no-ham-1 (4 clients): %.0f reads/s; "
        "report through ie-dub-1 listing %zu + %zu entries (pages of 500): "
        "%.0f ms\n",
        1000 / absl::ToDoubleSeconds(reads), (*v)[kDublin].size(),
        (*v)[kHamar].size(), absl::ToDoubleMilliseconds(report));
  }

  // Hamar serves Dublin's log read-only, the C2SP layout of /log.
  auto dublin_via_hamar =
      ClientFor(keys_[kDublin], endpoint_[kHamar] + "/logs/" + kDublin);
  ASSERT_NE(dublin_via_hamar, nullptr);
  auto cp_before = dublin_via_hamar->FetchCheckpoint();
  ASSERT_TRUE(cp_before.ok()) << cp_before.status();
  auto unknown = Call(kHamar, "", "GET", "/logs/us-tx-1/checkpoint");
  EXPECT_EQ(unknown.status, 404) << unknown.body;
  EXPECT_EQ(e2e::ErrorCodeOf(unknown), "unknown_log");
  EXPECT_EQ(Call(kHamar, "", "GET", "/logs//checkpoint").status, 404);
  EXPECT_EQ(Call(kHamar, "", "GET", "/logs/ie-dub-1").status, 404);
  EXPECT_EQ(Call(kHamar, "", "GET", "/logs/ie-dub-1/tile/0/x").status, 400);

  // An auditor follows Dublin's log at Dublin itself...
  const std::string dublin_origin = dublin_part["origin"].GetString();
  auto audit_kv = kv::KvStore::Open(dir_.Sub("auditor"));
  ASSERT_TRUE(audit_kv.ok()) << audit_kv.status();
  auto follow = [&](const std::string& url) {
    return audit::LogFollower::Open(
        audit::FollowedLog{dublin_origin, url, {keys_[kDublin]}},
        audit::HttpFetcher(url), audit_kv->get(), nullptr);
  };
  auto no_op = [](uint64_t, const std::vector<std::string>&, kv::KvBatch&) {
    return absl::OkStatus();
  };
  {
    auto follower = follow(endpoint_[kDublin] + "/log");
    ASSERT_TRUE(follower.ok()) << follower.status();
    auto polled = (*follower)->Poll(no_op);
    ASSERT_TRUE(polled.ok()) << polled.status();
    EXPECT_TRUE(polled->findings.empty());
    EXPECT_GT(polled->new_entries, 0u);
  }

  // A decision through Dublin just before Dublin is lost.
  Read(kDublin, "ra-1");
  const pid_t dublin = pids_[kDublin];
  ASSERT_EQ(kill(dublin, SIGKILL), 0);
  waitpid(dublin, nullptr, 0);
  pids_[kDublin] = 0;

  // Whatever the dead node had indexed, forget it: the report must find the
  // decisions in Dublin's log itself (read-only, from its schema).
  {
    auto c = pg::Connection::Open(pgtest::Dsn() + " dbname=regional_access");
    ASSERT_TRUE(c.ok()) << c.status();
    ASSERT_TRUE((*c)->Exec("DELETE FROM clover_state_eu WHERE "
                           "substring(k from 1 for 6) = "
                           "convert_to('access', 'UTF8') AND position("
                           "'\\x00'::bytea || convert_to('ie-dub-1', 'UTF8') "
                           "in k) > 0",
                           "forget dublin's index")
                    .ok());
  }

  // Hamar re-reads Dublin's log at most a second after it changed.
  absl::StatusOr<log::VerifiedCheckpoint> cp_after;
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  do {
    cp_after = dublin_via_hamar->FetchCheckpoint();
    ASSERT_TRUE(cp_after.ok()) << cp_after.status();
    if (cp_after->checkpoint.size > cp_before->checkpoint.size) break;
    absl::SleepFor(absl::Milliseconds(100));
  } while (absl::Now() < deadline);
  ASSERT_GT(cp_after->checkpoint.size, cp_before->checkpoint.size);
  ASSERT_TRUE(
      dublin_via_hamar
          ->VerifyConsistency(cp_before->checkpoint, cp_after->checkpoint)
          .ok());
  // ...and, Dublin lost, keeps following it through Hamar from where it
  // was: the entries since, verified against Dublin's key, no finding.
  {
    auto follower = follow(endpoint_[kHamar] + "/logs/" + kDublin);
    ASSERT_TRUE(follower.ok()) << follower.status();
    auto polled = (*follower)->Poll(no_op);
    ASSERT_TRUE(polled.ok()) << polled.status();
    EXPECT_TRUE(polled->findings.empty());
    EXPECT_TRUE(polled->grew);
    EXPECT_GT(polled->new_entries, 0u);
    auto history = (*follower)->CheckHistory(1000);
    EXPECT_TRUE(history.findings.empty());
    EXPECT_EQ(history.unavailable, 0u) << history.last_error;
    EXPECT_GT(history.bundles_checked, 0u);
  }

  rapidjson::Document after = Report(kHamar, "ra-1");
  auto verified = VerifyReport(keys_, after);
  ASSERT_TRUE(verified.ok()) << verified.status();
  // The write, two reads through Dublin (the last one just before the kill).
  ASSERT_GE((*verified)[kDublin].size(), 3u);
  for (uint64_t index : (*verified)[kDublin]) {
    auto entry = dublin_via_hamar->FetchEntry(cp_after->checkpoint, index);
    ASSERT_TRUE(entry.ok()) << entry.status();
  }

  // An operator with database access replaces the dead node's checkpoint:
  // the report says Dublin's log is unavailable instead of presenting it,
  // still lists Hamar's decisions, and is no 5xx.
  {
    auto c = pg::Connection::Open(pgtest::Dsn() + " dbname=regional_access");
    ASSERT_TRUE(c.ok()) << c.status();
    ASSERT_TRUE((*c)->Exec("UPDATE clover_log_ie_dub_1.state SET data = "
                           "convert_to('forged', 'UTF8') WHERE name = "
                           "'checkpoint'",
                           "forge dublin's checkpoint")
                    .ok());
  }
  rapidjson::Document forged = Report(kHamar, "ra-1");
  ASSERT_TRUE(forged.IsObject());
  EXPECT_EQ(forged["region_logs"].Size(), 0u);
  ASSERT_EQ(forged["unavailable_logs"].Size(), 1u);
  EXPECT_EQ(std::string(forged["unavailable_logs"][0]["dc"].GetString()),
            kDublin);
  auto forged_all = WalkReport(kHamar, "ra-1");
  ASSERT_TRUE(forged_all.ok()) << forged_all.status();
  EXPECT_GE((*forged_all)[kHamar].size(), 1002u);
}

// The indexer's capacity on PostgreSQL: 100,000 decisions of 10,000 subjects
// noted as the gateway notes them, indexed into the region's table in the
// background thread's batches (one transaction per 64 bundles). Prints the
// rate; it must stay far above a node's decision rate, which it does not
// slow (the decision path only notes in memory).
class NotedLog : public log::LogReader {
 public:
  explicit NotedLog(uint64_t size) : size_(size) {}
  uint64_t Size() const override { return size_; }
  std::string SignedCheckpoint() const override { return ""; }
  absl::StatusOr<std::string> ReadTile(int, uint64_t, int) const override {
    return absl::UnimplementedError("tiles");
  }
  absl::StatusOr<std::string> ReadEntryBundle(uint64_t, int) const override {
    return absl::UnimplementedError("every entry was noted");
  }
  absl::StatusOr<std::string> ReadEntry(uint64_t) const override {
    return absl::UnimplementedError("entries");
  }
  absl::StatusOr<std::vector<log::Hash>> InclusionProof(
      uint64_t, uint64_t) const override {
    return absl::UnimplementedError("proofs");
  }
  absl::StatusOr<std::vector<log::Hash>> ConsistencyProof(
      uint64_t, uint64_t) const override {
    return absl::UnimplementedError("proofs");
  }

 private:
  uint64_t size_;
};

TEST(RegionalAccessIndexFigures, IndexingKeepsUpOnPostgres) {
  CLOVER_REQUIRE_POSTGRES();
  ASSERT_TRUE(pgtest::Sql("CREATE DATABASE regional_index_figures").ok());
  auto kv = kv::OpenPostgresKvStore(
      pgtest::Dsn() + " dbname=regional_index_figures", "clover_state_eu");
  ASSERT_TRUE(kv.ok()) << kv.status();
  RegionalAccessIndexStore store(**kv, "eu", "ie-dub-1");
  constexpr uint64_t kEntries = 100'000;
  NotedLog log(kEntries);
  AccessIndex index(log, store);
  for (uint64_t i = 0; i < kEntries; ++i) {
    index.Note(i, absl::StrCat("subject-", i % 10'000));
  }
  const absl::Time start = absl::Now();
  ASSERT_TRUE(index.CatchUp().ok());
  const absl::Duration took = absl::Now() - start;
  EXPECT_EQ(*store.IndexedUpTo(), kEntries);
  const absl::Time asked = absl::Now();
  auto all = store.AllAccessesOf("subject-42");
  const absl::Duration lookup = absl::Now() - asked;
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ((*all)["ie-dub-1"].size(), 10u);
  std::printf(
      "[figures] regional index on PostgreSQL: %llu noted decisions indexed "
      "in %.0f ms (%.0f entries/s); one subject's look-up %.1f ms\n",
      static_cast<unsigned long long>(kEntries),
      absl::ToDoubleMilliseconds(took), kEntries / absl::ToDoubleSeconds(took),
      absl::ToDoubleMilliseconds(lookup));
}

}  // namespace
}  // namespace clover::gateway
