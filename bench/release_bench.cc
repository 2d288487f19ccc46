// bench_release: what external key release costs a node's vault reads, with
// the file-KEK vault measured in the same run.
//
//   bench_release [--subjects N] [--seconds S] [--cold C]
//
// An in-process key-release service (mutual TLS on loopback, its own durable
// log: every release is appended and synced before the answer) and two
// vaults with the same records, one over the file KEK and one over the
// release layer. Reports:
//   warm: random reads with every data key cached (the steady state while
//         the cache TTL holds), ops per wall second, and the ratio
//         release/file (target >= 0.80);
//   cold: reads with the cache off, so each one needs a KEK unwrap (file) or
//         a release (mutual-TLS request + a synced log entry + the KEK
//         unwrap): mean microseconds per read, and the difference, the cost of
//         one release.
// Single thread; warm rates are per thread CPU second (the machine is
// shared), cold costs wall time (a release waits on the network and a sync).
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/test_temp_dir.h"
#include "release/release_service.h"
#include "release/released_kek.h"
#include "release/test_util.h"
#include "vault/record_parser.h"
#include "vault/rocksdb_storage.h"
#include "vault/test_util.h"
#include "vault/vault.h"

namespace clover::release {
namespace {

void Die(const absl::Status& s, const char* what) {
  std::fprintf(stderr, "bench_release: %s: %s\n", what, s.ToString().c_str());
  std::exit(1);
}

// CPU seconds of the calling thread: the warm path is single-threaded CPU
// work, and the machine is shared, so reads per CPU second compare fairly.
double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) +
         static_cast<double>(ts.tv_nsec) * 1e-9;
}

crypto::SecretKey Fill(uint8_t b) {
  crypto::SecretKey k;
  k.fill(b);
  return k;
}

std::unique_ptr<vault::Vault> OpenVault(const Deployment& d,
                                        const std::string& dir, size_t cache,
                                        const ReleaseClientOptions* release) {
  auto storage = vault::OpenRocksDbStorage(dir, {});
  if (!storage.ok()) Die(storage.status(), "storage");
  vault::VaultOptions o;
  o.region = "eu";
  o.subject_cache_entries = cache;
  o.subject_cache_ttl = absl::Hours(1);
  if (release != nullptr) {
    ReleaseClientOptions r = *release;
    o.kek_layer = [r](std::unique_ptr<vault::KeyEncryptionKey> kek) {
      return NewReleasedKek(std::move(kek), r);
    };
  }
  auto v = vault::Vault::Open(d, o, *std::move(storage),
                              vault::FileKeyEncryptionKey::FromKey(Fill(5)),
                              Fill(9));
  if (!v.ok()) Die(v.status(), "vault");
  return *std::move(v);
}

int Main(int argc, char** argv) {
  size_t subjects = 20'000, cold = 500;
  double seconds = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    bool ok = true;
    if (flag == "--subjects") {
      ok = absl::SimpleAtoi(argv[i + 1], &subjects) && subjects > 0;
    } else if (flag == "--seconds") {
      ok = absl::SimpleAtod(argv[i + 1], &seconds) && seconds > 0;
    } else if (flag == "--cold") {
      ok = absl::SimpleAtoi(argv[i + 1], &cold) && cold > 0;
    } else {
      ok = false;
    }
    if (!ok) {
      std::fprintf(stderr,
                   "usage: bench_release [--subjects N] [--seconds S] "
                   "[--cold C]\n");
      return 2;
    }
  }
  test::TempDir dir("bench-release");
  if (absl::Status s = testing::WriteServiceFiles(dir.path()); !s.ok())
    Die(s, "service files");
  auto config = LoadServiceConfig(dir.Sub("service.yaml"));
  if (!config.ok()) Die(config.status(), "service config");
  auto service = ReleaseService::Create(*config);
  if (!service.ok()) Die(service.status(), "service");
  if (absl::Status s = (*service)->Start(); !s.ok()) Die(s, "service start");
  ReleaseClientOptions client;
  client.url = absl::StrCat("https://127.0.0.1:", (*service)->port());
  client.region = "eu";
  client.ca_file = dir.Sub("ca.crt");
  client.cert_file = dir.Sub("node.crt");
  client.key_file = dir.Sub("node.key");

  const Deployment d = vault::testing::TestDeployment();
  std::vector<std::string> ids;
  for (size_t i = 0; i < subjects; ++i) ids.push_back(absl::StrCat("u-", i));
  auto record = [&](const std::string& id) {
    auto r = vault::ParseRecordJson(
        d.schema, absl::StrCat(R"({"country":"IE","fields":{"email":")", id,
                               R"(@mail.example","name":"Name )", id,
                               R"(","ip_address":"10.1.2.3"}})"));
    if (!r.ok()) Die(r.status(), "record");
    return *r;
  };
  const std::string file_dir = dir.Sub("file"), release_dir = dir.Sub("rel");
  {
    auto file = OpenVault(d, file_dir, 0, nullptr);
    auto rel = OpenVault(d, release_dir, 0, &client);
    for (const std::string& id : ids) {
      if (!file->Put(id, record(id)).ok() || !rel->Put(id, record(id)).ok())
        Die(absl::InternalError(id), "put");
    }
  }
  const vault::AccessContext ctx{"eu-support-1", "customer_support", "read", 1};
  std::mt19937_64 rng(7);
  auto run_warm = [&](vault::Vault& v) {
    for (const std::string& id : ids) {  // fill the cache
      if (!v.Get(id, {}, ctx).ok()) Die(absl::InternalError(id), "warm-up");
    }
    size_t n = 0;
    const double start = ThreadCpuSeconds();
    double elapsed = 0;
    do {
      for (int i = 0; i < 256; ++i) {
        auto r = v.Get(ids[rng() % ids.size()], {}, ctx);
        if (!r.ok()) Die(r.status(), "warm get");
        ++n;
      }
      elapsed = ThreadCpuSeconds() - start;
    } while (elapsed < seconds / 4);
    return static_cast<double>(n) / elapsed;
  };
  auto run_cold = [&](vault::Vault& v) {
    const absl::Time start = absl::Now();
    for (size_t i = 0; i < cold; ++i) {
      auto r = v.Get(ids[i % ids.size()], {}, ctx);
      if (!r.ok()) Die(r.status(), "cold get");
    }
    return absl::ToDoubleMicroseconds(absl::Now() - start) /
           static_cast<double>(cold);
  };
  double warm_file, warm_rel, cold_file, cold_rel;
  {
    // Room for every subject: the cache is sharded, so a capacity of exactly
    // N would evict some, and each such miss costs a release.
    auto file = OpenVault(d, file_dir, 2 * subjects, nullptr);
    auto rel = OpenVault(d, release_dir, 2 * subjects, &client);
    // Interleaved quarters, so drift on a shared machine hits both alike.
    warm_file = warm_rel = 0;
    for (int round = 0; round < 4; ++round) {
      if (round % 2 == 0) {
        warm_file += run_warm(*file) / 4;
        warm_rel += run_warm(*rel) / 4;
      } else {
        warm_rel += run_warm(*rel) / 4;
        warm_file += run_warm(*file) / 4;
      }
    }
  }
  {
    auto file = OpenVault(d, file_dir, 0, nullptr);
    auto rel = OpenVault(d, release_dir, 0, &client);
    cold_file = run_cold(*file);
    cold_rel = run_cold(*rel);
  }
  std::printf(
      "bench_release: %zu subjects, single thread; warm: reads per thread CPU "
      "second, cold: wall clock\n",
      subjects);
  std::printf("%-46s %12.0f reads/s\n", "warm get, file KEK (key cached)",
              warm_file);
  std::printf("%-46s %12.0f reads/s\n",
              "warm get, external release (key cached)", warm_rel);
  std::printf("warm ratio release/file = %.3f (target >= 0.80)\n",
              warm_rel / warm_file);
  std::printf("%-46s %12.1f us/read\n", "cold get, file KEK (unwrap each)",
              cold_file);
  std::printf("%-46s %12.1f us/read\n",
              "cold get, external release (release each)", cold_rel);
  std::printf(
      "cost of one release = %.1f us (mTLS request + synced log entry)\n",
      cold_rel - cold_file);
  std::printf("release log size %llu\n",
              static_cast<unsigned long long>((*service)->log().Size()));
  return 0;
}

}  // namespace
}  // namespace clover::release

int main(int argc, char** argv) { return clover::release::Main(argc, argv); }
