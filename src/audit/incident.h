// Incidents: what the detectors and verifiers raise, with cryptographic
// evidence.
#ifndef CLOVER_AUDIT_INCIDENT_H_
#define CLOVER_AUDIT_INCIDENT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace clover::audit {

enum class Severity { kLow, kMedium, kHigh, kCritical };
absl::string_view ToString(Severity s);
std::optional<Severity> ParseSeverity(absl::string_view s);

enum class IncidentStatus { kOpen, kAcknowledged, kResolved };
absl::string_view ToString(IncidentStatus s);
std::optional<IncidentStatus> ParseIncidentStatus(absl::string_view s);

// Detector names (the `detector` member of incidents).
inline constexpr absl::string_view kDetectorBulkAccess = "bulk_access";
inline constexpr absl::string_view kDetectorBulkErasure = "bulk_erasure";
inline constexpr absl::string_view kDetectorDenialBurst = "denial_burst";
inline constexpr absl::string_view kDetectorRestrictedTransfer =
    "restricted_transfer";
inline constexpr absl::string_view kDetectorCanary = "canary_touched";
inline constexpr absl::string_view kDetectorSplitView = "split_view";
inline constexpr absl::string_view kDetectorLogStalled = "log_stalled";
inline constexpr absl::string_view kDetectorDecisionMismatch =
    "decision_mismatch";
inline constexpr absl::string_view kDetectorUnsignedPolicy = "unsigned_policy";
inline constexpr absl::string_view kDetectorTamperedBundle = "tampered_bundle";
inline constexpr absl::string_view kDetectorTamperedHistory =
    "tampered_history";
inline constexpr absl::string_view kDetectorMalformedEntry = "malformed_entry";
// An entry states other principal attributes than the auditor's directory.
inline constexpr absl::string_view kDetectorAttributeMismatch =
    "attribute_mismatch";
// An entry names a principal the auditor's directory does not know.
inline constexpr absl::string_view kDetectorUnknownPrincipal =
    "unknown_principal";
// A key release the partner's log records that no decision justifies
// (audit/release_check.h).
inline constexpr absl::string_view kDetectorReleaseUnjustified =
    "release_unjustified";
// A key-release log whose checkpoint does not verify (bad signature or
// malformed); its inconsistencies are split_view / tampered_* findings.
inline constexpr absl::string_view kDetectorReleaseLogUnverified =
    "release_log_unverified";
// An entry uses an approval the log's approval transitions do not back.
inline constexpr absl::string_view kDetectorForgedApproval = "forged_approval";

// One piece of evidence. For a log entry: its index and a C2SP tlog-proof
// (inclusion proof against a checkpoint signed by the log and cosigned by this
// auditor). For log misbehaviour: the conflicting signed checkpoint notes.
struct Evidence {
  std::string origin;  // the log
  std::optional<uint64_t> index;
  std::string entry_sha256;  // hex SHA-256 of the entry bytes
  std::string entry;  // the entry itself (pseudonymised JSON) when it is small
  std::string proof;  // c2sp.org/tlog-proof@v1 text, when `index` is set
  std::vector<std::string> checkpoints;  // signed notes (split view, tampering)
  std::string note;                      // human explanation
};

// What a detector reports. Findings with the same `key` while an incident for
// it is open or acknowledged update that incident instead of opening a new one.
struct Finding {
  std::string detector;
  Severity severity = Severity::kMedium;
  std::string key;
  std::string summary;
  absl::Time time;
  std::string origin;
  std::vector<uint64_t>
      indices;  // log entries to prove (filled into evidence by the caller)
  std::vector<Evidence> evidence;  // evidence already built (checkpoints etc.)
  uint64_t occurrences = 1;        // findings merged into this one
};

struct Incident {
  std::string id;  // "inc-<unix seconds>-<8 hex>"
  std::string detector;
  Severity severity = Severity::kMedium;
  std::string key;
  std::string summary;
  std::vector<Evidence> evidence;  // capped at kMaxEvidence items
  absl::Time first_seen;
  absl::Time last_seen;
  uint64_t occurrences = 0;
  IncidentStatus status = IncidentStatus::kOpen;
  std::string acknowledged_by;
  std::string resolved_by;
  // When the transitions happened (InfinitePast: not yet, or recorded before
  // they were kept) and the note given with each (optional; it goes into the
  // journal and the deliveries too, so it must hold no personal data).
  absl::Time acknowledged_at = absl::InfinitePast();
  absl::Time resolved_at = absl::InfinitePast();
  std::string acknowledge_note;
  std::string resolve_note;
  // GDPR Art. 33: notify the supervisory authority within 72 hours of becoming
  // aware.
  absl::Time notification_deadline;
};

inline constexpr size_t kMaxEvidence = 16;
// The longest note accepted with an acknowledgement or resolution.
inline constexpr size_t kMaxIncidentNoteBytes = 2000;

// JSON forms (RFC 3339 times).
[[nodiscard]] std::string IncidentToJson(const Incident& i);
[[nodiscard]] absl::StatusOr<Incident> IncidentFromJson(absl::string_view json);
[[nodiscard]] std::string IncidentListToJson(const std::vector<Incident>& list);

}  // namespace clover::audit

#endif  // CLOVER_AUDIT_INCIDENT_H_
