#include "crypto/ed25519.h"

#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"

namespace clover::crypto {
namespace {

std::string Unhex(absl::string_view h) { return absl::HexStringToBytes(h); }
template <size_t N>
std::string Hex(const std::array<uint8_t, N>& a) {
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(a.data()), N));
}

// RFC 8032 §7.1 TEST 2 and TEST 3.
TEST(Ed25519Test, Rfc8032Vectors) {
  struct {
    const char* seed;
    const char* pub;
    const char* msg;
    const char* sig;
  } vectors[] = {
      {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
       "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
       "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
       "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
      {"c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
       "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
       "af82",
       "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
       "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"},
  };
  for (const auto& v : vectors) {
    auto key = Ed25519PrivateKey::FromSeed(Unhex(v.seed));
    ASSERT_TRUE(key.ok());
    EXPECT_EQ(Hex(key->public_key().bytes()), v.pub);
    auto sig = key->Sign(Unhex(v.msg));
    EXPECT_EQ(Hex(sig), v.sig);
    auto pub = Ed25519PublicKey::FromBytes(Unhex(v.pub));
    ASSERT_TRUE(pub.ok());
    EXPECT_TRUE(pub->Verify(Unhex(v.msg), Unhex(v.sig)));
    std::string bad = Unhex(v.sig);
    bad[10] ^= 1;
    EXPECT_FALSE(pub->Verify(Unhex(v.msg), bad));
    EXPECT_FALSE(pub->Verify(Unhex(v.msg) + "x", Unhex(v.sig)));
  }
}

TEST(Ed25519Test, GenerateAndErrors) {
  auto a = Ed25519PrivateKey::Generate();
  auto b = Ed25519PrivateKey::Generate();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->seed(), b->seed());
  auto sig = a->Sign("msg");
  absl::string_view sv(reinterpret_cast<const char*>(sig.data()), sig.size());
  EXPECT_TRUE(a->public_key().Verify("msg", sv));
  EXPECT_FALSE(b->public_key().Verify("msg", sv));
  EXPECT_FALSE(a->public_key().Verify("msg", sv.substr(0, 63)));
  EXPECT_FALSE(Ed25519PrivateKey::FromSeed("short").ok());
  EXPECT_FALSE(Ed25519PublicKey::FromBytes("short").ok());
}

}  // namespace
}  // namespace clover::crypto
