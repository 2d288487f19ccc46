// An in-memory RFC 6962 Merkle tree over the leaf hashes of a followed log:
// every complete subtree hash is kept, so roots, inclusion proofs and
// consistency proofs for any earlier size cost O(log n) lookups. Memory: about
// 64 bytes per entry. The math is log/merkle.h's.
//
// Not thread-safe.
#ifndef CLOVER_AUDIT_HASH_TREE_H_
#define CLOVER_AUDIT_HASH_TREE_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "log/merkle.h"

namespace clover::audit {

class HashTree {
 public:
  void Append(const log::Hash& leaf_hash);
  // Drops leaves beyond `size` (no-op if size >= this->size()).
  void Truncate(uint64_t size);
  [[nodiscard]] uint64_t size() const {
    return levels_.empty() ? 0 : levels_[0].size();
  }
  [[nodiscard]] const log::Hash& leaf(uint64_t i) const {
    return levels_[0][i];
  }

  // The hash of the complete subtree of height `height` at `index` (the
  // leaves index * 2^height up to (index + 1) * 2^height), or nullptr if the
  // tree does not hold it.
  [[nodiscard]] const log::Hash* Subtree(int height, uint64_t index) const {
    if (height < 0 || static_cast<size_t>(height) >= levels_.size() ||
        index >= levels_[height].size()) {
      return nullptr;
    }
    return &levels_[height][index];
  }

  // MTH of the first `size` leaves. Errors: InvalidArgument if size >
  // this->size().
  [[nodiscard]] absl::StatusOr<log::Hash> Root(uint64_t size) const;
  [[nodiscard]] absl::StatusOr<std::vector<log::Hash>> InclusionProof(
      uint64_t index, uint64_t size) const;
  [[nodiscard]] absl::StatusOr<std::vector<log::Hash>> ConsistencyProof(
      uint64_t from, uint64_t to) const;

 private:
  log::HashReader Reader() const;
  log::MerkleHasher hasher_;
  std::vector<std::vector<log::Hash>> levels_;
};

}  // namespace clover::audit

#endif  // CLOVER_AUDIT_HASH_TREE_H_
