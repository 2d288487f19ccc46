// The `clover audit` command group alone, for process-level tests of the
// auditor.
#include "cli/command.h"

int main(int argc, char** argv) {
  CLI::App app{"clover audit (test build)", "clover"};
  app.require_subcommand(1);
  clover::cli::RegisterAuditCommands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::RuntimeError& e) {
    return e.get_exit_code();
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : clover::cli::kExitBadInput;
  }
  return clover::cli::kExitOk;
}
