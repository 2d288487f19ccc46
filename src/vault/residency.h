// Residency pinning: which region stores a subject, decided from its country
// before anything reaches storage, and the redirect the gateway turns into HTTP
// 421.
#ifndef CLOVER_VAULT_RESIDENCY_H_
#define CLOVER_VAULT_RESIDENCY_H_

#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "config/deployment.h"

namespace clover::vault {

// Where a misdirected write must go instead.
struct ResidencyRedirect {
  std::string jurisdiction;  // the subject's home jurisdiction, e.g. "us"
  std::string region;        // the region that stores it, e.g. "us"
  std::string endpoint;      // that region's first DC endpoint, e.g.
                             // "http://127.0.0.1:8451"
};

// FailedPrecondition carrying `redirect` as a payload; the message names region
// and endpoint.
[[nodiscard]] absl::Status MisdirectedError(const ResidencyRedirect& redirect);
// The redirect carried by `status`, if it is a MisdirectedError.
[[nodiscard]] std::optional<ResidencyRedirect> GetResidencyRedirect(
    const absl::Status& status);

// The country -> jurisdiction -> region map of a deployment, seen from one
// region. Immutable after Create; thread-safe.
class ResidencyMap {
 public:
  // Errors: InvalidArgument if `local_region` is not a region of `deployment`.
  [[nodiscard]] static absl::StatusOr<ResidencyMap> Create(
      const Deployment& deployment, absl::string_view local_region);

  const std::string& local_region() const { return local_region_; }

  // The jurisdiction `country` belongs to. Errors: InvalidArgument if none
  // does.
  [[nodiscard]] absl::StatusOr<std::string> JurisdictionOfCountry(
      absl::string_view country) const;

  // OK if subjects of `jurisdiction` are stored in the local region. Otherwise
  // FailedPrecondition: a MisdirectedError if another region stores them, or a
  // plain error
  // ("jurisdiction cn has no home region") if no region does.
  [[nodiscard]] absl::Status CheckStoredHere(
      absl::string_view jurisdiction) const;

 private:
  ResidencyMap() = default;
  std::string local_region_;
  absl::flat_hash_map<std::string, std::string> country_to_jurisdiction_;
  absl::flat_hash_map<std::string, ResidencyRedirect> home_of_jurisdiction_;
};

}  // namespace clover::vault

#endif  // CLOVER_VAULT_RESIDENCY_H_
