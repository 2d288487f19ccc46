// The key-release protocol between a node and the partner's key-release
// service (docs/api.md, "Key-release service"), and the errors a node's vault
// returns when a release fails.
//
// POST /v1/release, body (JSON object, at most kMaxRequestBytes):
//   {"region": "eu", "wrapped": base64(release-sealed key),
//    "justification": {"principal": "...", "purpose": "...", "code": "...",
//                      "decision_index": N (optional), "subject": "...",
//                      "node": "...", "log": "..." (both optional)}}
// `subject` is the subject's pseudonym as the node's decision log names it,
// never its id; `node` the asking node's id and `log` the origin of the
// decision log `decision_index` points into (what the auditor matches the
// release against, docs/audit.md). Every string is 1..256 bytes of UTF-8
// (subject may be empty).
//
// Thread-safety: pure functions.
#ifndef CLOVER_RELEASE_RELEASE_PROTOCOL_H_
#define CLOVER_RELEASE_RELEASE_PROTOCOL_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace clover::release {

inline constexpr size_t kMaxRequestBytes = 16 * 1024;

struct Justification {
  std::string principal;
  std::string purpose;
  std::string code;
  std::optional<uint64_t> decision_index;
  std::string subject;    // pseudonym
  std::string node = {};  // the node's id ("" when not sent)
  std::string log = {};   // the decision log's origin ("" when not sent)
};

struct ReleaseRequest {
  std::string region;
  std::string wrapped;  // raw bytes (base64 on the wire)
  Justification justification;
};

// Errors: InvalidArgument naming the field (never echoing key bytes).
[[nodiscard]] absl::StatusOr<ReleaseRequest> ParseReleaseRequest(
    absl::string_view body);
[[nodiscard]] std::string EncodeReleaseRequest(const ReleaseRequest& r);

// The codes a node answers with (HTTP 503, Retry-After) when a data key it
// needs is not released: the partner refused (policy, or the region is cut
// off), or the service could not be reached in time.
inline constexpr absl::string_view kKeyReleaseRefused = "key_release_refused";
inline constexpr absl::string_view kKeyReleaseUnavailable =
    "key_release_unavailable";

// A status carrying one of the codes above (PermissionDenied for a refusal,
// Unavailable otherwise), with `message` for the client.
[[nodiscard]] absl::Status KeyReleaseError(absl::string_view code,
                                           absl::string_view message);
// The code a status made by KeyReleaseError carries, if any.
[[nodiscard]] std::optional<std::string> KeyReleaseCode(
    const absl::Status& status);

}  // namespace clover::release

#endif  // CLOVER_RELEASE_RELEASE_PROTOCOL_H_
