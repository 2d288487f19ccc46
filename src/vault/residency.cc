#include "vault/residency.h"

#include <vector>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace clover::vault {
namespace {
constexpr char kResidencyPayload[] = "clover.dev/residency";
}  // namespace

absl::Status MisdirectedError(const ResidencyRedirect& r) {
  absl::Status status = absl::FailedPreconditionError(absl::StrCat(
      "subjects of jurisdiction ", r.jurisdiction, " are stored in region ",
      r.region, " (", r.endpoint, "), not here"));
  status.SetPayload(kResidencyPayload,
                    absl::Cord(absl::StrCat(r.jurisdiction, "\n", r.region,
                                            "\n", r.endpoint)));
  return status;
}

std::optional<ResidencyRedirect> GetResidencyRedirect(
    const absl::Status& status) {
  auto payload = status.GetPayload(kResidencyPayload);
  if (!payload.has_value()) return std::nullopt;
  std::vector<std::string> parts = absl::StrSplit(std::string(*payload), '\n');
  if (parts.size() != 3) return std::nullopt;
  return ResidencyRedirect{parts[0], parts[1], parts[2]};
}

absl::StatusOr<ResidencyMap> ResidencyMap::Create(
    const Deployment& deployment, absl::string_view local_region) {
  ResidencyMap map;
  map.local_region_ = std::string(local_region);
  bool found = false;
  for (const Region& region : deployment.regions) {
    if (region.id == local_region) found = true;
    std::string endpoint =
        region.dcs.empty() ? "" : region.dcs.front().endpoint;
    for (const std::string& j : region.jurisdictions) {
      map.home_of_jurisdiction_.emplace(
          j, ResidencyRedirect{j, region.id, endpoint});
    }
  }
  if (!found) {
    return absl::InvalidArgumentError(absl::StrCat(
        "region '", std::string(local_region), "' is not in the deployment"));
  }
  for (const Jurisdiction& j : deployment.jurisdictions) {
    for (const std::string& c : j.countries)
      map.country_to_jurisdiction_.emplace(c, j.id);
  }
  return map;
}

absl::StatusOr<std::string> ResidencyMap::JurisdictionOfCountry(
    absl::string_view country) const {
  auto it = country_to_jurisdiction_.find(std::string(country));
  if (it == country_to_jurisdiction_.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("country: ", std::string(country),
                     " belongs to no jurisdiction of this deployment"));
  }
  return it->second;
}

absl::Status ResidencyMap::CheckStoredHere(
    absl::string_view jurisdiction) const {
  auto it = home_of_jurisdiction_.find(std::string(jurisdiction));
  if (it == home_of_jurisdiction_.end()) {
    return absl::FailedPreconditionError(
        absl::StrCat("jurisdiction ", std::string(jurisdiction),
                     " has no home region in this deployment; its subjects "
                     "cannot be stored"));
  }
  if (it->second.region == local_region_) return absl::OkStatus();
  return MisdirectedError(it->second);
}

}  // namespace clover::vault
