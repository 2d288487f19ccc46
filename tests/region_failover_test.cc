// Failover end to end (issue 19, item 1): a real `clover serve` node of
// ie-dub-1 on the replicated region (3 etcd, 3 Patroni-managed PostgreSQL,
// strict synchronous mode) with the multi-host DSN. Clients write subjects
// without pause and read them back; the leader's PostgreSQL and Patroni are
// SIGKILLed. While no leader is reachable the node answers 503 with
// Retry-After (never another 5xx) and /readyz is 503 with a reason; it
// resumes on the new leader within a bound; afterwards every acknowledged
// write reads back with its acknowledged content, and the node's signed log
// verifies with every acknowledged decision at the index its response named.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <thread>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "core/test_temp_dir.h"
#include "crypto/secret_key_file.h"
#include "crypto/subject_pseudonym.h"
#include "gateway/http_client.h"
#include "gateway/local_deployment.h"
#include "gtest/gtest.h"
#include "log/client.h"
#include "log/fetch.h"
#include "log/note.h"
#include "rapidjson/document.h"
#include "region/region_test_cluster.h"
#include "serve_process.h"

namespace clover::gateway {
namespace {

constexpr char kSupportKey[] =
    "Authorization: Bearer clv_example_eu_support_1_ea58181ac18d4441";
constexpr char kAccountsKey[] =
    "Authorization: Bearer clv_example_accounts_eu_f82f9af9e84945f8";
constexpr int kWriters = 3;
// How long the node's storage calls keep reconnecting before a 503: short
// beside the failover (about 25 s), so the test sees the 503s.
constexpr int kRetrySeconds = 2;

std::string Email(const std::string& subject) {
  return absl::StrCat(subject, "@mail.example");
}

struct Acked {
  std::string subject;
  uint64_t index = 0;
  absl::Time at;
};

struct Observed {
  absl::Mutex mu;
  std::vector<Acked> acked;
  std::map<int, int> statuses;     // HTTP status -> count
  std::vector<std::string> bad;    // 5xx other than a proper 503
  int unavailable_with_retry = 0;  // 503 + Retry-After + code
  absl::Time first_unavailable = absl::InfiniteFuture();
  absl::Time first_ack_after_kill = absl::InfiniteFuture();
  int readyz_not_ready = 0;  // 503 with a reason
  int readyz_ready_after = 0;
  int reads_ok = 0;           // reads of acknowledged subjects: 200
  int reads_unavailable = 0;  // 503 with Retry-After
};

class RegionFailoverTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  // Starts `clover serve` with the node configuration; waits for /readyz.
  void StartNode() {
    pid_ = test::ForkCloverServe(config_, dir_.Sub("node.log"));
    if (!test::WaitUntilReady(node_.endpoint, absl::Seconds(15),
                              absl::Seconds(5)))
      FAIL() << "clover serve did not become ready";
  }

  test::TempDir dir_{"region-failover"};
  LocalNode node_;
  std::string config_;
  pid_t pid_ = -1;
};

TEST_F(RegionFailoverTest, AcknowledgedWritesSurviveLeaderLoss) {
  auto started = region::RegionTestCluster::Start();
  if (!started.ok() && absl::IsFailedPrecondition(started.status())) {
    GTEST_SKIP() << "region cluster unavailable: "
                 << started.status().message();
  }
  ASSERT_TRUE(started.ok()) << started.status();
  std::unique_ptr<region::RegionTestCluster> cluster = *std::move(started);
  std::printf("region cluster started in %.1f s\n",
              absl::ToDoubleSeconds(cluster->startup_time()));

  auto d = LoadDeployment(
      absl::StrCat(CLOVER_SOURCE_DIR, "/examples/deployment.yaml"));
  ASSERT_TRUE(d.ok()) << d.status();
  d->storage.driver = StorageDriver::kPostgres;
  d->storage.postgres_dsn = cluster->dsn();
  d->storage.postgres_retry = absl::Seconds(kRetrySeconds);
  // Residency (config/deployment.h): each DC declares its member.
  for (Region& r : d->regions) {
    for (DataCenter& dc : r.dcs) {
      if (std::string h = cluster->DbHost(dc.id); !h.empty()) {
        dc.db_hosts = {h};
      }
    }
  }
  auto nodes = PrepareLocalDeployment(*d, dir_.path(), 0, FreeLoopbackPort);
  ASSERT_TRUE(nodes.ok()) << nodes.status();
  for (auto& n : *nodes) {
    if (n.dc == "ie-dub-1") node_ = n;
  }
  ASSERT_FALSE(node_.endpoint.empty());
  config_ = dir_.Sub("ie-dub-1.yaml");
  std::ofstream(config_) << NodeConfigYaml(
      node_, absl::StrCat(CLOVER_SOURCE_DIR, "/examples"));
  auto root =
      crypto::ReadSecretKeyFile(node_.deployment.keys.pseudonym_key_file);
  ASSERT_TRUE(root.ok());
  auto subject_key = crypto::DeriveLogSubjectKey(*root);
  ASSERT_TRUE(subject_key.ok());
  StartNode();
  if (HasFatalFailure()) return;

  auto log_client = [&] {
    auto v = log::ParseVerifierKey(node_.verifier_key);
    EXPECT_TRUE(v.ok());
    std::vector<std::unique_ptr<log::NoteVerifier>> vs;
    vs.push_back(*std::move(v));
    return *log::LogClient::Create(log::HttpFetcher(node_.endpoint + "/log"),
                                   std::move(vs));
  };

  Observed seen;
  std::atomic<bool> stop{false};
  std::atomic<int64_t> killed_at_ns{0};  // 0: not yet
  auto killed_at = [&]() -> std::optional<absl::Time> {
    const int64_t ns = killed_at_ns.load();
    if (ns == 0) return std::nullopt;
    return absl::FromUnixNanos(ns);
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kWriters; ++t) {
    threads.emplace_back([&, t] {
      // Longer than any request can take: a few storage calls, each retrying
      // for kRetrySeconds.
      HttpClient c(absl::Seconds(60));
      for (int n = 0; !stop.load(); ++n) {
        const std::string subject = absl::StrCat("fo-", t, "-", n);
        const std::string body =
            absl::StrCat(R"({"country":"IE","fields":{"email":")",
                         Email(subject), R"(","name":"Person )", n, "\"}}");
        auto r = c.Send("PUT", node_.endpoint + "/v1/subjects/" + subject,
                        {kAccountsKey, "X-Clover-Purpose: account_management"},
                        body);
        const absl::Time now = absl::Now();
        bool back_off = false;
        absl::Cleanup pause = [&back_off] {
          if (back_off) absl::SleepFor(absl::Milliseconds(100));
        };
        absl::MutexLock lock(&seen.mu);
        if (!r.ok()) {
          seen.bad.push_back(absl::StrCat(subject, ": ", r.status().message()));
          continue;
        }
        ++seen.statuses[r->status];
        if (r->status == 200 || r->status == 201) {
          rapidjson::Document doc;
          doc.Parse(r->body.c_str());
          if (!doc.IsObject() || !doc.HasMember("log_index") ||
              !doc["log_index"].IsUint64()) {
            seen.bad.push_back(
                absl::StrCat(subject, ": 2xx without log_index: ", r->body));
            continue;
          }
          seen.acked.push_back({subject, doc["log_index"].GetUint64(), now});
          if (killed_at().has_value() &&
              seen.first_ack_after_kill == absl::InfiniteFuture() &&
              seen.first_unavailable != absl::InfiniteFuture()) {
            seen.first_ack_after_kill = now;
          }
        } else if (r->status == 503) {
          const bool coded =
              r->body.find(R"("code":"unavailable")") != std::string::npos ||
              r->body.find(R"("code":"log_unavailable")") != std::string::npos;
          if (!coded || r->Header("retry-after").empty()) {
            seen.bad.push_back(
                absl::StrCat("503 without Retry-After or code: ", r->body));
          } else {
            ++seen.unavailable_with_retry;
            seen.first_unavailable = std::min(seen.first_unavailable, now);
          }
          back_off = true;
        } else {
          seen.bad.push_back(
              absl::StrCat(r->status, " for ", subject, ": ", r->body));
        }
      }
    });
  }
  // A reader of acknowledged subjects: 200 with the acknowledged content, or
  // a proper 503, nothing else.
  threads.emplace_back([&] {
    HttpClient c(absl::Seconds(60));
    for (size_t n = 0; !stop.load(); ++n) {
      std::string subject;
      {
        absl::MutexLock lock(&seen.mu);
        if (!seen.acked.empty()) {
          subject = seen.acked[n % seen.acked.size()].subject;
        }
      }
      if (subject.empty()) {
        absl::SleepFor(absl::Milliseconds(20));
        continue;
      }
      auto r = c.Send(
          "GET", node_.endpoint + "/v1/subjects/" + subject + "?fields=email",
          {kSupportKey, "X-Clover-Purpose: customer_support"});
      absl::MutexLock lock(&seen.mu);
      if (!r.ok()) {
        seen.bad.push_back(
            absl::StrCat("read ", subject, ": ", r.status().message()));
      } else if (r->status == 200) {
        ++seen.reads_ok;
        if (r->body.find(Email(subject)) == std::string::npos) {
          seen.bad.push_back(absl::StrCat("read ", subject, ": ", r->body));
        }
      } else if (r->status == 503 && !r->Header("retry-after").empty()) {
        ++seen.reads_unavailable;
      } else {
        seen.bad.push_back(
            absl::StrCat("read ", subject, ": ", r->status, " ", r->body));
      }
    }
  });
  threads.emplace_back([&] {
    HttpClient c(absl::Seconds(30));
    while (!stop.load()) {
      auto r = c.Send("GET", node_.endpoint + "/readyz", {});
      if (r.ok()) {
        absl::MutexLock lock(&seen.mu);
        if (r->status == 503 &&
            r->body.find("storage_unavailable") != std::string::npos &&
            !r->Header("retry-after").empty()) {
          ++seen.readyz_not_ready;
        } else if (r->status == 200 && seen.readyz_not_ready > 0) {
          ++seen.readyz_ready_after;
        } else if (r->status != 200) {
          seen.bad.push_back(absl::StrCat("readyz ", r->status, ": ", r->body));
        }
      }
      absl::SleepFor(absl::Milliseconds(200));
    }
  });

  auto acked_count = [&] {
    absl::MutexLock lock(&seen.mu);
    return seen.acked.size();
  };
  // Some traffic before the loss.
  const absl::Time warm = absl::Now() + absl::Seconds(20);
  while (acked_count() < 30 && absl::Now() < warm) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_GE(acked_count(), 30u) << "no traffic before the failover";
  log::Checkpoint before;
  {
    auto cp = log_client()->FetchCheckpoint();
    ASSERT_TRUE(cp.ok()) << cp.status();
    before = cp->checkpoint;
  }

  auto leader = cluster->Leader();
  ASSERT_TRUE(leader.ok()) << leader.status();
  const absl::Time kill_time = absl::Now();
  killed_at_ns = absl::ToUnixNanos(kill_time);
  ASSERT_TRUE(cluster->Kill(*leader).ok());
  const size_t acked_at_kill = acked_count();

  // Resumed: writes acknowledged again after the 503s, and /readyz back.
  constexpr absl::Duration kBound = absl::Seconds(75);
  for (;;) {
    {
      absl::MutexLock lock(&seen.mu);
      if (seen.first_ack_after_kill != absl::InfiniteFuture() &&
          seen.acked.size() >= acked_at_kill + 30 &&
          seen.readyz_ready_after > 0) {
        break;
      }
    }
    if (absl::Now() - kill_time > kBound) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  stop = true;
  for (auto& th : threads) th.join();

  auto new_leader = cluster->Leader();
  ASSERT_TRUE(new_leader.ok()) << new_leader.status();
  EXPECT_NE(*new_leader, *leader);
  {
    absl::MutexLock lock(&seen.mu);
    std::string statuses;
    for (const auto& [status, count] : seen.statuses) {
      absl::StrAppend(&statuses, " ", status, "x", count);
    }
    std::printf(
        "leader %s SIGKILLed, %s took over; statuses:%s; acknowledged %zu "
        "(%zu before the kill); first 503 after %.1f s; first acknowledged "
        "write after the 503s: %.1f s after the kill; readyz 503 seen %d "
        "times; reads 200x%d 503x%d\n",
        leader->c_str(), new_leader->c_str(), statuses.c_str(),
        seen.acked.size(), acked_at_kill,
        absl::ToDoubleSeconds(seen.first_unavailable - kill_time),
        absl::ToDoubleSeconds(seen.first_ack_after_kill - kill_time),
        seen.readyz_not_ready, seen.reads_ok, seen.reads_unavailable);
    for (const std::string& b : seen.bad) ADD_FAILURE() << b;
    EXPECT_GT(seen.unavailable_with_retry, 0)
        << "no 503 with Retry-After during the failover";
    EXPECT_GT(seen.readyz_not_ready, 0)
        << "/readyz never said not ready during the failover";
    EXPECT_GT(seen.readyz_ready_after, 0) << "/readyz did not come back";
    ASSERT_NE(seen.first_ack_after_kill, absl::InfiniteFuture())
        << "no write acknowledged after the failover";
    EXPECT_LT(seen.first_ack_after_kill - kill_time, kBound);
    EXPECT_EQ(seen.statuses.count(500), 0u);
    EXPECT_GT(seen.reads_ok, 0);
  }

  // Every acknowledged write reads back with its acknowledged content...
  HttpClient c(absl::Seconds(30));
  for (const Acked& a : seen.acked) {
    auto r = c.Send(
        "GET", node_.endpoint + "/v1/subjects/" + a.subject + "?fields=email",
        {kSupportKey, "X-Clover-Purpose: customer_support"});
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->status, 200)
        << "acknowledged write of " << a.subject << " lost: " << r->body;
    EXPECT_NE(r->body.find(Email(a.subject)), std::string::npos)
        << a.subject << ": " << r->body;
  }
  // ...and the node's log verifies: signed checkpoint, consistent with the
  // one seen before the loss, every entry hashing into it, and each
  // acknowledged decision at the index its response named.
  auto client = log_client();
  auto cp = client->FetchCheckpoint();
  ASSERT_TRUE(cp.ok()) << cp.status();
  EXPECT_TRUE(client->VerifyConsistency(before, cp->checkpoint).ok());
  auto all = client->VerifyAllEntries(cp->checkpoint);
  ASSERT_TRUE(all.ok()) << all.status();
  for (const Acked& a : seen.acked) {
    ASSERT_LT(a.index, cp->checkpoint.size);
    auto entry = client->FetchEntry(cp->checkpoint, a.index);
    ASSERT_TRUE(entry.ok()) << entry.status();
    EXPECT_NE(entry->find(crypto::SubjectPseudonym(*subject_key, a.subject)),
              std::string::npos)
        << "entry " << a.index << " is not the decision acknowledged for "
        << a.subject;
  }
  std::printf("verified %zu acknowledged writes and a log of %llu entries\n",
              seen.acked.size(),
              static_cast<unsigned long long>(cp->checkpoint.size));
}

}  // namespace
}  // namespace clover::gateway
