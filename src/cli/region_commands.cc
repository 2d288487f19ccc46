// `clover region up|down|status|drill` and `clover demo-ha`: the replicated
// region on loopback (region/region_up.h) and its failover drill
// (region/drill.h).
#include <iostream>
#include <memory>

#include "cli/command.h"
#include "region/drill.h"
#include "region/region_up.h"

namespace clover::cli {
namespace {

void AddDrillOptions(CLI::App* sub, region::DrillOptions* o) {
  sub->add_option("--writes", o->writes,
                  "Acknowledged writes in all, before and after the loss")
      ->capture_default_str()
      ->check(CLI::Range(100, 1000000));
  sub->add_option("--writes-after-loss", o->writes_after_loss,
                  "Of which at least this many through the surviving DCs")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  sub->add_option("--writers", o->writers, "Concurrent clients")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
}

int PrintDrill(const absl::StatusOr<region::DrillReport>& report, bool json) {
  if (!report.ok()) return ReportError(report.status());
  std::cout << (json ? report->ToJson() + "\n" : report->ToText())
            << std::flush;
  return report->Passed() ? kExitOk : kExitRuntime;
}

}  // namespace

void RegisterRegionCommands(CLI::App& app) {
  auto* region = app.add_subcommand(
      "region",
      "Run the replicated region on loopback: etcd, Patroni-managed "
      "PostgreSQL and a gateway node per DC");
  region->require_subcommand(1);

  auto up_options = std::make_shared<region::RegionUpOptions>();
  auto up_json = std::make_shared<bool>(false);
  auto* up = region->add_subcommand(
      "up",
      "Start the region (3 etcd, 3 Patroni PostgreSQL, 3 gateways) "
      "plus the other regions' embedded nodes; returns once ready");
  up->add_option("--config", up_options->config, "Deployment configuration")
      ->capture_default_str();
  up->add_option("--data-dir", up_options->data_dir,
                 "Where everything lives (created with Clover's ownership "
                 "marker; an earlier region's directory is emptied once it "
                 "is down)")
      ->required();
  up->add_option("--region", up_options->region, "The region to replicate")
      ->capture_default_str();
  up->add_option("--ttl", up_options->ttl_seconds, "Patroni ttl (seconds)")
      ->capture_default_str()
      ->check(CLI::Range(20, 600));
  up->add_option("--loop-wait", up_options->loop_wait_seconds,
                 "Patroni loop_wait (seconds)")
      ->capture_default_str()
      ->check(CLI::Range(1, 300));
  up->add_option("--retry-timeout", up_options->retry_timeout_seconds,
                 "Patroni retry_timeout (seconds)")
      ->capture_default_str()
      ->check(CLI::Range(1, 300));
  up->add_flag("--json", *up_json, "Print the recorded state as JSON");
  SetAction(up, [up_options, up_json] {
    region::RegionUpOptions o = *up_options;
    o.progress = *up_json ? &std::cerr : &std::cout;
    auto state = region::RegionUp(o);
    if (!state.ok()) return ReportError(state.status());
    if (*up_json) {
      std::cout << state->ToJson() << "\n";
    } else {
      std::cout << "\nRegion up; state in " << state->data_dir << "/"
                << region::kRegionStateFile << "\n"
                << state->ToText() << "Stop it with: clover region down "
                << "--data-dir " << state->data_dir << "\n";
    }
    return kExitOk;
  });

  auto down_dir = std::make_shared<std::string>();
  auto down_remove = std::make_shared<bool>(false);
  auto* down = region->add_subcommand(
      "down", "Stop exactly what `region up` started in the directory");
  down->add_option("--data-dir", *down_dir, "The directory `up` used")
      ->required();
  down->add_flag("--remove", *down_remove,
                 "Also delete the directory and its data");
  SetAction(down, [down_dir, down_remove] {
    absl::Status s = region::RegionDown(*down_dir, *down_remove, &std::cout);
    return s.ok() ? kExitOk : ReportError(s);
  });

  auto status_dir = std::make_shared<std::string>();
  auto* status = region->add_subcommand(
      "status", "What `region up` recorded, what still runs, the leader");
  status->add_option("--data-dir", *status_dir, "The directory `up` used")
      ->required();
  SetAction(status, [status_dir] {
    auto text = region::RegionStatus(*status_dir);
    if (!text.ok()) return ReportError(text.status());
    std::cout << *text;
    return kExitOk;
  });

  auto drill_dir = std::make_shared<std::string>();
  auto drill_options = std::make_shared<region::DrillOptions>();
  auto drill_json = std::make_shared<bool>(false);
  auto* drill = region->add_subcommand(
      "drill",
      "Traffic through every DC, then the loss of the leader's whole DC; "
      "verifies every acknowledged write");
  drill->add_option("--data-dir", *drill_dir, "The directory `up` used")
      ->required();
  AddDrillOptions(drill, drill_options.get());
  drill->add_flag("--json", *drill_json, "Print the summary as JSON");
  SetAction(drill, [drill_dir, drill_options, drill_json] {
    auto state = region::LoadRegionState(*drill_dir);
    if (!state.ok()) return ReportError(state.status());
    region::DrillOptions o = *drill_options;
    o.progress = *drill_json ? &std::cerr : &std::cout;
    return PrintDrill(region::RunDrill(*state, o), *drill_json);
  });

  auto ha_options = std::make_shared<region::RegionUpOptions>();
  ha_options->data_dir = "demo-ha-data";
  auto ha_drill = std::make_shared<region::DrillOptions>();
  auto ha_json = std::make_shared<bool>(false);
  auto ha_keep = std::make_shared<bool>(false);
  auto* ha = app.add_subcommand(
      "demo-ha",
      "The replicated region for real: region up, the failover drill, "
      "region down");
  ha->add_option("--config", ha_options->config, "Deployment configuration")
      ->capture_default_str();
  ha->add_option("--data-dir", ha_options->data_dir,
                 "Where the region lives while the drill runs")
      ->capture_default_str();
  AddDrillOptions(ha, ha_drill.get());
  ha->add_flag("--json", *ha_json, "Print the summary as JSON");
  ha->add_flag("--keep-data", *ha_keep,
               "Keep the stopped region's directory (logs, data)");
  SetAction(ha, [ha_options, ha_drill, ha_json, ha_keep] {
    std::ostream* say = *ha_json ? &std::cerr : &std::cout;
    region::RegionUpOptions o = *ha_options;
    o.progress = say;
    auto state = region::RegionUp(o);
    if (!state.ok()) return ReportError(state.status());
    region::DrillOptions d = *ha_drill;
    d.progress = say;
    auto report = region::RunDrill(*state, d);
    absl::Status down = region::RegionDown(state->data_dir, !*ha_keep, say);
    int rc = PrintDrill(report, *ha_json);
    if (!down.ok()) return ReportError(down);
    return rc;
  });
}

}  // namespace clover::cli
