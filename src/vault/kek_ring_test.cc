#include "vault/kek_ring.h"

#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "vault/test_util.h"

namespace clover::vault {
namespace {

using ::testing::HasSubstr;
using testing::TestKey;

// A KEK that refuses every unwrap, as an auditor's key manager may.
class RefusingKek : public KeyEncryptionKey {
 public:
  explicit RefusingKek(uint8_t fill)
      : inner_(FileKeyEncryptionKey::FromKey(TestKey(fill))) {}
  absl::string_view id() const override { return inner_->id(); }
  absl::StatusOr<std::string> Wrap(absl::string_view key,
                                   absl::string_view ctx) override {
    return inner_->Wrap(key, ctx);
  }
  absl::StatusOr<crypto::SecretKey> Unwrap(
      absl::string_view, absl::string_view,
      const UnwrapJustification&) override {
    return absl::PermissionDeniedError("key manager refused");
  }

 private:
  std::unique_ptr<FileKeyEncryptionKey> inner_;
};

std::unique_ptr<KekRing> Ring(uint8_t current, std::vector<uint8_t> retired) {
  std::vector<std::unique_ptr<KeyEncryptionKey>> old;
  for (uint8_t fill : retired)
    old.push_back(FileKeyEncryptionKey::FromKey(TestKey(fill)));
  auto ring = KekRing::Create(FileKeyEncryptionKey::FromKey(TestKey(current)),
                              std::move(old));
  EXPECT_TRUE(ring.ok()) << ring.status();
  return ring.ok() ? *std::move(ring) : nullptr;
}

const std::string kDataKey(32, 'd');
const UnwrapJustification kWhy{"vault", "test", "ann"};

TEST(KekRingTest, WrapsWithTheCurrentKekAndUnwrapsWithTheNamedOne) {
  auto k1 = FileKeyEncryptionKey::FromKey(TestKey(1));
  auto k2 = FileKeyEncryptionKey::FromKey(TestKey(2));
  auto under_k1 = k1->Wrap(kDataKey, "ann");
  auto under_k2 = k2->Wrap(kDataKey, "ann");
  ASSERT_TRUE(under_k1.ok() && under_k2.ok());

  auto ring = Ring(3, {1, 2});
  ASSERT_NE(ring, nullptr);
  auto k3 = FileKeyEncryptionKey::FromKey(TestKey(3));
  EXPECT_EQ(ring->id(), k3->id());
  auto wrapped = ring->Wrap(kDataKey, "ann");
  ASSERT_TRUE(wrapped.ok());
  EXPECT_EQ(WrappedKeyKekId(*wrapped), k3->id());
  // The file KEK of the current key alone opens what the ring wrapped.
  ASSERT_TRUE(k3->Unwrap(*wrapped, "ann", kWhy).ok());

  for (const std::string* w : {&*under_k1, &*under_k2, &*wrapped}) {
    auto key = ring->Unwrap(*w, "ann", kWhy);
    ASSERT_TRUE(key.ok()) << key.status();
    EXPECT_EQ(std::string(key->begin(), key->end()), kDataKey);
    // Still bound to its subject.
    EXPECT_EQ(ring->Unwrap(*w, "bob", kWhy).status().code(),
              absl::StatusCode::kDataLoss);
  }
}

TEST(KekRingTest, AKeyOfAnUnknownKekIsDataLossNamingTheKeks) {
  auto k4 = FileKeyEncryptionKey::FromKey(TestKey(4));
  auto under_k4 = k4->Wrap(kDataKey, "ann");
  ASSERT_TRUE(under_k4.ok());
  auto ring = Ring(3, {1});
  ASSERT_NE(ring, nullptr);
  auto r = ring->Unwrap(*under_k4, "ann", kWhy);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr(std::string(k4->id())));
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr(std::string(ring->id())));
  EXPECT_EQ(ring->Unwrap("", "ann", kWhy).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST(KekRingTest, ARetiredKeksRefusalReachesTheCaller) {
  auto k1 = FileKeyEncryptionKey::FromKey(TestKey(1));
  auto under_k1 = k1->Wrap(kDataKey, "ann");
  ASSERT_TRUE(under_k1.ok());
  std::vector<std::unique_ptr<KeyEncryptionKey>> retired;
  retired.push_back(std::make_unique<RefusingKek>(1));
  auto ring = KekRing::Create(FileKeyEncryptionKey::FromKey(TestKey(3)),
                              std::move(retired));
  ASSERT_TRUE(ring.ok());
  EXPECT_EQ((*ring)->Unwrap(*under_k1, "ann", kWhy).status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(KekRingTest, RefusesAMissingOrRepeatedKek) {
  EXPECT_EQ(KekRing::Create(nullptr, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  std::vector<std::unique_ptr<KeyEncryptionKey>> twice;
  twice.push_back(FileKeyEncryptionKey::FromKey(TestKey(1)));
  twice.push_back(FileKeyEncryptionKey::FromKey(TestKey(1)));
  auto r = KekRing::Create(FileKeyEncryptionKey::FromKey(TestKey(3)),
                           std::move(twice));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  std::vector<std::unique_ptr<KeyEncryptionKey>> same_as_current;
  same_as_current.push_back(FileKeyEncryptionKey::FromKey(TestKey(3)));
  EXPECT_FALSE(KekRing::Create(FileKeyEncryptionKey::FromKey(TestKey(3)),
                               std::move(same_as_current))
                   .ok());
}

TEST(KekRingTest, OpenConfiguredKekReadsTheRetiredFiles) {
  testing::TempDir dir;
  KeysConfig keys;
  keys.kek_file = dir.Sub("new.kek");
  ASSERT_TRUE(crypto::WriteSecretKeyFile(keys.kek_file, TestKey(2)).ok());
  auto plain = OpenConfiguredKek(keys);
  ASSERT_TRUE(plain.ok()) << plain.status();
  auto k1 = FileKeyEncryptionKey::FromKey(TestKey(1));
  auto under_k1 = k1->Wrap(kDataKey, "ann");
  ASSERT_TRUE(under_k1.ok());
  EXPECT_FALSE((*plain)->Unwrap(*under_k1, "ann", kWhy).ok());

  keys.retired_kek_files.push_back(dir.Sub("old.kek"));
  EXPECT_FALSE(OpenConfiguredKek(keys).ok());  // the file is missing
  ASSERT_TRUE(
      crypto::WriteSecretKeyFile(keys.retired_kek_files[0], TestKey(1)).ok());
  auto ring = OpenConfiguredKek(keys);
  ASSERT_TRUE(ring.ok()) << ring.status();
  EXPECT_EQ((*ring)->id(), (*plain)->id());
  EXPECT_TRUE((*ring)->Unwrap(*under_k1, "ann", kWhy).ok());
}

}  // namespace
}  // namespace clover::vault
