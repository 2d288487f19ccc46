// The tlog-witness add-checkpoint request body: any bytes must yield a 2xx/4xx
// answer, never a crash. The witness knows one log; its key is fixed so the
// corpus can hold correctly signed checkpoints.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "audit/witness.h"
#include "core/owned_dir.h"
#include "crypto/ed25519.h"
#include "kv/kv_store.h"
#include "log/note.h"

namespace {

struct State {
  std::unique_ptr<clover::kv::KvStore> kv;
  std::unique_ptr<clover::audit::Witness> witness;
};

std::string FixedKey(const char* name, uint8_t type, uint8_t fill) {
  std::string seed(32, static_cast<char>(fill));
  auto key = clover::crypto::Ed25519PrivateKey::FromSeed(seed);
  return clover::log::FormatSignerKey(name, type, *key);
}

// The witness's store, in a directory made for it and marked as Clover's
// (core/owned_dir.h), so that only that directory is deleted at exit.
std::string& Dir() {
  static std::string dir = [] {
    auto made = clover::CreateOwnedTempDir("fuzz-witness");
    if (!made.ok()) {
      std::fprintf(stderr, "%s\n",
                   std::string(made.status().message()).c_str());
      std::abort();
    }
    return *made;
  }();
  return dir;
}

State* Init() {
  auto* s = new State;
  const std::string& dir = Dir();
  std::atexit([] { (void)clover::RemoveOwnedDir(Dir()); });
  s->kv = *clover::kv::KvStore::Open(dir);
  const std::string log_key =
      FixedKey("fuzz.log/a", clover::log::kNoteTypeEd25519, 1);
  s->witness = *clover::audit::Witness::Open(
      s->kv.get(),
      FixedKey("fuzz.witness", clover::log::kNoteTypeCosignature, 2),
      {{"fuzz.log/a", {*clover::log::VerifierKeyFromSignerKey(log_key)}}});
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static State* state = Init();
  auto r = state->witness->HandleAddCheckpoint(
      absl::string_view(reinterpret_cast<const char*>(data), size));
  if (r.status < 200 || r.status >= 600) std::abort();
  return 0;
}
