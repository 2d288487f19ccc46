// The auditor's own directory of principals: the principals file it signed
// (`clover policy sign --principals`, policy/signature.h), loaded with the
// deployment's jurisdictions. Replay takes a principal's attributes (kind, org,
// roles, country, jurisdiction) from here by the entry's principal id, never
// from the attributes the entry states; an entry whose stated attributes
// differ is `attribute_mismatch`, one naming an id the directory does not know
// is `unknown_principal`.
//
// Immutable after construction: thread-safe. Look-ups are one hash probe.
#ifndef CLOVER_AUDIT_PRINCIPAL_DIRECTORY_H_
#define CLOVER_AUDIT_PRINCIPAL_DIRECTORY_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "config/deployment.h"
#include "entry/log_entry.h"

namespace clover::audit {

class PrincipalDirectory {
 public:
  // Reads `principals_path`, requires `principals_path`.sig to be a valid
  // signature by one of `auditor_keys`, and loads the verified bytes with the
  // jurisdictions of `jurisdictions_path`. Errors: NotFound (missing file or
  // signature), InvalidArgument (syntax, malformed key), Unauthenticated (bad
  // signature), each naming the file.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<PrincipalDirectory>> Load(
      const std::string& principals_path, const std::string& jurisdictions_path,
      const std::vector<std::string>& auditor_keys);
  // From principals already verified (tests, the demo).
  static std::unique_ptr<PrincipalDirectory> FromPrincipals(
      const std::vector<Principal>& principals);

  // nullptr when the directory does not know `id`.
  const Principal* Find(absl::string_view id) const {
    auto it = by_id_.find(id);
    return it == by_id_.end() ? nullptr : &it->second;
  }
  size_t size() const { return by_id_.size(); }

 private:
  absl::flat_hash_map<std::string, Principal> by_id_;
};

// Empty when `e` states exactly `p`'s attributes (roles compared as sets),
// else which attributes differ, with both values. For an interactive action
// (entry::IsInteractive) the destination must be the directory's
// jurisdiction too.
[[nodiscard]] std::string AttributeDifference(const Principal& p,
                                              const entry::DecisionEntry& e);

}  // namespace clover::audit

#endif  // CLOVER_AUDIT_PRINCIPAL_DIRECTORY_H_
