// `clover keys pkcs11-create --config NODE.yaml [--label L]`: generates the
// KEK named by keys.kek.pkcs11 (or L, the next label of a rotation) in the
// token, as a sensitive, non-extractable AES-256 key.
// `clover keys pkcs11-status --config NODE.yaml`: the token's keys (KEKs and
// erasure epoch keys) with their custody attributes.
// The token itself is initialised with the vendor's tool (for SoftHSM2:
// `softhsm2-util --init-token`); see docs/operations.md.
#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cli/command.h"
#include "config/deployment.h"
#include "vault/pkcs11_kek.h"
#include "vault/pkcs11_token.h"

namespace clover::cli {
namespace {

absl::StatusOr<std::shared_ptr<vault::Pkcs11Token>> OpenToken(
    const std::string& config, Pkcs11KekConfig* out) {
  auto deployment = LoadDeployment(config);
  if (!deployment.ok()) return deployment.status();
  if (!deployment->keys.pkcs11_kek.has_value()) {
    return absl::FailedPreconditionError(absl::StrCat(
        config, ": keys.kek.pkcs11 is not configured (the KEK is a file)"));
  }
  *out = *deployment->keys.pkcs11_kek;
  auto token = vault::Pkcs11Token::Open(out->module, out->token, out->pin_file);
  if (!token.ok()) {
    return absl::Status(
        token.status().code(),
        absl::StrCat("keys.kek.pkcs11: ", token.status().message()));
  }
  return token;
}

int Create(const std::string& config, const std::string& label_flag) {
  Pkcs11KekConfig c;
  auto token = OpenToken(config, &c);
  if (!token.ok()) return ReportError(token.status());
  const std::string label = label_flag.empty() ? c.label : label_flag;
  if (absl::StartsWith(label, vault::kEpochKeyLabelPrefix)) {
    return ReportError(absl::InvalidArgumentError(
        "--label: labels starting with 'epoch:' are the vault's epoch keys"));
  }
  auto key = (*token)->GenerateKey(label);
  if (absl::IsAlreadyExists(key.status())) {
    return ReportError(absl::FailedPreconditionError(key.status().message()));
  }
  if (!key.ok()) return ReportError(key.status());
  auto kek = vault::Pkcs11KeyEncryptionKey::Open(*token, label);
  if (!kek.ok()) return ReportError(kek.status());
  std::cout << "created AES-256 key '" << label << "' in token '" << c.token
            << "' (sensitive, not extractable); KEK id " << (*kek)->id()
            << "\n";
  return kExitOk;
}

int Status(const std::string& config) {
  Pkcs11KekConfig c;
  auto token = OpenToken(config, &c);
  if (!token.ok()) return ReportError(token.status());
  auto labels = (*token)->KeyLabels("");
  if (!labels.ok()) return ReportError(labels.status());
  std::cout << "token '" << c.token << "': " << labels->size()
            << " secret keys\n";
  for (const std::string& label : *labels) {
    std::string role = "other";
    if (label == c.label) role = "current KEK";
    for (const std::string& r : c.retired_labels) {
      if (label == r) role = "retired KEK";
    }
    if (absl::StartsWith(label, vault::kEpochKeyLabelPrefix))
      role = "epoch key";
    auto handle = (*token)->FindKey(label);
    if (!handle.ok()) return ReportError(handle.status());
    auto custody = (*token)->Custody(*handle);
    if (!custody.ok()) return ReportError(custody.status());
    std::cout << "  " << label << "  " << role
              << (custody->sensitive ? "  sensitive" : "  NOT sensitive")
              << (custody->extractable ? "  EXTRACTABLE" : "  not extractable")
              << (custody->value_readable ? "  VALUE READABLE" : "") << "\n";
  }
  return kExitOk;
}

}  // namespace

void RegisterKeysPkcs11Commands(CLI::App* keys) {
  auto* create = keys->add_subcommand(
      "pkcs11-create",
      "Generate the KEK of keys.kek.pkcs11 (or --label, for a rotation) in "
      "the PKCS#11 token, sensitive and not extractable.");
  auto config = std::make_shared<std::string>();
  auto label = std::make_shared<std::string>();
  create->add_option("--config", *config, "Node configuration file")
      ->required();
  create->add_option("--label", *label,
                     "Key label (default: keys.kek.pkcs11.label)");
  SetAction(create, [config, label] { return Create(*config, *label); });

  auto* status = keys->add_subcommand(
      "pkcs11-status",
      "List the secret keys of the keys.kek.pkcs11 token (KEKs, erasure "
      "epoch keys) with their custody attributes.");
  auto status_config = std::make_shared<std::string>();
  status->add_option("--config", *status_config, "Node configuration file")
      ->required();
  SetAction(status, [status_config] { return Status(*status_config); });
}

}  // namespace clover::cli
