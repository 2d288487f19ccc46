// Read access to a log, as served over HTTP and used for proofs. Implemented by
// the Sequencer (which also serves read-only logs).
#ifndef CLOVER_LOG_LOG_READER_H_
#define CLOVER_LOG_LOG_READER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "log/merkle.h"

namespace clover::log {

// Thread-safe: all methods may be called concurrently with appends.
class LogReader {
 public:
  virtual ~LogReader() = default;

  // Size of the tree of the latest published checkpoint.
  [[nodiscard]] virtual uint64_t Size() const = 0;
  // The latest published signed checkpoint note.
  [[nodiscard]] virtual std::string SignedCheckpoint() const = 0;

  // Hash tile bytes (width hashes; 256 for a full tile) as of the published
  // tree. A partial width is served whenever that many hashes exist, also from
  // a tile that is now full. Errors: NotFound if the tree does not (yet) have
  // them; Internal/DataLoss on I/O.
  [[nodiscard]] virtual absl::StatusOr<std::string> ReadTile(
      int level, uint64_t index, int width) const = 0;
  // Entry bundle bytes holding `width` entries. Errors as for ReadTile.
  [[nodiscard]] virtual absl::StatusOr<std::string> ReadEntryBundle(
      uint64_t index, int width) const = 0;
  // The entry at `index`. Errors: NotFound if index >= Size().
  [[nodiscard]] virtual absl::StatusOr<std::string> ReadEntry(
      uint64_t index) const = 0;

  // Errors: InvalidArgument unless index < size <= Size().
  [[nodiscard]] virtual absl::StatusOr<std::vector<Hash>> InclusionProof(
      uint64_t index, uint64_t size) const = 0;
  // Errors: InvalidArgument unless from <= to <= Size().
  [[nodiscard]] virtual absl::StatusOr<std::vector<Hash>> ConsistencyProof(
      uint64_t from, uint64_t to) const = 0;
};

}  // namespace clover::log

#endif  // CLOVER_LOG_LOG_READER_H_
