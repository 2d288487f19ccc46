// The log's storage driver interface. Drivers only do I/O: they know nothing of
// Merkle trees. The sequencer keeps, per tile coordinate, only the latest
// (widest) version of a hash tile, since every narrower partial version is a
// prefix of it. Entry bundles are stored as append-only fragments, one per
// batch that added entries to the bundle, so that each entry is written once:
// a batch writes only its own entries, and a bundle that fills up is not
// written again whole. A full bundle is its fragments in offset order.
#ifndef CLOVER_LOG_STORAGE_H_
#define CLOVER_LOG_STORAGE_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace clover::log {

struct TileId {
  int level = 0;
  uint64_t index = 0;
};

// A fragment of a partial entry bundle: the entries of bundle `bundle` from
// position `offset` (0-255) on, as bundle bytes.
struct FragmentId {
  uint64_t bundle = 0;
  int offset = 0;
};

// Everything one sequencer batch changes; written atomically and durably.
// Deletions are applied before puts.
struct LogWriteBatch {
  std::vector<std::pair<TileId, std::string>>
      tiles;  // hash tiles (full or partial)
  // Whole entry bundles by index. Earlier versions stored every full bundle
  // this way; the sequencer now writes fragments only, and drivers still read
  // (and, for tests of old stores, write) whole bundles.
  std::vector<std::pair<uint64_t, std::string>> bundles;
  std::vector<std::pair<FragmentId, std::string>> fragments;
  // Fragments no longer needed (their bundle is now full). Deleting a
  // fragment that does not exist is not an error.
  std::vector<FragmentId> deleted_fragments;
  std::string checkpoint;  // the new signed checkpoint note
  std::string metadata;    // sequencer state record
};

// Implementations are thread-safe: reads may run concurrently with one writer.
class LogStorage {
 public:
  virtual ~LogStorage() = default;

  // Latest stored bytes of a hash tile / entry bundle. A bundle is the
  // concatenation of its fragments in offset order if it has any, else the
  // whole bundle stored under its index (by earlier versions). Errors:
  // NotFound if never written, Internal/DataLoss on I/O failure.
  [[nodiscard]] virtual absl::StatusOr<std::string> ReadTile(
      int level, uint64_t index) = 0;
  [[nodiscard]] virtual absl::StatusOr<std::string> ReadEntryBundle(
      uint64_t index) = 0;
  // The bytes of a bundle fragment. Errors: NotFound if never written (or
  // deleted), Internal/DataLoss on I/O failure.
  [[nodiscard]] virtual absl::StatusOr<std::string> ReadBundleFragment(
      const FragmentId& id) = 0;
  // Errors: NotFound for a new, empty store.
  [[nodiscard]] virtual absl::StatusOr<std::string> ReadCheckpoint() = 0;
  [[nodiscard]] virtual absl::StatusOr<std::string> ReadMetadata() = 0;

  // Applies `batch` atomically (all or nothing) and returns only once it is
  // durable (fsync'ed). Errors: FailedPrecondition for a read-only store,
  // InvalidArgument for a coordinate out of range, Internal on I/O failure;
  // after an error the store's state is the one before the call.
  [[nodiscard]] virtual absl::Status Write(const LogWriteBatch& batch) = 0;
};

}  // namespace clover::log

#endif  // CLOVER_LOG_STORAGE_H_
