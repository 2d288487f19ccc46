// The log's side of C2SP tlog-witness: after each new checkpoint, a background
// thread sends it to every configured witness's `add-checkpoint` (old size,
// consistency proof, checkpoint), keeps the cosignatures that verify with the
// witness's key, and publishes the checkpoint with them as extra signature
// lines (signed-note), which `/log/checkpoint` then serves.
//
// What is published: the newest checkpoint whose round has finished, carrying
// the cosignatures that round got. A round never blocks an append; while it
// runs the previous checkpoint stays published. A witness that fails (down,
// timeout, refusal) is skipped until its backoff (doubling, bounded) expires,
// so one bad witness only removes its own cosignature. A 409 with the
// witness's size (it holds another size: after our restart, or a checkpoint a
// monitor brought it) is answered at once with a proof from that size.
// Cosignatures are kept in memory: after a restart the first round gets them
// again.
//
// Thread-safe. As a LogReader it forwards everything to `log` except
// SignedCheckpoint() and Size(), which are the published checkpoint's.
#ifndef CLOVER_LOG_WITNESS_CLIENT_H_
#define CLOVER_LOG_WITNESS_CLIENT_H_

#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "log/fetch.h"
#include "log/log_reader.h"
#include "log/note.h"

namespace clover::log {

// Checks that `note` carries valid cosignatures by at least `quorum` of
// `witnesses` (distinct keys; a witness key given twice counts once). Returns
// how many verified. Errors: InvalidArgument if `quorum` is 0 or more than the
// distinct witnesses; Unauthenticated, naming the count and the missing
// witnesses, when fewer verify.
[[nodiscard]] absl::StatusOr<size_t> CheckWitnessQuorum(
    absl::string_view note, std::span<const NoteVerifier* const> witnesses,
    size_t quorum);

// What a witness's answer to add-checkpoint means for `note`.
struct WitnessAnswer {
  enum class Kind {
    kCosigned,      // 200 with at least one cosignature valid for `witness`
    kSize,          // 409 text/x.tlog.size: the witness holds `size`
    kRootConflict,  // 409 otherwise: another root at the checkpoint's size
    kRefused,       // anything else, a 200 without a valid cosignature included
  };
  Kind kind = Kind::kRefused;
  std::vector<NoteSignature> cosignatures;  // kCosigned: verified ones only
  uint64_t size = 0;                        // kSize
  std::string detail;  // kRefused: printable ASCII, at most 200 characters
};
[[nodiscard]] WitnessAnswer ReadWitnessAnswer(const PostResponse& answer,
                                              absl::string_view note,
                                              const NoteVerifier& witness);

struct WitnessEndpoint {
  std::string url;           // submission prefix: POST <url>/add-checkpoint
  std::string verifier_key;  // note verifier key of its cosignatures (0x04)
};

struct WitnessingOptions {
  std::vector<WitnessEndpoint> witnesses;
  // Rounds also start this often without a Notify (a safety net).
  absl::Duration poll_interval = absl::Seconds(1);
  absl::Duration min_backoff = absl::Seconds(1);
  absl::Duration max_backoff = absl::Minutes(1);
  Poster post;  // null: HttpPoster with a 5 s timeout
};

class CheckpointWitnessing final : public LogReader {
 public:
  // Starts the thread. `log` must outlive this object. Errors:
  // InvalidArgument for no witnesses, a bad verifier key (naming its url) or
  // a key that is not a cosignature key.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<CheckpointWitnessing>>
  Start(const LogReader& log, WitnessingOptions options);
  // Stops the thread (a round in progress finishes its current request).
  ~CheckpointWitnessing() override;

  // A new checkpoint may be out: start a round soon. Cheap, never blocks.
  void Notify();
  // Waits until a checkpoint of at least `size` is published. False on
  // timeout.
  [[nodiscard]] bool WaitPublished(uint64_t size, absl::Duration timeout) const;

  // LogReader.
  uint64_t Size() const override;
  std::string SignedCheckpoint() const override;
  absl::StatusOr<std::string> ReadTile(int level, uint64_t index,
                                       int width) const override {
    return log_.ReadTile(level, index, width);
  }
  absl::StatusOr<std::string> ReadEntryBundle(uint64_t index,
                                              int width) const override {
    return log_.ReadEntryBundle(index, width);
  }
  absl::StatusOr<std::string> ReadEntry(uint64_t index) const override {
    return log_.ReadEntry(index);
  }
  absl::StatusOr<std::vector<Hash>> InclusionProof(
      uint64_t index, uint64_t size) const override {
    return log_.InclusionProof(index, size);
  }
  absl::StatusOr<std::vector<Hash>> ConsistencyProof(
      uint64_t from, uint64_t to) const override {
    return log_.ConsistencyProof(from, to);
  }

 private:
  struct Witness {
    WitnessEndpoint endpoint;
    std::unique_ptr<NoteVerifier> verifier;
    bool size_known = false;
    uint64_t size = 0;  // the witness's latest cosigned size, when known
    absl::Duration backoff;
    absl::Time retry_at = absl::InfinitePast();
    bool failing = false;  // logged once per outage
  };
  CheckpointWitnessing(const LogReader& log, WitnessingOptions options);
  void Run();
  void Round();
  // Sends `note` (size `size`) to `w`; returns its verified cosignatures.
  absl::StatusOr<std::vector<NoteSignature>> Push(Witness& w,
                                                  const std::string& note,
                                                  uint64_t size);

  const LogReader& log_;
  WitnessingOptions options_;
  std::vector<Witness> witnesses_;  // owned by the thread after Start

  mutable absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool notified_ ABSL_GUARDED_BY(mu_) = false;
  bool published_any_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t published_size_ ABSL_GUARDED_BY(mu_) = 0;
  std::string published_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace clover::log

#endif  // CLOVER_LOG_WITNESS_CLIENT_H_
