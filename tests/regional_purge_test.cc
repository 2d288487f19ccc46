// An erasure purge of a region (issue 20): two nodes of the EU region
// (ie-dub-1, no-ham-1) share one PostgreSQL vault store and each has its own
// log. Subjects are erased through both; `clover vault purge` (ie-dub-1
// stopped, coordinating) purges the region while no-ham-1 takes its cut and is
// then stopped before it could attest (as if killed). After both restart,
// each log holds one attestation of the same region-wide purge counting
// exactly that log's erasures; an auditor following both logs, with a purge
// window of zero, raises no mismatch and no unpurged erasure; forged
// attestations (claiming the other node's erasure, omitting one's own) are
// caught; and the database's files (heap, dead tuples, WAL) decrypt to no
// erased record.
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "audit/auditor.h"
#include "audit/erasure_check.h"
#include "audit/incident.h"
#include "core/test_temp_dir.h"
#include "crypto/ed25519.h"
#include "crypto/secret_key_file.h"
#include "crypto/subject_pseudonym.h"
#include "entry/erasure_attestation.h"
#include "entry/log_entry.h"
#include "gateway/http_client.h"
#include "gateway/local_deployment.h"
#include "gateway/node.h"
#include "gateway_test_client.h"
#include "gtest/gtest.h"
#include "kv/postgres_kv_store.h"
#include "log/client.h"
#include "log/fetch.h"
#include "log/note.h"
#include "postgres_test_util.h"
#include "vault/disk_attack_test_util.h"

namespace clover::gateway {
namespace {

using e2e::CallAs;

class RegionalPurgeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CLOVER_REQUIRE_POSTGRES();
    ASSERT_TRUE(pgtest::Sql("ALTER SYSTEM SET wal_recycle = off").ok());
    ASSERT_TRUE(pgtest::Sql("SELECT pg_reload_conf()").ok());
    std::string db = absl::AsciiStrToLower(absl::StrCat(
        "rp_",
        ::testing::UnitTest::GetInstance()->current_test_info()->name()));
    ASSERT_TRUE(pgtest::Sql("DROP DATABASE IF EXISTS " + db).ok());
    ASSERT_TRUE(pgtest::Sql("CREATE DATABASE " + db).ok());
    auto d = LoadDeployment(
        absl::StrCat(CLOVER_SOURCE_DIR, "/examples/deployment.yaml"));
    ASSERT_TRUE(d.ok()) << d.status();
    d->storage.driver = StorageDriver::kPostgres;
    d->storage.postgres_dsn = pgtest::Dsn() + " dbname=" + db;
    auto nodes = PrepareLocalDeployment(*d, dir_.path(), 0, FreeLoopbackPort);
    ASSERT_TRUE(nodes.ok()) << nodes.status();
    for (auto& n : *nodes) {
      if (n.dc == "ie-dub-1") a_ = n;
      if (n.dc == "no-ham-1") b_ = n;
    }
    ASSERT_FALSE(a_.endpoint.empty());
    ASSERT_FALSE(b_.endpoint.empty());
    StartNode(0);
    StartNode(1);
    auto root =
        crypto::ReadSecretKeyFile(a_.deployment.keys.pseudonym_key_file);
    ASSERT_TRUE(root.ok());
    auto key = crypto::DeriveLogSubjectKey(*root);
    ASSERT_TRUE(key.ok());
    subject_key_ = *key;
    auto kek = crypto::ReadSecretKeyFile(a_.deployment.keys.kek_file);
    ASSERT_TRUE(kek.ok());
    kek_ = *kek;
  }
  void TearDown() override {
    for (auto& n : running_) {
      if (n) n->Shutdown();
    }
  }

  const LocalNode& At(int i) { return i == 0 ? a_ : b_; }
  void StartNode(int i) {
    auto node = Node::Start(At(i).deployment);
    ASSERT_TRUE(node.ok()) << node.status();
    running_[i] = *std::move(node);
  }
  void StopNode(int i) {
    running_[i]->Shutdown();
    running_[i].reset();
  }

  std::string Pseudonym(const std::string& id) {
    return crypto::SubjectPseudonym(subject_key_, id);
  }

  // Every entry of node `i`'s log (the node must be running).
  std::vector<std::string> LogEntries(int i) {
    auto v = log::ParseVerifierKey(At(i).verifier_key);
    EXPECT_TRUE(v.ok());
    std::vector<std::unique_ptr<log::NoteVerifier>> vs;
    vs.push_back(*std::move(v));
    auto client = *log::LogClient::Create(
        log::HttpFetcher(At(i).endpoint + "/log"), std::move(vs));
    auto cp = client->FetchCheckpoint();
    EXPECT_TRUE(cp.ok()) << cp.status();
    std::vector<std::string> out;
    for (uint64_t k = 0; cp.ok() && k < cp->checkpoint.size; ++k) {
      auto e = client->FetchEntry(cp->checkpoint, k);
      EXPECT_TRUE(e.ok()) << e.status();
      out.push_back(e.ok() ? *e : "");
    }
    return out;
  }
  std::vector<entry::ErasurePurge> Attestations(
      const std::vector<std::string>& entries) {
    std::vector<entry::ErasurePurge> out;
    for (const std::string& e : entries) {
      auto a = entry::ParseErasurePurge(e);
      if (a.ok()) out.push_back(*a);
    }
    return out;
  }

  // The auditor's erasure check over one log: its findings; `*pending` the
  // erasures left unattested.
  std::vector<audit::Finding> Check(const std::vector<std::string>& entries,
                                    size_t* pending) {
    audit::ErasureCheck check({});
    std::vector<audit::Finding> out;
    for (size_t k = 0; k < entries.size(); ++k) {
      entry::LogEntry e;
      EXPECT_TRUE(entry::ParseLogEntry(entries[k], &e).ok()) << entries[k];
      if (e.type == entry::EntryType::kDecision) {
        check.ObserveDecision("log", k, e.decision);
      } else if (e.type == entry::EntryType::kErasurePurge) {
        auto a = entry::ParseErasurePurge(entries[k]);
        EXPECT_TRUE(a.ok()) << a.status();
        if (a.ok()) check.ObserveAttestation("log", k, *a, &out);
      }
    }
    *pending = check.pending("log");
    return out;
  }

  // A real auditor following both logs, erasures overdue at once.
  std::vector<audit::Incident> AuditBoth() {
    audit::AuditorConfig c;
    c.source_file = "regional_purge_test";
    c.data_dir = dir_.Sub("auditor");
    c.insecure_no_auth = true;
    c.erasure.window = absl::ZeroDuration();
    c.erasure.slack = absl::ZeroDuration();
    auto wkey = crypto::Ed25519PrivateKey::Generate();
    auto jkey = crypto::Ed25519PrivateKey::Generate();
    EXPECT_TRUE(wkey.ok() && jkey.ok());
    c.witness_key_file = dir_.Sub("witness.key");
    c.journal_key_file = dir_.Sub("journal.key");
    EXPECT_TRUE(crypto::WritePrivateFile(
                    c.witness_key_file,
                    log::FormatSignerKey("auditor.rp", 0x04, *wkey) + "\n")
                    .ok());
    EXPECT_TRUE(
        crypto::WritePrivateFile(
            c.journal_key_file,
            log::FormatSignerKey("auditor.rp/incidents", 0x01, *jkey) + "\n")
            .ok());
    for (const LocalNode* n : {&a_, &b_}) {
      audit::AuditorLogConfig l;
      l.log.origin = n->deployment.log.origin;
      l.log.url = n->endpoint + "/log";
      l.log.verifier_keys = {n->verifier_key};
      c.logs.push_back(l);
    }
    auto auditor = audit::Auditor::Create(c);
    EXPECT_TRUE(auditor.ok()) << auditor.status();
    if (!auditor.ok()) return {};
    auto polled = (*auditor)->PollOnce();
    EXPECT_TRUE(polled.ok()) << polled.status();
    std::vector<audit::Incident> out;
    for (const audit::Incident& i :
         (*auditor)->incidents().List(std::nullopt)) {
      if (i.detector == audit::kDetectorErasureMismatch ||
          i.detector == audit::kDetectorErasureUnpurged) {
        out.push_back(i);
      }
    }
    return out;
  }

  test::TempDir dir_{"regional-purge"};
  HttpClient c_;
  LocalNode a_, b_;
  std::unique_ptr<Node> running_[2];
  crypto::SecretKey subject_key_{};
  crypto::SecretKey kek_{};
};

TEST_F(RegionalPurgeTest, EachNodeAttestsExactlyItsOwnErasures) {
  std::vector<std::string> ids;
  for (int k = 0; k < 8; ++k) {
    ids.push_back(absl::StrCat("rp-", k));
    auto r = CallAs(
        c_, "accounts-eu", "PUT",
        At(k % 2).endpoint + "/v1/subjects/" + ids.back(), "account_management",
        absl::StrCat(R"({"country":"IE","fields":{"name":"Person )", k,
                     R"(","email":"rp)", k, R"(@mail.example"}})"));
    ASSERT_EQ(r.status, 201) << r.body;
  }
  // Through ie-dub-1: rp-1, rp-2; through no-ham-1: rp-5.
  const std::set<std::string> by_a = {"rp-1", "rp-2"}, by_b = {"rp-5"};
  for (int i : {0, 1}) {
    for (const std::string& id : i == 0 ? by_a : by_b) {
      auto r =
          CallAs(c_, "eu-support-1", "DELETE",
                 At(i).endpoint + "/v1/subjects/" + id, "customer_support");
      ASSERT_EQ(r.status, 200) << r.body;
    }
  }
  std::set<std::string> erased = by_a;
  erased.insert(by_b.begin(), by_b.end());
  ASSERT_TRUE(pgtest::Sql("CHECKPOINT").ok());
  const std::string data_dir = pgtest::Server().value()->dir();
  auto before = vault::testing::AttackDisk(
      vault::testing::ReadAllFiles(data_dir), kek_, ids);
  for (const std::string& id : erased) {
    EXPECT_TRUE(before.records.contains(id)) << id << " not recovered";
  }

  // `clover vault purge` for ie-dub-1 (stopped) coordinates the region's
  // purge; no-ham-1's purge thread gives its cut, and no-ham-1 is stopped
  // right after, before the purge is done: it attests when it restarts.
  StopNode(0);
  auto kv = kv::OpenPostgresKvStore(
      a_.deployment.storage.postgres_dsn,
      RegionalStateTable(a_.deployment.node->region), {});
  ASSERT_TRUE(kv.ok()) << kv.status();
  absl::StatusOr<vault::Vault::PurgeReport> report =
      absl::UnknownError("not run");
  std::thread purge([&] { report = RunVaultPurge(a_.deployment); });
  const std::string b_cut =
      absl::StrCat("erasure-purge/cut/", absl::StrFormat("%020d", 1), "/",
                   b_.deployment.node->id);
  bool cut = false;
  for (int k = 0; k < 400 && !cut; ++k) {
    cut = (*kv)->Get(b_cut).ok();
    if (!cut) absl::SleepFor(absl::Milliseconds(25));
  }
  EXPECT_TRUE(cut) << "no-ham-1 gave no cut";
  StopNode(1);
  purge.join();
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_EQ(report->destroyed_epochs.size(), 1u);

  StartNode(0);
  StartNode(1);
  std::vector<std::string> logs[2];
  for (int k = 0; k < 300; ++k) {
    logs[1] = LogEntries(1);
    if (!Attestations(logs[1]).empty()) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  logs[0] = LogEntries(0);
  std::string purge_id;
  for (int i : {0, 1}) {
    std::vector<entry::ErasurePurge> a = Attestations(logs[i]);
    ASSERT_EQ(a.size(), 1u) << "node " << i;
    std::vector<std::string> own;
    for (const std::string& id : i == 0 ? by_a : by_b) {
      own.push_back(Pseudonym(id));
    }
    EXPECT_EQ(a[0].erased, own.size()) << "node " << i;
    EXPECT_EQ(a[0].erased_root, entry::ErasedSubjectsRoot(own));
    EXPECT_EQ(a[0].node, At(i).deployment.node->id);
    EXPECT_EQ(a[0].new_epoch, report->new_epoch);
    EXPECT_EQ(a[0].destroyed_epochs, report->destroyed_epochs);
    EXPECT_FALSE(a[0].purge.empty());
    if (i == 1) {
      EXPECT_EQ(a[0].purge, purge_id);
    }
    purge_id = a[0].purge;
    size_t pending = 0;
    auto findings = Check(logs[i], &pending);
    EXPECT_TRUE(findings.empty()) << findings[0].summary;
    EXPECT_EQ(pending, 0u) << "node " << i;
  }
  // The auditor, with no time allowed for a purge, finds nothing wrong.
  for (const audit::Incident& i : AuditBoth()) {
    ADD_FAILURE() << i.detector << ": " << i.summary;
  }

  // Forged: no-ham-1's attestation claiming ie-dub-1's rp-1 too, or omitting
  // its own rp-5.
  for (const std::vector<std::string>& claimed :
       {std::vector<std::string>{Pseudonym("rp-1"), Pseudonym("rp-5")},
        std::vector<std::string>{}}) {
    std::vector<std::string> forged = logs[1];
    for (std::string& e : forged) {
      auto a = entry::ParseErasurePurge(e);
      if (!a.ok()) continue;
      a->erased = claimed.size();
      a->erased_root = entry::ErasedSubjectsRoot(claimed);
      e = entry::ErasurePurgeJson(*a);
    }
    size_t pending = 0;
    auto findings = Check(forged, &pending);
    ASSERT_EQ(findings.size(), 1u) << claimed.size();
    EXPECT_EQ(findings[0].detector, audit::kDetectorErasureMismatch);
  }

  // The review's attack on the database's files finds no erased record.
  ASSERT_TRUE(pgtest::Sql("SELECT pg_switch_wal()").ok());
  ASSERT_TRUE(pgtest::Sql("CHECKPOINT").ok());
  auto after = vault::testing::AttackDisk(
      vault::testing::ReadAllFiles(data_dir), kek_, ids);
  EXPECT_FALSE(after.epoch_keys.contains(report->destroyed_epochs.at(0)));
  for (const std::string& id : ids) {
    EXPECT_EQ(after.records.contains(id), !erased.contains(id)) << id;
  }
}

}  // namespace
}  // namespace clover::gateway
