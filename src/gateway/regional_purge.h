// Erasure purges of a region whose nodes share one PostgreSQL vault store
// (docs/vault.md, "Purges in a region"). A purge destroys epochs of the whole
// store, but each node has its own log, so the purge is the region's and each
// node attests its own part of it:
//
// 1. One purge at a time: the coordinator claims the row `erasure-purge/lock`
//    of the region's shared state table (a conditional write; a lease of
//    `lease`, so a crashed holder does not block the region for ever).
// 2. A round `erasure-purge/round/<n>` opens in state "cutting". Every node
//    of the region (those that registered with Join) takes its cut: its log
//    size at a moment when none of its erasures is in flight
//    (Vault::AtErasureCut), so every erasure it logged before the cut has its
//    tombstone stored. The coordinator waits for every member's cut, at most
//    `cut_wait`, and fixes the round's cuts ("cut"): a node whose cut came
//    late is not in the round (its erasures wait for the next one).
// 3. The coordinator runs Vault::Purge: the new epoch is made after every
//    cut, so each erasure logged before a cut is sealed only under epochs the
//    purge destroys. Before destroying it records the new and destroyed
//    epochs in the round ("pending"), after it marks the round "done".
// 4. Each node, for every "done" round that holds its cut, in order, appends
//    to its own log an attestation (entry/erasure_attestation.h) with the
//    round's id, covering exactly the allowed erasures its log holds before
//    its cut and not covered by its previous attestation (read back from its
//    log), then records the round as attested
//    (`erasure-purge/attested/<node>`).
//
// Crash points: the coordinator dying before the new epoch leaves the round
// "cutting"/"cut" with one epoch stored: the next purge abandons it. After the
// new epoch (two stored): the next purge resumes that round with its cuts.
// After the destroy but before "done": the next purge finds the round's new
// epoch alone and marks it done. A node dying before its attestation is
// durable attests at its next Tick (at start); dying between the append and
// the record appends it again, which the auditor counts once (same new
// epoch). No erasure is attested by two rounds (each covers its node's log
// from its previous cut) nor left out (the next round's cut is later).
//
// Thread-safety: one RegionalPurge per node; Run and Tick are serialised by
// the caller (the node's purge thread).
#ifndef CLOVER_GATEWAY_REGIONAL_PURGE_H_
#define CLOVER_GATEWAY_REGIONAL_PURGE_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "config/deployment.h"
#include "kv/kv_store.h"
#include "log/sequencer.h"
#include "vault/vault.h"

namespace clover::gateway {

struct RegionalPurgeOptions {
  absl::Duration cut_wait = absl::Seconds(10);  // for the members' cuts
  absl::Duration lease = absl::Hours(1);        // of the coordinator's lock
};

class RegionalPurge {
 public:
  // `kv` is the region's shared state table (RegionalStateTable).
  RegionalPurge(vault::Vault& vault, log::Sequencer& log, kv::KvStore& kv,
                const NodeConfig& node, RegionalPurgeOptions options = {});

  // Registers this node as a member whose cut a purge waits for.
  [[nodiscard]] absl::Status Join();
  // A member's duties, called every second or so: takes this node's cut for
  // a round that is collecting cuts, and appends the attestations owed for
  // finished rounds. Returns how many attestations it appended.
  [[nodiscard]] absl::StatusOr<int> Tick();
  // Coordinates a purge of the region (or finishes an interrupted one), then
  // attests this node's part (Tick). `stop`, if set, is asked while waiting
  // for cuts; true gives up with Cancelled. Errors: FailedPrecondition if
  // another node holds the lock; those of the vault's Purge, the log and the
  // shared table (the round stays to be resumed).
  [[nodiscard]] absl::StatusOr<vault::Vault::PurgeReport> Run(
      const std::function<bool()>& stop = nullptr);

 private:
  struct Round;
  absl::StatusOr<bool> ClaimLock(std::string* held);
  void ReleaseLock(const std::string& held);
  absl::Status TakeCut(uint64_t seq);
  absl::Status Attest(const Round& round, uint64_t from, uint64_t cut);

  vault::Vault& vault_;
  log::Sequencer& log_;
  kv::KvStore& kv_;
  NodeConfig node_;
  RegionalPurgeOptions options_;
};

}  // namespace clover::gateway

#endif  // CLOVER_GATEWAY_REGIONAL_PURGE_H_
