#include "policy/loader.h"

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "policy/analyzer.h"
#include "policy/signature.h"

namespace clover::policy {

absl::StatusOr<std::shared_ptr<const CompiledPolicy>> LoadPolicyFile(
    const std::string& path, const PolicyConfig& config,
    const Deployment* deployment) {
  CLOVER_ASSIGN_OR_RETURN(Bundle bundle, LoadBundle(path));
  if (config.require_signed_policy) {
    const std::string sig_path = SignaturePath(path);
    absl::StatusOr<std::string> note = ReadFileToString(sig_path);
    if (!note.ok()) {
      return absl::NotFoundError(absl::StrCat(
          sig_path,
          ": policy.require_signed_policy is true but the bundle's signature "
          "cannot be read (sign it with `clover policy sign`)"));
    }
    absl::Status verified =
        VerifyPolicySignature(bundle.sha256, *note, config.auditor_keys);
    if (!verified.ok()) {
      return absl::Status(verified.code(),
                          absl::StrCat(sig_path, ": ", verified.message()));
    }
  }
  CLOVER_RETURN_IF_ERROR(ProveInvariants(bundle, deployment));
  return CompiledPolicy::Compile(bundle);
}

absl::Status CheckPrincipalsSignature(const Deployment& deployment) {
  if (!deployment.policy.require_signed_principals) return absl::OkStatus();
  if (deployment.principals_file.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        deployment.source_file,
        ": policy.require_signed_principals is true but the principals are "
        "not a file"));
  }
  absl::Status s = ReadSignedPrincipals(deployment.principals_file,
                                        deployment.policy.auditor_keys)
                       .status();
  // A directory signed by no auditor key is bad input to the node (exit 2),
  // like a missing signature.
  if (absl::IsUnauthenticated(s))
    return absl::FailedPreconditionError(s.message());
  return s;
}

absl::StatusOr<std::shared_ptr<const CompiledPolicy>> LoadPolicy(
    const Deployment& deployment) {
  // The principals' attributes are inputs to every decision: a node decides
  // only with the directory the auditor signed, when the deployment says so.
  CLOVER_RETURN_IF_ERROR(CheckPrincipalsSignature(deployment));
  if (deployment.policy.file.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(deployment.source_file,
                     ": field 'policy.file': no policy bundle named"));
  }
  return LoadPolicyFile(deployment.policy.file, deployment.policy, &deployment);
}

}  // namespace clover::policy
