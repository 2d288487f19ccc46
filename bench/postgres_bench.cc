// bench_postgres: the PostgreSQL drivers against the embedded RocksDB ones, in
// the same run, on the same disk. PostgreSQL is a throwaway local server (unix
// socket, fsync on, synchronous_commit on); RocksDB fsyncs every log batch.
//   1. durable log appends/s, flooded (large batches): Postgres vs RocksDB
//   2. durable log appends/s, one appender waiting for each append (one
//      commit per append: the per-commit latency)
//   3. vault puts/s and gets/s through vault::Vault (4 threads): Postgres vs
//      RocksDB with sync=true (the same durability) and sync=false (default)
// Usage: bench_postgres [--entries N] [--subjects N] [--gets N]
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/owned_dir.h"
#include "core/postgres_test_server.h"
#include "log/postgres_storage.h"
#include "log/rocksdb_storage.h"
#include "log/sequencer.h"
#include "vault/key_encryption_key.h"
#include "vault/postgres_storage.h"
#include "vault/record_parser.h"
#include "vault/test_util.h"
#include "vault/vault.h"

namespace clover {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

template <typename T>
T Must(absl::StatusOr<T> v, const char* what) {
  if (!v.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, v.status().ToString().c_str());
    std::exit(1);
  }
  return *std::move(v);
}

std::unique_ptr<log::Sequencer> OpenLog(std::unique_ptr<log::LogStorage> s,
                                        size_t max_batch) {
  auto key = crypto::Ed25519PrivateKey::FromSeed(std::string(32, 'b'));
  log::SequencerOptions opts;
  opts.max_batch_entries = max_batch;
  opts.max_queued_entries = 1 << 24;
  return Must(
      log::Sequencer::Open(std::move(s),
                           *log::NewNoteSigner("bench.clover.example/log",
                                               log::kNoteTypeEd25519, *key),
                           opts),
      "sequencer");
}

std::string Payload(uint64_t i) {
  return absl::StrCat("{\"i\":", i, ",\"p\":\"", std::string(190, 'p'), "\"}");
}

// Appends n entries from 2 producers as fast as the sequencer takes them.
double Flood(log::Sequencer& seq, uint64_t n) {
  std::atomic<uint64_t> done{0};
  std::atomic<bool> failed{false};
  const auto t0 = Clock::now();
  std::vector<std::thread> producers;
  for (int t = 0; t < 2; ++t) {
    producers.emplace_back([&, t] {
      for (uint64_t i = t; i < n; i += 2) {
        seq.Append(Payload(i), [&](absl::StatusOr<uint64_t> r) {
          if (!r.ok()) failed = true;
          done.fetch_add(1, std::memory_order_relaxed);
        });
      }
    });
  }
  for (auto& p : producers) p.join();
  while (done.load() < n) {
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  const double secs = Seconds(t0, Clock::now());
  if (failed) {
    std::fprintf(stderr, "appends failed\n");
    std::exit(1);
  }
  return n / secs;
}

// One appender that waits for each append: one durable commit per entry.
double OneByOne(log::Sequencer& seq, uint64_t n) {
  const auto t0 = Clock::now();
  for (uint64_t i = 0; i < n; ++i) {
    Must(seq.Append(Payload(i)).get(), "append");
  }
  return n / Seconds(t0, Clock::now());
}

struct VaultRates {
  double puts = 0;
  double gets = 0;
};

VaultRates BenchVault(std::unique_ptr<vault::StorageDriver> storage,
                      int subjects, int gets) {
  const Deployment deployment = vault::testing::TestDeployment();
  vault::VaultOptions options;
  options.region = "eu";
  auto v =
      Must(vault::Vault::Open(
               deployment, options, std::move(storage),
               vault::FileKeyEncryptionKey::FromKey(vault::testing::TestKey(5)),
               vault::testing::TestKey(9)),
           "vault");
  const vault::Record record = Must(
      vault::ParseRecordJson(deployment.schema, R"({"country":"IE","fields":{
        "email":"ann@mail.example","phone":"+353861234567","name":"Ann",
        "birthdate":"1990-04-12","watch_history":["v1","v2","v3"]}})"),
      "record");
  constexpr int kThreads = 4;
  VaultRates rates;
  auto run = [&](int n, auto op) {
    std::atomic<bool> failed{false};
    const auto t0 = Clock::now();
    std::vector<std::thread> ts;
    for (int t = 0; t < kThreads; ++t) {
      ts.emplace_back([&, t] {
        for (int i = t; i < n; i += kThreads) {
          if (!op(i)) failed = true;
        }
      });
    }
    for (auto& t : ts) t.join();
    if (failed) {
      std::fprintf(stderr, "vault operation failed\n");
      std::exit(1);
    }
    return n / Seconds(t0, Clock::now());
  };
  rates.puts = run(subjects, [&](int i) {
    return v->Put(absl::StrCat("subject-", i), record).ok();
  });
  const vault::AccessContext ctx{"bench", "customer_support"};
  // The key cache is on (default): gets measure storage reads + decryption.
  rates.gets = run(gets, [&](int i) {
    return v->Get(absl::StrCat("subject-", (i * 7919) % subjects), {}, ctx)
        .ok();
  });
  return rates;
}

// A fresh directory marked as Clover's (core/owned_dir.h): the only kind the
// bench deletes.
std::string TempDir(const char* tag) {
  auto made = CreateOwnedTempDir(absl::StrCat("bench-", tag), "/tmp");
  if (!made.ok()) {
    std::fprintf(stderr, "%s\n", std::string(made.status().message()).c_str());
    std::exit(1);
  }
  return *made;
}

int Main(int argc, char** argv) {
  uint64_t entries = 200'000;
  uint64_t one_by_one = 300;
  int subjects = 4'000;
  int gets = 40'000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--entries")) {
      entries = std::strtoull(argv[i + 1], nullptr, 10);
    } else if (!std::strcmp(argv[i], "--subjects")) {
      subjects = std::atoi(argv[i + 1]);
    } else if (!std::strcmp(argv[i], "--gets")) {
      gets = std::atoi(argv[i + 1]);
    } else {
      std::fprintf(stderr,
                   "usage: bench_postgres [--entries N] "
                   "[--subjects N] [--gets N]\n");
      return 2;
    }
  }
  auto server = PostgresTestServer::Start();
  if (!server.ok()) {
    std::fprintf(stderr, "bench_postgres: cannot start PostgreSQL: %s\n",
                 server.status().ToString().c_str());
    return 1;
  }
  const std::string& dsn = (*server)->dsn();
  std::printf(
      "bench_postgres (2-core box; local PostgreSQL 15 over a unix socket, "
      "fsync on; single runs)\n");

  // 1 + 2. The log.
  const std::string rdir = TempDir("rocks");
  double rocks_flood, pg_flood, rocks_one, pg_one;
  {
    auto seq =
        OpenLog(Must(log::OpenRocksDbStorage(rdir + "/flood"), "rocks"), 16384);
    rocks_flood = Flood(*seq, entries);
  }
  {
    auto seq = OpenLog(
        Must(log::OpenPostgresLogStorage(dsn, "bench-flood"), "pg"), 16384);
    pg_flood = Flood(*seq, entries);
  }
  {
    auto seq =
        OpenLog(Must(log::OpenRocksDbStorage(rdir + "/one"), "rocks"), 16384);
    rocks_one = OneByOne(*seq, one_by_one);
  }
  {
    auto seq = OpenLog(
        Must(log::OpenPostgresLogStorage(dsn, "bench-one"), "pg"), 16384);
    pg_one = OneByOne(*seq, one_by_one);
  }
  std::printf(
      "log, flooded (%llu entries of ~200 B, 2 producers):\n"
      "  rocksdb  %9.0f durable appends/s  [baseline]\n"
      "  postgres %9.0f durable appends/s  (%.2fx rocksdb)\n",
      static_cast<unsigned long long>(entries), rocks_flood, pg_flood,
      pg_flood / rocks_flood);
  std::printf(
      "log, one appender waiting for each append (%llu appends = commits):\n"
      "  rocksdb  %9.0f appends/s  [baseline]\n"
      "  postgres %9.0f appends/s  (%.2fx rocksdb)\n",
      static_cast<unsigned long long>(one_by_one), rocks_one, pg_one,
      pg_one / rocks_one);

  // 3. The vault.
  vault::RocksDbOptions sync;
  sync.sync = true;
  const VaultRates rocks_sync = BenchVault(
      Must(vault::OpenRocksDbStorage(rdir + "/vault-sync", sync), "rocks"),
      subjects, gets);
  const VaultRates rocks_nosync =
      BenchVault(Must(vault::OpenRocksDbStorage(rdir + "/vault"), "rocks"),
                 subjects, gets);
  const VaultRates pg = BenchVault(
      Must(vault::OpenPostgresVaultStorage(dsn, "eu"), "pg"), subjects, gets);
  std::printf(
      "vault through vault::Vault, 4 threads (%d puts of new subjects, %d "
      "gets):\n"
      "  rocksdb sync=true   %8.0f puts/s %9.0f gets/s  [baseline]\n"
      "  rocksdb sync=false  %8.0f puts/s %9.0f gets/s\n"
      "  postgres            %8.0f puts/s %9.0f gets/s  (%.2fx / %.2fx "
      "rocksdb sync=true)\n",
      subjects, gets, rocks_sync.puts, rocks_sync.gets, rocks_nosync.puts,
      rocks_nosync.gets, pg.puts, pg.gets, pg.puts / rocks_sync.puts,
      pg.gets / rocks_sync.gets);
  if (absl::Status s = RemoveOwnedDir(rdir); !s.ok())
    std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
  return 0;
}

}  // namespace
}  // namespace clover

int main(int argc, char** argv) { return clover::Main(argc, argv); }
