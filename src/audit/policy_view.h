// The console's Policy page (issue 22 item 5; docs/console.md "Policy"): the
// policy versions the auditor knows, the version each node decides with, a
// structural diff of two versions, their invariant proofs, and signing a new
// version with the auditor's policy key.
//
//   GET  /ui/api/policy                 known versions (with their proofs) and
//                                       the version in force on each node
//                                       since when                     [read]
//   GET  /ui/api/policy/diff?from=&to=  rules and invariants added, removed,
//                                       changed (by id) between two known
//                                       versions (sha256)              [read]
//   GET  /ui/api/policy/file?sha256=&part=bundle|signature
//                                       a known version's exact bytes or its
//                                       signature, as a download       [read]
//   POST /ui/api/policy/check           {"bundle":"<YAML>"}: lint + proofs +
//                                       diff against the version most nodes
//                                       use; signs nothing      [read, CSRF]
//   POST /ui/api/policy/sign            {"bundle":"<YAML>"}: the same checks;
//                                       signed only when no error finding
//                                       (invariant violated, search limit)
//                                       remains              [admin, CSRF]
//
// Contract:
// - Session only (the console's cookie; audit/console.h): no session 401,
//   changes without the session's X-CSRF-Token (or a foreign Origin) 403
//   `csrf_failed`, sign with a read credential 403 `permission_denied`.
// - An uploaded bundle is at most kMaxUploadedBundleBytes (413
//   `payload_too_large`), 1000 rules and 100 invariants (400), and uploads
//   are analysed one at a time; a body that is not {"bundle": string} is 400; a
//   bundle that does not parse is 400 `invalid_argument` whose message names
//   "uploaded.yaml:LINE:COL" (and `line`, `column` members).
// - Checks are those of `clover policy check` without a deployment (the
//   auditor holds none): every value the bundle names plus "any other", so a
//   proof here holds for every deployment. A violated invariant (or a search
//   over its budget) is 422 `failed_precondition` with every finding and its
//   counterexample, and nothing is signed or stored.
// - A signed version is stored in `store_dir` as <sha256>.yaml and
//   <sha256>.yaml.sig (policy/signature.h), added to the versions the auditor
//   replays decisions against (so nodes may deploy it), and offered for
//   download. Nodes load `policy.file` (+ .sig) when they start: the auditor
//   does not push bundles to them. Without `signing_key_file` sign answers
//   501 `unimplemented`.
//
// PolicyTimeline is not synchronised: the Auditor guards it with its mutex.
#ifndef CLOVER_AUDIT_POLICY_VIEW_H_
#define CLOVER_AUDIT_POLICY_VIEW_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "audit/audit_config.h"
#include "kv/kv_store.h"
#include "policy/bundle.h"
#include "server/router.h"

namespace clover::audit {

class Auditor;
class ConsoleSessions;

inline constexpr size_t kMaxUploadedBundleBytes = 256 * 1024;

// Which bundle each node's decisions named, in runs of consecutive decisions
// under one hash: the last run is the version in force, since its first
// decision.
class PolicyTimeline {
 public:
  struct Run {
    std::string sha256;
    int64_t first_ms = 0;
    int64_t last_ms = 0;
    uint64_t first_index = 0;
    uint64_t last_index = 0;
    uint64_t decisions = 0;
  };
  struct Node {
    std::string origin;     // the log
    std::string node;       // the entry's node
    std::vector<Run> runs;  // oldest first; at most kMaxRuns
  };
  static constexpr size_t kMaxRuns = 16;

  // One decision of `node`, logged at `index` of log `origin` (in log order).
  void Observe(absl::string_view origin, absl::string_view node,
               absl::string_view sha256, absl::Time time, uint64_t index);
  // Writes the nodes observed since the last Flush.
  void Flush(kv::KvBatch& batch);
  // Restores what Flush wrote. Errors: the store's.
  [[nodiscard]] absl::Status Load(kv::KvStore& kv);
  // Every node, by origin then node.
  std::vector<Node> Nodes() const;

 private:
  absl::flat_hash_map<std::string, Node> nodes_;  // by KvKey
  absl::flat_hash_set<std::string> dirty_;
};

// A structural comparison of two bundles, as JSON: version and description
// changes, and per rule / invariant id: added, removed, changed (each change
// named: effect, a condition per attribute, approval or aggregate
// parameters, position), and how many are unchanged.
std::string PolicyDiffJson(const policy::Bundle& from,
                           const policy::Bundle& to);

struct PolicyViewOptions {
  std::string signing_key_file;     // empty: signing is off
  std::string store_dir;            // where signed versions are kept
  uint64_t max_states = 2'000'000;  // search budget per proof
};

// Where the console keeps the versions it signed (<data_dir>/signed-policies),
// and the bundle files there (<sha256>.yaml), sorted.
std::string SignedPolicyDir(const AuditorConfig& config);
std::vector<std::string> SignedPolicyFiles(const AuditorConfig& config);

// Adds the routes above to `router`.
void RegisterPolicyRoutes(server::Router& router, Auditor& auditor,
                          ConsoleSessions& sessions, PolicyViewOptions options);

}  // namespace clover::audit

#endif  // CLOVER_AUDIT_POLICY_VIEW_H_
