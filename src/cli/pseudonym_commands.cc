// `clover keys rotate-pseudonym --config NODE.yaml [--overlap-s N]`: makes a
// new version of the region's pseudonym root key current (new tokens are made
// under it) and gives the superseded version a retirement deadline of now +
// the overlap (keys.pseudonym_overlap_s unless --overlap-s), after which its
// tokens are refused (410 token_expired). `clover keys pseudonym-versions
// --config NODE.yaml` lists the versions and their states. The ring lives in
// the vault's store (vault/pseudonym_ring.h): an embedded store needs its node
// stopped (RocksDB's lock); with a PostgreSQL store the region's running nodes
// pick the new version up within seconds. The rotation and the superseded
// version's retirement are appended to the node's log first
// (entry/pseudonym_key_entry.h), so that node must be stopped either way.
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "cli/command.h"
#include "config/deployment.h"
#include "gateway/node.h"
#include "vault/pseudonym_ring.h"

namespace clover::cli {
namespace {

struct PseudonymFlags {
  std::string config;
  int64_t overlap_s = -1;  // -1: the config's
};

std::string TimeText(absl::Time t) {
  if (t == absl::InfinitePast() || t == absl::InfiniteFuture()) return "-";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

absl::StatusOr<std::unique_ptr<vault::Vault>> OpenVault(
    const Deployment& deployment, const std::string& config) {
  if (deployment.node.has_value() &&
      deployment.storage.driver == StorageDriver::kRocksDb) {
    // Opening would create an empty store where there is none.
    const std::string store = gateway::NodeVaultDir(*deployment.node);
    if (!std::filesystem::exists(std::filesystem::path(store) / "CURRENT")) {
      return absl::NotFoundError(
          absl::StrCat(config, ": no vault store at ", store));
    }
  }
  return gateway::OpenNodeVault(deployment);
}

void PrintVersions(vault::PseudonymRing& ring) {
  auto versions = ring.Versions();
  if (!versions.ok()) return;
  for (const vault::PseudonymVersionInfo& v : *versions) {
    std::cout << "v" << v.version << "  " << vault::ToString(v.state)
              << "  created " << TimeText(v.created) << "  retires "
              << TimeText(v.retire_at)
              << (v.destroyed ? "  (key destroyed)" : "") << "\n";
  }
}

int Rotate(const PseudonymFlags& f) {
  auto deployment = LoadDeployment(f.config);
  if (!deployment.ok()) return ReportError(deployment.status());
  if (f.overlap_s > 365 * 86400) {
    return ReportError(absl::InvalidArgumentError(
        "--overlap-s: at most 365 days (31536000 s)"));
  }
  absl::Duration overlap = f.overlap_s >= 0
                               ? absl::Seconds(f.overlap_s)
                               : deployment->keys.pseudonym_overlap;
  {
    auto vault = OpenVault(*deployment, f.config);  // refuses a missing store
    if (!vault.ok()) return ReportStoreError(vault.status());
  }
  // Logged in the node's log before it takes effect.
  auto version = gateway::RotatePseudonymKey(*deployment, overlap);
  if (!version.ok()) return ReportStoreError(version.status());
  auto vault = OpenVault(*deployment, f.config);
  if (!vault.ok()) return ReportStoreError(vault.status());
  std::cout << "pseudonym key version " << *version
            << " is current; tokens of the version it superseded resolve for "
            << absl::FormatDuration(overlap) << "\n";
  PrintVersions((*vault)->pseudonym_ring());
  return kExitOk;
}

int List(const PseudonymFlags& f) {
  auto deployment = LoadDeployment(f.config);
  if (!deployment.ok()) return ReportError(deployment.status());
  auto vault = OpenVault(*deployment, f.config);
  if (!vault.ok()) return ReportStoreError(vault.status());
  PrintVersions((*vault)->pseudonym_ring());
  return kExitOk;
}

}  // namespace

void RegisterPseudonymKeyCommands(CLI::App* keys) {
  auto f = std::make_shared<PseudonymFlags>();
  auto* rotate = keys->add_subcommand(
      "rotate-pseudonym",
      "Make a new version of the region's pseudonym root key current. Tokens "
      "of the superseded version still resolve for the overlap window "
      "(keys.pseudonym_overlap_s, default 30 days), then are refused "
      "(token_expired). Stop the node first if its store is embedded.");
  rotate->add_option("--config", f->config, "Node configuration file")
      ->required();
  rotate
      ->add_option("--overlap-s", f->overlap_s,
                   "Overlap window in seconds (0: refuse old tokens at "
                   "once); default keys.pseudonym_overlap_s")
      ->check(CLI::NonNegativeNumber);
  SetAction(rotate, [f] { return Rotate(*f); });

  auto g = std::make_shared<PseudonymFlags>();
  auto* list = keys->add_subcommand(
      "pseudonym-versions",
      "List the versions of the pseudonym root key: current, overlap (old "
      "tokens still resolve) or retired, with their deadlines.");
  list->add_option("--config", g->config, "Node configuration file")
      ->required();
  SetAction(list, [g] { return List(*g); });
}

}  // namespace clover::cli
