// Command groups whose parts have not landed yet. Each says so and exits 2; the
// part that implements a group provides the strong definition in its own
// <group>_commands.cc.
#include <iostream>
#include <string>

#include "cli/command.h"

namespace clover::cli {
namespace {

void AddPending(CLI::App& app, const std::string& name,
                const std::string& what) {
  auto* sub =
      app.add_subcommand(name, what + " (not yet available in this build)");
  sub->allow_extras();
  SetAction(sub, [name] {
    std::cerr << "clover: '" << name
              << "' is not implemented in this build yet\n";
    return kExitBadInput;
  });
}

}  // namespace

#define CLOVER_PENDING(fn, name, what) \
  __attribute__((weak)) void fn(CLI::App& app) { AddPending(app, name, what); }

CLOVER_PENDING(RegisterServeCommand, "serve", "Run one gateway node")
CLOVER_PENDING(RegisterAuditCommands, "audit", "Run the independent auditor")
CLOVER_PENDING(RegisterLogCommands, "log", "Transparency log tools")
CLOVER_PENDING(RegisterPolicyCommands, "policy", "Policy tools")
CLOVER_PENDING(RegisterKeysCommands, "keys", "Key management")

}  // namespace clover::cli
