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

absl::StatusOr<std::shared_ptr<const CompiledPolicy>> LoadPolicy(
    const Deployment& deployment) {
  if (deployment.policy.file.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(deployment.source_file,
                     ": field 'policy.file': no policy bundle named"));
  }
  return LoadPolicyFile(deployment.policy.file, deployment.policy, &deployment);
}

}  // namespace clover::policy
