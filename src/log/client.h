// The log client/verifier: trusts nothing the server says unless it verifies
// against a checkpoint signed by a configured key. Fetching is injected (see
// log/fetch.h), so the same code verifies over HTTP, from files or in-process.
#ifndef CLOVER_LOG_CLIENT_H_
#define CLOVER_LOG_CLIENT_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "log/checkpoint.h"
#include "log/fetch.h"
#include "log/note.h"
#include "log/tile_tree.h"

namespace clover::log {

struct VerifiedCheckpoint {
  Checkpoint checkpoint;
  std::string note;  // the signed note as received
};

// Not thread-safe (keeps a small tile cache); use one per thread.
class LogClient {
 public:
  // `origin`: the expected checkpoint origin (empty: the first verifier's
  // name). Errors: InvalidArgument without verifiers.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<LogClient>> Create(
      Fetcher fetch, std::vector<std::unique_ptr<NoteVerifier>> verifiers,
      std::string origin = "");

  // Fetches `checkpoint` and verifies signature and origin.
  // Errors: fetch errors; InvalidArgument/Unauthenticated for a bad note.
  [[nodiscard]] absl::StatusOr<VerifiedCheckpoint> FetchCheckpoint();
  // Verifies a checkpoint note obtained elsewhere (e.g. a state file).
  [[nodiscard]] absl::StatusOr<VerifiedCheckpoint> OpenCheckpointNote(
      absl::string_view note) const;

  // Proves from the log's tiles that `entry` is at `index` in `checkpoint`'s
  // tree. Errors: InvalidArgument if index >= size; DataLoss if the proof
  // fails; fetch errors.
  [[nodiscard]] absl::Status VerifyInclusion(const Checkpoint& checkpoint,
                                             uint64_t index,
                                             absl::string_view entry);
  // Fetches entry `index` from its bundle and proves its inclusion.
  [[nodiscard]] absl::StatusOr<std::string> FetchEntry(
      const Checkpoint& checkpoint, uint64_t index);
  // Proves from the tiles of `newer` that it extends `older`.
  // Errors: DataLoss (with "split view") if it does not or if newer is smaller.
  [[nodiscard]] absl::Status VerifyConsistency(const Checkpoint& older,
                                               const Checkpoint& newer);
  // Downloads every entry bundle, re-hashes all entries and checks they produce
  // the checkpoint's root. Returns the number of entries checked. Errors:
  // DataLoss on mismatch.
  [[nodiscard]] absl::StatusOr<uint64_t> VerifyAllEntries(
      const Checkpoint& checkpoint);

  [[nodiscard]] const std::string& origin() const { return origin_; }

 private:
  LogClient(Fetcher fetch, std::vector<std::unique_ptr<NoteVerifier>> verifiers,
            std::string origin);
  absl::StatusOr<Hash> ReadNode(uint64_t tree_size, int height, uint64_t index);

  Fetcher fetch_;
  std::vector<std::unique_ptr<NoteVerifier>> verifiers_;
  std::vector<const NoteVerifier*> verifier_ptrs_;
  std::string origin_;
  MerkleHasher hasher_;
  std::map<std::tuple<int, uint64_t, int>, TileTree>
      tiles_;  // (level, index, width)
};

// Fetches the latest checkpoint, checks it is consistent with the last verified
// one saved in `state_file` (if any), and saves it there (atomically). Fails
// loudly with DataLoss
// ("split view") if the tree shrank or forked. An empty `state_file` skips
// persistence.
[[nodiscard]] absl::StatusOr<VerifiedCheckpoint> UpdateTrustedCheckpoint(
    LogClient& client, const std::string& state_file);

}  // namespace clover::log

#endif  // CLOVER_LOG_CLIENT_H_
