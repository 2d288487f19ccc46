// The auditor's check of the partner's key releases against the nodes'
// decisions (docs/audit.md, "Key releases"). The key-release service
// (release/release_service.h) logs every release in its own transparency
// log; the auditor follows that log with the same follower as the decision
// logs (audit/follower.h) and judges each release it holds:
//   - a release names its decision: the log (origin), the index, the node;
//   - that entry, verified against the auditor's own copy of the node's log
//     tree, is a decision of that node that returned data (records > 0 and a
//     field not denied) to that principal, for that purpose, by that action
//     (the release's code), on that subject (its log pseudonym);
//   - the release is no later than `max_delay` (the nodes' release cache
//     window) after the decision, and not before it by more than the clock
//     skew (a read) or `max_delay` (the other codes, whose entry is written
//     after their reads).
// Reads name their decision entry exactly; exports, aggregates and
// detokenizations name the log's size when they decided (their entry is
// appended at or after it), so for those codes the first matching decision
// within kForwardScan entries counts. Maintenance releases (the vault's own
// re-wraps and purges, code "maintenance") name no decision: they must come
// from principal "vault", and are counted. Refused releases released
// nothing and are counted only.
//
// Thread-safety: pure functions.
#ifndef CLOVER_AUDIT_RELEASE_CHECK_H_
#define CLOVER_AUDIT_RELEASE_CHECK_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "audit/follower.h"

namespace clover::audit {

// `releases[]` of the auditor's config.
struct ReleaseLogConfig {
  FollowedLog log;      // the service's log: origin, url (…/log), keys
  std::string ca_file;  // CAs of the service's TLS certificate ("": system)
  // How long after a decision a release for it is still justified: the
  // nodes' keys.release cache window (cache_ttl_s) plus slack.
  absl::Duration max_delay = absl::Seconds(120);
  // A release whose decision the auditor has not yet verified waits this
  // long for it (the node's log may lag its release); then it is unjustified.
  absl::Duration pending_timeout = absl::Minutes(10);
};

// Fetches the release log's resources from `config.log.url` over HTTP(S),
// verifying the service's certificate with `config.ca_file` when set.
[[nodiscard]] FetchFn ReleaseLogFetcher(const ReleaseLogConfig& config);

// Entries scanned forward from the index a non-read release names.
inline constexpr uint64_t kForwardScan = 1024;
// How far a release may precede its decision (clock skew between them).
inline constexpr absl::Duration kReleaseSkew = absl::Seconds(5);

// One entry of the release log.
struct ReleaseEntry {
  std::string type;  // "release", "cutoff" or "restore"
  absl::Time time;
  std::string region;
  std::string outcome;  // "released" or "refused" (releases)
  std::string reason;   // why refused
  std::string code;
  std::optional<uint64_t> decision_index;
  std::string decision_log;   // origin of the decision's log
  std::string decision_node;  // node id named by the request
  std::string node;           // mTLS subject of the asking node
  std::string principal;
  std::string purpose;
  std::string subject;  // log pseudonym
  std::string by;       // cutoff/restore: the admin
};

// Errors: InvalidArgument naming the field.
[[nodiscard]] absl::StatusOr<ReleaseEntry> ParseReleaseEntry(
    absl::string_view json);

// The verified entry `index` of the log `origin`: NotFound if the auditor
// does not follow that log; OutOfRange if it has not verified that far yet;
// other errors (the log did not serve it) leave the release pending too.
using VerifiedEntryFn = std::function<absl::StatusOr<std::string>(
    const std::string& origin, uint64_t index)>;

struct ReleaseJudgement {
  enum class Verdict {
    kJustified,
    kUnjustified,
    kPending,     // the decision is not verified yet: ask again later
    kNotChecked,  // refused, maintenance, cut-off/restore
  };
  Verdict verdict = Verdict::kNotChecked;
  std::string why;  // for kUnjustified (and kPending: what is awaited)
  // The decision the release was matched (or mismatched) against.
  std::optional<uint64_t> decision_index;
  std::string decision_entry;
};

// What the auditor counted of one release log (kept in its store under
// "release/stats/<origin>", read by the report).
struct ReleaseCounts {
  uint64_t released = 0;     // keys released
  uint64_t justified = 0;    // of those, matched to their decision
  uint64_t unjustified = 0;  // of those, release_unjustified incidents
  uint64_t maintenance = 0;  // of those, the vault's own (no decision)
  uint64_t refused = 0;
  uint64_t cutoffs = 0;
  uint64_t restores = 0;
  uint64_t pending = 0;  // awaiting their decision's verification
};
[[nodiscard]] std::string ReleaseCountsKey(absl::string_view origin);
[[nodiscard]] std::string EncodeReleaseCounts(const ReleaseCounts& c);
// Errors: InvalidArgument for anything but EncodeReleaseCounts' form.
[[nodiscard]] absl::StatusOr<ReleaseCounts> DecodeReleaseCounts(
    absl::string_view s);

[[nodiscard]] ReleaseJudgement JudgeRelease(const ReleaseEntry& r,
                                            const VerifiedEntryFn& lookup,
                                            absl::Duration max_delay);

}  // namespace clover::audit

#endif  // CLOVER_AUDIT_RELEASE_CHECK_H_
