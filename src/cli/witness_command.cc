// `clover witness --config FILE`: a stand-alone C2SP tlog-witness (the same
// code as the auditor's witness, audit/witness_server.h) until SIGINT/SIGTERM.
#include <signal.h>

#include <iostream>
#include <string>

#include "audit/audit_config.h"
#include "audit/witness_server.h"
#include "cli/command.h"

namespace clover::cli {
namespace {

int RunWitness(const std::string& config_file) {
  absl::StatusOr<audit::WitnessConfig> config =
      audit::LoadWitnessConfig(config_file);
  if (!config.ok()) return ReportError(config.status());
  // Block the stop signals before any thread starts so that only sigwait
  // sees them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  absl::StatusOr<std::unique_ptr<audit::WitnessServer>> w =
      audit::WitnessServer::Create(*config);
  if (!w.ok()) return ReportError(w.status());
  if (absl::Status s = (*w)->Start(); !s.ok()) return ReportError(s);
  std::cout << "clover witness: listening on " << config->listen_host << ":"
            << (*w)->port() << "\n"
            << "clover witness: witness key " << (*w)->witness().verifier_key()
            << "\n"
            << std::flush;
  int sig = 0;
  sigwait(&stop, &sig);
  (*w)->Stop();
  std::cout << "clover witness: stopped\n";
  return kExitOk;
}

}  // namespace

void RegisterWitnessCommand(CLI::App& app) {
  auto config = std::make_shared<std::string>();
  CLI::App* sub = app.add_subcommand(
      "witness",
      "Run a stand-alone witness (C2SP tlog-witness): cosign the checkpoints "
      "of the configured logs that extend what it cosigned before");
  sub->add_option("--config", *config, "Witness config (examples/witness.yaml)")
      ->required();
  SetAction(sub, [config] { return RunWitness(*config); });
}

}  // namespace clover::cli
