// RFC 6962 / RFC 9162 Merkle tree math, written once and shared by the
// sequencer, the client verifier and the auditor. Pure functions: no I/O, no
// global state.
#ifndef CLOVER_LOG_MERKLE_H_
#define CLOVER_LOG_MERKLE_H_

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "crypto/sha256.h"

namespace clover::log {

using Hash = crypto::Sha256Digest;
inline constexpr size_t kHashSize = crypto::kSha256Size;

// RFC 6962 §2.1 hashing with one reusable SHA-256 context (no allocation per
// hash). Not thread-safe: use one per thread.
class MerkleHasher {
 public:
  // SHA-256(0x00 || entry).
  [[nodiscard]] Hash Leaf(absl::string_view entry);
  // SHA-256(0x01 || left || right).
  [[nodiscard]] Hash Node(const Hash& left, const Hash& right);

 private:
  crypto::Sha256Hasher sha_;
};

// Thread-safe one-shot variants.
[[nodiscard]] Hash LeafHash(absl::string_view entry);
[[nodiscard]] Hash NodeHash(const Hash& left, const Hash& right);
// MTH({}) = SHA-256("").
[[nodiscard]] Hash EmptyRootHash();
// MTH of the leaves whose leaf hashes are given, in O(n) hashes.
[[nodiscard]] Hash RootFromLeafHashes(std::span<const Hash> leaf_hashes);

// Largest power of two strictly less than n (n >= 2).
[[nodiscard]] uint64_t SplitPoint(uint64_t n);

// Streaming root computation over a growing list of leaves (a compact range).
// Memory is O(log n). Not thread-safe.
class RootAccumulator {
 public:
  void AppendLeafHash(const Hash& leaf_hash);
  [[nodiscard]] uint64_t size() const { return size_; }
  // MTH of everything appended so far.
  [[nodiscard]] Hash Root();

 private:
  MerkleHasher hasher_;
  std::vector<Hash> stack_;  // maximal complete subtrees, left to right
  uint64_t size_ = 0;
};

// Returns the hash of the complete subtree of height `level` at position
// `index`, that is MTH(D[index * 2^level : (index + 1) * 2^level]). Errors are
// propagated unchanged.
using HashReader =
    std::function<absl::StatusOr<Hash>(int level, uint64_t index)>;

// MTH(D[begin:end]) for begin < end, reading O(log n) complete subtrees.
[[nodiscard]] absl::StatusOr<Hash> RangeHash(uint64_t begin, uint64_t end,
                                             const HashReader& read);

// RFC 6962 §2.1.1 audit path for leaf `index` in the tree of `size` leaves.
// Errors: InvalidArgument unless index < size; errors of `read`.
[[nodiscard]] absl::StatusOr<std::vector<Hash>> InclusionProof(
    uint64_t index, uint64_t size, const HashReader& read);

// RFC 6962 §2.1.2 consistency proof between sizes `from` <= `to` (empty if from
// == 0 or from == to). Errors: InvalidArgument if from > to; errors of `read`.
[[nodiscard]] absl::StatusOr<std::vector<Hash>> ConsistencyProof(
    uint64_t from, uint64_t to, const HashReader& read);

// RFC 9162 §2.1.3.2: the root implied by an inclusion proof.
// Errors: InvalidArgument if index >= size or the proof has the wrong length.
[[nodiscard]] absl::StatusOr<Hash> RootFromInclusionProof(
    uint64_t index, uint64_t size, const Hash& leaf_hash,
    std::span<const Hash> proof);

// OK iff `proof` proves leaf `leaf_hash` at `index` in the tree of `size` with
// `root`. Errors: InvalidArgument for malformed input, DataLoss("root
// mismatch") otherwise.
[[nodiscard]] absl::Status VerifyInclusion(uint64_t index, uint64_t size,
                                           const Hash& leaf_hash,
                                           std::span<const Hash> proof,
                                           const Hash& root);

// RFC 9162 §2.1.4.2: OK iff the tree of size `to` with `to_root` extends the
// tree of size `from` with `from_root`. A tree of size 0 is consistent with any
// tree (empty proof). Errors: InvalidArgument for malformed input, DataLoss for
// a proof that does not verify.
[[nodiscard]] absl::Status VerifyConsistency(uint64_t from, uint64_t to,
                                             const Hash& from_root,
                                             const Hash& to_root,
                                             std::span<const Hash> proof);

}  // namespace clover::log

#endif  // CLOVER_LOG_MERKLE_H_
