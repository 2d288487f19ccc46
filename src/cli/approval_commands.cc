// `clover approval attest`: the approver's attestation of one approval
// (approvals/attestation.h), signed by hand: from the approval as
// GET /v1/approvals/{id} returns it, print the signed note to pass as the
// `attestation` of POST /v1/approvals/{id}/approve.
#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "approvals/attestation.h"
#include "cli/command.h"
#include "policy/bundle.h"

namespace clover::cli {
namespace {

int Attest(const std::string& approval_file, const std::string& by,
           const std::string& key_file, const std::string& duration_text) {
  absl::Duration duration;
  if (!absl::ParseDuration(duration_text, &duration) ||
      duration <= absl::ZeroDuration()) {
    return ReportError(absl::InvalidArgumentError(
        "--duration: not a positive duration such as \"2h\""));
  }
  absl::StatusOr<std::string> approval =
      policy::ReadFileToString(approval_file);
  if (!approval.ok()) return ReportError(approval.status());
  absl::StatusOr<std::string> key = policy::ReadFileToString(key_file);
  if (!key.ok()) return ReportError(key.status());
  absl::StatusOr<std::string> note = approvals::AttestApproval(
      *approval, by, duration, absl::StripAsciiWhitespace(*key), absl::Now());
  if (!note.ok()) {
    return ReportError(absl::Status(
        note.status().code(),
        absl::StrCat(approval_file, ": ", note.status().message())));
  }
  std::cout << *note;
  return kExitOk;
}

}  // namespace

void RegisterApprovalCommands(CLI::App& app) {
  auto* group = app.add_subcommand("approval", "Approval tools");
  group->require_subcommand(1);
  auto* cmd = group->add_subcommand(
      "attest",
      "Sign the approver's attestation of an approval (as GET "
      "/v1/approvals/{id} returns it) and print it");
  auto approval = std::make_shared<std::string>();
  auto by = std::make_shared<std::string>();
  auto key = std::make_shared<std::string>();
  auto duration = std::make_shared<std::string>("1h");
  cmd->add_option("--approval", *approval,
                  "The approval's JSON (GET /v1/approvals/{id})")
      ->required();
  cmd->add_option("--by", *by, "The approver's principal id")->required();
  cmd->add_option("--key", *key,
                  "The approver's note signing key file (PRIVATE+KEY+...)")
      ->required();
  cmd->add_option("--duration", *duration,
                  "How long the grant may last from now (default 1h)");
  SetAction(cmd, [=] { return Attest(*approval, *by, *key, *duration); });
}

}  // namespace clover::cli
