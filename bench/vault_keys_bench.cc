#include "bench/vault_keys_bench.h"

#include <time.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/logger.h"
#include "release/release_service.h"
#include "release/released_kek.h"
#include "release/test_util.h"
#include "spdlog/spdlog.h"
#include "vault/key_encryption_key.h"
#include "vault/pkcs11_kek.h"
#include "vault/pkcs11_token.h"
#include "vault/record_parser.h"
#include "vault/rocksdb_storage.h"
#include "vault/softhsm_test_util.h"
#include "vault/test_util.h"
#include "vault/vault.h"

namespace clover::vault {
namespace {

constexpr int kRounds = 4;
constexpr char kHsmKeyLabel[] = "bench-vault-kek";

double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) +
         static_cast<double>(ts.tv_nsec) * 1e-9;
}

double WallSeconds() {
  return absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch());
}

crypto::SecretKey Fill(uint8_t b) {
  crypto::SecretKey k;
  k.fill(b);
  return k;
}

// Operations and the seconds they took, summed over rounds.
struct Tally {
  double ops = 0;
  double seconds = 0;
  double rate() const { return seconds > 0 ? ops / seconds : 0; }
  double micros() const { return ops > 0 ? 1e6 * seconds / ops : 0; }
};

// The figures of one kind of KEK.
enum Figure { kReadWarm, kReadCold, kWriteNew, kUpdateWarm, kUpdateCold, kN };
constexpr const char* kFigureNames[kN] = {"read warm", "read cold", "write new",
                                          "update warm", "update cold"};

struct Kind {
  std::string name;
  std::string skipped;  // why the kind does not run; empty: it runs
  std::string store;
  std::unique_ptr<Vault> vault;
  size_t next_new = 0;  // ids of new subjects this kind's vault has made
  Tally tally[kN];
};

std::string Message(const absl::Status& s) { return std::string(s.message()); }

}  // namespace

bool RunKeyCustodyBench(const KeyBenchOptions& o) {
  namespace fs = std::filesystem;
  const size_t n = o.subjects;
  // The release service logs every request at info: only warnings here.
  logging::Options quiet;
  quiet.level = logging::Level::kWarn;
  logging::Configure(quiet);
  spdlog::set_level(spdlog::level::warn);
  const Deployment d = testing::TestDeployment();
  std::error_code ec;
  fs::create_directories(o.dir, ec);

  // The partner's key-release service, in this process: mutual TLS on
  // loopback, every release appended to its log and synced before the answer.
  const std::string rel_dir = o.dir + "/release";
  fs::create_directories(rel_dir, ec);
  std::unique_ptr<release::ReleaseService> service;
  std::string release_error;
  release::ReleaseClientOptions client;
  if (absl::Status s = release::testing::WriteServiceFiles(rel_dir); !s.ok()) {
    release_error = Message(s);
  } else if (auto config =
                 release::LoadServiceConfig(rel_dir + "/service.yaml");
             !config.ok()) {
    release_error = Message(config.status());
  } else if (auto created = release::ReleaseService::Create(*config);
             !created.ok()) {
    release_error = Message(created.status());
  } else if (absl::Status st = (*created)->Start(); !st.ok()) {
    release_error = Message(st);
  } else {
    service = *std::move(created);
    client.url = absl::StrCat("https://127.0.0.1:", service->port());
    client.region = "eu";
    client.ca_file = rel_dir + "/ca.crt";
    client.cert_file = rel_dir + "/node.crt";
    client.key_file = rel_dir + "/node.key";
  }

  // A throwaway SoftHSM2 token (as the HSM tests make one) holding the KEK.
  std::shared_ptr<Pkcs11Token> token;
  std::string hsm_error = testing::SoftHsmMissing();
  if (hsm_error.empty()) {
    auto hsm = testing::MakeSoftHsm(o.dir + "/hsm", "bench-vault");
    if (!hsm.has_value()) {
      hsm_error = "softhsm2-util --init-token failed";
    } else if (auto t =
                   Pkcs11Token::Open(hsm->module, hsm->token, hsm->pin_file);
               !t.ok()) {
      hsm_error = Message(t.status());
    } else if (auto k = (*t)->GenerateKey(kHsmKeyLabel); !k.ok()) {
      hsm_error = Message(k.status());
    } else {
      token = *t;
    }
  }

  std::vector<Kind> kinds(3);
  kinds[0].name = "file KEK";
  kinds[1].name = "SoftHSM (PKCS#11)";
  kinds[1].skipped = hsm_error;
  kinds[2].name = "external release";
  kinds[2].skipped = release_error;
  for (size_t k = 0; k < kinds.size(); ++k) {
    kinds[k].store = absl::StrCat(o.dir, "/store-", k);
  }
  // Opens kind k's vault over its store; `cache`: key cache entries.
  const auto open = [&](size_t k, size_t cache) -> absl::Status {
    Kind& kind = kinds[k];
    kind.vault.reset();
    std::unique_ptr<KeyEncryptionKey> kek;
    if (k == 1) {
      auto t = Pkcs11KeyEncryptionKey::Open(token, kHsmKeyLabel);
      if (!t.ok()) return t.status();
      kek = *std::move(t);
    } else {
      kek = FileKeyEncryptionKey::FromKey(Fill(5));
    }
    auto storage = OpenRocksDbStorage(kind.store, RocksDbOptions{});
    if (!storage.ok()) return storage.status();
    VaultOptions vo;
    vo.region = "eu";
    vo.subject_cache_entries = cache;
    vo.subject_cache_ttl = absl::Hours(1);
    if (k == 2) {
      vo.kek_layer = [client](std::unique_ptr<KeyEncryptionKey> inner) {
        return release::NewReleasedKek(std::move(inner), client);
      };
    }
    auto v = Vault::Open(d, vo, *std::move(storage), std::move(kek), Fill(9));
    if (!v.ok()) return v.status();
    kind.vault = *std::move(v);
    return absl::OkStatus();
  };
  // Room for every subject: the cache is sharded, so a capacity of exactly n
  // would evict some, and each such miss would cost an unwrap.
  for (size_t k = 0; k < kinds.size(); ++k) {
    if (!kinds[k].skipped.empty()) continue;
    if (absl::Status s = open(k, 2 * n); !s.ok()) kinds[k].skipped = Message(s);
  }
  if (!kinds[0].skipped.empty()) {
    std::printf("key custody: failed: file KEK: %s\n",
                kinds[0].skipped.c_str());
    return false;
  }

  auto record_for = [&](absl::string_view id) {
    return ParseRecordJson(
        d.schema, absl::StrCat(R"({"country":"IE","fields":{"email":")", id,
                               R"(@mail.example","name":"Name )", id,
                               R"(","ip_address":"10.1.2.3"}})"));
  };
  auto fixed = record_for("bench");
  if (!fixed.ok()) {
    std::printf("key custody: failed: record: %s\n",
                Message(fixed.status()).c_str());
    return false;
  }
  const Record record = *std::move(fixed);
  std::vector<std::string> ids;
  ids.reserve(n);
  for (size_t i = 0; i < n; ++i) ids.push_back(absl::StrCat("s-", i));
  const AccessContext ctx{"eu-support-1", "customer_support", "read", 1};
  std::string failure;

  // Runs `op` on every kind that runs, round after round, alternating the
  // order so that drift on a shared machine hits all kinds alike; each kind
  // gets `budget` seconds of `clock` per round.
  const auto interleave =
      [&](Figure fig, double budget, const std::function<double()>& clock,
          const std::function<absl::Status(Kind&, size_t)>& op) {
        for (int round = 0; round < kRounds && failure.empty(); ++round) {
          for (size_t j = 0; j < kinds.size() && failure.empty(); ++j) {
            Kind& kind = kinds[round % 2 == 0 ? j : kinds.size() - 1 - j];
            if (!kind.skipped.empty()) continue;
            size_t done = 0;
            const double start = clock();
            double elapsed = 0;
            do {
              for (int i = 0; i < 16; ++i) {
                if (absl::Status s = op(kind, done++); !s.ok()) {
                  failure = absl::StrCat(kind.name, " ", kFigureNames[fig],
                                         ": ", Message(s));
                  return;
                }
              }
              elapsed = clock() - start;
            } while (elapsed < budget);
            kind.tally[fig].ops += static_cast<double>(done);
            kind.tally[fig].seconds += elapsed;
          }
        }
      };
  std::mt19937_64 rng(11);
  const auto random_id = [&]() -> const std::string& {
    return ids[rng() % ids.size()];
  };
  const auto get = [&](Kind& kind, size_t) {
    return kind.vault->Get(random_id(), {}, ctx).status();
  };
  const auto update = [&](Kind& kind, size_t) {
    return kind.vault->Put(random_id(), record).status();
  };
  const double per_round = o.seconds / kRounds;

  // The stores: n subjects each, put in interleaved chunks, timed as the
  // new-subject writes (the key is made, wrapped by the KEK and sealed by
  // the epoch key; with release, sealed to the release key: no request).
  constexpr size_t kChunk = 256;
  for (size_t first = 0; first < n && failure.empty(); first += kChunk) {
    const size_t last = std::min(n, first + kChunk);
    for (size_t j = 0; j < kinds.size() && failure.empty(); ++j) {
      Kind& kind = kinds[(first / kChunk) % 2 == 0 ? j : kinds.size() - 1 - j];
      if (!kind.skipped.empty()) continue;
      const double start = WallSeconds();
      for (size_t i = first; i < last; ++i) {
        auto put = kind.vault->Put(ids[i], record);
        if (!put.ok()) {
          failure = absl::StrCat(kind.name, " seed: ", Message(put.status()));
          break;
        }
      }
      kind.tally[kWriteNew].ops += static_cast<double>(last - first);
      kind.tally[kWriteNew].seconds += WallSeconds() - start;
    }
  }
  // Warm: one read of every subject fills the key cache (a release each,
  // logged by the service), then reads per thread CPU second (the warm path
  // is this thread's CPU work alone) and updates per wall second.
  for (Kind& kind : kinds) {
    if (!kind.skipped.empty() || !failure.empty()) continue;
    for (const std::string& id : ids) {
      if (auto r = kind.vault->Get(id, {}, ctx); !r.ok()) {
        failure = absl::StrCat(kind.name, " warm-up: ", Message(r.status()));
        break;
      }
    }
  }
  if (failure.empty()) interleave(kReadWarm, per_round, ThreadCpuSeconds, get);
  if (failure.empty()) interleave(kUpdateWarm, per_round, WallSeconds, update);
  // Cold: the vaults reopened without a key cache, so every read and update
  // unwraps: through the file KEK, inside the token, or by a release (a
  // mutual-TLS request, a synced log entry at the service, then the KEK).
  // Wall clock: the token and the service work outside this thread.
  for (size_t k = 0; k < kinds.size() && failure.empty(); ++k) {
    if (!kinds[k].skipped.empty()) continue;
    if (absl::Status s = open(k, 0); !s.ok()) {
      failure = absl::StrCat(kinds[k].name, " reopen: ", Message(s));
    }
  }
  if (failure.empty()) interleave(kReadCold, per_round, WallSeconds, get);
  if (failure.empty()) interleave(kUpdateCold, per_round, WallSeconds, update);
  for (Kind& kind : kinds) kind.vault.reset();
  const uint64_t releases = service != nullptr ? service->log().Size() : 0;
  if (service != nullptr) service->Stop();
  token.reset();
  if (!failure.empty()) {
    std::printf("key custody: failed: %s\n", failure.c_str());
    return false;
  }

  std::printf(
      "key custody: %zu subjects per vault, one request thread, %d "
      "interleaved rounds; read warm per thread CPU second, the rest per wall "
      "second; (x.xx) = ratio to the file KEK in this run\n",
      n, kRounds);
  std::printf("%-20s", "");
  for (const char* f : kFigureNames) std::printf(" %18s", f);
  std::printf("\n");
  const Kind& file = kinds[0];
  for (const Kind& kind : kinds) {
    std::printf("%-20s", kind.name.c_str());
    if (!kind.skipped.empty()) {
      std::printf(" skipped: %s\n", kind.skipped.c_str());
      continue;
    }
    for (int f = 0; f < kN; ++f) {
      std::printf(" %9.0f/s (%4.2f)", kind.tally[f].rate(),
                  kind.tally[f].rate() / file.tally[f].rate());
    }
    std::printf("\n");
  }
  const Kind& hsm = kinds[1];
  if (hsm.skipped.empty()) {
    std::printf(
        "cost of one token unwrap (cold read, SoftHSM - file KEK) = %.1f us\n",
        hsm.tally[kReadCold].micros() - file.tally[kReadCold].micros());
  }
  const Kind& rel = kinds[2];
  if (!rel.skipped.empty()) {
    std::printf("key custody: failed: external release: %s\n",
                rel.skipped.c_str());
    return false;
  }
  std::printf(
      "cost of one release (cold read, release - file KEK) = %.1f us "
      "(mTLS request + synced log entry); release log size %llu\n",
      rel.tally[kReadCold].micros() - file.tally[kReadCold].micros(),
      static_cast<unsigned long long>(releases));
  std::printf("warm ratio release/file = %.3f (target >= 0.80)\n",
              rel.tally[kReadWarm].rate() / file.tally[kReadWarm].rate());
  return true;
}

}  // namespace clover::vault
