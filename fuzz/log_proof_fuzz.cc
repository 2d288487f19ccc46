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

constexpr uint64_t kLeaves = 300;

// Every complete subtree hash and every prefix root of a fixed 300-leaf tree,
// computed once so that each execution only generates and checks one proof.
struct Reference {
  std::vector<std::vector<Hash>>
      levels;               // levels[h][i] = hash of leaves [i*2^h, (i+1)*2^h)
  std::vector<Hash> roots;  // roots[n] = MTH of the first n leaves
  Reference() {
    levels.emplace_back();
    for (uint64_t i = 0; i < kLeaves; ++i)
      levels[0].push_back(LeafHash(std::to_string(i)));
    while (levels.back().size() > 1) {
      const auto& prev = levels.back();
      std::vector<Hash> next;
      for (size_t i = 0; i + 1 < prev.size(); i += 2)
        next.push_back(NodeHash(prev[i], prev[i + 1]));
      levels.push_back(std::move(next));
    }
    RootAccumulator acc;
    roots.push_back(acc.Root());
    for (const Hash& h : levels[0]) {
      acc.AppendLeafHash(h);
      roots.push_back(acc.Root());
    }
  }
};

const Reference& Ref() {
  static const Reference* ref = new Reference();
  return *ref;
}

HashReader Reader() {
  return [](int level, uint64_t index) -> absl::StatusOr<Hash> {
    const auto& levels = Ref().levels;
    if (static_cast<size_t>(level) >= levels.size() ||
        index >= levels[level].size()) {
      return absl::OutOfRangeError("beyond");
    }
    return levels[level][index];
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
  const std::vector<Hash>& leaves = Ref().levels[0];
  const Hash root = Ref().roots[tree];
  if (!consistency) {
    auto proof = InclusionProof(a, tree, Reader());
    if (!proof.ok()) std::abort();
    const bool flipped = !proof->empty() && flip < proof->size() * 256;
    if (flipped) (*proof)[flip / 256][(flip / 8) % 32] ^= 1 << (flip % 8);
    const bool ok = VerifyInclusion(a, tree, leaves[a], *proof, root).ok();
    if (ok == flipped) std::abort();
  } else {
    const uint64_t m = a + 1;  // 1..tree
    const Hash old_root = Ref().roots[m];
    auto proof = ConsistencyProof(m, tree, Reader());
    if (!proof.ok()) std::abort();
    const bool flipped = !proof->empty() && flip < proof->size() * 256;
    if (flipped) (*proof)[flip / 256][(flip / 8) % 32] ^= 1 << (flip % 8);
    const bool ok = VerifyConsistency(m, tree, old_root, root, *proof).ok();
    if (ok == flipped) std::abort();
  }
  return 0;
}
