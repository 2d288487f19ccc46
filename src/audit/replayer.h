// Decision replay: every logged decision is re-derived from the policy bundle
// it names, with the same compiled evaluator the gateway uses. The auditor
// knows only the bundles it signed (files plus their FILE.sig signed notes,
// policy/signature.h); a decision under any other bundle hash is
// `unsigned_policy`, and one whose effects or deciding rules differ from the
// re-derivation is `decision_mismatch`.
//
// Thread-safe after construction until Add (policies are immutable).
#ifndef CLOVER_AUDIT_REPLAYER_H_
#define CLOVER_AUDIT_REPLAYER_H_

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "audit/principal_directory.h"
#include "entry/log_entry.h"
#include "policy/compiled_policy.h"

namespace clover::audit {

struct SignedPolicy {
  std::string path;
  std::string sha256;
  std::string description;
  int version = 0;
  std::shared_ptr<const policy::CompiledPolicy> policy;
};

// A field an approval may have opened (Replayer::Result).
struct GrantedField {
  size_t index = 0;  // into entry::DecisionEntry::fields
  absl::Duration max_grant = absl::InfiniteDuration();
};

class Replayer {
 public:
  // Loads each bundle in `bundle_paths`, requiring `path.sig` to be a valid
  // signature by one of `auditor_keys` (note verifier key strings). Errors:
  // NotFound (missing file or signature), InvalidArgument (bundle syntax,
  // malformed key), Unauthenticated (bad signature), each naming the file.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Replayer>> Load(
      const std::vector<std::string>& bundle_paths,
      const std::vector<std::string>& auditor_keys);
  // Loads and verifies one bundle as Load does.
  [[nodiscard]] static absl::StatusOr<SignedPolicy> LoadOne(
      const std::string& path, const std::vector<std::string>& auditor_keys);
  // Adds a verified policy (a no-op when its hash is known). Not synchronised:
  // the caller serialises it with Replay and policies() (the Auditor's mutex).
  void Add(SignedPolicy p);
  // From already verified bundles (tests, benchmarks).
  static std::unique_ptr<Replayer> FromPolicies(
      std::vector<std::shared_ptr<const policy::CompiledPolicy>> policies);

  enum class Verdict { kMatch, kMismatch, kUnsignedPolicy };
  struct Result {
    Verdict verdict = Verdict::kMatch;
    std::string
        detail;  // for a mismatch: the first differing field and both decisions
    // For an entry naming an approval: the fields the policy leaves to an
    // approval (logged as `approval`, as the gateway writes a granted field,
    // or as the access granted), each with its deciding rule's max_duration
    // (a grant older than that no longer applies). Empty otherwise.
    std::vector<GrantedField> approval_fields;
  };
  // Re-derives `e`. The principal's attributes come from `who` (the auditor's
  // directory entry for e.principal_id) when given, else from the entry.
  // Allocation-light: one Decide call per entry.
  [[nodiscard]] Result Replay(const entry::DecisionEntry& e,
                              const Principal* who = nullptr) const;

  const std::vector<SignedPolicy>& policies() const { return policies_; }

 private:
  std::vector<SignedPolicy> policies_;
  absl::flat_hash_map<std::string, const policy::CompiledPolicy*> by_hash_;
};

}  // namespace clover::audit

#endif  // CLOVER_AUDIT_REPLAYER_H_
