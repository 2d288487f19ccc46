// Loading the policy a node will enforce: parse, check the auditor's signature
// when the deployment requires one, prove the invariants, compile.
#ifndef CLOVER_POLICY_LOADER_H_
#define CLOVER_POLICY_LOADER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "config/deployment.h"
#include "policy/compiled_policy.h"

namespace clover::policy {

// Checks the principal directory's signature when
// `deployment.policy.require_signed_principals` is set: the file
// `deployment.principals_file`.sig must hold a valid signed note
// (policy/signature.h, PrincipalsNoteText) over the file's hash by one of
// `deployment.policy.auditor_keys`. Errors as ReadSignedPrincipals, except a
// bad signature, which is FailedPrecondition.
[[nodiscard]] absl::Status CheckPrincipalsSignature(
    const Deployment& deployment);

// Checks the principal directory (CheckPrincipalsSignature), then loads
// `deployment.policy.file`. When
// `deployment.policy.require_signed_policy` is set, the file FILE.sig must hold
// a valid signed note (policy/signature.h) over the bundle's hash by one of
// `deployment.policy.auditor_keys`. Every invariant must hold over the
// deployment. Errors: NotFound (unreadable bundle or missing signature),
// InvalidArgument (parse errors, malformed keys), Unauthenticated (bad
// signature), FailedPrecondition (violated invariant, with its counterexample).
[[nodiscard]] absl::StatusOr<std::shared_ptr<const CompiledPolicy>> LoadPolicy(
    const Deployment& deployment);

// The same for an explicit bundle file and policy settings.
[[nodiscard]] absl::StatusOr<std::shared_ptr<const CompiledPolicy>>
LoadPolicyFile(const std::string& path, const PolicyConfig& config,
               const Deployment* deployment);

}  // namespace clover::policy

#endif  // CLOVER_POLICY_LOADER_H_
