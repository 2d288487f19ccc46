// What the web console's pages need of the auditor beyond the totals
// (issue 22; docs/console.md): incident queries filtered and paged on the
// server, and the decision entries behind a flow.
//
// Incident query (GET /v1/incidents): `status`, `severity`, `detector`,
// `since` (last seen at or after, RFC 3339) and `until` (first seen before).
//
// Flow entries (GET /v1/flows/entries): every verified decision entry is
// indexed once, as it is processed, under
//   "flowent/" <hour, 8 bytes big-endian> <origin> 0x1f <index, 8 bytes>
// with a compact JSON summary (origin, index, time, principal, action,
// purpose, destination, region (as the entry states it), origin_region (the
// flow's origin region, audit/flows.h; rows indexed before it existed take
// `region`), and per field category and effect how many fields). Each row
// listed gains "destination_region" and "out_of_region" (flows.h's rule).
// A query walks the hours of its window in key order and keeps the entries
// of the bucket asked for (origin region, destination, purpose, category,
// effect: each optional); the key of the last entry read is the cursor. One
// request reads at most kMaxFlowEntriesScanned index rows, so a narrow filter
// over a large window answers promptly with a short page and a cursor to go on.
#ifndef CLOVER_AUDIT_CONSOLE_PAGES_H_
#define CLOVER_AUDIT_CONSOLE_PAGES_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "audit/flows.h"
#include "audit/follower.h"
#include "audit/incident.h"
#include "audit/witness.h"
#include "entry/log_entry.h"
#include "kv/kv_store.h"
#include "policy/effect.h"
#include "server/http.h"

namespace clover::audit {

// The longest destination, purpose, category or detector a query may name.
inline constexpr size_t kMaxQueryValueBytes = 256;
inline constexpr size_t kMaxFlowEntriesScanned = 20000;

struct IncidentQuery {
  std::optional<IncidentStatus> status;
  std::optional<Severity> severity;
  std::string detector;  // empty: any
  std::optional<absl::Time> since;
  std::optional<absl::Time> until;
  // The filters as text (what a page token is bound to).
  std::string filter;
  bool Matches(const Incident& i) const;
};
// Errors: InvalidArgument naming the query parameter.
[[nodiscard]] absl::StatusOr<IncidentQuery> ParseIncidentQuery(
    const server::HttpRequest& req);

// `json_object` ("{...}") with `"<name>":<value>` added as its last member.
void AddJsonMember(std::string& json_object, absl::string_view name,
                   absl::string_view raw_value);

// The index row of entry `index` of log `origin`, made in `origin_region`
// (added to the batch that commits the entry's processing).
void IndexFlowEntry(absl::string_view origin, uint64_t index,
                    const entry::DecisionEntry& e,
                    absl::string_view origin_region, kv::KvBatch& batch);

// Adds to `batch` the deletes of at most `max_rows` index rows of hours that
// ended before `cutoff` (oldest first); returns how many. Bounded work: a
// large backlog goes over several calls. Errors: the store's.
[[nodiscard]] absl::StatusOr<size_t> PruneFlowEntries(const kv::KvStore& kv,
                                                      absl::Time cutoff,
                                                      size_t max_rows,
                                                      kv::KvBatch& batch);

struct FlowEntryQuery {
  absl::Time from;
  absl::Time to;
  std::string region;  // origin region; each: empty for any
  std::string destination;
  std::string purpose;
  std::string category;
  std::optional<policy::Effect> effect;
  // The bucket filters as text (a page token is bound to them).
  std::string Filter() const;
};
struct FlowEntryPage {
  std::string json;         // {"from","to","entries":[...]}
  std::string next_cursor;  // empty on the last page
};
// At most `limit` entries of the hours intersecting [from, to) matching the
// query, after `after` (an index key suffix a previous page returned; empty:
// from the start). Errors: InvalidArgument for a cursor outside the window;
// the store's errors.
[[nodiscard]] absl::StatusOr<FlowEntryPage> ListFlowEntries(
    const kv::KvStore& kv, const FlowEntryQuery& q, size_t limit,
    absl::string_view after, const FlowOptions& options = FlowOptions());

// The overview's lag and witness members of one followed log, each preceded
// by a comma: "verified_at", "latest_seen_size", "latest_seen_at",
// "lag_entries" (the largest checkpoint seen with a valid log signature, by
// the follower or pushed to the witness, minus the verified size),
// "lag_seconds" (since a larger checkpoint was first seen; 0 when caught up)
// and "witness" {"size","checkpoint"} (its latest cosigned checkpoint, or
// null). Times are RFC 3339 or null before the first poll.
std::string LogLagMembers(const LogFollower& f, const Witness& w);

// `,"open_incidents":{"<severity>":{"count":n,"nearest_deadline":t|null}}`
// over the incidents not resolved: how many of each severity and the
// nearest GDPR art. 33 notification deadline among them.
std::string OpenIncidentsMember(const std::vector<Incident>& all);

}  // namespace clover::audit

#endif  // CLOVER_AUDIT_CONSOLE_PAGES_H_
