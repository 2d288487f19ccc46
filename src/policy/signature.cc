#include "policy/signature.h"

#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "log/note.h"
#include "policy/bundle.h"

namespace clover::policy {
namespace {
constexpr absl::string_view kNoteHeader = "clover-policy/v1";
constexpr absl::string_view kPrincipalsHeader = "clover-principals/v1";

// How errors name a signed thing.
struct SignedThing {
  absl::string_view name;   // "policy": "<name> signature: ..."
  absl::string_view whole;  // "policy bundle": "no key may sign the <whole>"
  absl::string_view noun;   // "bundle": "is for another <noun>"
};

// Opens `note` with one of `verifier_keys` and checks it says `want`.
absl::Status VerifyText(absl::string_view want, absl::string_view note,
                        std::span<const std::string> verifier_keys,
                        const SignedThing& what, absl::string_view sha256_hex) {
  if (verifier_keys.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "policy.auditor_keys is empty: no key may sign the ", what.whole));
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
        absl::StrCat(what.name, " signature: ", opened.status().message()));
  }
  if (opened->text != want) {
    return absl::UnauthenticatedError(
        absl::StrCat(what.name, " signature is for another ", what.noun,
                     " (the ", what.noun, "'s sha256 is ", sha256_hex, ")"));
  }
  return absl::OkStatus();
}
}  // namespace

std::string PrincipalsNoteText(absl::string_view sha256_hex) {
  return absl::StrCat(kPrincipalsHeader, "\n", sha256_hex, "\n");
}

absl::StatusOr<std::string> SignPrincipals(absl::string_view sha256_hex,
                                           absl::string_view signer_key) {
  return log::SignNoteWithKey(PrincipalsNoteText(sha256_hex), signer_key);
}

absl::Status VerifyPrincipalsSignature(
    absl::string_view sha256_hex, absl::string_view note,
    std::span<const std::string> verifier_keys) {
  return VerifyText(PrincipalsNoteText(sha256_hex), note, verifier_keys,
                    {"principal directory", "principal directory", "directory"},
                    sha256_hex);
}

absl::StatusOr<std::string> ReadSignedPrincipals(
    const std::string& path, std::span<const std::string> verifier_keys) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) return text.status();
  const std::string sig_path = SignaturePath(path);
  absl::StatusOr<std::string> note = ReadFileToString(sig_path);
  if (!note.ok()) {
    return absl::NotFoundError(absl::StrCat(
        sig_path,
        ": the principal directory's signature cannot be read (sign "
        "it with `clover policy sign --principals`)"));
  }
  absl::Status v =
      VerifyPrincipalsSignature(Sha256Hex(*text), *note, verifier_keys);
  if (!v.ok())
    return absl::Status(v.code(), absl::StrCat(sig_path, ": ", v.message()));
  return text;
}

std::string PolicyNoteText(absl::string_view sha256_hex) {
  return absl::StrCat(kNoteHeader, "\n", sha256_hex, "\n");
}

std::string SignaturePath(absl::string_view bundle_path) {
  return absl::StrCat(bundle_path, ".sig");
}

absl::StatusOr<std::string> SignPolicy(absl::string_view sha256_hex,
                                       absl::string_view signer_key) {
  return log::SignNoteWithKey(PolicyNoteText(sha256_hex), signer_key);
}

absl::Status VerifyPolicySignature(absl::string_view sha256_hex,
                                   absl::string_view note,
                                   std::span<const std::string> verifier_keys) {
  return VerifyText(PolicyNoteText(sha256_hex), note, verifier_keys,
                    {"policy", "policy bundle", "bundle"}, sha256_hex);
}

}  // namespace clover::policy
