#include "log/merkle.h"

#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"

namespace clover::log {
namespace {

std::string Hex(const Hash& h) {
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(h.data()), h.size()));
}

// RFC 6962 reference tree built straight from the definitions in §2.1, memoized
// so that every (index, size) pair up to 1100 leaves stays affordable.
class ReferenceTree {
 public:
  explicit ReferenceTree(size_t n) {
    for (size_t i = 0; i < n; ++i)
      leaves_.push_back(LeafHash("entry " + std::to_string(i)));
  }
  Hash Mth(uint64_t lo, uint64_t hi) {
    if (hi - lo == 1) return leaves_[lo];
    auto key = std::make_pair(lo, hi);
    auto it = memo_.find(key);
    if (it != memo_.end()) return it->second;
    uint64_t k = 1;
    while (k * 2 < hi - lo) k *= 2;
    Hash h = NodeHash(Mth(lo, lo + k), Mth(lo + k, hi));
    memo_[key] = h;
    return h;
  }
  Hash Root(uint64_t n) { return n == 0 ? EmptyRootHash() : Mth(0, n); }
  // PATH(m, D[lo:hi]) per RFC 6962 §2.1.1.
  std::vector<Hash> Path(uint64_t m, uint64_t lo, uint64_t hi) {
    if (hi - lo <= 1) return {};
    uint64_t k = 1;
    while (k * 2 < hi - lo) k *= 2;
    std::vector<Hash> out;
    if (m < k) {
      out = Path(m, lo, lo + k);
      out.push_back(Mth(lo + k, hi));
    } else {
      out = Path(m - k, lo + k, hi);
      out.push_back(Mth(lo, lo + k));
    }
    return out;
  }
  // SUBPROOF(m, D[lo:hi], b) per RFC 6962 §2.1.2.
  std::vector<Hash> SubProof(uint64_t m, uint64_t lo, uint64_t hi, bool b) {
    const uint64_t n = hi - lo;
    if (m == n) return b ? std::vector<Hash>{} : std::vector<Hash>{Mth(lo, hi)};
    uint64_t k = 1;
    while (k * 2 < n) k *= 2;
    std::vector<Hash> out;
    if (m <= k) {
      out = SubProof(m, lo, lo + k, b);
      out.push_back(Mth(lo + k, hi));
    } else {
      out = SubProof(m - k, lo + k, hi, false);
      out.push_back(Mth(lo, lo + k));
    }
    return out;
  }
  HashReader Reader() {
    return [this](int level, uint64_t index) -> absl::StatusOr<Hash> {
      const uint64_t lo = index << level;
      const uint64_t hi = (index + 1) << level;
      if (hi > leaves_.size())
        return absl::OutOfRangeError("beyond reference tree");
      return Mth(lo, hi);
    };
  }
  const Hash& leaf(size_t i) const { return leaves_[i]; }

 private:
  std::vector<Hash> leaves_;
  std::map<std::pair<uint64_t, uint64_t>, Hash> memo_;
};

TEST(MerkleTest, Rfc6962Vectors) {
  // The test vectors of the RFC 6962 reference implementation
  // (certificate-transparency).
  const std::vector<std::string> inputs = {
      "",
      std::string("\x00", 1),
      "\x10",
      "\x20\x21",
      "\x30\x31",
      "\x40\x41\x42\x43",
      "\x50\x51\x52\x53\x54\x55\x56\x57",
      "\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f"};
  const char* roots[] = {
      "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
      "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
      "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
      "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
      "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
      "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
      "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"};
  EXPECT_EQ(Hex(EmptyRootHash()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  std::vector<Hash> leaves;
  for (size_t i = 0; i < inputs.size(); ++i) {
    leaves.push_back(LeafHash(inputs[i]));
    EXPECT_EQ(Hex(RootFromLeafHashes(leaves)), roots[i]) << "size " << i + 1;
  }
}

TEST(MerkleTest, HasherMatchesOneShot) {
  MerkleHasher h;
  EXPECT_EQ(h.Leaf("abc"), LeafHash("abc"));
  EXPECT_EQ(h.Node(LeafHash("a"), LeafHash("b")),
            NodeHash(LeafHash("a"), LeafHash("b")));
  EXPECT_NE(LeafHash("abc"), crypto::Sha256("abc"));  // domain separation
}

void CheckInclusion(ReferenceTree& ref, uint64_t index, uint64_t size) {
  auto proof = InclusionProof(index, size, ref.Reader());
  ASSERT_TRUE(proof.ok()) << proof.status();
  ASSERT_EQ(*proof, ref.Path(index, 0, size)) << index << "/" << size;
  const Hash root = ref.Root(size);
  ASSERT_TRUE(VerifyInclusion(index, size, ref.leaf(index), *proof, root).ok())
      << index << "/" << size;
  // Tampering with any hash, the leaf, the index, the size or the length must
  // fail.
  for (size_t i = 0; i < proof->size(); ++i) {
    auto bad = *proof;
    bad[i][i % kHashSize] ^= 1;
    ASSERT_FALSE(VerifyInclusion(index, size, ref.leaf(index), bad, root).ok());
  }
  Hash bad_leaf = ref.leaf(index);
  bad_leaf[0] ^= 0x80;
  ASSERT_FALSE(VerifyInclusion(index, size, bad_leaf, *proof, root).ok());
  if (size > 1) {
    ASSERT_FALSE(
        VerifyInclusion((index + 1) % size, size, ref.leaf(index), *proof, root)
            .ok());
  }
  auto longer = *proof;
  longer.push_back(root);
  ASSERT_FALSE(
      VerifyInclusion(index, size, ref.leaf(index), longer, root).ok());
  if (!proof->empty()) {
    auto shorter = *proof;
    shorter.pop_back();
    ASSERT_FALSE(
        VerifyInclusion(index, size, ref.leaf(index), shorter, root).ok());
  }
}

void CheckConsistency(ReferenceTree& ref, uint64_t m, uint64_t n) {
  auto proof = ConsistencyProof(m, n, ref.Reader());
  ASSERT_TRUE(proof.ok()) << proof.status();
  const std::vector<Hash> want =
      (m == 0 || m == n) ? std::vector<Hash>{} : ref.SubProof(m, 0, n, true);
  ASSERT_EQ(*proof, want) << m << "->" << n;
  const Hash root_m = ref.Root(m);
  const Hash root_n = ref.Root(n);
  ASSERT_TRUE(VerifyConsistency(m, n, root_m, root_n, *proof).ok())
      << m << "->" << n;
  if (m == 0) return;
  for (size_t i = 0; i < proof->size(); ++i) {
    auto bad = *proof;
    bad[i][(i * 7) % kHashSize] ^= 4;
    ASSERT_FALSE(VerifyConsistency(m, n, root_m, root_n, bad).ok())
        << m << "->" << n;
  }
  Hash bad_root = root_n;
  bad_root[31] ^= 1;
  ASSERT_FALSE(VerifyConsistency(m, n, root_m, bad_root, *proof).ok());
  bad_root = root_m;
  bad_root[0] ^= 1;
  ASSERT_FALSE(VerifyConsistency(m, n, bad_root, root_n, *proof).ok());
  if (m < n) {
    auto longer = *proof;
    longer.push_back(root_n);
    ASSERT_FALSE(VerifyConsistency(m, n, root_m, root_n, longer).ok());
    auto shorter = *proof;
    shorter.pop_back();
    ASSERT_FALSE(VerifyConsistency(m, n, root_m, root_n, shorter).ok());
  }
}

TEST(MerkleTest, RootsMatchReferenceUpTo1100) {
  ReferenceTree ref(1100);
  RootAccumulator acc;
  EXPECT_EQ(acc.Root(), EmptyRootHash());
  for (uint64_t n = 1; n <= 1100; ++n) {
    acc.AppendLeafHash(ref.leaf(n - 1));
    ASSERT_EQ(acc.Root(), ref.Root(n)) << n;
    auto range = RangeHash(0, n, ref.Reader());
    ASSERT_TRUE(range.ok());
    ASSERT_EQ(*range, ref.Root(n));
  }
}

TEST(MerkleTest, AllProofsForSmallTrees) {
  ReferenceTree ref(64);
  for (uint64_t size = 1; size <= 64; ++size) {
    for (uint64_t index = 0; index < size; ++index)
      CheckInclusion(ref, index, size);
  }
  for (uint64_t n = 0; n <= 64; ++n) {
    for (uint64_t m = 0; m <= n; ++m) CheckConsistency(ref, m, n);
  }
}

TEST(MerkleTest, RandomProofsUpTo1100) {
  ReferenceTree ref(1100);
  std::mt19937_64 rng(42);
  for (uint64_t size = 65; size <= 1100; ++size) {
    for (int k = 0; k < 2; ++k) CheckInclusion(ref, rng() % size, size);
    CheckInclusion(ref, size - 1, size);
    for (int k = 0; k < 2; ++k) CheckConsistency(ref, rng() % (size + 1), size);
  }
}

TEST(MerkleTest, BadArguments) {
  ReferenceTree ref(8);
  EXPECT_FALSE(InclusionProof(3, 3, ref.Reader()).ok());
  EXPECT_FALSE(InclusionProof(0, 0, ref.Reader()).ok());
  EXPECT_FALSE(ConsistencyProof(5, 4, ref.Reader()).ok());
  Hash h{};
  EXPECT_FALSE(VerifyInclusion(0, 0, h, {}, h).ok());
  // Trees near 2^64 leaves (found by fuzz_proof: no shift by 64).
  EXPECT_FALSE(VerifyInclusion(1ull << 63, UINT64_MAX, h, {}, h).ok());
  EXPECT_FALSE(VerifyInclusion(0, UINT64_MAX, h, {}, h).ok());
  EXPECT_FALSE(VerifyConsistency(4, 3, h, h, {}).ok());
  EXPECT_FALSE(VerifyConsistency(3, 4, h, h, {}).ok());
  Hash other = h;
  other[0] = 1;
  EXPECT_FALSE(VerifyConsistency(4, 4, h, other, {}).ok());
  // Reader errors propagate.
  auto failing = [](int, uint64_t) -> absl::StatusOr<Hash> {
    return absl::UnavailableError("down");
  };
  EXPECT_EQ(InclusionProof(1, 5, failing).status().code(),
            absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace clover::log
