// `clover keys generate`: note signing keys (log checkpoints, signed policies),
// witness cosigning keys, and symmetric secret key files.
// `clover keys rewrap --config NODE.yaml`: after a KEK rotation, re-wraps every
// data key of the node's vault that a retired KEK wrapped under the current one
// (vault/kek_ring.h). An embedded store needs its node stopped (RocksDB's lock
// refuses a store open elsewhere); a PostgreSQL store may be re-wrapped beside
// live nodes, since each row is replaced only if unchanged.
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/command.h"
#include "config/deployment.h"
#include "crypto/ed25519.h"
#include "crypto/secret_key_file.h"
#include "gateway/node.h"
#include "log/note.h"

namespace clover::cli {
namespace {

struct GenerateFlags {
  std::string type = "note";
  std::string name;
  std::string out;
};

// An existing --out file is a usage error (exit 2), not a runtime failure.
int Report(const absl::Status& st) {
  if (absl::IsAlreadyExists(st))
    return ReportError(absl::FailedPreconditionError(st.message()));
  return ReportError(st);
}

int Generate(const GenerateFlags& f) {
  if (f.type == "secret") {
    if (!f.name.empty()) {
      return ReportError(
          absl::InvalidArgumentError("--name is not used with --type secret"));
    }
    auto key = crypto::GenerateSecretKey();
    if (!key.ok()) return ReportError(key.status());
    if (auto st = crypto::WriteSecretKeyFile(f.out, *key); !st.ok())
      return ReportError(st);
    std::cerr << "wrote secret key to " << f.out << " (mode 0600)\n";
    return kExitOk;
  }
  uint8_t type;
  if (f.type == "note") {
    type = log::kNoteTypeEd25519;
  } else if (f.type == "cosignature") {
    type = log::kNoteTypeCosignature;
  } else {
    return ReportError(absl::InvalidArgumentError(
        absl::StrCat("--type: unknown key type '", f.type,
                     "' (note, cosignature or secret)")));
  }
  if (!log::IsValidNoteKeyName(f.name)) {
    return ReportError(
        absl::InvalidArgumentError("--name: must be non-empty, without spaces "
                                   "or '+' (e.g. log.example.com/eu)"));
  }
  auto key = crypto::Ed25519PrivateKey::Generate();
  if (!key.ok()) return ReportError(key.status());
  std::string skey = log::FormatSignerKey(f.name, type, *key) + "\n";
  absl::Status st = crypto::WritePrivateFile(f.out, skey);
  std::fill(skey.begin(), skey.end(), '\0');
  if (!st.ok()) return Report(st);
  std::cout << log::FormatVerifierKey(f.name, type, key->public_key()) << "\n";
  return kExitOk;
}

int Rewrap(const std::string& config) {
  auto deployment = LoadDeployment(config);
  if (!deployment.ok()) return ReportError(deployment.status());
  if (deployment->node.has_value() &&
      deployment->storage.driver == StorageDriver::kRocksDb) {
    // Opening would create an empty store where there is none.
    const std::string store = gateway::NodeVaultDir(*deployment->node);
    if (!std::filesystem::exists(std::filesystem::path(store) / "CURRENT")) {
      return ReportError(absl::NotFoundError(
          absl::StrCat(config, ": no vault store at ", store)));
    }
  }
  auto vault = gateway::OpenNodeVault(*deployment);
  if (!vault.ok()) return ReportStoreError(vault.status());
  auto report = (*vault)->RewrapKeys();
  if (!report.ok()) return ReportError(report.status());
  std::cout << "re-wrapped " << report->rewrapped << " data keys under KEK "
            << (*vault)->kek_id() << "; " << report->current
            << " were already under it, " << report->erased
            << " subjects are erased\n";
  return kExitOk;
}

int Purge(const std::string& config) {
  auto deployment = LoadDeployment(config);
  if (!deployment.ok()) return ReportError(deployment.status());
  if (deployment->node.has_value() &&
      deployment->storage.driver == StorageDriver::kRocksDb) {
    const std::string store = gateway::NodeVaultDir(*deployment->node);
    if (!std::filesystem::exists(std::filesystem::path(store) / "CURRENT")) {
      return ReportError(absl::NotFoundError(
          absl::StrCat(config, ": no vault store at ", store)));
    }
  }
  auto report = gateway::RunVaultPurge(*std::move(deployment));
  if (!report.ok()) return ReportStoreError(report.status());
  std::cout << "purged: " << report->erased.size() << " erasures made final, "
            << report->rewrapped << " live keys re-sealed under "
            << report->new_epoch << ", destroyed "
            << (report->destroyed_epochs.empty()
                    ? std::string("no epoch")
                    : absl::StrJoin(report->destroyed_epochs, ", "))
            << (report->resumed ? " (finished an interrupted purge)" : "")
            << "; attestation appended to the node's log\n";
  return kExitOk;
}

}  // namespace

void RegisterVaultCommands(CLI::App& app) {
  auto* vault = app.add_subcommand("vault", "Vault maintenance");
  vault->require_subcommand(1);
  auto* purge = vault->add_subcommand(
      "purge",
      "Make erasures final now: re-seal every live data key under a new "
      "erasure epoch, destroy the old epoch key and append the erasure "
      "attestation to the node's log (the node does this itself every "
      "keys.purge_interval_s). Stop the node first if its store is "
      "embedded.");
  auto config = std::make_shared<std::string>();
  purge->add_option("--config", *config, "Node configuration file")->required();
  SetAction(purge, [config] { return Purge(*config); });
}

void RegisterKeysCommands(CLI::App& app) {
  auto* keys = app.add_subcommand("keys", "Key management");
  keys->require_subcommand(1);
  auto* gen = keys->add_subcommand("generate",
                                   "Generate a key file (mode 0600). For note "
                                   "and cosignature keys, prints the verifier "
                                   "key on stdout.");
  auto f = std::make_shared<GenerateFlags>();
  gen->add_option("--type", f->type,
                  "note (Ed25519 signed-note key), cosignature (witness "
                  "key, tlog-cosignature) or secret (32-byte symmetric key)")
      ->capture_default_str();
  gen->add_option("--name", f->name,
                  "Key name, e.g. the log origin (note/cosignature)");
  gen->add_option("--out", f->out,
                  "Private key file to create (never overwritten)")
      ->required();
  SetAction(gen, [f] { return Generate(*f); });

  auto* rewrap = keys->add_subcommand(
      "rewrap",
      "After a KEK rotation (new keys.kek_file, old key in "
      "keys.retired_kek_files): re-wrap every data key of the node's vault "
      "under the current KEK. Stop the node first if its store is "
      "embedded.");
  auto config = std::make_shared<std::string>();
  rewrap->add_option("--config", *config, "Node configuration file")
      ->required();
  SetAction(rewrap, [config] { return Rewrap(*config); });
  RegisterKeysPkcs11Commands(keys);
  RegisterPseudonymKeyCommands(keys);
}

}  // namespace clover::cli
