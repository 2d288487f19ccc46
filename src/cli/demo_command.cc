// `clover demo`: loads the example deployment and prints its topology.
#include <iostream>

#include "cli/command.h"
#include "core/config.h"

namespace clover::cli {

void RegisterDemoCommand(CLI::App& app) {
  auto* demo = app.add_subcommand("demo", "Run the example deployment");
  auto file = std::make_shared<std::string>("examples/deployment.yaml");
  demo->add_option("--config", *file, "Deployment configuration")
      ->capture_default_str();
  SetAction(demo, [file] {
    auto deployment = LoadDeployment(*file);
    if (!deployment.ok()) return ReportError(deployment.status());
    std::cout << DescribeTopology(*deployment);
    return kExitOk;
  });
}

}  // namespace clover::cli
