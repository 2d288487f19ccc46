#include "log/tile_tree.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace clover::log {

absl::StatusOr<TileTree> TileTree::FromBytes(absl::string_view tile,
                                             MerkleHasher& hasher) {
  if (tile.size() % kHashSize != 0 || tile.size() > kTileWidth * kHashSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("tile of ", tile.size(),
                     " bytes is not a whole number of up to 256 hashes"));
  }
  TileTree t;
  const size_t n = tile.size() / kHashSize;
  t.nodes_[0].reserve(n);
  for (size_t i = 0; i < n; ++i) {
    Hash h;
    std::memcpy(h.data(), tile.data() + i * kHashSize, kHashSize);
    t.Append(h, hasher);
  }
  return t;
}

void TileTree::Append(const Hash& hash, MerkleHasher& hasher) {
  nodes_[0].push_back(hash);
  for (int s = 0; s < kTileHeight && nodes_[s].size() % 2 == 0; ++s) {
    const auto& v = nodes_[s];
    nodes_[s + 1].push_back(hasher.Node(v[v.size() - 2], v[v.size() - 1]));
  }
}

void TileTree::Clear() {
  for (auto& v : nodes_) v.clear();
}

std::string TileTree::Serialize(int width) const {
  std::string out(static_cast<size_t>(width) * kHashSize, '\0');
  for (int i = 0; i < width; ++i) {
    std::memcpy(out.data() + i * kHashSize, nodes_[0][i].data(), kHashSize);
  }
  return out;
}

}  // namespace clover::log
