// Every complete Merkle node inside one tile: the tile's hashes (sublevel 0)
// and the nodes above them up to the tile root (sublevel 8, present only when
// the tile is full). Both the sequencer (for the tree's right edge and its tile
// cache) and the client (for fetched tiles) compute proofs from these.
#ifndef CLOVER_LOG_TILE_TREE_H_
#define CLOVER_LOG_TILE_TREE_H_

#include <array>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "log/merkle.h"
#include "log/tile.h"

namespace clover::log {

// Not thread-safe for writes; const access is safe from many threads.
class TileTree {
 public:
  TileTree() = default;

  // Builds from serialized tile bytes (a multiple of 32 bytes, at most 256
  // hashes). Errors: InvalidArgument on a bad length.
  [[nodiscard]] static absl::StatusOr<TileTree> FromBytes(
      absl::string_view tile, MerkleHasher& hasher);

  // Adds the next hash at sublevel 0 and every node it completes (amortized one
  // hash). Requires width() < 256.
  void Append(const Hash& hash, MerkleHasher& hasher);
  void Clear();

  [[nodiscard]] int width() const { return static_cast<int>(nodes_[0].size()); }
  [[nodiscard]] bool full() const { return width() == kTileWidth; }
  // The tile root; requires full().
  [[nodiscard]] const Hash& Root() const { return nodes_[kTileHeight][0]; }
  // Node at `sublevel` (0..7) and position `i` within the tile, or nullptr if
  // absent.
  [[nodiscard]] const Hash* Node(int sublevel, uint64_t i) const {
    const auto& v = nodes_[sublevel];
    return i < v.size() ? &v[i] : nullptr;
  }
  [[nodiscard]] std::span<const Hash> Nodes(int sublevel) const {
    return nodes_[sublevel];
  }
  // The tile resource bytes for the first `width` hashes (width <= width()).
  [[nodiscard]] std::string Serialize(int width) const;
  [[nodiscard]] std::string Serialize() const { return Serialize(width()); }

 private:
  std::array<std::vector<Hash>, kTileHeight + 1> nodes_;
};

}  // namespace clover::log

#endif  // CLOVER_LOG_TILE_TREE_H_
