// bench_vault: single-thread throughput of Clover's tokenisation and vault
// paths, each reported as operations per second and as a ratio to raw OpenSSL
// HMAC-SHA-256 of 32 bytes measured in the same run (the ceiling: nothing keyed
// can be cheaper).
//
//   bench_vault [--subjects N] [--seconds S] [--dir DIR] [--key-subjects K]
//
// Then the key-custody section (bench/vault_keys_bench.h): reads and writes
// with the file KEK, a SoftHSM2 token and external key release (cache warm
// and cold), min(N, K) subjects each (K default 10,000), as ratios to the
// file KEK measured in the same run.
//
// DIR (default /tmp/clover-bench-vault) is the bench's own: created with an
// ownership marker, or emptied if a run made it before; any other non-empty
// directory is refused (core/owned_dir.h). The store lives in DIR/store.
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdlib.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/synchronization/mutex.h"
#include "bench/vault_keys_bench.h"
#include "config/deployment.h"
#include "core/big_endian.h"
#include "core/owned_dir.h"
#include "crypto/ff1.h"
#include "vault/key_encryption_key.h"
#include "vault/pseudonymizer.h"
#include "vault/rocksdb_storage.h"
#include "vault/token_keys.h"
#include "vault/vault.h"

namespace clover::vault {
namespace {

std::atomic<size_t> g_sink{0};  // keeps results observable to the optimiser

double CpuSeconds(clockid_t clock) {
  timespec ts;
  clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) +
         static_cast<double>(ts.tv_nsec) * 1e-9;
}

// CPU seconds used by the whole process (all threads, so RocksDB's background
// flushes and compactions are charged to the operation that caused them). The
// machine is shared, so per-core throughput is operations per CPU second, not
// per wall second.
double ProcessCpuSeconds() { return CpuSeconds(CLOCK_PROCESS_CPUTIME_ID); }

// CPU seconds used by the calling thread alone.
double ThreadCpuSeconds() { return CpuSeconds(CLOCK_THREAD_CPUTIME_ID); }

// Runs `op` in batches until `seconds` of CPU time have passed; returns
// operations per CPU second.
template <typename Op>
double Measure(double seconds, Op op) {
  size_t n = 0;
  double start = ProcessCpuSeconds();
  double elapsed = 0;
  do {
    for (int i = 0; i < 256; ++i) op(n++);
    elapsed = ProcessCpuSeconds() - start;
  } while (elapsed < seconds);
  return static_cast<double>(n) / elapsed;
}

void Report(const char* name, double ops, double ceiling, const char* target) {
  std::printf("%-44s %12.0f ops/s  %6.3f x ceiling   (target %s)\n", name, ops,
              ops / ceiling, target);
}

void Die(const absl::Status& s, const char* what) {
  std::fprintf(stderr, "bench_vault: %s: %s\n", what, s.ToString().c_str());
  std::exit(1);
}

Deployment BenchDeployment() {
  Deployment d;
  d.jurisdictions = {{"eu", "EU", {"IE", "DE", "FR"}}, {"us", "US", {"US"}}};
  d.regions = {{"eu", {"eu"}, {{"ie-dub-1", "IE", "http://127.0.0.1:8441"}}},
               {"us", {"us"}, {{"us-tx-1", "US", "http://127.0.0.1:8451"}}}};
  auto field = [](const char* n, FieldFormat f, PseudonymMethod m) {
    FieldSpec s;
    s.name = n;
    s.category = "contact";
    s.format = f;
    s.method = m;
    return s;
  };
  d.schema.fields = {
      field("email", FieldFormat::kEmail, PseudonymMethod::kHmac),
      field("phone", FieldFormat::kE164, PseudonymMethod::kFf1),
      field("name", FieldFormat::kText, PseudonymMethod::kSiv),
      field("birthdate", FieldFormat::kDate, PseudonymMethod::kGeneralize),
      field("ip_address", FieldFormat::kIp, PseudonymMethod::kGeneralize)};
  return d;
}

// Subject ids as a platform issues them: unrelated to insertion order (here a
// bijective mix of the index, printed as 16 hex digits), so the store sees
// random-order keys, not an ascending sequence that would flatter it.
std::string SubjectId(uint64_t i) {
  uint64_t x = i + 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  x ^= x >> 31;
  char buf[24];
  std::snprintf(buf, sizeof buf, "u-%016llx",
                static_cast<unsigned long long>(x));
  return buf;
}

Record MakeRecord(size_t i) {
  Record r;
  r.country = "IE";
  std::string n = std::to_string(i);
  r.fields = {
      {"email", false, "user" + n + "@mail.example", {}},
      {"phone", false, "+3538" + std::to_string(10000000 + i % 89999999), {}},
      {"name", false, "Subject Number " + n, {}},
      {"birthdate", false, "1990-04-12", {}},
      {"ip_address", false, "192.0.2.17", {}}};
  return r;
}

int Main(int argc, char** argv) {
  // Deadlock detection (on by default in this Abseil build) bookkeeps every
  // lock acquisition in a global graph; a production binary turns it off the
  // same way.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  size_t subjects = 1'000'000;
  size_t key_subjects = 10'000;
  double seconds = 1.0;
  std::string dir = "/tmp/clover-bench-vault";
  const auto usage = [](const char* problem) {
    std::fprintf(stderr,
                 "bench_vault: %s\nusage: bench_vault [--subjects N] "
                 "[--seconds S] [--dir DIR] [--key-subjects K]\n",
                 problem);
    return 2;
  };
  if (argc % 2 == 0) return usage("every flag takes one value");
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--subjects") {
      if (!absl::SimpleAtoi(value, &subjects) || subjects == 0) {
        return usage("--subjects: not a positive integer");
      }
    } else if (flag == "--seconds") {
      if (!absl::SimpleAtod(value, &seconds) || seconds <= 0) {
        return usage("--seconds: not a positive number");
      }
    } else if (flag == "--dir") {
      dir = value;
    } else if (flag == "--key-subjects") {
      if (!absl::SimpleAtoi(value, &key_subjects) || key_subjects == 0) {
        return usage("--key-subjects: not a positive integer");
      }
    } else {
      return usage("unknown flag");
    }
  }
  if (absl::Status s = ResetOwnedDir(dir, "bench_vault"); !s.ok()) {
    std::fprintf(stderr, "bench_vault: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  // Empties the store: the next open starts from nothing.
  const auto reset_store = [&dir] {
    if (absl::Status s = ResetOwnedDir(dir, "bench_vault"); !s.ok())
      Die(s, "reset the store");
  };
  const std::string store = dir + "/store";
  crypto::SecretKey root;
  root.fill(0x42);

  // Ceiling: raw OpenSSL HMAC-SHA-256 of 32 bytes with a reused, pre-keyed
  // context.
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  EVP_MAC_CTX* hctx = EVP_MAC_CTX_new(mac);
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end()};
  unsigned char key[32] = {1}, msg[32] = {2}, out[32];
  EVP_MAC_init(hctx, key, sizeof(key), params);
  double ceiling = Measure(seconds, [&](size_t i) {
    msg[0] = static_cast<unsigned char>(i);
    size_t len = 0;
    EVP_MAC_init(hctx, nullptr, 0, nullptr);
    EVP_MAC_update(hctx, msg, sizeof(msg));
    EVP_MAC_final(hctx, out, &len, sizeof(out));
    g_sink.fetch_add(out[0], std::memory_order_relaxed);
  });
  EVP_MAC_CTX_free(hctx);
  EVP_MAC_free(mac);
  std::printf(
      "bench_vault: one request thread, %zu subjects, %.1f CPU s per figure; "
      "rates are per "
      "process CPU second (= per core)\n",
      subjects, seconds);
  Report("openssl hmac-sha256 32 B (ceiling)", ceiling, ceiling, "-");

  Deployment deployment = BenchDeployment();
  Pseudonymizer pseudo(deployment);
  TokenKeyRing ring(root);
  auto keys = ring.Get("us", "analytics");
  if (!keys.ok()) Die(keys.status(), "token keys");
  const FieldSpec& email = deployment.schema.fields[0];
  const FieldSpec& phone = deployment.schema.fields[1];
  const FieldSpec& name = deployment.schema.fields[2];

  std::vector<std::string> emails;
  for (int i = 0; i < 4096; ++i)
    emails.push_back("user" + std::to_string(i) + "@mail.example");
  double hmac = Measure(seconds, [&](size_t i) {
    auto t = pseudo.Transform(email, emails[i & 4095],
                              TransformMode::kPseudonymize, **keys, nullptr);
    g_sink.fetch_add(t->size(), std::memory_order_relaxed);
  });
  Report("hmac token (email, via Pseudonymizer)", hmac, ceiling,
         ">= 2,000,000");

  TokenHandle handle{};
  crypto::SecretKey data_key;
  data_key.fill(7);
  auto subject_keys = (*keys)->ForSubject(data_key, handle);
  if (!subject_keys.ok()) Die(subject_keys.status(), "subject keys");
  std::vector<std::string> names;
  for (int i = 0; i < 4096; ++i)
    names.push_back("Subject Number " + std::to_string(i));
  double siv = Measure(seconds, [&](size_t i) {
    auto t =
        pseudo.Transform(name, names[i & 4095], TransformMode::kPseudonymize,
                         **keys, subject_keys->get());
    g_sink.fetch_add(t->size(), std::memory_order_relaxed);
  });
  Report("siv token (name, via Pseudonymizer)", siv, ceiling, ">= 1,000,000");

  auto ff1 = crypto::Ff1::Create(std::string(32, 'k'), crypto::kFf1Digits);
  if (!ff1.ok()) Die(ff1.status(), "ff1");
  std::vector<std::string> digits;
  for (int i = 0; i < 4096; ++i)
    digits.push_back(std::to_string(1000000000 + i * 7919));
  double ff1_raw = Measure(seconds, [&](size_t i) {
    auto t = (*ff1)->Encrypt(digits[i & 4095], "");
    g_sink.fetch_add(t->size(), std::memory_order_relaxed);
  });
  Report("ff1 10 digits (crypto::Ff1, AES-256)", ff1_raw, ceiling,
         ">= 300,000");
  std::vector<std::string> phones;
  for (int i = 0; i < 4096; ++i)
    phones.push_back("+1" + std::to_string(4155550000LL + i));
  double ff1_phone = Measure(seconds, [&](size_t i) {
    auto t = pseudo.Transform(phone, phones[i & 4095],
                              TransformMode::kPseudonymize, **keys, nullptr);
    g_sink.fetch_add(t->size(), std::memory_order_relaxed);
  });
  Report("ff1 phone +10 digits (via Pseudonymizer)", ff1_phone, ceiling,
         ">= 300,000");

  // Vault: 1,000,000 subjects in RocksDB.
  RocksDbOptions rocks;
  rocks.block_cache_bytes = size_t{1} << 30;
  std::printf("vault: RocksDB block cache %zu MiB, without fsync\n",
              rocks.block_cache_bytes >> 20);
  reset_store();
  std::vector<std::string> ids(subjects);  // the put loops' inputs, untimed
  for (size_t i = 0; i < subjects; ++i) ids[i] = SubjectId(i);
  size_t row_bytes = 0;
  double put_rate = 0;
  {
    auto storage = OpenRocksDbStorage(store, rocks);
    if (!storage.ok()) Die(storage.status(), "open rocksdb");
    VaultOptions options;
    options.region = "eu";
    options.subject_cache_entries = subjects + subjects / 8;
    auto vault = Vault::Open(deployment, options, std::move(*storage),
                             FileKeyEncryptionKey::FromKey(root), root);
    if (!vault.ok()) Die(vault.status(), "open vault");
    // Records are the caller's input, made before they are timed as the other
    // figures' inputs are (a server parses them from requests): in chunks, so
    // that the bench holds a few thousand at a time. RocksDB's background work
    // while a chunk is made is still charged to the puts.
    constexpr size_t kChunk = 4096;
    std::vector<Record> records;
    records.reserve(kChunk);
    double put_s = 0;
    double caller_s = 0;  // the part of put_s in this thread
    for (size_t first = 0; first < subjects; first += kChunk) {
      const size_t n = std::min(kChunk, subjects - first);
      const double process_start = ProcessCpuSeconds();
      const double making_start = ThreadCpuSeconds();
      records.clear();
      for (size_t i = 0; i < n; ++i) records.push_back(MakeRecord(first + i));
      const double puts_start = ThreadCpuSeconds();
      for (size_t i = 0; i < n; ++i) {
        auto r = (*vault)->Put(ids[first + i], records[i]);
        if (!r.ok()) Die(r.status(), "put");
      }
      const double puts_end = ThreadCpuSeconds();
      // Everything the process spent on the chunk but this thread's making.
      put_s +=
          (ProcessCpuSeconds() - process_start) - (puts_start - making_start);
      caller_s += puts_end - puts_start;
    }
    // The size of a stored subject row, for the storage floor below.
    std::string row;
    auto found = (*vault)->storage().Get(Table::kSubjects, ids[0], &row);
    if (!found.ok()) Die(found.status(), "read back a row");
    if (!*found) Die(absl::NotFoundError(ids[0]), "read back a row");
    row_bytes = row.size();
    put_rate = subjects / put_s;
    Report("vault put (new subject, 5 fields)", put_rate, ceiling,
           ">= 100,000");
    // Background work comes in bursts (a compaction may or may not finish
    // inside the loop): the split shows how much of a run's spread it is.
    std::printf(
        "  per put: %.2f us in the calling thread, %.2f us in RocksDB's "
        "background threads (flush, compaction)\n",
        1e6 * caller_s / subjects, 1e6 * (put_s - caller_s) / subjects);
    // Reads are measured on the settled store (flushed and compacted), as a
    // node serves them most of the time.
    for (Table t : kAllTables) {
      absl::Status s = (*vault)->storage().Purge(t);
      if (!s.ok()) Die(s, "compact");
    }

    std::mt19937_64 rng(1);
    AccessContext ctx{"bench", "analytics"};
    std::vector<std::string> fields;
    // Writes do not fill the key cache (reads do): one read of every subject
    // first, so that the figure below is that of cached reads.
    for (size_t i = 0; i < subjects; ++i) {
      auto r = (*vault)->Get(ids[i], fields, ctx);
      if (!r.ok()) Die(r.status(), "warm-up get");
    }
    // Ids are made per request, as a server parses them from a request it
    // has just read: a table of a million id strings would add a cache miss
    // of the bench's own to every get.
    double gets = Measure(seconds, [&](size_t) {
      auto r = (*vault)->Get(SubjectId(rng() % subjects), fields, ctx);
      if (!r.ok()) Die(r.status(), "get");
      g_sink.fetch_add(r->fields.size(), std::memory_order_relaxed);
    });
    Report("vault get (random subject, key+record cached)", gets, ceiling,
           ">= 300,000");

    (*vault)->DropKeyCache();
    vault->reset();
  }
  {
    // The same store reopened with the key cache off: every get unwraps through
    // the KEK.
    auto storage = OpenRocksDbStorage(store);
    if (!storage.ok()) Die(storage.status(), "open rocksdb");
    VaultOptions options;
    options.region = "eu";
    options.subject_cache_entries = 0;
    auto vault = Vault::Open(deployment, options, std::move(*storage),
                             FileKeyEncryptionKey::FromKey(root), root);
    if (!vault.ok()) Die(vault.status(), "open vault");
    std::mt19937_64 rng(2);
    AccessContext ctx{"bench", "analytics"};
    std::vector<std::string> fields;
    double cold = Measure(seconds, [&](size_t) {
      auto r = (*vault)->Get(SubjectId(rng() % subjects), fields, ctx);
      if (!r.ok()) Die(r.status(), "get");
      g_sink.fetch_add(r->fields.size(), std::memory_order_relaxed);
    });
    Report("vault get (random subject, storage + KEK each)", cold, ceiling,
           "-");
    auto upd = Measure(seconds / 2, [&](size_t i) {
      auto r = (*vault)->Put(SubjectId(rng() % subjects), MakeRecord(i));
      if (!r.ok()) Die(r.status(), "update");
    });
    Report("vault put (update, KEK unwrap each)", upd, ceiling, "-");
  }
  // The storage floor: what the same driver and options take to store the
  // rows a new subject's put stores (the existence check, then one batch of a
  // subject row of the vault's size and a token row), with no vault logic: the
  // part of a put that is the vault's own code is what separates the two.
  {
    reset_store();
    auto storage = OpenRocksDbStorage(store, rocks);
    if (!storage.ok()) Die(storage.status(), "open rocksdb");
    std::mt19937_64 rng(3);
    std::string row(row_bytes, '\0');
    for (char& c : row) c = static_cast<char>(rng());
    // Token handles as the vault makes them: the creation time in
    // microseconds, big-endian, then random bytes.
    uint8_t handle[kHandleSize] = {};
    std::string existing;
    double start = ProcessCpuSeconds();
    for (const std::string& id : ids) {
      auto found = (*storage)->Get(Table::kSubjects, id, &existing);
      if (!found.ok()) Die(found.status(), "floor get");
      if (*found) Die(absl::InternalError("subject exists"), "floor get");
      StoreBigEndian64(static_cast<uint64_t>(absl::ToUnixMicros(absl::Now())),
                       handle);
      const uint64_t bits = rng();
      std::memcpy(handle + 8, &bits, std::min(sizeof bits, kHandleSize - 8));
      std::memcpy(row.data(), &bits, std::min(sizeof bits, row.size()));
      WriteBatch batch;
      batch.Put(
          Table::kTokens,
          absl::string_view(reinterpret_cast<const char*>(handle), kHandleSize),
          id);
      batch.Put(Table::kSubjects, id, row);
      absl::Status w = (*storage)->Write(batch);
      if (!w.ok()) Die(w, "floor write");
    }
    const double floor = subjects / (ProcessCpuSeconds() - start);
    std::printf(
        "%-44s %12.0f ops/s  %6.3f x ceiling   (%zu B rows; new-subject put = "
        "%.2f x this)\n",
        "storage floor (a put's rows, no vault code)", floor, floor / ceiling,
        row_bytes, put_rate / floor);
  }
  // Key custody, in its own part of the bench's directory.
  reset_store();
  KeyBenchOptions key_options;
  key_options.subjects = std::min(subjects, key_subjects);
  key_options.seconds = seconds;
  key_options.dir = dir + "/keys";
  const bool keys_ok = RunKeyCustodyBench(key_options);
  if (absl::Status s = RemoveOwnedDir(dir); !s.ok()) Die(s, "remove the store");
  return keys_ok ? 0 : 1;
}

}  // namespace
}  // namespace clover::vault

int main(int argc, char** argv) { return clover::vault::Main(argc, argv); }
