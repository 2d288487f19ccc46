// `clover demo`: the example deployment running for real. Starts one gateway
// node per data centre of every region (each with its own log, vault and HTTP
// server on loopback), seeds synthetic subjects, plays realistic traffic from
// every example principal over HTTP, then verifies every node's log with the
// client library and summarises what happened. With the embedded default each
// node has its own store (the summary says so); the replicated region is
// `clover demo-ha` (region/drill.h).
#ifndef CLOVER_DEMO_DEMO_H_
#define CLOVER_DEMO_DEMO_H_

#include <functional>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace clover::demo {

struct DemoOptions {
  std::string config = "examples/deployment.yaml";
  // Created with an ownership marker, or emptied if the demo created it before
  // (core/owned_dir.h); any other non-empty directory is refused.
  std::string data_dir = "demo-data";
  int base_port = 0;  // > 0: node ports base_port, base_port+1, ...; else the
                      // config's endpoints
  int subjects_per_dc = 40;
  // After the summary is taken, the auditor also records this many incidents
  // of detector "synthetic" (spread over the last 7 days, every severity), to
  // try the console's paging on a large list; they are not in the summary.
  int synthetic_incidents = 0;
  std::ostream* progress = nullptr;  // narration, or nullptr
};

struct DemoNodeSummary {
  std::string dc;
  std::string region;
  std::string endpoint;
  uint64_t log_size = 0;
  std::string root_hash;  // base64
  bool checkpoint_verified =
      false;  // signature, and every entry re-hashed to the root
  // Witnesses (key names) whose cosignature on the served checkpoint
  // verifies: the auditor's and the stand-alone one.
  std::vector<std::string> cosigned_by;
};

struct DemoSummary {
  std::vector<DemoNodeSummary> nodes;
  // effect -> destination -> field decisions, from the verified logs.
  std::map<std::string, std::map<std::string, int64_t>> decisions;
  std::map<std::string, int64_t> actions;        // logged entries by action
  std::map<std::string, int64_t> http_statuses;  // "scenario: status" -> count
  int64_t subjects_written = 0;
  int64_t raw_restricted_to_cn =
      0;  // must be 0: restricted fields returned raw to cn staff
  std::vector<std::string> notes;  // what the traffic showed, one line each
  // The legacy migration of the demo's dump: records home per region (read
  // back and verified) and rows quarantined (no home region).
  std::map<std::string, int64_t> legacy_migrated;
  int64_t legacy_quarantined = 0;
  // The auditor's view: incidents raised (detector, severity, summary).
  struct Incident {
    std::string id, detector, severity, summary;
    size_t evidence = 0;  // evidence items with inclusion proofs
  };
  std::vector<Incident> incidents;
  uint64_t auditor_tree_entries =
      0;                         // entries the auditor verified and replayed
  uint64_t auditor_entries = 0;  // of which processed in the final polls
  // The in-process auditor's API and the bearer token generated for it.
  struct AuditorApi {
    std::string url;
    std::string admin_token;
    std::string admin_token_file;  // the token, mode 0600
  };
  AuditorApi auditor_api;

  std::string ToText() const;
  std::string ToJson() const;
};

// Runs the demo to its summary, then calls `on_summary` (if set) while the
// nodes are still serving (it may block to keep them up), then shuts them down.
// Errors: configuration, key or port problems, with the step named;
// FailedPrecondition naming the data directory if it is protected or not the
// demo's to empty (core/owned_dir.h).
[[nodiscard]] absl::StatusOr<DemoSummary> RunDemo(
    const DemoOptions& options,
    const std::function<void(const DemoSummary&)>& on_summary);

}  // namespace clover::demo

#endif  // CLOVER_DEMO_DEMO_H_
