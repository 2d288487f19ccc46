// `clover migrate vault --dir DIR`: brings an embedded vault store written by
// an earlier layout to the current one, in place (vault/layout_migration.h).
// Stop the node that owns the directory first; RocksDB's lock refuses a store
// that is open elsewhere.
#include <iostream>
#include <memory>
#include <string>

#include "cli/command.h"
#include "vault/layout_migration.h"

namespace clover::cli {
namespace {

int MigrateVault(const std::string& dir) {
  auto report = vault::MigrateVaultStoreToV2(dir);
  if (!report.ok()) {
    // A store that is in use is not bad input: the same command works once
    // the node is stopped.
    if (absl::IsUnavailable(report.status())) {
      std::cerr << "clover: " << report.status().message()
                << " (is a node still running on it?)\n";
      return kExitRuntime;
    }
    return ReportError(report.status());
  }
  if (report->already_current) {
    std::cout << dir << ": vault store already has the current layout\n";
  } else {
    std::cout << dir << ": migrated " << report->live << " live and "
              << report->erased << " erased subjects to the current layout\n";
  }
  return kExitOk;
}

}  // namespace

void RegisterMigrateCommand(CLI::App& app) {
  auto* migrate = app.add_subcommand("migrate", "Storage migrations");
  migrate->require_subcommand(1);
  auto* vault = migrate->add_subcommand(
      "vault",
      "Migrate an embedded vault store (<data_dir>/vault) to the current "
      "layout: one row per subject. Restartable; needs no keys.");
  auto dir = std::make_shared<std::string>();
  vault->add_option("--dir", *dir, "The vault's RocksDB directory")->required();
  SetAction(vault, [dir] { return MigrateVault(*dir); });
}

}  // namespace clover::cli
