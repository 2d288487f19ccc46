// One gateway node (`clover serve`): the composition root that opens the log,
// policy, vault, approvals and state of this node and serves the gateway over
// HTTP. Startup is a list of small named steps; the first failure stops it with
// the step's name in the error.
//
// Thread-safety: Start, then Shutdown from any one thread.
#ifndef CLOVER_GATEWAY_NODE_H_
#define CLOVER_GATEWAY_NODE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "config/deployment.h"
#include "core/clock.h"
#include "server/router.h"
#include "vault/vault.h"

namespace clover::gateway {

// The name a DC (its log) or a region (its vault) has in PostgreSQL schema
// names: "ie-dub-1" -> "ie_dub_1".
std::string PostgresNameOf(absl::string_view id);

// The table of a region's shared state with `storage.driver: postgres`
// (approvals and privacy budgets, kv/postgres_kv_store.h):
// "clover_state_<region>", lower case.
std::string RegionalStateTable(absl::string_view region);

// Where a node keeps its embedded vault store: <data_dir>/vault.
std::string NodeVaultDir(const NodeConfig& node);

// The vault a node of `deployment` serves: its embedded store in
// <data_dir>/vault (WAL synced on every write), or its region's PostgreSQL
// schema, with the configured KEK (and retired KEKs) and pseudonym root key.
// Used by the node at startup and by maintenance commands such as
// `clover keys rewrap`. Errors: InvalidArgument without a `node` section;
// those of the key files and the storage driver (Unavailable if another
// process holds the embedded store). `clock` (nullptr: the system clock)
// retires superseded pseudonym key versions (vault/pseudonym_ring.h).
[[nodiscard]] absl::StatusOr<std::unique_ptr<vault::Vault>> OpenNodeVault(
    const Deployment& deployment, const Clock* clock = nullptr);

// `clover vault purge`: with the node stopped (its embedded stores are
// locked while it runs), purges the vault's erasure epochs
// (vault::Vault::Purge) and appends the erasure attestation to the node's log
// (entry/erasure_attestation.h), as the running node does every
// keys.purge_interval. Errors: InvalidArgument without a node section; those
// of the log, the vault and the purge.
// `clover keys rotate-pseudonym`: with the node stopped (its log is
// appended to), makes a new version of the region's pseudonym root key
// current (vault::PseudonymRing::Rotate) after appending to the node's log,
// durably, the rotation and the superseded version's retirement
// (entry/pseudonym_key_entry.h). Returns the current version. Errors:
// InvalidArgument without a node section; those of the log, the vault and
// the ring (nothing rotated if the log refused the entries).
[[nodiscard]] absl::StatusOr<uint32_t> RotatePseudonymKey(
    Deployment deployment, absl::Duration overlap,
    const Clock* clock = nullptr);

[[nodiscard]] absl::StatusOr<vault::Vault::PurgeReport> RunVaultPurge(
    Deployment deployment);

struct NodeOptions {
  const Clock* clock = nullptr;  // nullptr: the system clock
  int threads = 0;               // HTTP I/O threads; 0 = one per core
  int port_override = -1;  // >= 0: listen on this port instead of the config's
};

class Node {
 public:
  // Runs every startup step for `deployment` (which must have a node section).
  // Errors: the failing step's error, prefixed with the step's name.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Node>> Start(
      Deployment deployment, NodeOptions options = {});
  // Shuts down gracefully if still running.
  ~Node();

  // The bound HTTP port.
  int port() const;
  // The routes the node serves (method, pattern): the API contract test
  // compares them with docs/openapi.yaml.
  std::vector<server::Router::RouteInfo> Routes() const;
  // The step names in the order they run (for logs and docs).
  static std::vector<std::string> StepNames();

  // Periodic housekeeping (approval expiry); call about once a second.
  void Tick();

  // With log.witnesses: waits until the served checkpoint covers every entry
  // appended so far (for the demo and tests). True at once without
  // witnesses; false on timeout.
  bool WaitWitnessed(absl::Duration timeout);

  // Graceful: stop accepting, drain in-flight requests, flush the log, close
  // storage.
  void Shutdown();

  struct Parts;

 private:
  explicit Node(std::unique_ptr<Parts> parts);
  std::unique_ptr<Parts> parts_;
};

// Blocks SIGINT and SIGTERM in the calling thread (do it before any thread
// starts, so every thread inherits the mask), then waits for one of them,
// calling `tick` about once a second. Returns the signal number.
int WaitForTerminationSignal(const std::function<void()>& tick);
void BlockTerminationSignals();

}  // namespace clover::gateway

#endif  // CLOVER_GATEWAY_NODE_H_
