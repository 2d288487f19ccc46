// `clover demo`: run the example deployment for real and summarise it
// (demo/demo.h).
#include <signal.h>

#include <iostream>

#include "cli/command.h"
#include "demo/demo.h"
#include "gateway/node.h"

namespace clover::cli {

void RegisterDemoCommand(CLI::App& app) {
  auto* demo = app.add_subcommand(
      "demo", "Run the example EU + US deployment and summarise it");
  auto options = std::make_shared<demo::DemoOptions>();
  auto duration = std::make_shared<double>(-1);
  auto json = std::make_shared<bool>(false);
  demo->add_option("--config", options->config, "Deployment configuration")
      ->capture_default_str();
  demo->add_option("--data-dir", options->data_dir,
                   "Where nodes keep their data (emptied if an earlier demo "
                   "created it; any other non-empty directory is refused)")
      ->capture_default_str();
  demo->add_option("--base-port", options->base_port,
                   "Listen on consecutive ports from here instead of the "
                   "configured endpoints");
  demo->add_option("--subjects-per-dc", options->subjects_per_dc,
                   "Synthetic subjects per DC")
      ->capture_default_str();
  demo->add_option("--synthetic-incidents", options->synthetic_incidents,
                   "After the summary, also record this many synthetic "
                   "incidents (detector 'synthetic'), to try the console's "
                   "paging");
  demo->add_option("--duration", *duration,
                   "Seconds to keep serving after the summary (default: until "
                   "Ctrl-C; 0: exit)");
  demo->add_flag("--json", *json, "Print the summary as JSON");
  SetAction(demo, [options, duration, json] {
    gateway::BlockTerminationSignals();
    if (!*json) options->progress = &std::cout;
    const bool as_json = *json;
    const double seconds = *duration;
    auto summary = demo::RunDemo(*options, [&](const demo::DemoSummary& s) {
      std::cout << (as_json ? s.ToJson() + "\n" : s.ToText()) << std::flush;
      if (seconds == 0) return;
      if (!as_json) {
        std::cout
            << "\nThe nodes keep serving (logs at <endpoint>/log/checkpoint); "
            << (seconds > 0 ? "stopping after the duration" : "Ctrl-C to stop")
            << ".\n"
            << std::flush;
      }
      absl::Time until = seconds > 0 ? absl::Now() + absl::Seconds(seconds)
                                     : absl::InfiniteFuture();
      bool signalled = false;
      gateway::WaitForTerminationSignal([&] {
        if (absl::Now() >= until && !signalled) {
          signalled = true;
          raise(SIGTERM);
        }
      });
    });
    if (!summary.ok()) return ReportError(summary.status());
    if (summary->raw_restricted_to_cn != 0) return kExitRuntime;
    return kExitOk;
  });
}

}  // namespace clover::cli
