// `clover config check FILE`: validate a deployment or node configuration.
#include <iostream>

#include "cli/command.h"
#include "config/deployment.h"

namespace clover::cli {

void RegisterConfigCommands(CLI::App& app) {
  auto* config = app.add_subcommand("config", "Deployment configuration tools");
  config->require_subcommand(1);
  auto* check = config->add_subcommand(
      "check", "Validate a configuration and print its topology");
  auto file = std::make_shared<std::string>();
  auto quiet = std::make_shared<bool>(false);
  check->add_option("file", *file, "Deployment or node configuration (YAML)")
      ->required();
  check->add_flag("--quiet,-q", *quiet, "Print nothing on success");
  SetAction(check, [file, quiet] {
    auto deployment = LoadDeployment(*file);
    if (!deployment.ok()) return ReportError(deployment.status());
    if (!*quiet) std::cout << DescribeTopology(*deployment);
    return kExitOk;
  });
}

}  // namespace clover::cli
