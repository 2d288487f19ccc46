// Shared plumbing for the `clover` subcommands: exit codes and error reporting.
// Each command group lives in its own file and registers itself on the root
// app.
#ifndef CLOVER_CLI_COMMAND_H_
#define CLOVER_CLI_COMMAND_H_

#include <functional>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"

namespace clover::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitRuntime = 1;  // the command ran and failed
inline constexpr int kExitBadInput =
    2;  // bad usage, bad flags, or invalid input files

// Makes `run` the action of `sub`; its return value becomes the process exit
// code.
void SetAction(CLI::App* sub, std::function<int()> run);

// Prints `status` as one line on stderr ("clover: message") and returns the
// exit code it maps to: InvalidArgument, NotFound, FailedPrecondition and
// OutOfRange -> 2, others -> 1.
int ReportError(const absl::Status& status);

// As ReportError for an error opening or using a node's store, where
// Unavailable means another process (a running node) holds it: not bad input,
// since the same command works once the node is stopped. Prints the message
// with that hint and returns kExitRuntime.
int ReportStoreError(const absl::Status& status);

// Registration of each command group (one file each). Groups another part has
// not yet implemented register a command that says so and exits 2.
void RegisterConfigCommands(CLI::App& app);
void RegisterDemoCommand(CLI::App& app);
void RegisterLogCommands(CLI::App& app);
void RegisterKeysCommands(CLI::App& app);
// `clover keys pkcs11-*` on the `keys` group (keys_pkcs11_commands.cc).
void RegisterKeysPkcs11Commands(CLI::App* keys);
// `clover keys rotate-pseudonym`, `clover keys pseudonym-versions`
// (pseudonym_commands.cc); called by RegisterKeysCommands.
void RegisterPseudonymKeyCommands(CLI::App* keys);
// `clover keys serve|cutoff|restore` (release_commands.cc); after
// RegisterKeysCommands.
void RegisterReleaseCommands(CLI::App& app);
// `clover vault purge` (keys_commands.cc).
void RegisterVaultCommands(CLI::App& app);
void RegisterPolicyCommands(CLI::App& app);
void RegisterServeCommand(CLI::App& app);
void RegisterAuditCommands(CLI::App& app);
void RegisterMigrateCommand(CLI::App& app);
void RegisterBenchCommands(CLI::App& app);
void RegisterWitnessCommand(CLI::App& app);
void RegisterApprovalCommands(CLI::App& app);
// `clover region up|down|status|drill`, `clover demo-ha`
// (region_commands.cc).
void RegisterRegionCommands(CLI::App& app);

}  // namespace clover::cli

#endif  // CLOVER_CLI_COMMAND_H_
