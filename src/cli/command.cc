#include "cli/command.h"

#include <iostream>

namespace clover::cli {

void SetAction(CLI::App* sub, std::function<int()> run) {
  sub->callback([run = std::move(run)]() {
    int code = run();
    if (code != kExitOk) throw CLI::RuntimeError(code);
  });
}

int ReportError(const absl::Status& status) {
  std::cerr << "clover: " << status.message() << "\n";
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
      return kExitBadInput;
    default:
      return kExitRuntime;
  }
}

int ReportStoreError(const absl::Status& status) {
  if (!absl::IsUnavailable(status)) return ReportError(status);
  std::cerr << "clover: " << status.message()
            << " (is a node still running on it?)\n";
  return kExitRuntime;
}

}  // namespace clover::cli
