// The batching sequencer: assigns indexes to appended entries, integrates each
// batch into hash tiles, entry bundles and a new signed checkpoint, and makes
// the batch durable in ONE synchronous storage write before any append of the
// batch is acknowledged.
//
// Memory is bounded: the tree lives in storage; the sequencer keeps only the
// right edge (the partial tile of each level, at most 8 x 511 hashes), the
// partial entry bundle (under 256 entries) and an LRU cache of full tiles.
// Opening an existing log reads the edge back from storage without replaying
// entries.
//
// A batch stores its entries of the partial bundle as one new fragment (see
// storage.h), so its write grows with the batch, not with the bundle; the
// batch that completes a bundle stores it whole and deletes its fragments.
// The partial bundle is served from memory.
#ifndef CLOVER_LOG_SEQUENCER_H_
#define CLOVER_LOG_SEQUENCER_H_

#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "log/checkpoint.h"
#include "log/log_reader.h"
#include "log/merkle.h"
#include "log/note.h"
#include "log/storage.h"
#include "log/tile_cache.h"
#include "log/tile_tree.h"

namespace clover::log {

// What one batch cost, reported once its write has finished (for metrics).
struct BatchReport {
  size_t entries = 0;
  absl::Duration integrate_time;  // hashing, tiles, signing
  absl::Duration write_time;      // the durable storage write
  bool ok = true;  // false: not written (storage error, or an earlier one)
};

struct SequencerOptions {
  // Checkpoint origin. Empty: the signer's key name. Must match the stored
  // log's origin.
  std::string origin;
  // A batch is taken when the writer is free (no batch being written or
  // waiting to be). It closes when it holds this many entries...
  size_t max_batch_entries = 16384;
  // ...or when its first entry has waited this long (0: take whatever is
  // queued; under load that is everything that arrived during the previous
  // write).
  absl::Duration max_batch_wait = absl::ZeroDuration();
  // Full tiles kept in memory (about 16 KiB each).
  size_t tile_cache_tiles = 4096;
  // Appends beyond this many queued entries fail fast with ResourceExhausted.
  size_t max_queued_entries = 1 << 21;
  // Called on the writer thread after each batch's write, before the batch's
  // appends complete. Must be cheap and must not call into the sequencer.
  std::function<void(const BatchReport&)> on_batch_written;
  // Called (on the reading thread) whenever a tile, entry bundle or proof is
  // refused because storage failed or what it returned no longer matches the
  // tree (the refusal is also logged as an error). For metrics; must be cheap.
  std::function<void()> on_read_refused;
  // Called on the writer thread once a batch's checkpoint is published
  // (SignedCheckpoint returns it). Must be cheap and must not call into the
  // sequencer.
  std::function<void()> on_published;
};

// Cumulative counters, e.g. for metrics.
struct SequencerStats {
  uint64_t batches = 0;
  uint64_t entries = 0;
  absl::Duration integrate_time;  // hashing, tiles, signing
  absl::Duration write_time;      // the durable storage writes
};

class Sequencer final : public LogReader {
 public:
  using Callback = std::function<void(absl::StatusOr<uint64_t>)>;

  // Opens (or, with a signer and an empty store, creates) a log. Without a
  // signer the log is read-only: Append fails with FailedPrecondition. Errors:
  // InvalidArgument for bad options, FailedPrecondition for an origin mismatch,
  // NotFound for an empty store opened read-only, DataLoss if the stored state
  // is inconsistent, storage errors.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Sequencer>> Open(
      std::unique_ptr<LogStorage> storage, std::unique_ptr<NoteSigner> signer,
      SequencerOptions options = {});

  // Completes every queued append (integrating it), then stops.
  ~Sequencer() override;

  // Queues `entry`; `done` later receives its index once the entry and a
  // checkpoint covering it are durable, or an error (InvalidArgument for
  // entries over 65,535 bytes, ResourceExhausted when the queue is full,
  // FailedPrecondition when read-only, the storage error if the batch write
  // failed). `done` runs on the integrator thread (or inline for immediate
  // errors) and must not block. Thread-safe; never blocks on I/O.
  void Append(std::string entry, Callback done);
  // As above, returning a future of the index.
  [[nodiscard]] std::future<absl::StatusOr<uint64_t>> Append(std::string entry);

  [[nodiscard]] const std::string& origin() const { return origin_; }
  [[nodiscard]] SequencerStats Stats() const;
  // The latest published checkpoint (parsed).
  [[nodiscard]] Checkpoint LatestCheckpoint() const;

  // LogReader.
  uint64_t Size() const override;
  std::string SignedCheckpoint() const override;
  absl::StatusOr<std::string> ReadTile(int level, uint64_t index,
                                       int width) const override;
  absl::StatusOr<std::string> ReadEntryBundle(uint64_t index,
                                              int width) const override;
  absl::StatusOr<std::string> ReadEntry(uint64_t index) const override;
  absl::StatusOr<std::vector<Hash>> InclusionProof(
      uint64_t index, uint64_t size) const override;
  absl::StatusOr<std::vector<Hash>> ConsistencyProof(
      uint64_t from, uint64_t to) const override;

 private:
  static constexpr int kLevels = 8;  // tile levels needed for 2^64 leaves

  // A stored fragment of the partial entry bundle (see storage.h).
  struct Fragment {
    int offset = 0;  // position of its first entry in the bundle
    std::shared_ptr<const std::string> data;
  };
  // What readers see: the state as of the last durable batch.
  struct Snapshot {
    uint64_t size = 0;
    Hash root{};
    std::string checkpoint;
    std::vector<TileTree> edges;  // partial tile of each level
    // The partial entry bundle, so that serving it never reads storage.
    std::vector<Fragment> partial;
  };
  struct Pending {
    std::string entry;
    Hash leaf;  // computed by the appending thread, off the integrator's
                // critical path
    Callback done;
  };
  using FullTiles =
      std::vector<std::pair<TileId, std::shared_ptr<const TileTree>>>;
  // A batch integrated in memory, waiting for its durable write.
  struct Prepared {
    std::vector<Pending> batch;
    uint64_t first_index = 0;
    absl::Status status;  // non-OK if it could not be prepared (signing failed)
    LogWriteBatch wb;
    std::shared_ptr<const Snapshot> snap;
    FullTiles full;
    absl::Time start;
    absl::Duration integrate_time;
  };

  Sequencer(std::unique_ptr<LogStorage> storage,
            std::unique_ptr<NoteSigner> signer, SequencerOptions options);
  absl::Status Load();
  // The integrator thread: batches, hashes and signs; hands batches to the
  // writer thread so that integrating batch k+1 overlaps the fsync of batch k.
  void Run();
  void WriteLoop();
  std::unique_ptr<Prepared> Integrate(std::vector<Pending> batch);
  void Commit(Prepared& p);
  void RollBack();
  void AddHash(int level, const Hash& hash, LogWriteBatch& wb, FullTiles& full);
  Hash EdgeRoot();
  absl::StatusOr<std::string> MakeCheckpoint(uint64_t size,
                                             const Hash& root) const;
  std::string Metadata(uint64_t size) const;
  // Reads the fragments of the partial bundle listed in the metadata (or, for
  // a log written before fragments existed, the whole partial bundle).
  absl::Status LoadPartialBundle(uint64_t size,
                                 const std::vector<int>* offsets);
  // The first `width` entries of the partial bundle of `snap`.
  static absl::StatusOr<std::string> PartialBundle(const Snapshot& snap,
                                                   int width);

  std::shared_ptr<const Snapshot> snapshot() const;
  // A full tile from the cache, or read from storage and verified against the
  // tree of `snap` before it is cached: its root must equal the hash at its
  // position in the parent tile (itself verified the same way, up to the
  // right edge, which the stored checkpoint verified at open).
  absl::StatusOr<std::shared_ptr<const TileTree>> FullTile(
      const Snapshot& snap, int level, uint64_t index) const;
  // The hash at `pos` of tile level `level` (a full tile or the edge).
  absl::StatusOr<Hash> TileHash(const Snapshot& snap, int level,
                                uint64_t pos) const;
  // A full entry bundle read from storage, verified against the tree's leaf
  // hashes. Errors: DataLoss if missing, malformed or not matching.
  absl::StatusOr<std::string> StoredBundle(const Snapshot& snap,
                                           uint64_t index) const;
  // Logs a refused read of `resource` as an error and reports it; returns
  // `st` unchanged (NotFound and InvalidArgument are the client's and pass
  // through silently).
  absl::Status Refused(absl::string_view resource, absl::Status st) const;
  absl::StatusOr<Hash> ReadNode(const Snapshot& snap, int height,
                                uint64_t index) const;

  bool HasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !queue_.empty() || stopping_;
  }
  bool BatchFull() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return queue_.size() >= options_.max_batch_entries || stopping_;
  }
  // No batch waits for the writer and none is being written.
  bool WriterFree() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(pipe_mu_) {
    return pipe_.empty() && !writing_;
  }
  bool PipeHasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(pipe_mu_) {
    return !pipe_.empty() || pipe_closed_;
  }

  const std::unique_ptr<LogStorage> storage_;
  const std::unique_ptr<NoteSigner> signer_;
  const SequencerOptions options_;
  std::string origin_;
  mutable TileCache cache_;

  absl::Mutex mu_;
  std::vector<Pending> queue_ ABSL_GUARDED_BY(mu_);
  absl::Time first_queued_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;

  // Integrator -> writer hand-off: the integrator pushes a batch only when the
  // writer is free, so at most one waits, while the writer runs the previous
  // batch's callbacks.
  absl::Mutex pipe_mu_;
  std::vector<std::unique_ptr<Prepared>> pipe_ ABSL_GUARDED_BY(pipe_mu_);
  // A batch was handed to the writer and its write has not finished.
  bool writing_ ABSL_GUARDED_BY(pipe_mu_) = false;
  bool pipe_closed_ ABSL_GUARDED_BY(pipe_mu_) = false;
  // Set by the writer when a write fails: the integrator rolls its state back
  // to the last durable one before it takes the next batch.
  bool poisoned_ ABSL_GUARDED_BY(pipe_mu_) = false;

  mutable absl::Mutex stats_mu_;
  SequencerStats stats_ ABSL_GUARDED_BY(stats_mu_);

  mutable absl::Mutex snap_mu_;
  std::shared_ptr<const Snapshot> snap_ ABSL_GUARDED_BY(snap_mu_);

  // Owned by the integrator thread (and Load before it starts).
  uint64_t size_ = 0;
  std::vector<TileTree> edges_;
  std::vector<Fragment> fragments_;  // of the partial entry bundle
  // Set when storage may not hold fragments_ as listed (after a failed write,
  // whose outcome a driver may not know for sure, or a log stored before
  // fragments existed): the next batch stores the partial bundle again as one
  // fragment at offset 0.
  bool rewrite_partial_ = false;
  MerkleHasher hasher_;

  std::thread writer_;
  std::thread thread_;
};

}  // namespace clover::log

#endif  // CLOVER_LOG_SEQUENCER_H_
