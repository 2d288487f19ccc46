// Auditor signatures over policy bundles: a C2SP signed note whose text names
// the bundle's SHA-256,
//   clover-policy/v1
//   <lower-case hex sha256 of the bundle file>
// signed with the auditor's Ed25519 note key and stored beside the bundle as
// FILE.sig.
#ifndef CLOVER_POLICY_SIGNATURE_H_
#define CLOVER_POLICY_SIGNATURE_H_

#include <span>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace clover::policy {

// The signed-note text for a bundle hash.
std::string PolicyNoteText(absl::string_view sha256_hex);

// The path of a bundle's signature file: `bundle_path` + ".sig".
std::string SignaturePath(absl::string_view bundle_path);

// Signs the bundle whose hash is `sha256_hex` with `signer_key` (a
// PRIVATE+KEY+... note key string). Returns the whole note. Errors:
// InvalidArgument for a malformed key (the key is never echoed).
[[nodiscard]] absl::StatusOr<std::string> SignPolicy(
    absl::string_view sha256_hex, absl::string_view signer_key);

// Checks that `note` is a valid signed note, by at least one of
// `verifier_keys`, over exactly PolicyNoteText(sha256_hex). Errors:
// InvalidArgument if a verifier key is malformed or there are none;
// Unauthenticated if no valid signature by a listed key exists or the note
// names another bundle.
[[nodiscard]] absl::Status VerifyPolicySignature(
    absl::string_view sha256_hex, absl::string_view note,
    std::span<const std::string> verifier_keys);

// The principal directory (the deployment's principals file) is signed the
// same way, under its own header so that neither signature can stand for the
// other:
//   clover-principals/v1
//   <lower-case hex sha256 of the principals file>
// stored beside the file as FILE.sig.
std::string PrincipalsNoteText(absl::string_view sha256_hex);
[[nodiscard]] absl::StatusOr<std::string> SignPrincipals(
    absl::string_view sha256_hex, absl::string_view signer_key);
// As VerifyPolicySignature, for PrincipalsNoteText(sha256_hex).
[[nodiscard]] absl::Status VerifyPrincipalsSignature(
    absl::string_view sha256_hex, absl::string_view note,
    std::span<const std::string> verifier_keys);

// Reads `path` and checks its detached signature `path`.sig by one of
// `verifier_keys`; returns the file's contents (the bytes that were verified).
// Errors: NotFound (file or signature unreadable), InvalidArgument (malformed
// key), Unauthenticated (bad signature or another file's), each naming the
// file.
[[nodiscard]] absl::StatusOr<std::string> ReadSignedPrincipals(
    const std::string& path, std::span<const std::string> verifier_keys);

}  // namespace clover::policy

#endif  // CLOVER_POLICY_SIGNATURE_H_
