// bench_kek: what holding the KEK and the epoch keys in a PKCS#11 token
// (SoftHSM2) costs against the file KEK.
//   BM_KekUnwrap/<kek>     one data-key unwrap (the KEK alone)
//   BM_DataKeyUnwrap/<kek> a vault cache miss: epoch open + KEK unwrap
//   BM_VaultGet/<kek>/<cache>  a vault read, key cache warm or cold
//   BM_VaultPut/<kek>      a new subject's write
// <kek> 0 = file, 1 = pkcs11. Compare items_per_second between the two.
// Needs softhsm2 (scripts/bootstrap.sh); without it the pkcs11 cases report
// an error and the file ones run.
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "vault/epoch_keys.h"
#include "vault/kek_ring.h"
#include "vault/pkcs11_kek.h"
#include "vault/record_parser.h"
#include "vault/rocksdb_storage.h"
#include "vault/softhsm_test_util.h"
#include "vault/test_util.h"
#include "vault/vault.h"

namespace clover::vault {
namespace {

std::string TempDirPath(const char* name) {
  std::string tmpl =
      (std::filesystem::temp_directory_path() / absl::StrCat(name, "-XXXXXX"))
          .string();
  if (mkdtemp(tmpl.data()) == nullptr) return "";
  return tmpl;
}

// One SoftHSM token for the whole run (its module is initialised once).
struct Hsm {
  std::string dir;
  std::optional<testing::SoftHsm> hsm;
  std::shared_ptr<Pkcs11Token> token;
  std::string error;
  Hsm() {
    error = testing::SoftHsmMissing();
    if (!error.empty()) return;
    dir = TempDirPath("bench-kek-hsm");
    hsm = testing::MakeSoftHsm(dir);
    if (!hsm.has_value()) {
      error = "softhsm2-util --init-token failed";
      return;
    }
    auto t = Pkcs11Token::Open(hsm->module, hsm->token, hsm->pin_file);
    if (!t.ok()) {
      error = std::string(t.status().message());
      return;
    }
    token = *t;
    if (auto k = token->GenerateKey("bench-kek"); !k.ok()) {
      error = std::string(k.status().message());
    }
  }
  ~Hsm() {
    token.reset();
    if (!dir.empty()) std::filesystem::remove_all(dir);
  }
};

// Destroyed at exit, which removes the token directory.
Hsm& TheHsm() {
  static Hsm hsm;
  return hsm;
}

// The KEK of case `which` (0 file, 1 pkcs11), or null with the reason.
std::unique_ptr<KeyEncryptionKey> MakeKek(int which, std::string* error) {
  if (which == 0) return FileKeyEncryptionKey::FromKey(testing::TestKey(7));
  Hsm& hsm = TheHsm();
  if (!hsm.error.empty()) {
    *error = hsm.error;
    return nullptr;
  }
  auto kek = Pkcs11KeyEncryptionKey::Open(hsm.token, "bench-kek");
  if (!kek.ok()) {
    *error = std::string(kek.status().message());
    return nullptr;
  }
  return *std::move(kek);
}

const char* Name(int which) { return which == 0 ? "file" : "pkcs11"; }

void BM_KekUnwrap(benchmark::State& state) {
  // One KEK per kind for every thread (a static's initialisation is
  // thread-safe).
  struct Shared {
    std::unique_ptr<KeyEncryptionKey> kek[2];
    std::string error[2];
    Shared() {
      for (int i = 0; i < 2; ++i) kek[i] = MakeKek(i, &error[i]);
    }
  };
  static Shared* shared = new Shared();
  KeyEncryptionKey* kek = shared->kek[state.range(0)].get();
  const std::string& error = shared->error[state.range(0)];
  if (kek == nullptr) {
    state.SkipWithError(error.empty() ? "no KEK" : error.c_str());
    return;
  }
  const crypto::SecretKey dek = testing::TestKey(0x42);
  auto wrapped = kek->Wrap(
      absl::string_view(reinterpret_cast<const char*>(dek.data()), dek.size()),
      "subject-1");
  if (!wrapped.ok()) {
    state.SkipWithError(std::string(wrapped.status().message()).c_str());
    return;
  }
  const UnwrapJustification why{"bench", "read", "subject-1"};
  for (auto _ : state) {
    auto key = kek->Unwrap(*wrapped, "subject-1", why);
    if (!key.ok()) {
      state.SkipWithError(std::string(key.status().message()).c_str());
      break;
    }
    benchmark::DoNotOptimize(key);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(Name(static_cast<int>(state.range(0))));
}
BENCHMARK(BM_KekUnwrap)->Arg(0)->Arg(1)->Threads(1)->Threads(2)->UseRealTime();

// A cache miss's key path: the epoch layer (held in the token for pkcs11)
// and the KEK.
void BM_DataKeyUnwrap(benchmark::State& state) {
  std::string error;
  auto kek = MakeKek(static_cast<int>(state.range(0)), &error);
  if (kek == nullptr) {
    state.SkipWithError(error.c_str());
    return;
  }
  auto epoch = EpochKey::Create(*kek, 0, false, 0);
  if (!epoch.ok()) {
    state.SkipWithError(std::string(epoch.status().message()).c_str());
    return;
  }
  const crypto::SecretKey dek = testing::TestKey(0x42);
  auto inner = kek->Wrap(
      absl::string_view(reinterpret_cast<const char*>(dek.data()), dek.size()),
      "subject-1");
  auto sealed = (*epoch)->Seal(*inner, "subject-1");
  const UnwrapJustification why{"bench", "read", "subject-1"};
  for (auto _ : state) {
    auto opened = (*epoch)->Open(*sealed, "subject-1");
    auto key = kek->Unwrap(*opened, "subject-1", why);
    if (!key.ok()) {
      state.SkipWithError(std::string(key.status().message()).c_str());
      break;
    }
    benchmark::DoNotOptimize(key);
  }
  if ((*epoch)->held()) (*epoch)->Destroy().IgnoreError();
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(Name(static_cast<int>(state.range(0))));
}
BENCHMARK(BM_DataKeyUnwrap)->Arg(0)->Arg(1)->UseRealTime();

// A vault in `dir` on the KEK `which` names (MakeKek); null, with the
// benchmark skipped, if it cannot be opened.
std::unique_ptr<Vault> OpenBenchVault(int which, const Deployment& d,
                                      const std::string& dir,
                                      benchmark::State& state) {
  std::string error;
  auto kek = MakeKek(which, &error);
  if (kek == nullptr) {
    state.SkipWithError(error.c_str());
    return nullptr;
  }
  auto storage = OpenRocksDbStorage(dir, RocksDbOptions{});
  VaultOptions o;
  o.region = "eu";
  auto vault = Vault::Open(d, o, *std::move(storage), std::move(kek),
                           testing::TestKey(9));
  if (!vault.ok()) {
    state.SkipWithError(std::string(vault.status().message()).c_str());
    return nullptr;
  }
  return *std::move(vault);
}

// A read through the vault: warm (the key cache holds every subject's key)
// or cold (the cache is dropped before each read, so each one unwraps).
void BM_VaultGet(benchmark::State& state) {
  const int which = static_cast<int>(state.range(0));
  const bool warm = state.range(1) == 1;
  const std::string dir = TempDirPath("bench-kek-vault");
  Deployment d = testing::TestDeployment();
  auto vault = OpenBenchVault(which, d, dir, state);
  if (vault == nullptr) return;
  constexpr int kSubjects = 256;
  for (int i = 0; i < kSubjects; ++i) {
    auto r = ParseRecordJson(
        d.schema, absl::StrCat(R"({"country":"IE","fields":{"name":"N )", i,
                               R"(","email":"s)", i, R"(@mail.example"}})"));
    if (!vault->Put(absl::StrCat("s", i), *r).ok()) {
      state.SkipWithError("put failed");
      return;
    }
  }
  const AccessContext ctx{"eu-support-1", "customer_support"};
  int i = 0;
  for (auto _ : state) {
    if (!warm) vault->DropKeyCache();
    auto got = vault->Get(absl::StrCat("s", i++ % kSubjects), {}, ctx);
    if (!got.ok()) {
      state.SkipWithError(std::string(got.status().message()).c_str());
      break;
    }
    benchmark::DoNotOptimize(got);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(absl::StrCat(Name(which), warm ? " warm" : " cold"));
  vault.reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_VaultGet)
    ->Args({0, 1})
    ->Args({1, 1})
    ->Args({0, 0})
    ->Args({1, 0})
    ->UseRealTime();

// New subjects: each put makes a data key, wraps it (KEK) and seals it
// (epoch), two token operations with pkcs11.
void BM_VaultPut(benchmark::State& state) {
  const int which = static_cast<int>(state.range(0));
  const std::string dir = TempDirPath("bench-kek-vault");
  Deployment d = testing::TestDeployment();
  auto vault = OpenBenchVault(which, d, dir, state);
  if (vault == nullptr) return;
  auto record = ParseRecordJson(
      d.schema,
      R"({"country":"IE","fields":{"name":"N","email":"s@x.example"}})");
  int i = 0;
  for (auto _ : state) {
    auto put = vault->Put(absl::StrCat("s", i++), *record);
    if (!put.ok()) {
      state.SkipWithError(std::string(put.status().message()).c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(Name(which));
  vault.reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_VaultPut)->Arg(0)->Arg(1)->UseRealTime();

}  // namespace
}  // namespace clover::vault

BENCHMARK_MAIN();
