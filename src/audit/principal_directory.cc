#include "audit/principal_directory.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/status_macros.h"
#include "entry/decide.h"
#include "policy/bundle.h"
#include "policy/signature.h"

namespace clover::audit {

absl::StatusOr<std::unique_ptr<PrincipalDirectory>> PrincipalDirectory::Load(
    const std::string& principals_path, const std::string& jurisdictions_path,
    const std::vector<std::string>& auditor_keys) {
  CLOVER_ASSIGN_OR_RETURN(
      std::string verified,
      policy::ReadSignedPrincipals(principals_path, auditor_keys));
  CLOVER_ASSIGN_OR_RETURN(
      std::vector<Principal> principals,
      LoadPrincipalDirectory(principals_path, jurisdictions_path));
  // The file is read twice (to verify, then to parse): refuse a file that
  // changed in between, so that what is used is what was signed.
  absl::StatusOr<std::string> again = policy::ReadFileToString(principals_path);
  if (!again.ok() || *again != verified) {
    return absl::UnauthenticatedError(
        absl::StrCat(principals_path, ": changed while it was being loaded"));
  }
  return FromPrincipals(principals);
}

std::unique_ptr<PrincipalDirectory> PrincipalDirectory::FromPrincipals(
    const std::vector<Principal>& principals) {
  auto d = std::make_unique<PrincipalDirectory>();
  for (const Principal& p : principals) d->by_id_[p.id] = p;
  return d;
}

std::string AttributeDifference(const Principal& p,
                                const entry::DecisionEntry& e) {
  std::string out;
  auto differ = [&out](absl::string_view name, absl::string_view stated,
                       absl::string_view known) {
    if (stated == known) return;
    absl::StrAppend(&out, out.empty() ? "" : ", ", name, " '", stated,
                    "' (directory: '", known, "')");
  };
  differ("kind", e.principal_kind, ToString(p.kind));
  differ("org", e.principal_org, p.org);
  differ("country", e.principal_country, p.country);
  differ("jurisdiction", e.principal_jurisdiction, p.jurisdiction);
  if (entry::IsInteractive(e.action))
    differ("destination", e.destination, p.jurisdiction);
  // Fast path without copies: the gateway writes the roles in the directory's
  // order.
  if (e.principal_roles == p.roles) return out;
  std::vector<std::string> stated = e.principal_roles;
  std::vector<std::string> known = p.roles;
  std::sort(stated.begin(), stated.end());
  std::sort(known.begin(), known.end());
  if (stated != known) {
    differ("roles", absl::StrJoin(stated, ","), absl::StrJoin(known, ","));
  }
  return out;
}

}  // namespace clover::audit
