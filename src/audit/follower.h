// Follows one tiled transparency log (C2SP tlog-tiles) as an independent
// verifier.
//
// Each Poll fetches the log's checkpoint and checks its signature. If the tree
// grew, it fetches the new entry bundles, re-hashes every entry (RFC 6962 leaf
// hashes) into its own copy of the tree and requires the resulting root to
// equal the signed one; together with the previously verified root this proves
// consistency without trusting the log's proofs. Then the witness cosigns, the
// new entries are handed to the caller, and the new state (cosigned checkpoint
// and leaf hashes) is committed durably in the caller's batch.
//
// Misbehaviour becomes findings, and the follower does not advance past it:
//   split_view       a smaller tree than one already verified (shrinking),
//   another root for
//                    a verified size (fork), or entries that match the log's
//                    own hash tiles but not the history the auditor holds;
//   tampered_history (CheckHistory) a bundle or hash tile of the verified
//                    tree that the log now serves differently;
//   tampered_bundle  entry bundles that do not hash to the signed root (or to
//   the log's own
//                    level-0 hash tiles), or that changed entries already
//                    verified.
//
// Not thread-safe: one thread polls; ProofFor/size may be called from that
// thread only.
#ifndef CLOVER_AUDIT_FOLLOWER_H_
#define CLOVER_AUDIT_FOLLOWER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "audit/fetcher.h"
#include "audit/hash_tree.h"
#include "audit/incident.h"
#include "audit/witness.h"
#include "core/clock.h"
#include "kv/kv_store.h"
#include "log/checkpoint.h"
#include "log/note.h"

namespace clover::audit {

struct FollowedLog {
  std::string origin;
  std::string url;  // log prefix, e.g. http://127.0.0.1:8441/log
  std::vector<std::string> verifier_keys;  // the log's note verifier keys
};

class LogFollower {
 public:
  // Restores the persisted state for `log.origin` (verifying the stored
  // checkpoint against the stored leaf hashes). `kv` and `witness` (may be
  // null) must outlive the follower. Errors: InvalidArgument for bad keys;
  // DataLoss for inconsistent stored state.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<LogFollower>> Open(
      FollowedLog log, FetchFn fetch, kv::KvStore* kv, Witness* witness,
      const Clock& clock = SystemClock());

  // Called once per poll with the new, verified entries (entries[i] is at index
  // first + i); may add writes to `batch`, which is committed with the
  // follower's new state. An error aborts the poll (nothing committed).
  using EntryFn = std::function<absl::Status(
      uint64_t first, const std::vector<std::string>& entries,
      kv::KvBatch& batch)>;

  struct PollResult {
    uint64_t new_entries = 0;
    bool grew = false;
    std::vector<Finding> findings;  // log misbehaviour found by this poll
  };
  // Errors: fetch failures (Unavailable/NotFound), malformed resources
  // (InvalidArgument), bad signatures (Unauthenticated), store errors.
  // Misbehaviour is a finding, not an error.
  [[nodiscard]] absl::StatusOr<PollResult> Poll(const EntryFn& on_entry);

  // Verifies and ingests the signed checkpoint `note` obtained by any means
  // (Poll fetches it; a checkpoint pushed elsewhere can be checked the same
  // way), fetching the entries it adds.
  [[nodiscard]] absl::StatusOr<PollResult> Ingest(absl::string_view note,
                                                  const EntryFn& on_entry);

  // History re-verification: re-fetches up to `bundles` entry bundles of the
  // verified tree (alternately the next one of a sweep that starts at a random
  // bundle and wraps, and a uniformly random one), with the hash tiles above
  // each (level 0 up to the top), and compares them with the leaf and subtree
  // hashes this follower verified. Every bundle is re-checked within
  // 2 * ceil(bundles in the tree / bundles) calls. A difference is a
  // `tampered_history` finding (both hashes as evidence); a resource the log
  // does not serve (refused, unreachable) is counted in `unavailable` only: a
  // node refuses what it found corrupted (and logs it), and a refusal cannot
  // be told from an outage. The call stops at the first such resource.
  struct HistoryCheck {
    uint64_t bundles_checked = 0;
    uint64_t unavailable = 0;  // resources the log did not serve
    std::string last_error;    // of the last unavailable one
    std::vector<Finding> findings;
  };
  [[nodiscard]] HistoryCheck CheckHistory(int bundles);

  const std::string& origin() const { return log_.origin; }
  // The log's configured note verifier keys (shown by the web console).
  const std::vector<std::string>& verifier_keys() const {
    return log_.verifier_keys;
  }
  uint64_t size() const { return tree_.size(); }
  // The latest verified checkpoint note (with the witness cosignature when
  // there is one).
  const std::string& checkpoint_note() const { return note_; }
  const log::Checkpoint& checkpoint() const { return checkpoint_; }
  const HashTree& tree() const { return tree_; }
  std::vector<const log::NoteVerifier*> verifiers() const;

  // How far the verified tree is behind the largest checkpoint this follower
  // has seen with a valid log signature (since the process started). Any
  // thread may call it (the web console's overview).
  struct Lag {
    uint64_t verified_size = 0;
    absl::Time verified_at = absl::InfinitePast();  // last poll that verified
    uint64_t seen_size = 0;
    absl::Time seen_at = absl::InfinitePast();
    // When a seen checkpoint first exceeded the verified size; InfinitePast
    // while caught up.
    absl::Time behind_since = absl::InfinitePast();
    absl::Time now;  // the follower's clock when the snapshot was taken
  };
  [[nodiscard]] Lag lag() const;

  // A C2SP tlog-proof of entry `index` against the latest verified checkpoint.
  // Errors: OutOfRange if index >= size().
  [[nodiscard]] absl::StatusOr<std::string> ProofFor(uint64_t index) const;

  // Entry `index` of the verified tree, fetched from the log (the last bundle
  // fetched is kept) and checked against the leaf hash this follower
  // verified. Errors: OutOfRange if index >= size(); the fetch's errors;
  // DataLoss if the log now serves other bytes there.
  [[nodiscard]] absl::StatusOr<std::string> VerifiedEntry(uint64_t index);

  // VerifiedEntry in two steps, so that the fetch need not hold up polling:
  // PrepareEntryFetch (polling thread, or under the lock that serialises
  // polls) takes what the check needs, then Fetch() may run on any thread,
  // without the lock (it uses a copy of the FetchFn, which must then be
  // thread-safe, as HttpFetcher is). Errors as VerifiedEntry's.
  struct EntryFetch {
    std::string origin;
    uint64_t index = 0;
    uint64_t base = 0;   // first index of the bundle
    uint64_t width = 0;  // entries the bundle holds at the verified size
    std::string path;
    log::Hash leaf;  // the verified leaf hash of `index`
    FetchFn fetch;
    [[nodiscard]] absl::StatusOr<std::string> Fetch() const;
  };
  [[nodiscard]] absl::StatusOr<EntryFetch> PrepareEntryFetch(
      uint64_t index) const;

 private:
  LogFollower(FollowedLog log, FetchFn fetch, kv::KvStore* kv, Witness* witness,
              const Clock& clock)
      : log_(std::move(log)),
        fetch_(std::move(fetch)),
        kv_(kv),
        witness_(witness),
        clock_(clock) {}
  absl::Status FetchEntries(uint64_t from, uint64_t to,
                            std::vector<std::string>* entries,
                            std::vector<Finding>* findings,
                            const std::string& note, bool* ok);
  Finding MakeFinding(absl::string_view detector, std::string key,
                      std::string summary) const;
  // Re-checks bundle `b` of the verified tree and its hash tiles; false if a
  // finding was added.
  bool CheckBundle(uint64_t b, HistoryCheck& out);

  FollowedLog log_;
  FetchFn fetch_;
  kv::KvStore* kv_;
  Witness* witness_;
  const Clock& clock_;
  std::vector<std::unique_ptr<log::NoteVerifier>> verifiers_;
  HashTree tree_;
  log::Checkpoint checkpoint_;
  std::string note_;
  // History re-verification state (in memory: a restart starts a new sweep).
  std::mt19937_64 rng_{std::random_device{}()};
  uint64_t sweep_next_ = 0;
  bool sweep_started_ = false;
  uint64_t history_picks_ = 0;
  void NoteSeen(uint64_t size);
  void NoteVerified(uint64_t size);
  mutable absl::Mutex lag_mu_;
  Lag lag_ ABSL_GUARDED_BY(lag_mu_);
  // VerifiedEntry's last bundle: its tile, width and entries.
  uint64_t cached_tile_ = UINT64_MAX;
  uint64_t cached_width_ = 0;
  std::vector<std::string> cached_entries_;
};

}  // namespace clover::audit

#endif  // CLOVER_AUDIT_FOLLOWER_H_
