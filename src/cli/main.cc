// `clover`: the single binary. Parses the command line and hands over to a
// command group.
#include <iostream>

#include "absl/synchronization/mutex.h"
#include "cli/command.h"
#include "core/logger.h"

int main(int argc, char** argv) {
  // Debian's Abseil checks lock order on every Mutex operation; that is for
  // debugging, and it costs the gateway's hot path dearly.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // Diagnostics go to stderr as JSON lines (core/logger.h; CLOVER_LOG_LEVEL,
  // CLOVER_LOG_FORMAT); stdout carries only command output (e.g. `demo
  // --json`).
  if (absl::Status s = clover::logging::ConfigureFromEnvironment(); !s.ok()) {
    std::cerr << "clover: " << s.message() << "\n";
    return clover::cli::kExitBadInput;
  }
  CLI::App app{
      "Clover: a data-sovereignty gateway with a verifiable transparency log",
      "clover"};
  app.require_subcommand(1);
  // "clover X.Y.Z", the GNU form that help2man (the man page) reads.
  app.set_version_flag("--version", "clover " CLOVER_VERSION);
  clover::cli::RegisterConfigCommands(app);
  clover::cli::RegisterDemoCommand(app);
  clover::cli::RegisterServeCommand(app);
  clover::cli::RegisterAuditCommands(app);
  clover::cli::RegisterWitnessCommand(app);
  clover::cli::RegisterLogCommands(app);
  clover::cli::RegisterPolicyCommands(app);
  clover::cli::RegisterKeysCommands(app);
  clover::cli::RegisterReleaseCommands(app);
  clover::cli::RegisterVaultCommands(app);
  clover::cli::RegisterApprovalCommands(app);
  clover::cli::RegisterMigrateCommand(app);
  clover::cli::RegisterBenchCommands(app);
  clover::cli::RegisterRegionCommands(app);
  auto* version = app.add_subcommand("version", "Print the version");
  clover::cli::SetAction(version, [] {
    std::cout << "clover " << CLOVER_VERSION << "\n";
    return clover::cli::kExitOk;
  });
  try {
    app.parse(argc, argv);
  } catch (const CLI::RuntimeError& e) {
    return e.get_exit_code();
  } catch (const CLI::ParseError& e) {
    // --help and --version are "successes" that CLI11 reports as exceptions.
    int code = app.exit(e);
    return code == 0 ? 0 : clover::cli::kExitBadInput;
  }
  return clover::cli::kExitOk;
}
