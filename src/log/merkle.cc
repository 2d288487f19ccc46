#include "log/merkle.h"

#include <bit>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "core/status_macros.h"

namespace clover::log {

Hash MerkleHasher::Leaf(absl::string_view entry) {
  sha_.Update(static_cast<uint8_t>(0x00));
  sha_.Update(entry);
  return sha_.Finish();
}

Hash MerkleHasher::Node(const Hash& left, const Hash& right) {
  uint8_t buf[1 + 2 * kHashSize];
  buf[0] = 0x01;
  std::copy(left.begin(), left.end(), buf + 1);
  std::copy(right.begin(), right.end(), buf + 1 + kHashSize);
  sha_.Update(buf, sizeof(buf));
  return sha_.Finish();
}

Hash LeafHash(absl::string_view entry) {
  thread_local MerkleHasher hasher;
  return hasher.Leaf(entry);
}

Hash NodeHash(const Hash& left, const Hash& right) {
  thread_local MerkleHasher hasher;
  return hasher.Node(left, right);
}

Hash EmptyRootHash() { return crypto::Sha256(absl::string_view()); }

uint64_t SplitPoint(uint64_t n) { return std::bit_floor(n - 1); }

void RootAccumulator::AppendLeafHash(const Hash& leaf_hash) {
  stack_.push_back(leaf_hash);
  // Merge while the newest subtrees have equal size: one merge per trailing
  // 1-bit of size_.
  for (uint64_t s = size_; s & 1; s >>= 1) {
    Hash right = stack_.back();
    stack_.pop_back();
    stack_.back() = hasher_.Node(stack_.back(), right);
  }
  ++size_;
}

Hash RootAccumulator::Root() {
  if (stack_.empty()) return EmptyRootHash();
  Hash acc = stack_.back();
  for (size_t i = stack_.size() - 1; i-- > 0;)
    acc = hasher_.Node(stack_[i], acc);
  return acc;
}

Hash RootFromLeafHashes(std::span<const Hash> leaf_hashes) {
  RootAccumulator acc;
  for (const Hash& h : leaf_hashes) acc.AppendLeafHash(h);
  return acc.Root();
}

absl::StatusOr<Hash> RangeHash(uint64_t begin, uint64_t end,
                               const HashReader& read) {
  if (begin >= end) return absl::InvalidArgumentError("empty Merkle range");
  const uint64_t n = end - begin;
  if (std::has_single_bit(n) && begin % n == 0) {
    return read(std::countr_zero(n), begin / n);
  }
  const uint64_t k = SplitPoint(n);
  CLOVER_ASSIGN_OR_RETURN(Hash left, RangeHash(begin, begin + k, read));
  CLOVER_ASSIGN_OR_RETURN(Hash right, RangeHash(begin + k, end, read));
  return NodeHash(left, right);
}

namespace {

absl::Status Path(uint64_t m, uint64_t lo, uint64_t hi, const HashReader& read,
                  std::vector<Hash>& out) {
  if (hi - lo <= 1) return absl::OkStatus();
  const uint64_t k = SplitPoint(hi - lo);
  if (m < lo + k) {
    CLOVER_RETURN_IF_ERROR(Path(m, lo, lo + k, read, out));
    CLOVER_ASSIGN_OR_RETURN(Hash h, RangeHash(lo + k, hi, read));
    out.push_back(h);
  } else {
    CLOVER_RETURN_IF_ERROR(Path(m, lo + k, hi, read, out));
    CLOVER_ASSIGN_OR_RETURN(Hash h, RangeHash(lo, lo + k, read));
    out.push_back(h);
  }
  return absl::OkStatus();
}

absl::Status SubProof(uint64_t m, uint64_t lo, uint64_t hi, bool complete,
                      const HashReader& read, std::vector<Hash>& out) {
  const uint64_t n = hi - lo;
  if (m == n) {
    if (!complete) {
      CLOVER_ASSIGN_OR_RETURN(Hash h, RangeHash(lo, hi, read));
      out.push_back(h);
    }
    return absl::OkStatus();
  }
  const uint64_t k = SplitPoint(n);
  if (m <= k) {
    CLOVER_RETURN_IF_ERROR(SubProof(m, lo, lo + k, complete, read, out));
    CLOVER_ASSIGN_OR_RETURN(Hash h, RangeHash(lo + k, hi, read));
    out.push_back(h);
  } else {
    CLOVER_RETURN_IF_ERROR(SubProof(m - k, lo + k, hi, false, read, out));
    CLOVER_ASSIGN_OR_RETURN(Hash h, RangeHash(lo, lo + k, read));
    out.push_back(h);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<Hash>> InclusionProof(uint64_t index, uint64_t size,
                                                 const HashReader& read) {
  if (index >= size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "inclusion proof: index ", index, " is not below tree size ", size));
  }
  std::vector<Hash> out;
  out.reserve(64);
  CLOVER_RETURN_IF_ERROR(Path(index, 0, size, read, out));
  return out;
}

absl::StatusOr<std::vector<Hash>> ConsistencyProof(uint64_t from, uint64_t to,
                                                   const HashReader& read) {
  if (from > to) {
    return absl::InvalidArgumentError(absl::StrCat(
        "consistency proof: from ", from, " is larger than to ", to));
  }
  std::vector<Hash> out;
  if (from == 0 || from == to) return out;
  out.reserve(64);
  CLOVER_RETURN_IF_ERROR(SubProof(from, 0, to, true, read, out));
  return out;
}

absl::StatusOr<Hash> RootFromInclusionProof(uint64_t index, uint64_t size,
                                            const Hash& leaf_hash,
                                            std::span<const Hash> proof) {
  if (index >= size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "inclusion proof: index ", index, " is not below tree size ", size));
  }
  // The expected length is fixed by (index, size); checking it first rejects
  // padded or truncated proofs before any hashing.
  const uint64_t last = size - 1;
  const int inner = std::bit_width(index ^ last);
  // index >> 64 is undefined; inner is 64 only for trees above 2^63 leaves.
  const int border = inner >= 64 ? 0 : std::popcount(index >> inner);
  if (proof.size() != static_cast<size_t>(inner + border)) {
    return absl::InvalidArgumentError(
        absl::StrCat("inclusion proof has ", proof.size(), " hashes, expected ",
                     inner + border));
  }
  MerkleHasher hasher;
  uint64_t fn = index;
  uint64_t sn = last;
  Hash r = leaf_hash;
  for (const Hash& p : proof) {
    if (sn == 0) return absl::InvalidArgumentError("inclusion proof too long");
    if ((fn & 1) || fn == sn) {
      r = hasher.Node(p, r);
      if (!(fn & 1)) {
        while (!(fn & 1) && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = hasher.Node(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return absl::InvalidArgumentError("inclusion proof too short");
  return r;
}

absl::Status VerifyInclusion(uint64_t index, uint64_t size,
                             const Hash& leaf_hash, std::span<const Hash> proof,
                             const Hash& root) {
  CLOVER_ASSIGN_OR_RETURN(
      Hash computed, RootFromInclusionProof(index, size, leaf_hash, proof));
  if (computed != root) {
    return absl::DataLossError(absl::StrCat("inclusion proof for index ", index,
                                            " does not match the root of size ",
                                            size));
  }
  return absl::OkStatus();
}

absl::Status VerifyConsistency(uint64_t from, uint64_t to,
                               const Hash& from_root, const Hash& to_root,
                               std::span<const Hash> proof) {
  if (from > to) {
    return absl::InvalidArgumentError(
        absl::StrCat("consistency: from ", from, " is larger than to ", to));
  }
  if (from == to) {
    if (!proof.empty())
      return absl::InvalidArgumentError("consistency proof must be empty");
    if (from_root != to_root) {
      return absl::DataLossError(
          absl::StrCat("two different roots for the same tree size ", from));
    }
    return absl::OkStatus();
  }
  if (from == 0) {
    if (!proof.empty())
      return absl::InvalidArgumentError("consistency proof must be empty");
    return absl::OkStatus();
  }
  if (proof.empty())
    return absl::InvalidArgumentError("consistency proof is empty");
  std::vector<Hash> path;
  path.reserve(proof.size() + 1);
  if (std::has_single_bit(from)) path.push_back(from_root);
  path.insert(path.end(), proof.begin(), proof.end());

  uint64_t fn = from - 1;
  uint64_t sn = to - 1;
  while (fn & 1) {
    fn >>= 1;
    sn >>= 1;
  }
  MerkleHasher hasher;
  Hash fr = path[0];
  Hash sr = path[0];
  for (size_t i = 1; i < path.size(); ++i) {
    const Hash& c = path[i];
    if (sn == 0)
      return absl::InvalidArgumentError("consistency proof too long");
    if ((fn & 1) || fn == sn) {
      fr = hasher.Node(c, fr);
      sr = hasher.Node(c, sr);
      if (!(fn & 1)) {
        while (!(fn & 1) && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      sr = hasher.Node(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return absl::InvalidArgumentError("consistency proof too short");
  if (fr != from_root || sr != to_root) {
    return absl::DataLossError(absl::StrCat("consistency proof from size ",
                                            from, " to ", to,
                                            " does not match the roots"));
  }
  return absl::OkStatus();
}

}  // namespace clover::log
