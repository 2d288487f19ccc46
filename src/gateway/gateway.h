// The gateway's request pipeline: for every data request
//   authenticate -> resolve destination -> decide (policy) -> transform (vault)
//   -> append the decision to the log and wait until it is durable -> respond
//   with its index.
// No personal data leaves before its decision is durable. Writes and erasures
// change the vault only after their decision is durable (authenticate ->
// validate -> residency -> decide -> log -> vault -> respond), so no stored
// revision or erasure lacks its entry. Handlers never block an I/O thread on
// the log: the response is sent from the log's completion callback (or, for
// writes, from the blocking pool it hands the vault work to).
//
// Thread-safety: all handlers may run concurrently. The gateway does not own
// its dependencies; they must outlive it.
#ifndef CLOVER_GATEWAY_GATEWAY_H_
#define CLOVER_GATEWAY_GATEWAY_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "approvals/approvals.h"
#include "approvals/attestation.h"
#include "config/deployment.h"
#include "core/clock.h"
#include "crypto/secret_key_file.h"
#include "gateway/access_index.h"
#include "gateway/auth.h"
#include "gateway/peer_logs.h"
#include "gateway/regional_access_index.h"
#include "gateway/state_store.h"
#include "log/sequencer.h"
#include "policy/compiled_policy.h"
#include "server/metrics.h"
#include "server/router.h"
#include "vault/vault.h"

namespace clover::gateway {

// The threads that run blocking handlers (writes, exports, aggregates): 16 on
// an embedded store, where RocksDB commits that many writes in groups, and 32
// on a region's shared store (Vault::fetches_rows_async()), where a write holds
// its thread (and a vault connection: the node opens one per thread) for a row
// read and a commit that waits for the synchronous standby, so threads / time
// held caps the node's writes. Measured need (probe region of
// bench/region-throughput.sh, wrk c=64 PUTs, gateway restarted with each count,
// interleaved, busy box): 16 threads 1,556-1,826 writes/s (mean 1,734), 32
// threads 1,853-2,408 (mean 2,119, +22 %), reads unchanged; 48 no better
// than 32. bench/region-throughput.sh pairs: region writes +22-31 %.
inline constexpr size_t kEmbeddedBlockingThreads = 16;
inline constexpr size_t kSharedStoreBlockingThreads = 32;

struct GatewayDeps {
  const Deployment* deployment = nullptr;  // with its node section
  const Clock* clock = nullptr;
  const Authenticator* auth = nullptr;
  std::shared_ptr<const policy::CompiledPolicy> policy;
  log::Sequencer* log = nullptr;
  vault::Vault* vault = nullptr;
  approvals::ApprovalStore* approvals = nullptr;
  // approvals.attestation_keys: null or empty, approvals need no attestation.
  const approvals::AttestationVerifier* attestations = nullptr;
  StateStore* state = nullptr;
  AccessIndex* access_index = nullptr;
  // storage.driver postgres: the region's access index (every node's
  // decisions) and the other DCs' logs, read-only. Null: one node's index.
  RegionalAccessIndexStore* regional_index = nullptr;
  PeerLogs* peer_logs = nullptr;
  server::MetricsRegistry* metrics = nullptr;
  crypto::SecretKey log_subject_key{};  // crypto/subject_pseudonym.h
  // The residency violations of the region's replicas found by the last
  // topology check ("" when none; region/topology.h). Null: no check runs.
  // While non-empty, /readyz answers 503 with reason topology_violation.
  std::function<std::string()> topology_violations;
};

class Gateway {
 public:
  // Errors: InvalidArgument if a dependency is missing or the deployment has no
  // node.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Gateway>> Create(
      GatewayDeps deps);
  ~Gateway();

  // Registers every data, approval and log route of docs/api.md.
  void AddRoutes(server::Router& router);

  // Appends the transitions of approvals that expired (call periodically).
  void ExpireApprovals();

  // Waits until the handlers that run off the I/O threads (writes, exports,
  // aggregates) have finished and handed their decisions to the log, and until
  // the vault writes and erasures waiting for their entries have run. Call
  // after the HTTP server has stopped taking requests, before the log is
  // closed, so that every append a handler makes reaches a live log.
  void Drain();

  class Impl;

 private:
  explicit Gateway(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace clover::gateway

#endif  // CLOVER_GATEWAY_GATEWAY_H_
