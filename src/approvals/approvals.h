// Just-in-time access approvals (the Customer Lockbox / Access Approval model):
// part of a node's (regional) state, kept by the gateway and reached by every
// approver, the auditor included, over HTTP (/v1/approvals). Below both the
// gateway and the auditor: the auditor's approval ledger reads the transition
// records (TransitionRecord) this module writes to the log.
//
// A request names the principal that wants access, a justification code from a
// fixed set, a free-text detail (ticket), the subjects and fields, the
// requested duration and where the requester works. It is `pending` until
// someone holding the approver role approves or denies it; a pending request
// expires after `request_ttl` (4 days by default) and a grant after the
// requested duration, capped by `max_grant` (8 hours by default) and by the
// policy's limits for the request (GrantLimits). An approved grant can be
// revoked, which ends it at once. Nobody may decide their own request. Every
// transition returns a canonical JSON record (RFC 8785, TransitionRecord
// below) that the gateway appends to its log. A request keeps the SHA-256 of
// its created record, which an approver's signed attestation names
// (approvals/attestation.h); an approval may carry one (AttestedGrant).
//
// Transitions are two-phase so that the log comes first: Prepare* checks a
// transition and returns its record without applying it (the approval is held:
// any other transition on it fails with FailedPrecondition until the held one
// is committed or aborted); the caller appends the record to its log and, once
// it is durable, calls Commit, which stores the new state and only then makes
// it visible (a grant is usable only after its record is logged). A held
// revocation hides the grant from FindLiveGrant at once. The one-shot methods
// (Create, Approve, ...) prepare and commit in one step.
//
// Storage is a KvStore (kv/kv_store.h); Commit is durable before it returns.
// Thread-safety: all methods may be called concurrently.
//
// Shared (ApprovalOptions::shared, for a KvStore that every node of a region
// uses, kv/postgres_kv_store.h): the store is the truth, the in-memory map
// only a cache. Chosen over caching with invalidation because nothing tells a
// node that another one changed an approval, and a grant revoked elsewhere
// must stop working here at once:
// - Get, List, PrepareCreate (its open-request count) and PrepareExpireDue
//   read the store first.
// - FindLiveGrant reads the principal's live grants from the store on every
//   call (an index "grant/<hex principal>/<id>" that each approval, revocation
//   and expiry updates in the batch that stores the approval) and skips a
//   grant another node holds (a revocation or expiry in progress there).
// - A transition on an existing approval first claims it region-wide: a hold
//   key inserted with KvStore::WriteIf (only if absent), then re-reads the
//   approval and re-checks its state; Commit stores the new state only if the
//   hold is still its own (WriteIf on the hold key), in one transaction that
//   also drops the hold. So two approvers deciding the same request at two
//   nodes: exactly one wins, the other gets FailedPrecondition before
//   anything is logged. A hold lapses after hold_ttl (its node died between
//   prepare and commit) and may then be taken over; a grant whose revocation
//   was so abandoned stays hidden (fail closed) until it expires or is
//   revoked again.
#ifndef CLOVER_APPROVALS_APPROVALS_H_
#define CLOVER_APPROVALS_APPROVALS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/clock.h"
#include "kv/kv_store.h"

namespace clover::approvals {

enum class Justification {
  kCustomerInitiatedSupport,
  kLegalRequest,
  kSecurityIncident,
  kServiceOperation,
  kFraudInvestigation,
  kThirdPartyDataRequest,
};
// "CUSTOMER_INITIATED_SUPPORT", ...
absl::string_view ToString(Justification j);
std::optional<Justification> ParseJustification(absl::string_view s);

enum class ApprovalState { kPending, kApproved, kDenied, kExpired, kRevoked };
absl::string_view ToString(ApprovalState s);
std::optional<ApprovalState> ParseApprovalState(absl::string_view s);

// What a requester asks for.
struct ApprovalRequestSpec {
  std::string principal;     // who will access the data
  std::string requested_by;  // who files the request (usually == principal)
  Justification justification = Justification::kCustomerInitiatedSupport;
  std::string detail;  // ticket reference / free text, at most 1,000 bytes
  std::vector<std::string> subjects;  // distinct subject ids, 1..1000
  std::vector<std::string> fields;    // distinct field names, 1..100
  absl::Duration duration = absl::Hours(8);
  std::string requester_country;  // ISO 3166-1 alpha-2
};

struct Approval {
  std::string id;
  ApprovalRequestSpec request;
  ApprovalState state = ApprovalState::kPending;
  absl::Time created;
  absl::Time request_expires;  // pending requests expire at this time
  std::string decided_by;      // approver id (approved/denied)
  absl::Time decided;          // InfinitePast until decided
  std::string reason;          // the approver's note
  absl::Time grant_expires;    // meaningful when approved
  std::string revoked_by;      // revoked grants only
  absl::Time revoked;          // InfinitePast unless revoked
  std::string revoke_reason;
  // Lower-case hex SHA-256 of the request's logged `created` transition
  // record (the exact bytes): what an approver's attestation names
  // (approvals/attestation.h).
  std::string request_sha256;
  // The approver's signed attestation (a signed note), when it gave one.
  std::string attestation;
};

// An approval attested by its approver (approvals/attestation.h), already
// verified by the caller: the signed note, logged with the approved
// transition, and the latest time the grant may last to.
struct AttestedGrant {
  std::string note;
  absl::Time not_after = absl::InfiniteFuture();
};

// What the policy allows for one request (policy/approval_limits.h): the
// roles an approver must all hold (none: the store's default approver role,
// which a principal of kind auditor always has) and the longest grant.
struct GrantLimits {
  std::vector<std::string> approver_roles;
  absl::Duration max_duration = absl::InfiniteDuration();
  std::string max_duration_source;  // names the limit in errors, e.g. a rule
};

// One transition as the log carries it (ApprovalTransition::record): the
// request restated, the new state, who moved it and when. Canonical JSON:
//   {"v":1,"type":"approval","id":..,"state":..,"principal":..,
//    "justification":..,"fields":[..],"subjects":[<pseudonyms>] or
//    "subject_count":N,"requester_country":..,"by":..,"time":..,"expires":..,
//    "attestation":..}
// "by" is absent for an expiry, "expires" for a denial, revocation or expiry,
// "attestation" (the approver's signed note) unless an approval carries one.
struct TransitionRecord {
  std::string id;
  std::string state;  // ToString(ApprovalState); readers judge unknown ones
  std::string principal;
  std::string justification;
  std::vector<std::string> fields;
  std::vector<std::string> subjects;  // pseudonyms, when subjects_listed
  bool subjects_listed = false;       // false: only subject_count is logged
  uint64_t subject_count = 0;
  std::string requester_country;
  std::string by;
  absl::Time time = absl::InfinitePast();
  absl::Time expires = absl::InfinitePast();  // InfinitePast: not written
  std::string attestation;                    // empty: not written
};
[[nodiscard]] absl::StatusOr<std::string> TransitionRecordToJson(
    const TransitionRecord& r);
// Reads what a reader of the log checks: id, state, principal, by, fields,
// subjects, time, expires, attestation (the other members are not read).
// Errors: InvalidArgument "approval entry: ..." for what is not a JSON object
// with unique names, "field 'name': ..." for a required member missing (id,
// state, principal, fields, time), a member of the wrong type, an empty id or
// a time that is not RFC 3339.
[[nodiscard]] absl::StatusOr<TransitionRecord> ParseTransitionRecord(
    absl::string_view json);

// The largest POST /v1/approvals body accepted; larger is refused before
// parsing.
inline constexpr size_t kMaxApprovalBodyBytes = 16 * 1024;

// The caller deciding a request, as authenticated by the gateway.
struct Approver {
  std::string id;
  std::string kind;  // principal kind: "auditor" is always an approver
  std::vector<std::string> roles;
};

// The result of every state change: the new state and the record to append to
// the log.
struct ApprovalTransition {
  Approval approval;
  std::string record;  // canonical JSON
};

struct ApprovalOptions {
  absl::Duration request_ttl = absl::Hours(96);
  absl::Duration max_grant = absl::Hours(8);
  std::string approver_role = "approver";
  // Pending (or held) requests one filer may have open at once; one more is
  // ResourceExhausted.
  size_t max_open_per_requester = 20;
  // Maps a subject id to the pseudonym logged for it. When unset, transition
  // records carry only the number of subjects, never raw ids.
  std::function<std::string(absl::string_view subject)> pseudonymize;
  // The KvStore is shared by several nodes (see the class comment): read
  // through to it, claim transitions region-wide.
  bool shared = false;
  // With `shared`: how long a claim holds before another node may take it
  // over. Longer than a log append can take.
  absl::Duration hold_ttl = absl::Seconds(30);
};

class ApprovalStore {
 public:
  // Loads every approval from `kv` (which must outlive the store); one stored
  // before approvals kept their request hash gets it recomputed from its
  // created record. Errors: Internal on I/O failure, DataLoss for a corrupt
  // stored record.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<ApprovalStore>> Open(
      kv::KvStore* kv, ApprovalOptions options,
      const Clock& clock = SystemClock());

  // Checks a new request. Errors: InvalidArgument naming the field (empty
  // principal, no subjects/fields, too many, duplicates, detail too long,
  // duration <= 0 or above max_grant or limits.max_duration, bad country code);
  // ResourceExhausted "too many open requests" when the filer already has
  // max_open_per_requester pending. An absent (zero) duration becomes the
  // smaller of max_grant and limits.max_duration.
  [[nodiscard]] absl::StatusOr<ApprovalTransition> PrepareCreate(
      ApprovalRequestSpec spec, const GrantLimits& limits = {});

  // Checks approving a pending request; the grant will last min(requested
  // duration, `duration` if non-zero, max_grant, limits.max_duration) from the
  // commit, and not past `attested.not_after`; the approved record carries
  // `attested.note`. Errors: NotFound; PermissionDenied if `approver` lacks a
  // required role or is the request's principal or requester;
  // InvalidArgument if `duration` exceeds limits.max_duration (naming the
  // limit) or the attested grant has already ended; FailedPrecondition if
  // the request is not pending (including one that has just expired) or is
  // held.
  [[nodiscard]] absl::StatusOr<ApprovalTransition> PrepareApprove(
      absl::string_view id, const Approver& approver, absl::string_view reason,
      absl::Duration duration = {}, const GrantLimits& limits = {},
      const AttestedGrant& attested = {});
  // Checks denying a pending request. Errors as for PrepareApprove.
  [[nodiscard]] absl::StatusOr<ApprovalTransition> PrepareDeny(
      absl::string_view id, const Approver& approver, absl::string_view reason,
      const GrantLimits& limits = {});
  // Checks revoking a live grant; held, the grant is no longer found. The
  // revoker holds the required roles or is of kind auditor or admin. Errors:
  // NotFound; PermissionDenied; FailedPrecondition unless approved and live.
  [[nodiscard]] absl::StatusOr<ApprovalTransition> PrepareRevoke(
      absl::string_view id, const Approver& approver, absl::string_view reason,
      const GrantLimits& limits = {});
  // Every pending request and grant past its expiry, held, to move to
  // `expired`.
  [[nodiscard]] std::vector<ApprovalTransition> PrepareExpireDue();

  // Stores a prepared transition durably, then makes it visible, and releases
  // the hold. Errors: FailedPrecondition if `t` is not held; the storage error
  // (the hold is released; a new request or grant is not applied, while a
  // denial, revocation or expiry still takes effect in memory: fail closed).
  [[nodiscard]] absl::Status Commit(const ApprovalTransition& t);
  // Releases a prepared transition's hold without applying it.
  void Abort(const ApprovalTransition& t);

  // One-shot forms: prepare and commit. Errors as for the two steps.
  [[nodiscard]] absl::StatusOr<ApprovalTransition> Create(
      ApprovalRequestSpec spec, const GrantLimits& limits = {});
  [[nodiscard]] absl::StatusOr<ApprovalTransition> Approve(
      absl::string_view id, const Approver& approver, absl::string_view reason,
      absl::Duration duration = {}, const GrantLimits& limits = {},
      const AttestedGrant& attested = {});
  [[nodiscard]] absl::StatusOr<ApprovalTransition> Deny(
      absl::string_view id, const Approver& approver, absl::string_view reason,
      const GrantLimits& limits = {});
  [[nodiscard]] absl::StatusOr<ApprovalTransition> Revoke(
      absl::string_view id, const Approver& approver, absl::string_view reason,
      const GrantLimits& limits = {});

  // Errors: NotFound.
  [[nodiscard]] absl::StatusOr<Approval> Get(absl::string_view id) const;
  // Approvals in `state` (all when nullopt), newest first, with expiry applied
  // as of now.
  [[nodiscard]] std::vector<Approval> List(
      std::optional<ApprovalState> state) const;

  // A live grant for `principal` covering `subject` and `field` at `now`, if
  // any (the one expiring last).
  [[nodiscard]] std::optional<Approval> FindLiveGrant(
      absl::string_view principal, absl::string_view subject,
      absl::string_view field, absl::Time now) const;

  // Moves every pending request and grant past its expiry to `expired`,
  // durably, and returns the transitions for the log (one-shot form of
  // PrepareExpireDue + Commit). Call periodically.
  [[nodiscard]] absl::StatusOr<std::vector<ApprovalTransition>> ExpireDue();

 private:
  ApprovalStore(kv::KvStore* kv, ApprovalOptions options, const Clock& clock)
      : kv_(kv), options_(std::move(options)), clock_(clock) {}
  absl::StatusOr<ApprovalTransition> Decide(
      absl::string_view id, const Approver& approver, absl::string_view reason,
      ApprovalState to, absl::Duration duration, const GrantLimits& limits,
      const AttestedGrant& attested = {});
  // Decide's second half: `a` is the current approval, checked and (shared)
  // claimed; builds and holds the transition to `to`.
  absl::StatusOr<ApprovalTransition> DecideHeld(
      Approval a, const Approver& approver, absl::string_view reason,
      ApprovalState to, absl::Duration duration, const GrantLimits& limits,
      const AttestedGrant& attested, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::optional<Approval> FindSharedLiveGrant(absl::string_view principal,
                                              absl::string_view subject,
                                              absl::string_view field,
                                              absl::Time now) const;
  // The log record of `a` in its state, moved by `by`.
  absl::StatusOr<std::string> RecordOf(const Approval& a,
                                       absl::string_view by) const;
  // Builds the log record of `a` and holds it (a new request gets its
  // request_sha256). Requires no hold on a.id.
  absl::StatusOr<ApprovalTransition> Hold(const Approval& a,
                                          absl::string_view by)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  ApprovalState EffectiveState(const Approval& a, absl::Time now) const;
  absl::Status CheckApprover(const Approver& approver,
                             const GrantLimits& limits, bool revoke) const;
  absl::StatusOr<ApprovalTransition> OneShot(
      absl::StatusOr<ApprovalTransition> t);
  // Gives a stored approval from before request hashes its request_sha256.
  absl::Status BackfillRequestSha(Approval& a) const;
  // Replaces the cache with every stored approval. Errors: Internal or
  // Unavailable on I/O failure, DataLoss for a corrupt record.
  absl::Status ReloadLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Re-reads approval `id` into the cache. Errors: NotFound; as ReloadLocked.
  absl::Status RefreshLocked(absl::string_view id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Shared mode: claims `id` region-wide; returns the hold's value. Errors:
  // FailedPrecondition if another node holds it; I/O errors.
  absl::StatusOr<std::string> Claim(absl::string_view id);
  void ReleaseClaim(absl::string_view id, const std::string& claim);

  kv::KvStore* kv_;
  const ApprovalOptions options_;
  const Clock& clock_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Approval> approvals_ ABSL_GUARDED_BY(mu_);
  // Prepared, not yet committed transitions: id -> the new state.
  absl::flat_hash_map<std::string, Approval> held_ ABSL_GUARDED_BY(mu_);
  // Shared mode: the region-wide hold of each held transition that has one.
  absl::flat_hash_map<std::string, std::string> claims_ ABSL_GUARDED_BY(mu_);
};

// Serialised form used in storage and in API responses (all fields, RFC 3339
// times).
[[nodiscard]] std::string ApprovalToJson(const Approval& a);
[[nodiscard]] absl::StatusOr<Approval> ApprovalFromJson(absl::string_view json);
// {"approvals":[...]}
[[nodiscard]] std::string ApprovalListToJson(const std::vector<Approval>& list);

// The body of POST /v1/approvals:
//   {"justification":"LEGAL_REQUEST","detail":"TICKET-42","subjects":["u1"],
//    "fields":["email"],"duration":"4h","principal":"<optional, defaults to
//    caller>"}
// `caller` and `caller_country` come from authentication, never from the body.
// Errors: InvalidArgument naming the field (also a body over
// kMaxApprovalBodyBytes, duplicate keys, duplicate subjects or fields).
[[nodiscard]] absl::StatusOr<ApprovalRequestSpec> ParseApprovalCreateBody(
    absl::string_view body, absl::string_view caller,
    absl::string_view caller_country);

// The body of POST /v1/approvals/{id}/approve|deny|revoke:
// {"reason":"...","duration":"2h","attestation":"<signed note>"}, all
// optional; an empty body is allowed. Errors: InvalidArgument naming the
// field.
struct ApprovalDecisionBody {
  std::string reason;
  absl::Duration duration;  // zero when absent
  std::string attestation;  // the approver's signed note, unverified
};
[[nodiscard]] absl::StatusOr<ApprovalDecisionBody> ParseApprovalDecisionBody(
    absl::string_view body);

}  // namespace clover::approvals

#endif  // CLOVER_APPROVALS_APPROVALS_H_
