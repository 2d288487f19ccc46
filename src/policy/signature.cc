#include "policy/signature.h"

#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "log/note.h"

namespace clover::policy {
namespace {
constexpr absl::string_view kNoteHeader = "clover-policy/v1";
}  // namespace

std::string PolicyNoteText(absl::string_view sha256_hex) {
  return absl::StrCat(kNoteHeader, "\n", sha256_hex, "\n");
}

std::string SignaturePath(absl::string_view bundle_path) {
  return absl::StrCat(bundle_path, ".sig");
}

absl::StatusOr<std::string> SignPolicy(absl::string_view sha256_hex,
                                       absl::string_view signer_key) {
  absl::StatusOr<std::unique_ptr<log::NoteSigner>> signer =
      log::ParseSignerKey(std::string(signer_key));
  if (!signer.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a note signing key (PRIVATE+KEY+name+id+data): ",
                     signer.status().message()));
  }
  const log::NoteSigner* signers[] = {signer->get()};
  return log::SignNote(PolicyNoteText(sha256_hex), signers);
}

absl::Status VerifyPolicySignature(absl::string_view sha256_hex,
                                   absl::string_view note,
                                   std::span<const std::string> verifier_keys) {
  if (verifier_keys.empty()) {
    return absl::InvalidArgumentError(
        "policy.auditor_keys is empty: no key may sign the policy bundle");
  }
  std::vector<std::unique_ptr<log::NoteVerifier>> owned;
  std::vector<const log::NoteVerifier*> verifiers;
  for (size_t i = 0; i < verifier_keys.size(); ++i) {
    absl::StatusOr<std::unique_ptr<log::NoteVerifier>> v =
        log::ParseVerifierKey(verifier_keys[i]);
    if (!v.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("policy.auditor_keys[", i, "]: ", v.status().message()));
    }
    verifiers.push_back(v->get());
    owned.push_back(*std::move(v));
  }
  absl::StatusOr<log::OpenedNote> opened =
      log::OpenNote(std::string(note), verifiers);
  if (!opened.ok()) {
    return absl::UnauthenticatedError(
        absl::StrCat("policy signature: ", opened.status().message()));
  }
  if (opened->text != PolicyNoteText(sha256_hex)) {
    return absl::UnauthenticatedError(absl::StrCat(
        "policy signature is for another bundle (the bundle's sha256 is ",
        sha256_hex, ")"));
  }
  return absl::OkStatus();
}

}  // namespace clover::policy
