// Crash test: a real `clover serve` process under concurrent read and write
// load is killed with SIGKILL at random moments. After each restart, every
// decision whose response was received is in the log at the index the response
// named (proved by inclusion against the new checkpoint, which must be
// consistent with every checkpoint seen before), and every acknowledged write
// is readable.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "core/test_temp_dir.h"
#include "crypto/secret_key_file.h"
#include "crypto/subject_pseudonym.h"
#include "gateway/http_client.h"
#include "gateway/local_deployment.h"
#include "gateway/node.h"
#include "gtest/gtest.h"
#include "log/client.h"
#include "log/fetch.h"
#include "log/note.h"
#include "log/tile.h"
#include "rapidjson/document.h"
#include "serve_process.h"
#include "vault/rocksdb_storage.h"
#include "vault/subject_row.h"

namespace clover::gateway {
namespace {

constexpr char kSupportKey[] =
    "Authorization: Bearer clv_example_eu_support_1_ea58181ac18d4441";
constexpr char kAccountsKey[] =
    "Authorization: Bearer clv_example_accounts_eu_f82f9af9e84945f8";

std::string Record(int n) {
  return absl::StrCat("{\"country\":\"IE\",\"fields\":{\"email\":\"p", n,
                      "@mail.example\",\"name\":\"Person ", n, "\"}}");
}

struct Acked {
  uint64_t index;
  std::string subject;
  bool write;
};

class GatewayCrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = LoadDeployment(
        absl::StrCat(CLOVER_SOURCE_DIR, "/examples/deployment.yaml"));
    ASSERT_TRUE(d.ok()) << d.status();
    auto nodes = PrepareLocalDeployment(*d, dir_.string(), 0, FreeLoopbackPort);
    ASSERT_TRUE(nodes.ok()) << nodes.status();
    for (auto& n : *nodes) {
      if (n.dc == "ie-dub-1") node_ = n;
    }
    config_ = (dir_ / "ie-dub-1.yaml").string();
    std::ofstream(config_) << NodeConfigYaml(
        node_, absl::StrCat(CLOVER_SOURCE_DIR, "/examples"));
    auto root =
        crypto::ReadSecretKeyFile(node_.deployment.keys.pseudonym_key_file);
    ASSERT_TRUE(root.ok());
    auto key = crypto::DeriveLogSubjectKey(*root);
    ASSERT_TRUE(key.ok());
    subject_key_ = *key;
  }
  void TearDown() override {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  void StartServer() {
    pid_ = test::ForkCloverServe(config_);
    if (!test::WaitUntilReady(node_.endpoint, absl::Seconds(10)))
      FAIL() << "clover serve did not become ready";
  }

  std::unique_ptr<log::LogClient> LogClient() {
    auto v = log::ParseVerifierKey(node_.verifier_key);
    EXPECT_TRUE(v.ok());
    std::vector<std::unique_ptr<log::NoteVerifier>> vs;
    vs.push_back(*std::move(v));
    return *log::LogClient::Create(log::HttpFetcher(node_.endpoint + "/log"),
                                   std::move(vs));
  }

  test::TempDir tmp_{"gateway-crash"};
  std::filesystem::path dir_ = tmp_.path();
  LocalNode node_;
  std::string config_;
  crypto::SecretKey subject_key_{};
  pid_t pid_ = -1;
};

TEST_F(GatewayCrashTest, AcknowledgedDecisionsAndWritesSurviveSigkill) {
  StartServer();
  {
    HttpClient c;
    for (int i = 0; i < 20; ++i) {
      auto r = c.Send(
          "PUT", absl::StrCat(node_.endpoint, "/v1/subjects/seed-", i),
          {kAccountsKey, "X-Clover-Purpose: account_management"}, Record(i));
      ASSERT_TRUE(r.ok());
      ASSERT_EQ(r->status, 201) << r->body;
    }
  }
  std::mt19937 rng(std::random_device{}());
  std::vector<Acked> acked;
  std::vector<log::Checkpoint> seen;
  int next_subject = 0;
  constexpr int kRounds = 6;
  for (int round = 0; round < kRounds; ++round) {
    absl::Mutex mu;
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      int first = next_subject + t * 100000;
      threads.emplace_back([&, t, first] {
        HttpClient c(absl::Seconds(5));
        int n = first;
        std::mt19937 r(t + round * 17);
        while (!stop.load()) {
          bool write = t == 0;
          std::string subject = write ? absl::StrCat("w-", round, "-", n++)
                                      : absl::StrCat("seed-", r() % 20);
          auto resp =
              write
                  ? c.Send(
                        "PUT",
                        absl::StrCat(node_.endpoint, "/v1/subjects/", subject),
                        {kAccountsKey, "X-Clover-Purpose: account_management"},
                        Record(n))
                  : c.Send(
                        "GET",
                        absl::StrCat(node_.endpoint, "/v1/subjects/", subject),
                        {kSupportKey, "X-Clover-Purpose: customer_support"});
          if (!resp.ok()) break;  // the server is gone
          if (resp->status != 200 && resp->status != 201) continue;
          rapidjson::Document doc;
          doc.Parse(resp->body.c_str());
          if (!doc.IsObject() || !doc.HasMember("log_index")) continue;
          absl::MutexLock lock(&mu);
          acked.push_back({doc["log_index"].GetUint64(), subject, write});
        }
      });
    }
    absl::SleepFor(absl::Milliseconds(300 + rng() % 900));
    {
      auto client = LogClient();
      auto cp = client->FetchCheckpoint();
      if (cp.ok()) seen.push_back(cp->checkpoint);
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
    stop = true;
    for (auto& th : threads) th.join();
    next_subject += 1000000;

    StartServer();
    auto client = LogClient();
    auto cp = client->FetchCheckpoint();
    ASSERT_TRUE(cp.ok()) << cp.status();
    for (const auto& old : seen) {
      ASSERT_TRUE(client->VerifyConsistency(old, cp->checkpoint).ok())
          << "round " << round << ": checkpoint of size " << old.size
          << " is not a prefix";
    }
    seen.push_back(cp->checkpoint);
    HttpClient c;
    for (const Acked& a : acked) {
      ASSERT_LT(a.index, cp->checkpoint.size) << "round " << round;
      auto entry = client->FetchEntry(cp->checkpoint, a.index);
      ASSERT_TRUE(entry.ok()) << entry.status();
      EXPECT_NE(entry->find(crypto::SubjectPseudonym(subject_key_, a.subject)),
                std::string::npos)
          << "entry " << a.index << " is not the decision acknowledged for "
          << a.subject;
      if (a.write) {
        auto r = c.Send(
            "GET", absl::StrCat(node_.endpoint, "/v1/subjects/", a.subject),
            {kSupportKey, "X-Clover-Purpose: customer_support"});
        ASSERT_TRUE(r.ok());
        EXPECT_EQ(r->status, 200)
            << "acknowledged write of " << a.subject << " lost";
      }
    }
  }
  EXPECT_GT(acked.size(), 50u);
  std::cerr << "acknowledged decisions checked: " << acked.size() << " over "
            << kRounds << " SIGKILLs\n";
}

// --- Log before effect (issue 17, finding 3) ---
//
// Many PUTs (creates and replacements) and DELETEs are in flight when the
// node is SIGKILLed. Then, from the vault's own storage (read directly while
// the node is down), every stored revision of every subject must have its
// write entry in the log (write entries per subject pseudonym >= revision) and
// every erased subject its erase entry. With the vault written before the log
// append (the order before this fix) a kill between the two leaves a stored
// revision or an erasure that no entry accounts for: with a dozen writes in
// flight at each kill, a batch of them sits between its synced vault write and
// its log batch's fsync, and the review saw 2 of 80 such writes in one kill.
// Run against that order (gateway.cc of 2b79160) this test failed 3 runs of 3,
// with 38-82 stored revisions or erasures that had no entry. With the decision
// durable first, a kill in between leaves at most an entry without its effect,
// which the check allows.

// Counts of effect entries (decisions with records 1) per subject pseudonym.
struct EffectEntries {
  std::map<std::string, uint64_t> writes, erases;
  uint64_t total = 0;
};

EffectEntries ReadEffectEntries(const std::string& endpoint,
                                log::LogClient& client,
                                const log::Checkpoint& cp) {
  EffectEntries out;
  auto verified = client.VerifyAllEntries(cp);
  EXPECT_TRUE(verified.ok()) << verified.status();
  log::Fetcher fetch = log::HttpFetcher(endpoint + "/log");
  const uint64_t bundles = (cp.size + 255) / 256;
  for (uint64_t b = 0; b < bundles; ++b) {
    const int width = b < log::FullTileCount(cp.size, 0)
                          ? 256
                          : log::PartialTileWidth(cp.size, 0);
    auto bytes = fetch(log::FormatTilePath(log::TilePath{true, 0, b, width}));
    EXPECT_TRUE(bytes.ok()) << bytes.status();
    if (!bytes.ok()) return out;
    auto entries = log::ParseEntryBundle(*bytes);
    EXPECT_TRUE(entries.ok()) << entries.status();
    if (!entries.ok()) return out;
    for (absl::string_view e : *entries) {
      ++out.total;
      rapidjson::Document doc;
      doc.Parse(e.data(), e.size());
      if (!doc.IsObject() || !doc.HasMember("type") ||
          absl::string_view(doc["type"].GetString()) != "decision" ||
          !doc.HasMember("subject") || !doc.HasMember("records") ||
          doc["records"].GetInt64() != 1) {
        continue;
      }
      std::string action = doc["action"].GetString();
      std::string subject = doc["subject"].GetString();
      if (action == "write") ++out.writes[subject];
      if (action == "erase") ++out.erases[subject];
    }
  }
  return out;
}

TEST_F(GatewayCrashTest, EveryStoredRevisionAndErasureHasItsLogEntry) {
  StartServer();
  constexpr int kSeeds = 24;
  {
    HttpClient c;
    for (int i = 0; i < kSeeds; ++i) {
      auto r = c.Send(
          "PUT", absl::StrCat(node_.endpoint, "/v1/subjects/seed-", i),
          {kAccountsKey, "X-Clover-Purpose: account_management"}, Record(i));
      ASSERT_TRUE(r.ok());
      ASSERT_EQ(r->status, 201) << r->body;
    }
  }
  std::mt19937 rng(std::random_device{}());
  constexpr int kRounds = 5;
  uint64_t revisions_checked = 0, erasures_checked = 0;
  for (int round = 0; round < kRounds; ++round) {
    std::atomic<bool> stop{false};
    std::atomic<int> acked{0};
    std::vector<std::thread> threads;
    // Writers replace seeds (revisions pile up) and create subjects; erasers
    // create a subject and erase it.
    for (int t = 0; t < 12; ++t) {
      threads.emplace_back([&, t] {
        HttpClient c(absl::Seconds(5));
        std::mt19937 r(t * 7919 + round);
        const bool eraser = t % 3 == 2;
        for (int n = 0; !stop.load(); ++n) {
          const std::string base = node_.endpoint + "/v1/subjects/";
          if (eraser) {
            const std::string id = absl::StrCat("e-", round, "-", t, "-", n);
            auto put =
                c.Send("PUT", base + id,
                       {kAccountsKey, "X-Clover-Purpose: account_management"},
                       Record(n));
            if (!put.ok()) break;
            auto del =
                c.Send("DELETE", base + id,
                       {kSupportKey, "X-Clover-Purpose: customer_support"});
            if (!del.ok()) break;
            if (del->status == 200) ++acked;
            continue;
          }
          const std::string id = n % 4 == 0
                                     ? absl::StrCat("w-", round, "-", t, "-", n)
                                     : absl::StrCat("seed-", r() % kSeeds);
          auto put =
              c.Send("PUT", base + id,
                     {kAccountsKey, "X-Clover-Purpose: account_management"},
                     Record(n));
          if (!put.ok()) break;  // the server is gone
          if (put->status / 100 == 2) ++acked;
        }
      });
    }
    absl::SleepFor(absl::Milliseconds(400 + rng() % 800));
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
    stop = true;
    for (auto& th : threads) th.join();

    // What the vault holds, read while the node is down.
    struct Stored {
      uint64_t revision;
      bool live;
    };
    std::map<std::string, Stored> stored;
    {
      auto storage =
          vault::OpenRocksDbStorage(NodeVaultDir(*node_.deployment.node));
      ASSERT_TRUE(storage.ok()) << storage.status();
      absl::Status scan = (*storage)->Scan(
          vault::Table::kSubjects,
          [&](absl::string_view id, absl::string_view value) {
            auto row = vault::SubjectRow::Decode(value);
            EXPECT_TRUE(row.ok()) << row.status();
            if (row.ok())
              stored[std::string(id)] = {row->revision, row->live()};
            return true;
          });
      ASSERT_TRUE(scan.ok()) << scan;
    }

    StartServer();
    auto client = LogClient();
    auto cp = client->FetchCheckpoint();
    ASSERT_TRUE(cp.ok()) << cp.status();
    EffectEntries logged =
        ReadEffectEntries(node_.endpoint, *client, cp->checkpoint);
    for (const auto& [id, s] : stored) {
      const std::string pseudonym = crypto::SubjectPseudonym(subject_key_, id);
      EXPECT_GE(logged.writes[pseudonym], s.revision)
          << "round " << round << ": " << id << " is stored at revision "
          << s.revision << " with only " << logged.writes[pseudonym]
          << " write entries in the log";
      revisions_checked += s.revision;
      if (!s.live) {
        EXPECT_GE(logged.erases[pseudonym], 1u)
            << "round " << round << ": " << id
            << " is erased but no erase entry is in the log";
        ++erasures_checked;
      }
    }
    EXPECT_GT(acked.load(), 0) << "round " << round << " acknowledged nothing";
  }
  EXPECT_GT(erasures_checked, 0u);
  std::cerr << "stored revisions checked: " << revisions_checked
            << ", erasures: " << erasures_checked << " over " << kRounds
            << " SIGKILLs\n";
}

}  // namespace
}  // namespace clover::gateway
