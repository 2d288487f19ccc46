// Fuzzes the RFC 9162 proof verifiers. Mode 0 feeds arbitrary bytes as (index,
// size, leaf, root, proof); the verifiers must not crash. Mode 1 builds a real
// tree of up to 300 leaves, generates a real proof, optionally flips one bit
// chosen by the input, and requires that verification succeeds exactly when
// nothing was flipped.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "log/merkle.h"

namespace {

using namespace clover::log;

uint64_t Take64(const uint8_t*& p, size_t& n) {
  uint64_t v = 0;
  for (int i = 0; i < 8 && n > 0; ++i, ++p, --n) v = (v << 8) | *p;
  return v;
}

Hash TakeHash(const uint8_t*& p, size_t& n) {
  Hash h{};
  const size_t k = n < kHashSize ? n : kHashSize;
  std::memcpy(h.data(), p, k);
  p += k;
  n -= k;
  return h;
}

const std::vector<Hash>& Leaves() {
  static const auto* leaves = [] {
    auto* v = new std::vector<Hash>;
    for (int i = 0; i < 300; ++i) v->push_back(LeafHash(std::to_string(i)));
    return v;
  }();
  return *leaves;
}

HashReader Reader() {
  return [](int level, uint64_t index) -> absl::StatusOr<Hash> {
    const uint64_t lo = index << level, hi = (index + 1) << level;
    if (hi > Leaves().size()) return absl::OutOfRangeError("beyond");
    return RootFromLeafHashes(std::span(Leaves()).subspan(lo, hi - lo));
  };
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t mode = data[0] % 2;
  const uint8_t* p = data + 1;
  size_t n = size - 1;
  if (mode == 0) {
    const uint64_t a = Take64(p, n), b = Take64(p, n);
    const Hash x = TakeHash(p, n), y = TakeHash(p, n);
    std::vector<Hash> proof;
    while (n >= kHashSize && proof.size() < 80) proof.push_back(TakeHash(p, n));
    (void)VerifyInclusion(a, b, x, proof, y);
    (void)VerifyConsistency(a, b, x, y, proof);
    return 0;
  }
  if (n < 6) return 0;
  const uint64_t tree = 1 + ((p[0] << 8 | p[1]) % 300);
  const uint64_t a = (p[2] << 8 | p[3]) % tree;
  const uint32_t flip = p[4] << 8 | p[5];
  const bool consistency = n > 6 && (p[6] & 1);
  const std::span<const Hash> leaves = Leaves();
  const Hash root = RootFromLeafHashes(leaves.first(tree));
  if (!consistency) {
    auto proof = InclusionProof(a, tree, Reader());
    if (!proof.ok()) std::abort();
    const bool flipped = !proof->empty() && flip < proof->size() * 256;
    if (flipped) (*proof)[flip / 256][(flip / 8) % 32] ^= 1 << (flip % 8);
    const bool ok = VerifyInclusion(a, tree, leaves[a], *proof, root).ok();
    if (ok == flipped) std::abort();
  } else {
    const uint64_t m = a + 1;  // 1..tree
    const Hash old_root = RootFromLeafHashes(leaves.first(m));
    auto proof = ConsistencyProof(m, tree, Reader());
    if (!proof.ok()) std::abort();
    const bool flipped = !proof->empty() && flip < proof->size() * 256;
    if (flipped) (*proof)[flip / 256][(flip / 8) % 32] ^= 1 << (flip % 8);
    const bool ok = VerifyConsistency(m, tree, old_root, root, *proof).ok();
    if (ok == flipped) std::abort();
  }
  return 0;
}
