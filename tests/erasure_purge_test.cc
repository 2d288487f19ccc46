// Final erasure on a real node (issue 20): erasures through the HTTP API are
// recoverable from the node's vault files with the KEK until `clover vault
// purge`, from nothing after it; the purge's attestation in the node's log
// passes the auditor's check. And a purge killed with SIGKILL loses no live
// subject and is finished by the restarted node.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "audit/erasure_check.h"
#include "core/test_temp_dir.h"
#include "crypto/secret_key_file.h"
#include "crypto/subject_pseudonym.h"
#include "entry/erasure_attestation.h"
#include "entry/log_entry.h"
#include "gateway/http_client.h"
#include "gateway/local_deployment.h"
#include "gateway/node.h"
#include "gtest/gtest.h"
#include "log/client.h"
#include "log/fetch.h"
#include "log/note.h"
#include "serve_process.h"
#include "vault/disk_attack_test_util.h"
#include "vault/record_parser.h"
#include "vault/vault.h"

namespace clover::gateway {
namespace {

constexpr char kSupportKey[] =
    "Authorization: Bearer clv_example_eu_support_1_ea58181ac18d4441";
constexpr char kAccountsKey[] =
    "Authorization: Bearer clv_example_accounts_eu_f82f9af9e84945f8";

std::string Record(const std::string& id) {
  return absl::StrCat("{\"country\":\"IE\",\"fields\":{\"email\":\"", id,
                      "@mail.example\",\"name\":\"Person ", id,
                      "\",\"ip_address\":\"10.0.0.1\"}}");
}

class ErasurePurgeTest : public ::testing::Test {
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
    auto kek = crypto::ReadSecretKeyFile(node_.deployment.keys.kek_file);
    ASSERT_TRUE(kek.ok());
    kek_ = *kek;
    vault_dir_ = NodeVaultDir(*node_.deployment.node);
  }
  void TearDown() override { StopServer(SIGKILL); }

  void StartServer() {
    pid_ = test::ForkCloverServe(config_);
    if (!test::WaitUntilReady(node_.endpoint, absl::Seconds(10)))
      FAIL() << "clover serve did not become ready";
  }
  void StopServer(int sig) {
    if (pid_ <= 0) return;
    kill(pid_, sig);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  // Starts `clover vault purge`; returns its pid.
  pid_t StartPurge() {
    pid_t pid = fork();
    if (pid == 0) {
      int devnull = open("/dev/null", O_WRONLY);
      dup2(devnull, 1);
      dup2(devnull, 2);
      execl(CLOVER_BINARY, CLOVER_BINARY, "vault", "purge", "--config",
            config_.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    return pid;
  }
  int RunPurge() {
    int status = 0;
    waitpid(StartPurge(), &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  // Every entry of the node's log (the server must be running).
  std::vector<std::string> LogEntries() {
    auto v = log::ParseVerifierKey(node_.verifier_key);
    EXPECT_TRUE(v.ok());
    std::vector<std::unique_ptr<log::NoteVerifier>> vs;
    vs.push_back(*std::move(v));
    auto client = *log::LogClient::Create(
        log::HttpFetcher(node_.endpoint + "/log"), std::move(vs));
    auto cp = client->FetchCheckpoint();
    EXPECT_TRUE(cp.ok()) << cp.status();
    std::vector<std::string> out;
    for (uint64_t i = 0; cp.ok() && i < cp->checkpoint.size; ++i) {
      auto e = client->FetchEntry(cp->checkpoint, i);
      EXPECT_TRUE(e.ok()) << e.status();
      out.push_back(e.ok() ? *e : "");
    }
    return out;
  }

  // The auditor's erasure check over `entries`: findings and attestations.
  std::vector<audit::Finding> Audit(const std::vector<std::string>& entries,
                                    size_t* attestations, size_t* pending) {
    audit::ErasureCheck check({});
    std::vector<audit::Finding> out;
    *attestations = 0;
    for (size_t i = 0; i < entries.size(); ++i) {
      entry::LogEntry e;
      EXPECT_TRUE(entry::ParseLogEntry(entries[i], &e).ok()) << entries[i];
      if (e.type == entry::EntryType::kDecision) {
        check.ObserveDecision("log", i, e.decision);
      } else if (e.type == entry::EntryType::kErasurePurge) {
        auto a = entry::ParseErasurePurge(entries[i]);
        EXPECT_TRUE(a.ok()) << a.status();
        if (!a.ok()) continue;
        ++*attestations;
        check.ObserveAttestation("log", i, *a, &out);
      }
    }
    *pending = check.pending("log");
    return out;
  }

  test::TempDir tmp_{"erasure-purge"};
  std::filesystem::path dir_ = tmp_.path();
  LocalNode node_;
  std::string config_;
  std::string vault_dir_;
  crypto::SecretKey subject_key_{};
  crypto::SecretKey kek_{};
  pid_t pid_ = -1;
};

TEST_F(ErasurePurgeTest, ErasedThroughTheApiIsGoneFromDiskAfterThePurge) {
  StartServer();
  HttpClient c;
  std::vector<std::string> ids;
  for (int i = 0; i < 16; ++i) {
    const std::string id = absl::StrCat("ep-", i);
    ids.push_back(id);
    auto r = c.Send("PUT", absl::StrCat(node_.endpoint, "/v1/subjects/", id),
                    {kAccountsKey, "X-Clover-Purpose: account_management"},
                    Record(id));
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->status, 201) << r->body;
  }
  const std::set<std::string> erased = {"ep-1", "ep-4", "ep-7"};
  for (const std::string& id : erased) {
    auto r = c.Send("DELETE", absl::StrCat(node_.endpoint, "/v1/subjects/", id),
                    {kSupportKey, "X-Clover-Purpose: customer_support"});
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->status, 200) << r->body;
  }
  // A second DELETE of an erased subject erases nothing more.
  auto again =
      c.Send("DELETE", absl::StrCat(node_.endpoint, "/v1/subjects/ep-1"),
             {kSupportKey, "X-Clover-Purpose: customer_support"});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->status, 410);
  StopServer(SIGTERM);

  // Before the purge the review's attack recovers every erased record from
  // the node's vault files (WAL included) with the KEK file.
  auto before = vault::testing::AttackDisk(
      vault::testing::ReadAllFiles(vault_dir_), kek_, ids);
  for (const std::string& id : erased) {
    EXPECT_TRUE(before.records.contains(id)) << id;
  }
  ASSERT_EQ(RunPurge(), 0);
  auto after = vault::testing::AttackDisk(
      vault::testing::ReadAllFiles(vault_dir_), kek_, ids);
  for (const std::string& id : ids) {
    EXPECT_EQ(after.records.contains(id), !erased.contains(id)) << id;
  }

  StartServer();
  for (const std::string& id : ids) {
    auto r = c.Send("GET", absl::StrCat(node_.endpoint, "/v1/subjects/", id),
                    {kSupportKey, "X-Clover-Purpose: customer_support"});
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, erased.contains(id) ? 410 : 200) << id << r->body;
  }
  // The attestation in the node's log names exactly the erased subjects.
  size_t attestations = 0, pending = 0;
  std::vector<std::string> entries = LogEntries();
  auto findings = Audit(entries, &attestations, &pending);
  EXPECT_EQ(attestations, 1u);
  EXPECT_EQ(pending, 0u);
  EXPECT_TRUE(findings.empty()) << findings[0].summary;
  std::vector<std::string> pseudonyms;
  for (const std::string& id : erased) {
    pseudonyms.push_back(crypto::SubjectPseudonym(subject_key_, id));
  }
  bool found = false;
  for (const std::string& e : entries) {
    auto a = entry::ParseErasurePurge(e);
    if (!a.ok()) continue;
    found = true;
    EXPECT_EQ(a->erased, 3u);
    EXPECT_EQ(a->erased_root, entry::ErasedSubjectsRoot(pseudonyms));
    EXPECT_EQ(a->live, ids.size() - erased.size());
  }
  EXPECT_TRUE(found);
  // A forged attestation (one erasure left out) is caught.
  for (std::string& e : entries) {
    auto a = entry::ParseErasurePurge(e);
    if (!a.ok()) continue;
    a->erased = 2;
    a->erased_root = entry::ErasedSubjectsRoot({pseudonyms[0], pseudonyms[1]});
    e = entry::ErasurePurgeJson(*a);
  }
  findings = Audit(entries, &attestations, &pending);
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].detector, audit::kDetectorErasureMismatch);
}

TEST_F(ErasurePurgeTest, APurgeKilledMidwayLosesNothingAndTheNodeFinishesIt) {
  // A store big enough for a purge to take a while (each re-seal is a
  // synced conditional write).
  constexpr int kSubjects = 3000;
  std::vector<std::string> ids;
  {
    StartServer();  // creates the node's stores
    StopServer(SIGTERM);
    vault::RocksDbOptions fast;
    fast.sync = false;
    vault::VaultOptions o;
    o.region = "eu";
    auto v = vault::Vault::OpenEmbedded(node_.deployment, o, vault_dir_, fast);
    ASSERT_TRUE(v.ok()) << v.status();
    for (int i = 0; i < kSubjects; ++i) {
      ids.push_back(absl::StrCat("k-", i));
      auto rec =
          vault::ParseRecordJson(node_.deployment.schema, Record(ids[i]));
      ASSERT_TRUE(rec.ok());
      ASSERT_TRUE((*v)->Put(ids[i], *rec).ok());
    }
    ASSERT_TRUE((*v)->Erase("k-0").ok());
  }
  auto epochs = [&]() -> vault::Vault::EpochState {
    vault::VaultOptions o;
    o.region = "eu";
    auto v = vault::Vault::OpenEmbedded(node_.deployment, o, vault_dir_);
    EXPECT_TRUE(v.ok()) << v.status();
    auto e = (*v)->Epochs();
    EXPECT_TRUE(e.ok());
    return e.ok() ? *e : vault::Vault::EpochState{};
  };
  // Kill `clover vault purge` until a kill lands between the new epoch and
  // the old one's destruction (bounded: the delay adapts).
  absl::Duration delay = absl::Milliseconds(300);
  bool midway = false;
  for (int attempt = 0; attempt < 12 && !midway; ++attempt) {
    const std::string before = epochs().current;
    pid_t pid = StartPurge();
    absl::SleepFor(delay);
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    vault::Vault::EpochState now = epochs();
    if (now.stored == 2) {
      midway = true;
    } else if (now.current == before) {
      delay = delay * 1.5;  // killed before the cut
    } else {
      delay = delay / 2;  // the purge had finished
    }
  }
  ASSERT_TRUE(midway) << "no kill landed inside a purge";
  // The restarted node sees the unfinished purge and finishes it at once.
  StartServer();
  bool attested = false;
  for (int i = 0; i < 300 && !attested; ++i) {
    for (const std::string& e : LogEntries()) {
      attested = attested || entry::ParseErasurePurge(e).ok();
    }
    if (!attested) absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_TRUE(attested);
  StopServer(SIGTERM);
  EXPECT_EQ(epochs().stored, 1u);
  vault::VaultOptions o;
  o.region = "eu";
  auto v = vault::Vault::OpenEmbedded(node_.deployment, o, vault_dir_);
  ASSERT_TRUE(v.ok());
  const vault::AccessContext ctx{"test", "customer_support"};
  for (int i = 1; i < kSubjects; ++i) {
    auto got = (*v)->Get(ids[i], {}, ctx);
    ASSERT_TRUE(got.ok()) << ids[i] << ": " << got.status();
  }
  EXPECT_FALSE((*v)->Get("k-0", {}, ctx).ok());
}

}  // namespace
}  // namespace clover::gateway
