#include "audit/hash_tree.h"

#include "absl/strings/str_cat.h"

namespace clover::audit {

void HashTree::Append(const log::Hash& leaf_hash) {
  if (levels_.empty()) levels_.emplace_back();
  levels_[0].push_back(leaf_hash);
  for (size_t k = 0; levels_[k].size() % 2 == 0; ++k) {
    if (k + 1 == levels_.size()) levels_.emplace_back();
    const auto& lv = levels_[k];
    levels_[k + 1].push_back(
        hasher_.Node(lv[lv.size() - 2], lv[lv.size() - 1]));
  }
}

void HashTree::Truncate(uint64_t size) {
  if (size >= this->size()) return;
  for (size_t k = 0; k < levels_.size(); ++k) levels_[k].resize(size >> k);
}

log::HashReader HashTree::Reader() const {
  return [this](int level, uint64_t index) -> absl::StatusOr<log::Hash> {
    if (level < 0 || static_cast<size_t>(level) >= levels_.size() ||
        index >= levels_[level].size()) {
      return absl::OutOfRangeError(
          absl::StrCat("no subtree at level ", level, " index ", index));
    }
    return levels_[level][index];
  };
}

absl::StatusOr<log::Hash> HashTree::Root(uint64_t size) const {
  if (size > this->size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tree size ", size, " beyond the ", this->size(), " leaves held"));
  }
  if (size == 0) return log::EmptyRootHash();
  return log::RangeHash(0, size, Reader());
}

absl::StatusOr<std::vector<log::Hash>> HashTree::InclusionProof(
    uint64_t index, uint64_t size) const {
  if (size > this->size())
    return absl::InvalidArgumentError("proof size beyond the tree");
  return log::InclusionProof(index, size, Reader());
}

absl::StatusOr<std::vector<log::Hash>> HashTree::ConsistencyProof(
    uint64_t from, uint64_t to) const {
  if (to > this->size())
    return absl::InvalidArgumentError("proof size beyond the tree");
  return log::ConsistencyProof(from, to, Reader());
}

}  // namespace clover::audit
