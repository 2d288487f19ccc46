// The auditor's own record of approvals: built only from the approval
// transition entries (created/approved/denied/revoked/expired, approvals.h)
// it has verified in each log, kept in its store, and consulted for every
// decision entry that names an approval. A decision that uses a grant is
// `forged_approval` unless its approval id was logged, on the same log,
// approved by another principal the directory knows, not denied, revoked or
// expired before the entry's time, for that principal, that subject
// (pseudonym), a field the policy leaves to an approval, and the entry's time
// lies within the grant and within the deciding rule's max_duration.
//
// A transition record says nothing the log does not: an operator holding the
// node's key can log a matching pair of transitions. With attestation keys
// (the auditor's `approvals.attestation_keys`), an `approved` transition
// counts only if it carries an attestation (approvals/attestation.h) signed
// by one of them that names its approval id, the SHA-256 of the exact
// `created` entry this ledger observed for that id in the same log, its
// principal and its approver (`by`); the grant's window is then also bounded
// by the attested one ([approved - kMaxAttestationSkew, expires)). Forging a
// grant then takes the approver's private key, not the node's. Without
// attestation keys only the log's own consistency is checked.
//
// Not thread-safe: owned by the auditor's pipeline (under its mutex).
#ifndef CLOVER_AUDIT_APPROVAL_LEDGER_H_
#define CLOVER_AUDIT_APPROVAL_LEDGER_H_

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "approvals/attestation.h"
#include "audit/principal_directory.h"
#include "audit/replayer.h"
#include "entry/log_entry.h"
#include "kv/kv_store.h"

namespace clover::audit {

// What the log says about one approval.
struct LedgerApproval {
  std::string principal;
  std::vector<std::string> fields;
  std::vector<std::string> subjects;  // pseudonyms, when the record lists them
  bool subjects_listed = false;       // false: the record carried a count only
  std::string approved_by;
  absl::Time approved = absl::InfinitePast();  // InfinitePast: never approved
  absl::Time expires = absl::InfinitePast();
  absl::Time ended = absl::InfiniteFuture();  // denied, revoked or expired at
  std::string ended_state;
  std::string inconsistent;  // why the log's transitions contradict each other
  // SHA-256 (hex) of the `created` entry's exact bytes, as observed.
  std::string request_sha256;
  std::string attestation;  // the approved transition's, as logged
  // Not stored: judged with the ledger's keys on every load and observation.
  std::string unattested;  // why the approval is not attested (keys set)
  absl::Time attested_from = absl::InfinitePast();
  absl::Time attested_until = absl::InfiniteFuture();
};

class ApprovalLedger {
 public:
  // An empty ledger (tests, fuzzing); Open loads a stored one. With
  // `attestations` not empty, approvals need an attestation by its keys.
  ApprovalLedger() = default;
  explicit ApprovalLedger(approvals::AttestationVerifier attestations)
      : attestations_(std::move(attestations)) {}
  // Loads what earlier runs recorded in `kv` (keys "ledger/<origin>\n<id>";
  // records of earlier versions, without the newer members, load too).
  // Errors: Internal on I/O failure, DataLoss for a corrupt record.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<ApprovalLedger>> Open(
      const kv::KvStore& kv, approvals::AttestationVerifier attestations = {});

  // Records an approval transition entry `json` verified in log `origin`,
  // staging the new state in `batch` (committed with the follower's progress).
  // Errors: InvalidArgument for a record that is not a valid transition (a
  // malformed-entry finding).
  [[nodiscard]] absl::Status Observe(absl::string_view origin,
                                     absl::string_view json,
                                     kv::KvBatch& batch);

  // Empty when decision `e` of log `origin` may use the approval it names for
  // `fields` (the fields the policy leaves to an approval,
  // Replayer::Result::approval_fields); else why not. The entry does not say
  // which of those the grant opened (the gateway logs them all as
  // `approval`), so the grant must cover at least one of them within that
  // field's max_duration. `directory` (may be null) vouches for the approver;
  // when `approvers` is not empty, the approver must be one of them (the
  // auditor's own desk: it issues every approval).
  [[nodiscard]] std::string Check(
      absl::string_view origin, const entry::DecisionEntry& e,
      std::span<const GrantedField> fields, const PrincipalDirectory* directory,
      std::span<const std::string> approvers = {}) const;

  size_t size() const { return approvals_.size(); }

 private:
  static std::string Key(absl::string_view origin, absl::string_view id);
  // Judges `a`'s attestation with attestations_ (sets unattested and the
  // attested window).
  void Attest(absl::string_view id, LedgerApproval& a) const;
  approvals::AttestationVerifier attestations_;
  absl::flat_hash_map<std::string, LedgerApproval> approvals_;  // by Key
};

}  // namespace clover::audit

#endif  // CLOVER_AUDIT_APPROVAL_LEDGER_H_
