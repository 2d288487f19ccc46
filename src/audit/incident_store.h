// Durable incidents and their event journal.
//
// Every incident lives in the KvStore ("incident/<id>"). Every incident event
// (opened, acknowledged, resolved) is appended, in the same atomic batch, to a
// journal
// ("event/<seq>") that is at once:
//   - the auditor's own transparency log: a Merkle tree over the canonical JSON
//   events whose
//     checkpoints are signed with the auditor's note key (origin
//     `journal_origin`), so the incidents it reported can be proven later and
//     cannot be silently dropped;
//   - the outbox: deliverers (webhook, JSON-lines file) each keep a persisted
//   cursor and
//     deliver events at least once, in order, surviving restarts (outbox.h).
// Repeated findings for an open incident update its last_seen, occurrence count
// and evidence but emit no event (so a bulk reader does not flood the webhook).
//
// Thread-safe.
#ifndef CLOVER_AUDIT_INCIDENT_STORE_H_
#define CLOVER_AUDIT_INCIDENT_STORE_H_

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "audit/hash_tree.h"
#include "audit/incident.h"
#include "core/clock.h"
#include "kv/kv_store.h"
#include "log/note.h"

namespace clover::audit {

struct IncidentStoreOptions {
  absl::Duration notification_window = absl::Hours(72);
  std::string journal_origin = "clover-auditor/incidents";
  // Signs the journal's checkpoints; may be null (then SignedCheckpoint is
  // unavailable).
  const log::NoteSigner* journal_signer = nullptr;
};

class IncidentStore {
 public:
  // Loads incidents and rebuilds the journal tree. `kv` and the signer must
  // outlive the store. Errors: Internal, DataLoss.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<IncidentStore>> Open(
      kv::KvStore* kv, IncidentStoreOptions options,
      const Clock& clock = SystemClock());

  struct Update {
    Incident incident;
    bool opened = false;  // a new incident (an event was journaled)
  };
  // Opens an incident for `finding`, or updates the open/acknowledged one with
  // its key. `evidence` (at most kMaxEvidence kept) is appended. Errors:
  // Internal.
  [[nodiscard]] absl::StatusOr<Update> Report(const Finding& finding,
                                              std::vector<Evidence> evidence);

  // Records who (`by`), when (the clock's now) and the optional `note` in the
  // incident and its journal event. Errors: NotFound; FailedPrecondition if
  // already resolved (or already acknowledged for Acknowledge).
  [[nodiscard]] absl::StatusOr<Incident> Acknowledge(
      absl::string_view id, absl::string_view by, absl::string_view note = "");
  [[nodiscard]] absl::StatusOr<Incident> Resolve(absl::string_view id,
                                                 absl::string_view by,
                                                 absl::string_view note = "");

  [[nodiscard]] absl::StatusOr<Incident> Get(absl::string_view id) const;
  // Newest first.
  [[nodiscard]] std::vector<Incident> List(
      std::optional<IncidentStatus> status) const;

  // The journal.
  [[nodiscard]] uint64_t EventCount() const;
  // Up to `limit` events from `from` on, as (seq, canonical JSON). Errors:
  // Internal.
  [[nodiscard]] absl::StatusOr<std::vector<std::pair<uint64_t, std::string>>>
  ReadEvents(uint64_t from, size_t limit) const;
  // Blocks until EventCount() > seq or `timeout` passes; returns EventCount().
  uint64_t WaitForEvents(uint64_t seq, absl::Duration timeout) const;
  // The journal checkpoint for its current size, signed. Errors:
  // FailedPrecondition without a signer.
  [[nodiscard]] absl::StatusOr<std::string> SignedCheckpoint() const;
  // A tlog-proof of event `seq` against the current signed checkpoint.
  [[nodiscard]] absl::StatusOr<std::string> EventProof(uint64_t seq) const;

  kv::KvStore* kv() const { return kv_; }

 private:
  IncidentStore(kv::KvStore* kv, IncidentStoreOptions options,
                const Clock& clock)
      : kv_(kv), options_(std::move(options)), clock_(clock) {}
  absl::StatusOr<Incident> Transition(absl::string_view id,
                                      absl::string_view by, IncidentStatus to,
                                      absl::string_view note);
  // Writes `incident` and (when `event` is non-empty) a journal event,
  // atomically.
  absl::Status Commit(const Incident& incident, absl::string_view event,
                      bool drop_key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::string> SignLocked() const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);

  kv::KvStore* const kv_;
  const IncidentStoreOptions options_;
  const Clock& clock_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Incident> incidents_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::string> open_by_key_
      ABSL_GUARDED_BY(mu_);
  HashTree journal_ ABSL_GUARDED_BY(mu_);
};

}  // namespace clover::audit

#endif  // CLOVER_AUDIT_INCIDENT_STORE_H_
