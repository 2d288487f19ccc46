// `clover serve --config FILE`: one gateway node, until SIGTERM or SIGINT.
#include "cli/command.h"
#include "config/deployment.h"
#include "core/logger.h"
#include "gateway/node.h"

namespace clover::cli {

void RegisterServeCommand(CLI::App& app) {
  auto* serve = app.add_subcommand("serve", "Run one gateway node");
  auto file = std::make_shared<std::string>();
  auto threads = std::make_shared<int>(0);
  serve->add_option("--config", *file, "Node configuration (YAML)")->required();
  serve->add_option("--threads", *threads,
                    "HTTP I/O threads (0 = one per core)");
  SetAction(serve, [file, threads] {
    auto deployment = LoadDeployment(*file);
    if (!deployment.ok()) return ReportError(deployment.status());
    // Before any thread starts, so that only the main thread receives SIGTERM.
    gateway::BlockTerminationSignals();
    gateway::NodeOptions options;
    options.threads = *threads;
    std::string id = deployment->node.has_value() ? deployment->node->id : "";
    auto node = gateway::Node::Start(*std::move(deployment), options);
    if (!node.ok()) return ReportError(node.status());
    logging::Info("node serving", {{"node", id}, {"port", (*node)->port()}});
    gateway::WaitForTerminationSignal([&] { (*node)->Tick(); });
    logging::Info("node shutting down", {{"node", id}});
    (*node)->Shutdown();
    return kExitOk;
  });
}

}  // namespace clover::cli
