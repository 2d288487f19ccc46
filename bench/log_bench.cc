// bench_log: prints, in one run, the figures of issue 3 next to the machine's
// ceiling.
//   1. raw OpenSSL SHA-256 of 64-byte inputs (the ceiling: every append costs
//   ~2 hashes)
//   2. durable appends/s for 1,000,000 entries of ~200 bytes (RocksDB, fsync
//   per batch)
//   3. p50/p99 append-to-durable latency at 100,000 appends/s offered
//   4. inclusion-proof latency at tree size 10,000,000 (cold and warm tile
//   cache)
//   5. restart-to-ready time at that size, after a clean close and after a
//   crash
//   6. the gateway's workload: ~1.4 KB entries appended by closed-loop threads
//   that each wait for their ack (batches of ~50); appends/s, latency and the
//   bytes written per entry (handed to the storage driver, and reaching the
//   block layer per /proc/self/io, which adds RocksDB flushes and compactions)
// Usage: bench_log [--dir DIR] [--entries N] [--big N] [--large N]
//                  [--threads N]   (DIR default: $TMPDIR; 0 skips a part)
#include <openssl/evp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "core/owned_dir.h"
#include "log/forwarding_storage.h"
#include "log/rocksdb_storage.h"
#include "log/sequencer.h"

namespace clover::log {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

std::unique_ptr<NoteSigner> BenchSigner() {
  auto key = crypto::Ed25519PrivateKey::FromSeed(std::string(32, 'b'));
  return *NewNoteSigner("bench.clover.example/log", kNoteTypeEd25519, *key);
}

// Counts the bytes of every batch handed to the driver.
class CountingStorage final : public ForwardingLogStorage {
 public:
  using ForwardingLogStorage::ForwardingLogStorage;
  absl::Status Write(const LogWriteBatch& batch) override {
    uint64_t n = batch.checkpoint.size() + batch.metadata.size();
    for (const auto& t : batch.tiles) n += t.second.size();
    for (const auto& b : batch.bundles) n += b.second.size();
    for (const auto& f : batch.fragments) n += f.second.size();
    bytes_.fetch_add(n, std::memory_order_relaxed);
    return base().Write(batch);
  }
  uint64_t bytes() const { return bytes_.load(); }

 private:
  std::atomic<uint64_t> bytes_{0};
};

// Bytes this process has caused to be written to the block layer (-1 if the
// kernel does not account I/O).
int64_t ProcessWriteBytes() {
  std::ifstream in("/proc/self/io");
  std::string key;
  int64_t value = 0;
  while (in >> key >> value) {
    if (key == "write_bytes:") return value;
  }
  return -1;
}

// A part's own directory under the run's, marked as Clover's
// (core/owned_dir.h) so that it can be deleted when the part is done.
std::string PartDir(const std::string& base, const char* name) {
  const std::string dir = base + "/" + name;
  if (absl::Status s = ResetOwnedDir(dir, "bench_log"); !s.ok()) {
    std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
    std::exit(1);
  }
  return dir;
}

void RemoveDir(const std::string& dir) {
  if (absl::Status s = RemoveOwnedDir(dir); !s.ok()) {
    std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
    std::exit(1);
  }
}

std::unique_ptr<LogStorage> OpenStorage(const std::string& dir) {
  auto storage = OpenRocksDbStorage(dir);
  if (!storage.ok()) {
    std::fprintf(stderr, "open %s: %s\n", dir.c_str(),
                 storage.status().ToString().c_str());
    std::exit(1);
  }
  return *std::move(storage);
}

std::unique_ptr<Sequencer> Open(std::unique_ptr<LogStorage> storage,
                                size_t max_batch) {
  SequencerOptions opts;
  opts.max_batch_entries = max_batch;
  opts.max_queued_entries = 1 << 24;
  auto seq = Sequencer::Open(std::move(storage), BenchSigner(), opts);
  if (!seq.ok()) {
    std::fprintf(stderr, "sequencer: %s\n", seq.status().ToString().c_str());
    std::exit(1);
  }
  return *std::move(seq);
}

std::unique_ptr<Sequencer> Open(const std::string& dir, size_t max_batch) {
  return Open(OpenStorage(dir), max_batch);
}

double Sha256Ceiling() {
  EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  unsigned char in[64] = {1};
  unsigned char out[32];
  constexpr int kN = 3'000'000;
  auto t0 = Clock::now();
  for (int i = 0; i < kN; ++i) {
    in[0] = static_cast<unsigned char>(i);
    EVP_DigestInit_ex2(ctx, md, nullptr);
    EVP_DigestUpdate(ctx, in, sizeof(in));
    unsigned int len;
    EVP_DigestFinal_ex(ctx, out, &len);
  }
  const double rate = kN / Seconds(t0, Clock::now());
  EVP_MD_CTX_free(ctx);
  EVP_MD_free(md);
  return rate;
}

// Appends `n` entries made by `make` from `threads` producers as fast as the
// sequencer takes them; returns the elapsed seconds until the last one is
// durable.
template <typename Make>
double Flood(Sequencer& seq, uint64_t n, int threads, Make make) {
  std::atomic<uint64_t> done{0};
  std::atomic<bool> failed{false};
  auto t0 = Clock::now();
  std::vector<std::thread> producers;
  for (int t = 0; t < threads; ++t) {
    producers.emplace_back([&, t] {
      for (uint64_t i = t; i < n; i += threads) {
        seq.Append(make(i), [&](absl::StatusOr<uint64_t> r) {
          if (!r.ok()) failed = true;
          done.fetch_add(1, std::memory_order_relaxed);
        });
      }
    });
  }
  for (auto& p : producers) p.join();
  while (done.load() < n)
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  const double secs = Seconds(t0, Clock::now());
  if (failed) {
    std::fprintf(stderr, "appends failed\n");
    std::exit(1);
  }
  return secs;
}

// 6. `n` entries of ~1.4 KB from `threads` closed-loop appenders.
void LargeEntries(const std::string& base, uint64_t n, int threads) {
  const std::string dir = PartDir(base, "large");
  auto counting = std::make_unique<CountingStorage>(OpenStorage(dir));
  CountingStorage* counter = counting.get();
  auto seq = Open(std::move(counting), 16384);
  const uint64_t bytes0 = counter->bytes();
  const int64_t io0 = ProcessWriteBytes();
  std::vector<std::vector<int64_t>> latency_ns(threads);
  std::atomic<uint64_t> next{0};
  std::atomic<uint64_t> entry_bytes{0};
  std::atomic<bool> failed{false};
  const auto t0 = Clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      std::mt19937_64 rng(t);
      std::string filler(1350, '\0');
      for (uint64_t i; (i = next.fetch_add(1)) < n;) {
        // Incompressible, like the gateway's sealed access records.
        for (char& c : filler) c = static_cast<char>('a' + rng() % 26);
        std::string entry =
            absl::StrCat("{\"seq\":", i, ",\"rec\":\"", filler, "\"}");
        entry_bytes.fetch_add(entry.size(), std::memory_order_relaxed);
        const auto sent = Clock::now();
        if (!seq->Append(std::move(entry)).get().ok()) failed = true;
        latency_ns[t].push_back(
            std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() -
                                                                 sent)
                .count());
      }
    });
  }
  for (auto& w : workers) w.join();
  const double secs = Seconds(t0, Clock::now());
  if (failed) {
    std::fprintf(stderr, "large-entry appends failed\n");
    std::exit(1);
  }
  const SequencerStats st = seq->Stats();
  const uint64_t handed = counter->bytes() - bytes0;
  seq.reset();  // closes RocksDB: its flushes count too
  const int64_t io1 = ProcessWriteBytes();
  std::vector<int64_t> all;
  for (auto& v : latency_ns) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) {
    return all[static_cast<size_t>(p * (all.size() - 1))] / 1e6;
  };
  const double data = static_cast<double>(entry_bytes.load()) / n;
  std::printf(
      "large entries: %llu x %.0f B from %d closed-loop threads in %.2f s = "
      "%.0f appends/s; %.1f entries/batch; latency p50 %.2f ms, p99 %.2f ms, "
      "max %.2f ms\n",
      static_cast<unsigned long long>(n), data, threads, secs, n / secs,
      static_cast<double>(st.entries) / std::max<uint64_t>(1, st.batches),
      pct(0.5), pct(0.99), all.back() / 1e6);
  std::printf(
      "  bytes written per entry: %.0f B handed to storage (%.2fx the entry), "
      "",
      static_cast<double>(handed) / n, handed / (data * n));
  if (io0 >= 0 && io1 >= 0) {
    std::printf("%.0f B to the block layer (%.2fx the entry)\n",
                static_cast<double>(io1 - io0) / n, (io1 - io0) / (data * n));
  } else {
    std::printf("block-layer bytes not available\n");
  }
  RemoveDir(dir);
}

void Run(const std::string& base, uint64_t n_entries, uint64_t n_big,
         uint64_t n_large, int threads) {
  std::printf("bench_log (2-core box; figures are single runs)\n");
  const double sha = Sha256Ceiling();
  std::printf(
      "sha256 64-byte (OpenSSL EVP, reused ctx): %.0f hashes/s  [ceiling]\n",
      sha);

  if (n_large > 0) LargeEntries(base, n_large, threads);
  if (n_entries == 0) return;

  // 2. Durable appends of ~200-byte entries.
  const std::string dir1 = PartDir(base, "throughput");
  double append_rate;
  {
    auto seq = Open(dir1, 16384);
    std::string payload(190, 'p');
    const double secs = Flood(*seq, n_entries, 2, [&](uint64_t i) {
      return absl::StrCat("{\"i\":", i, ",\"p\":\"", payload, "\"}");
    });
    append_rate = n_entries / secs;
    const SequencerStats st = seq->Stats();
    std::printf(
        "  (%llu batches, %.0f entries/batch; integrator busy %.2f s, storage "
        "writes %.2f s)\n",
        static_cast<unsigned long long>(st.batches),
        static_cast<double>(st.entries) / std::max<uint64_t>(1, st.batches),
        absl::ToDoubleSeconds(st.integrate_time),
        absl::ToDoubleSeconds(st.write_time));
    std::printf(
        "durable appends: %llu entries of ~200 B in %.2f s = %.0f appends/s "
        "(%.3f of the sha256 ceiling; each append costs ~2 hashes)\n",
        static_cast<unsigned long long>(n_entries), secs, append_rate,
        append_rate / sha);
  }

  // 3. Latency at 100k appends/s offered, on a log of its own: the backlog of
  // flushes and compactions the full-speed run above leaves behind is not the
  // steady state at this rate (this run's own flushes are).
  {
    const std::string dir3 = PartDir(base, "latency");
    auto seq = Open(dir3, 16384);
    constexpr uint64_t kRate = 100'000;
    constexpr double kSeconds = 5.0;
    const uint64_t n = static_cast<uint64_t>(kRate * kSeconds);
    std::vector<int64_t> latency_ns(n, -1);
    std::atomic<uint64_t> done{0};
    std::string payload(190, 'q');
    // Open loop: entry i is due at t0 + i / kRate. The sender wakes every
    // 100 us and sends what is due, so it does not spin on one of the two
    // cores the sequencer needs; latency counts from the due time, so a late
    // sender cannot hide a slow log (no coordinated omission).
    const auto t0 = Clock::now();
    auto due_at = [&](uint64_t i) {
      return t0 + std::chrono::nanoseconds(i * 1'000'000'000 / kRate);
    };
    for (uint64_t i = 0; i < n; ++i) {
      const auto due = due_at(i);
      if (Clock::now() < due) {
        std::this_thread::sleep_until(due + std::chrono::microseconds(100));
      }
      const auto sent = due;
      seq->Append(
          absl::StrCat("{\"lat\":", i, ",\"p\":\"", payload, "\"}"),
          [&, i, sent](absl::StatusOr<uint64_t> r) {
            latency_ns[i] =
                r.ok() ? std::chrono::duration_cast<std::chrono::nanoseconds>(
                             Clock::now() - sent)
                             .count()
                       : -1;
            done.fetch_add(1);
          });
    }
    const double offered = n / Seconds(t0, Clock::now());
    while (done.load() < n)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    std::sort(latency_ns.begin(), latency_ns.end());
    if (latency_ns.front() < 0) {
      std::fprintf(stderr, "latency run had failures\n");
      std::exit(1);
    }
    auto pct = [&](double p) {
      return latency_ns[static_cast<size_t>(p * (n - 1))] / 1e6;
    };
    std::printf(
        "latency at %.0f appends/s offered: p50 %.2f ms, p99 %.2f ms, max %.2f "
        "ms\n",
        offered, pct(0.5), pct(0.99), latency_ns.back() / 1e6);
    seq.reset();
    RemoveDir(dir3);
  }
  RemoveDir(dir1);

  if (n_big == 0) return;
  // 4. A 10M-entry tree (small entries keep the disk footprint down), proofs,
  // restart.
  const std::string dir2 = PartDir(base, "big");
  {
    auto seq = Open(dir2, 65536);
    const double secs =
        Flood(*seq, n_big, 2, [](uint64_t i) { return absl::StrCat("e", i); });
    std::printf(
        "built a %llu-entry tree in %.1f s (%.0f appends/s, short entries)\n",
        static_cast<unsigned long long>(n_big), secs, n_big / secs);
  }
  auto t0 = Clock::now();
  auto storage = OpenRocksDbStorage(dir2);
  auto seq = Sequencer::Open(*std::move(storage), BenchSigner());
  if (!seq.ok() || (*seq)->Size() != n_big) {
    std::fprintf(stderr, "restart failed\n");
    std::exit(1);
  }
  const double restart_ms = Seconds(t0, Clock::now()) * 1e3;
  std::printf("restart-to-ready at size %llu: %.1f ms\n",
              static_cast<unsigned long long>(n_big), restart_ms);

  std::mt19937_64 rng(1);
  std::vector<uint64_t> indexes(2000);
  for (auto& i : indexes) i = rng() % n_big;
  for (int pass = 0; pass < 2; ++pass) {
    std::vector<double> us;
    for (uint64_t i : indexes) {
      auto a = Clock::now();
      auto proof = (*seq)->InclusionProof(i, n_big);
      us.push_back(Seconds(a, Clock::now()) * 1e6);
      if (!proof.ok()) {
        std::fprintf(stderr, "proof: %s\n", proof.status().ToString().c_str());
        std::exit(1);
      }
    }
    std::sort(us.begin(), us.end());
    std::printf(
        "inclusion proof at size %llu, %s cache: p50 %.1f us, p99 %.1f us\n",
        static_cast<unsigned long long>(n_big), pass == 0 ? "cold" : "warm",
        us[us.size() / 2], us[us.size() * 99 / 100]);
  }
  seq->reset();

  // 6. Restart after a crash: a child appends 1,000,000 more entries and ends
  // with _exit, skipping every destructor (no memtable flush at close, as
  // after SIGKILL); the reopen replays the write-ahead log, whose size
  // max_total_wal_size bounds.
  const uint64_t extra = 1'000'000;
  // A fresh process (fork + exec), not a bare fork: RocksDB's background
  // threads do not survive fork.
  const pid_t child = fork();
  if (child == 0) {
    const std::string n = std::to_string(extra);
    execl("/proc/self/exe", "bench_log", "--append-and-exit", dir2.c_str(),
          n.c_str(), static_cast<char*>(nullptr));
    std::_Exit(127);
  }
  int status = 0;
  if (child < 0 || waitpid(child, &status, 0) != child || !WIFEXITED(status) ||
      WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "crash child failed\n");
    std::exit(1);
  }
  t0 = Clock::now();
  auto reopened = Sequencer::Open(*OpenRocksDbStorage(dir2), BenchSigner());
  if (!reopened.ok() || (*reopened)->Size() != n_big + extra) {
    std::fprintf(stderr, "restart after crash failed\n");
    std::exit(1);
  }
  std::printf("restart-to-ready after a crash at size %llu: %.1f ms\n",
              static_cast<unsigned long long>(n_big + extra),
              Seconds(t0, Clock::now()) * 1e3);
  reopened->reset();
  RemoveDir(dir2);
}

}  // namespace
}  // namespace clover::log

int main(int argc, char** argv) {
  if (argc == 4 && std::strcmp(argv[1], "--append-and-exit") == 0) {
    // The crashing child of part 6: append, then end without any cleanup.
    auto seq = clover::log::Open(argv[2], 65536);
    clover::log::Flood(*seq, std::strtoull(argv[3], nullptr, 10), 2,
                       [](uint64_t i) { return absl::StrCat("c", i); });
    std::_Exit(0);
  }
  const char* tmp = std::getenv("TMPDIR");
  std::string dir = tmp ? tmp : "/tmp";
  uint64_t entries = 1'000'000, big = 10'000'000, large = 30'000;
  int threads = 50;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--dir") == 0) dir = argv[i + 1];
    if (std::strcmp(argv[i], "--entries") == 0)
      entries = std::strtoull(argv[i + 1], nullptr, 10);
    if (std::strcmp(argv[i], "--big") == 0)
      big = std::strtoull(argv[i + 1], nullptr, 10);
    if (std::strcmp(argv[i], "--large") == 0)
      large = std::strtoull(argv[i + 1], nullptr, 10);
    if (std::strcmp(argv[i], "--threads") == 0)
      threads = std::max(1, std::atoi(argv[i + 1]));
  }
  auto made = clover::CreateOwnedTempDir("bench-log", dir);
  if (!made.ok()) {
    std::fprintf(stderr, "%s\n", std::string(made.status().message()).c_str());
    return 1;
  }
  const std::string base = *made;
  clover::log::Run(base, entries, big, large, threads);
  clover::log::RemoveDir(base);
  return 0;
}
