// `clover migrate vault (--config NODE.yaml | --dir DIR)`: brings a vault
// store written by an earlier layout to the current one, in place
// (vault/layout_migration.h). With --config it migrates the store that node
// uses (its embedded <data_dir>/vault, or its region's PostgreSQL schema); with
// --dir an embedded store directly. Stop the node first: RocksDB's lock refuses
// a store that is open elsewhere, and a PostgreSQL migration is one
// transaction the nodes should not race.
#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "cli/command.h"
#include "config/deployment.h"
#include "gateway/node.h"
#include "vault/layout_migration.h"

namespace clover::cli {
namespace {

struct MigrateFlags {
  std::string config;
  std::string dir;
};

int MigrateVault(const MigrateFlags& f) {
  if (f.config.empty() == f.dir.empty()) {
    return ReportError(absl::InvalidArgumentError(
        "migrate vault: give exactly one of --config and --dir"));
  }
  std::string where = f.dir;
  absl::StatusOr<vault::MigrationReport> report;
  if (!f.config.empty()) {
    auto deployment = LoadDeployment(f.config);
    if (!deployment.ok()) return ReportError(deployment.status());
    if (!deployment->node.has_value()) {
      return ReportError(absl::InvalidArgumentError(
          absl::StrCat(f.config,
                       ": field 'node': required to find the "
                       "node's vault store")));
    }
    if (deployment->storage.driver == StorageDriver::kPostgres) {
      const std::string region =
          gateway::PostgresNameOf(deployment->node->region);
      where = absl::StrCat("postgres schema clover_vault_", region);
      report = vault::MigratePostgresVaultToV2(deployment->storage.postgres_dsn,
                                               region);
    } else {
      where = gateway::NodeVaultDir(*deployment->node);
      report = vault::MigrateVaultStoreToV2(where);
    }
  } else {
    report = vault::MigrateVaultStoreToV2(f.dir);
  }
  if (!report.ok()) return ReportStoreError(report.status());
  if (report->already_current) {
    std::cout << where << ": vault store already has the current layout\n";
  } else {
    std::cout << where << ": migrated " << report->live << " live and "
              << report->erased << " erased subjects to the current layout\n";
  }
  return kExitOk;
}

}  // namespace

// `clover migrate legacy` (legacy_migrate_command.cc).
void RegisterLegacyMigrateCommand(CLI::App* migrate);

void RegisterMigrateCommand(CLI::App& app) {
  auto* migrate = app.add_subcommand("migrate", "Storage migrations");
  migrate->require_subcommand(1);
  auto* vault = migrate->add_subcommand(
      "vault",
      "Migrate a vault store to the current layout (one row per subject). "
      "Restartable; needs no keys.");
  auto f = std::make_shared<MigrateFlags>();
  vault->add_option("--config", f->config,
                    "A node config: migrate the store that node uses");
  vault->add_option("--dir", f->dir, "An embedded (RocksDB) vault directory");
  SetAction(vault, [f] { return MigrateVault(*f); });
  RegisterLegacyMigrateCommand(migrate);
}

}  // namespace clover::cli
