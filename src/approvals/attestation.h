// Approval attestations: an approver's own signature over one approval, so
// that a grant cannot be forged by whoever holds a node's log key. A C2SP
// signed note (log/note.h, Ed25519 key type 0x01) whose text is exactly, one
// item per line, each "<key> <value>" with one space:
//
//   clover-approval/v1
//   id <approval id>
//   request <lower-case hex SHA-256 of the approval's logged `created`
//            transition record, the exact canonical JSON bytes>
//   principal <the grantee>
//   by <the approver's principal id>
//   approved <RFC 3339 UTC time the approver decided>
//   expires <RFC 3339 UTC time the grant ends at the latest>
//
// Values are 1..256 bytes without spaces or control characters; times are
// RFC 3339 ending in 'Z' (the writer writes milliseconds), `expires` after
// `approved`. Only approvals are attested: a denial or revocation only takes
// access away. The `request` hash binds the attestation to one request as the
// log recorded it (principal, subjects as logged, fields, justification,
// requester, times): an attestation of one request stands for no other, on
// any node.
//
// A node that names attestation keys (`approvals.attestation_keys`) approves
// only with an attestation by one of them that names that approval, its
// request hash, its grantee and the authenticated approver, decided within
// kMaxAttestationSkew of its clock; the grant ends no later than `expires`.
// The auditor's approval ledger counts a logged approval only with such an
// attestation (audit/approval_ledger.h).
#ifndef CLOVER_APPROVALS_ATTESTATION_H_
#define CLOVER_APPROVALS_ATTESTATION_H_

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "log/note.h"

namespace clover::approvals {

inline constexpr absl::string_view kAttestationHeader = "clover-approval/v1";
// How far an attestation's `approved` time may be from the node's clock.
inline constexpr absl::Duration kMaxAttestationSkew = absl::Minutes(5);
// The largest attestation (the whole signed note) a node or ledger reads.
inline constexpr size_t kMaxAttestationBytes = 4096;

struct Attestation {
  std::string id;
  std::string request_sha256;  // 64 lower-case hex digits
  std::string principal;
  std::string by;
  absl::Time approved = absl::InfinitePast();
  absl::Time expires = absl::InfinitePast();
};

// Lower-case hex SHA-256 of `record`: what `request` names for a created
// transition record.
[[nodiscard]] std::string RequestSha256(absl::string_view record);

// The note text for `a` (ends with a newline). Errors: InvalidArgument naming
// the item for a value the parser would refuse.
[[nodiscard]] absl::StatusOr<std::string> AttestationText(const Attestation& a);

// Reads a note text (without signatures). Errors: InvalidArgument
// "approval attestation line N: ..." naming the faulty line (a wrong or
// missing item, an empty or malformed value, a line too many), or
// "approval attestation: ..." for what concerns the whole text.
[[nodiscard]] absl::StatusOr<Attestation> ParseAttestationText(
    absl::string_view text);

// Signs `a` with `signer_key` (a PRIVATE+KEY+... note signing key string of
// type 0x01) and returns the whole note. Errors: InvalidArgument for a bad
// value or key (the key is never echoed).
[[nodiscard]] absl::StatusOr<std::string> SignAttestation(
    const Attestation& a, absl::string_view signer_key);

// Builds and signs the attestation of an approval as GET /v1/approvals/{id}
// returns it (its `id`, `request_sha256` and `principal`), approved by `by`
// at `now` for `duration` (the POST answer's {"approval":{...}} is accepted
// too). Errors: InvalidArgument for JSON that lacks those members, an
// approval whose `state` is present and not "pending", a duration that is not
// positive, or a bad key.
[[nodiscard]] absl::StatusOr<std::string> AttestApproval(
    absl::string_view approval_json, absl::string_view by,
    absl::Duration duration, absl::string_view signer_key, absl::Time now);

// The keys attestations are verified with. Thread-safe once created.
class AttestationVerifier {
 public:
  // `keys`: note verifier key strings (name+id+base64), type 0x01. Errors:
  // InvalidArgument naming the index of a malformed key or one of another
  // type; an empty list is allowed (verifies nothing).
  [[nodiscard]] static absl::StatusOr<AttestationVerifier> Create(
      std::span<const std::string> keys);

  bool empty() const { return verifiers_.empty(); }

  // Opens `note` and parses its text. Errors: InvalidArgument (larger than
  // kMaxAttestationBytes, not a note, a malformed text); Unauthenticated (no
  // valid signature by one of the keys, or an invalid one by one of them).
  [[nodiscard]] absl::StatusOr<Attestation> Open(absl::string_view note) const;

 private:
  std::vector<std::shared_ptr<const log::NoteVerifier>> verifiers_;
};

// What must hold for `att` to approve approval `id` whose created record
// hashes to `request_sha256`, for `principal`, by `approver`, at `now` on the
// checker's clock (pass InfinitePast to skip the clock check, as a reader of
// an old log does). Errors: PermissionDenied naming the first mismatch.
[[nodiscard]] absl::Status CheckAttestationFor(const Attestation& att,
                                               absl::string_view id,
                                               absl::string_view request_sha256,
                                               absl::string_view principal,
                                               absl::string_view approver,
                                               absl::Time now);

}  // namespace clover::approvals

#endif  // CLOVER_APPROVALS_ATTESTATION_H_
