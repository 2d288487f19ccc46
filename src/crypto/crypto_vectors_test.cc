// Known-answer tests: RFC 4231 (HMAC-SHA-256), RFC 5869 (HKDF-SHA-256), RFC
// 5297 (AES-SIV) and all nine NIST SP 800-38G FF1 samples, plus properties of
// each primitive.
#include <openssl/evp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <random>
#include <set>
#include <string>

#include "absl/strings/escaping.h"
#include "crypto/aead.h"
#include "crypto/aes_block.h"
#include "crypto/constant_time.h"
#include "crypto/ff1.h"
#include "crypto/hkdf.h"
#include "crypto/hmac.h"
#include "crypto/random.h"
#include "crypto/siv.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace clover::crypto {
namespace {

std::string Hex(const std::string& h) { return absl::HexStringToBytes(h); }
template <typename T>
std::string ToHex(const T& bytes) {
  return absl::BytesToHexString(absl::string_view(
      reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

// RFC 4231 section 4.
struct HmacCase {
  std::string key, data, mac;
  size_t truncate = 32;
};

TEST(HmacSha256Test, Rfc4231Vectors) {
  const HmacCase cases[] = {
      {std::string(20, '\x0b'), "Hi There",
       "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
      {"Jefe", "what do ya want for nothing?",
       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
      {std::string(20, '\xaa'), std::string(50, '\xdd'),
       "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
      {Hex("0102030405060708090a0b0c0d0e0f10111213141516171819"),
       std::string(50, '\xcd'),
       "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
      {std::string(20, '\x0c'), "Test With Truncation",
       "a3b6167473100ee06e0c796c2955552b", 16},
      {std::string(131, '\xaa'),
       "Test Using Larger Than Block-Size Key - Hash Key First",
       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
      {std::string(131, '\xaa'),
       "This is a test using a larger than block-size key and a larger than "
       "block-size data. "
       "The key needs to be hashed before being used by the HMAC algorithm.",
       "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
  };
  for (const HmacCase& c : cases) {
    auto h = HmacSha256::Create(c.key);
    ASSERT_TRUE(h.ok()) << h.status();
    // Twice through the same context: the reused pad states must give the same
    // answer.
    for (int rep = 0; rep < 2; ++rep) {
      auto tag = (*h)->Compute(c.data);
      ASSERT_TRUE(tag.ok());
      EXPECT_EQ(ToHex(*tag).substr(0, 2 * c.truncate), c.mac);
    }
    auto once = HmacSha256Once(c.key, c.data);
    ASSERT_TRUE(once.ok());
    EXPECT_EQ(ToHex(*once).substr(0, 2 * c.truncate), c.mac);
    auto clone = (*h)->Clone();
    ASSERT_TRUE(clone.ok());
    auto split = (*clone)->Compute(absl::string_view(c.data).substr(0, 3),
                                   absl::string_view(c.data).substr(3));
    ASSERT_TRUE(split.ok());
    EXPECT_EQ(ToHex(*split).substr(0, 2 * c.truncate), c.mac);
  }
  EXPECT_EQ(HmacSha256::Create("").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(HkdfTest, Rfc5869Vectors) {
  std::string ikm2, salt2, info2;
  for (int i = 0; i < 0x50; ++i) ikm2.push_back(static_cast<char>(i));
  for (int i = 0x60; i < 0xb0; ++i) salt2.push_back(static_cast<char>(i));
  for (int i = 0xb0; i < 0x100; ++i) info2.push_back(static_cast<char>(i));
  struct Case {
    std::string ikm, salt, info;
    size_t len;
    std::string okm;
  } cases[] = {
      {std::string(22, '\x0b'), Hex("000102030405060708090a0b0c"),
       Hex("f0f1f2f3f4f5f6f7f8f9"), 42,
       "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf3400720"
       "8d5b887185865"},
      {ikm2, salt2, info2, 82,
       "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a9"
       "9cac7827271cb41c6"
       "5e590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434"
       "f1d87"},
      {std::string(22, '\x0b'), "", "", 42,
       "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d20139"
       "5faa4b61a96c8"},
  };
  for (const Case& c : cases) {
    auto okm = HkdfSha256(c.ikm, c.salt, c.info, c.len);
    ASSERT_TRUE(okm.ok()) << okm.status();
    EXPECT_EQ(absl::BytesToHexString(*okm), c.okm);
  }
  EXPECT_FALSE(HkdfSha256("k", "", "", 0).ok());
  EXPECT_FALSE(HkdfSha256("k", "", "", 255 * 32 + 1).ok());
  EXPECT_NE(HkdfInfo({"a|b", "c"}), HkdfInfo({"a", "b|c"}));
}

// RFC 5297 appendix A (A.1 deterministic, A.2 nonce-based), and the
// AES-192/256-SIV vectors of OpenSSL's evpciph_aes_siv.txt built from the A.1
// inputs.
TEST(AesSivTest, Rfc5297Vectors) {
  {
    auto siv = AesSiv::Create(Hex(
        "fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"));
    ASSERT_TRUE(siv.ok());
    std::string out;
    ASSERT_TRUE(
        (*siv)
            ->Seal({Hex("101112131415161718191a1b1c1d1e1f2021222324252627")},
                   Hex("112233445566778899aabbccddee"), &out)
            .ok());
    EXPECT_EQ(absl::BytesToHexString(out),
              "85632d07c6e8f37f950acd320a2ecc9340c02b9690c4dc04daef7f6afe5c");
    std::string pt;
    ASSERT_TRUE(
        (*siv)
            ->Open({Hex("101112131415161718191a1b1c1d1e1f2021222324252627")},
                   out, &pt)
            .ok());
    EXPECT_EQ(absl::BytesToHexString(pt), "112233445566778899aabbccddee");
    // Altered AD or ciphertext is refused.
    EXPECT_EQ((*siv)->Open({"x"}, out, &pt).code(),
              absl::StatusCode::kDataLoss);
    std::string bad = out;
    bad.back() ^= 1;
    EXPECT_EQ(
        (*siv)
            ->Open({Hex("101112131415161718191a1b1c1d1e1f2021222324252627")},
                   bad, &pt)
            .code(),
        absl::StatusCode::kDataLoss);
    // No AD at all, and one empty AD string, are different S2V inputs.
    out.clear();
    ASSERT_TRUE(
        (*siv)->Seal({}, Hex("112233445566778899aabbccddee"), &out).ok());
    EXPECT_EQ(absl::BytesToHexString(out),
              "f1c5fdeac1f15a26779c1501f9fb758827e946c669088ab06da58c5c831c");
    out.clear();
    ASSERT_TRUE(
        (*siv)->Seal({""}, Hex("112233445566778899aabbccddee"), &out).ok());
    EXPECT_EQ(absl::BytesToHexString(out),
              "d1022f5b3664e5a4dfaf90f85be6f28ab66cff6b8eca0b79f083b39a0901");
  }
  {
    auto siv = AesSiv::Create(Hex(
        "7f7e7d7c7b7a79787776757473727170404142434445464748494a4b4c4d4e4f"));
    ASSERT_TRUE(siv.ok());
    std::string out;
    ASSERT_TRUE((*siv)
                    ->Seal({Hex("00112233445566778899aabbccddeeffdeaddadadeadda"
                                "daffeeddccbbaa99887766554"
                                "433221100"),
                            Hex("102030405060708090a0"),
                            Hex("09f911029d74e35bd84156c5635688c0")},
                           Hex("7468697320697320736f6d6520706c61696e74657874207"
                               "46f20656e6372797074207573"
                               "696e67205349562d414553"),
                           &out)
                    .ok());
    EXPECT_EQ(absl::BytesToHexString(out),
              "7bdb6e3b432667eb06f4d14bff2fbd0fcb900f2fddbe404326601965c889bf17"
              "dba77ceb094fa663b7a"
              "3f748ba8af829ea64ad544a272e9c485b62a3fd5c0d");
  }
  {
    auto siv =
        AesSiv::Create(Hex("fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0f0f1f2f3f4f5f6f7f8f"
                           "9fafbfcfdfefff0f1f2f3f4f5f6f7f8f9"
                           "fafbfcfdfefffffefdfcfbfaf9f8f7f6f5f4f3f2f1f0"));
    ASSERT_TRUE(siv.ok());
    std::string out;
    ASSERT_TRUE(
        (*siv)
            ->Seal({Hex("101112131415161718191a1b1c1d1e1f2021222324252627")},
                   Hex("112233445566778899aabbccddee"), &out)
            .ok());
    EXPECT_EQ(absl::BytesToHexString(out),
              "724dfb2eaf94dbb19b0ba3a299a0801ef3b05a55498ec2552690b89810e4");
  }
  {
    // Wycheproof aes_siv_cmac "empty message" (also in OpenSSL's
    // evpciph_aes_siv.txt).
    auto siv = AesSiv::Create(Hex(
        "2b27e429fb6c02678e589ccc4437c5adfb44b331ab6d21ea321727e6ec03d354"));
    ASSERT_TRUE(siv.ok());
    std::string out;
    ASSERT_TRUE((*siv)->Seal({""}, "", &out).ok());
    EXPECT_EQ(absl::BytesToHexString(out), "b2b2354e3724dcdaa85ecf029b49a90c");
    std::string pt = "x";
    ASSERT_TRUE((*siv)->Open({""}, out, &pt).ok());
    EXPECT_TRUE(pt.empty());
  }
  EXPECT_FALSE(AesSiv::Create(std::string(16, 'k')).ok());
}

// Differential test against OpenSSL's own AES-SIV cipher on random inputs of
// every length around the block boundaries.
TEST(AesSivTest, MatchesOpenSslEvpSiv) {
  std::mt19937 rng(7);
  for (size_t key_len : {32u, 64u}) {
    std::string key(key_len, '\0');
    for (char& c : key) c = static_cast<char>(rng());
    auto siv = AesSiv::Create(key);
    ASSERT_TRUE(siv.ok());
    EVP_CIPHER* cipher = EVP_CIPHER_fetch(
        nullptr, key_len == 32 ? "AES-128-SIV" : "AES-256-SIV", nullptr);
    ASSERT_NE(cipher, nullptr);
    for (size_t len = 1; len < 50;
         ++len) {  // EVP SIV needs a non-empty message
      std::string pt(len, '\0'), ad(len % 7, '\0');
      for (char& c : pt) c = static_cast<char>(rng());
      for (char& c : ad) c = static_cast<char>(rng());
      std::string ours;
      ASSERT_TRUE((*siv)->Seal({ad}, pt, &ours).ok());

      EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
      ASSERT_EQ(
          EVP_EncryptInit_ex(ctx, cipher, nullptr,
                             reinterpret_cast<const unsigned char*>(key.data()),
                             nullptr),
          1);
      int n = 0;
      ASSERT_EQ(
          EVP_EncryptUpdate(ctx, nullptr, &n,
                            reinterpret_cast<const unsigned char*>(ad.data()),
                            static_cast<int>(ad.size())),
          1);
      std::string ct(len + 16, '\0');
      ASSERT_EQ(EVP_EncryptUpdate(
                    ctx, reinterpret_cast<unsigned char*>(ct.data()), &n,
                    reinterpret_cast<const unsigned char*>(pt.data()),
                    static_cast<int>(len)),
                1);
      ASSERT_EQ(EVP_EncryptFinal_ex(
                    ctx, reinterpret_cast<unsigned char*>(ct.data()), &n),
                1);
      unsigned char tag[16];
      ASSERT_EQ(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, tag), 1);
      EVP_CIPHER_CTX_free(ctx);
      std::string theirs(reinterpret_cast<char*>(tag), 16);
      theirs.append(ct.substr(0, len));
      EXPECT_EQ(absl::BytesToHexString(ours), absl::BytesToHexString(theirs))
          << "len " << len;
      std::string back;
      ASSERT_TRUE((*siv)->Open({ad}, ours, &back).ok());
      EXPECT_EQ(back, pt);
    }
    EVP_CIPHER_free(cipher);
  }
}

// NIST SP 800-38G FF1 samples 1-9 (FF1samples.pdf).
TEST(Ff1Test, NistSamples) {
  const std::string k128 = "2B7E151628AED2A6ABF7158809CF4F3C";
  const std::string k192 = k128 + "EF4359D8D580AA4F";
  const std::string k256 = k192 + "7F036D6F04FC6A94";
  const std::string tw2 = "39383736353433323130";
  const std::string tw3 = "3737373770717273373737";
  struct Case {
    std::string key, tweak, alphabet, pt, ct;
  } cases[] = {
      {k128, "", "0123456789", "0123456789", "2433477484"},
      {k128, tw2, "0123456789", "0123456789", "6124200773"},
      {k128, tw3, std::string(kFf1Alnum), "0123456789abcdefghi",
       "a9tv40mll9kdu509eum"},
      {k192, "", "0123456789", "0123456789", "2830668132"},
      {k192, tw2, "0123456789", "0123456789", "2496655549"},
      {k192, tw3, std::string(kFf1Alnum), "0123456789abcdefghi",
       "xbj3kv35jrawxv32ysr"},
      {k256, "", "0123456789", "0123456789", "6657667009"},
      {k256, tw2, "0123456789", "0123456789", "1001623463"},
      {k256, tw3, std::string(kFf1Alnum), "0123456789abcdefghi",
       "xs8a0azh2avyalyzuwd"},
  };
  int sample = 0;
  for (const Case& c : cases) {
    ++sample;
    auto ff1 = Ff1::Create(Hex(c.key), c.alphabet);
    ASSERT_TRUE(ff1.ok()) << ff1.status();
    for (int rep = 0; rep < 2; ++rep) {
      auto ct = (*ff1)->Encrypt(c.pt, Hex(c.tweak));
      ASSERT_TRUE(ct.ok()) << ct.status();
      EXPECT_EQ(*ct, c.ct) << "sample " << sample;
      auto pt = (*ff1)->Decrypt(c.ct, Hex(c.tweak));
      ASSERT_TRUE(pt.ok());
      EXPECT_EQ(*pt, c.pt) << "sample " << sample;
    }
  }
}

TEST(Ff1Test, RoundTripsOnTheNativeAndBignumPaths) {
  std::mt19937 rng(11);
  for (absl::string_view alphabet :
       {absl::string_view("01"), kFf1Digits, kFf1Alnum}) {
    auto ff1 = Ff1::Create(std::string(32, '\x42'), alphabet);
    ASSERT_TRUE(ff1.ok());
    auto clone = (*ff1)->Clone();
    ASSERT_TRUE(clone.ok());
    for (size_t len : {(*ff1)->min_length(), size_t{13}, size_t{25}, size_t{40},
                       size_t{97}, Ff1::kMaxLength}) {
      if (len < (*ff1)->min_length()) continue;
      std::string pt(len, '\0');
      for (char& c : pt) c = alphabet[rng() % alphabet.size()];
      std::string tweak(rng() % 40, 't');
      auto ct = (*ff1)->Encrypt(pt, tweak);
      ASSERT_TRUE(ct.ok()) << ct.status();
      EXPECT_EQ(ct->size(), len);
      for (char c : *ct) EXPECT_NE(alphabet.find(c), absl::string_view::npos);
      auto ct2 = (*clone)->Encrypt(pt, tweak);
      ASSERT_TRUE(ct2.ok());
      EXPECT_EQ(*ct, *ct2);
      auto back = (*ff1)->Decrypt(*ct, tweak);
      ASSERT_TRUE(back.ok());
      EXPECT_EQ(*back, pt);
      auto other = (*ff1)->Encrypt(pt, tweak + "x");
      ASSERT_TRUE(other.ok());
      EXPECT_NE(*other, *ct);
    }
  }
}

TEST(Ff1Test, RefusesBadInput) {
  auto ff1 = Ff1::Create(std::string(16, 'k'), kFf1Digits);
  ASSERT_TRUE(ff1.ok());
  EXPECT_EQ((*ff1)->Encrypt("12345", "").status().code(),
            absl::StatusCode::kInvalidArgument);
  auto bad = (*ff1)->Encrypt("12345a7890", "");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()),
              testing::HasSubstr("position 5"));
  EXPECT_FALSE((*ff1)->Encrypt(std::string(Ff1::kMaxLength + 1, '1'), "").ok());
  EXPECT_FALSE(
      (*ff1)->Encrypt("1234567890", std::string(Ff1::kMaxTweak + 1, 't')).ok());
  EXPECT_FALSE(Ff1::Create(std::string(15, 'k'), kFf1Digits).ok());
  EXPECT_FALSE(Ff1::Create(std::string(16, 'k'), "0").ok());
  EXPECT_FALSE(Ff1::Create(std::string(16, 'k'), "0120").ok());
  EXPECT_FALSE(Ff1::Create(std::string(16, 'k'), std::string(37, 'a')).ok());
}

TEST(AeadTest, SealOpenAndTamper) {
  std::string key(32, '\x01');
  auto gcm = Aes256Gcm::Create(key);
  ASSERT_TRUE(gcm.ok());
  std::string sealed;
  ASSERT_TRUE((*gcm)->Seal("secret record", "subject-1", &sealed).ok());
  EXPECT_EQ(sealed.size(), 13 + kAeadOverhead);
  std::string pt;
  ASSERT_TRUE((*gcm)->Open(sealed, "subject-1", &pt).ok());
  EXPECT_EQ(pt, "secret record");
  ASSERT_TRUE(AeadOpen(key, sealed, "subject-1", &pt).ok());
  EXPECT_EQ(pt, "secret record");
  EXPECT_EQ((*gcm)->Open(sealed, "subject-2", &pt).code(),
            absl::StatusCode::kDataLoss);
  for (size_t i = 0; i < sealed.size(); ++i) {
    std::string bad = sealed;
    bad[i] ^= 0x01;
    EXPECT_EQ(AeadOpen(key, bad, "subject-1", &pt).code(),
              absl::StatusCode::kDataLoss);
  }
  EXPECT_EQ(AeadOpen(key, sealed.substr(0, 27), "", &pt).code(),
            absl::StatusCode::kDataLoss);
  std::string again;
  ASSERT_TRUE(AeadSeal(key, "secret record", "subject-1", &again).ok());
  EXPECT_NE(again, sealed);  // fresh nonce
  EXPECT_FALSE(Aes256Gcm::Create(std::string(16, 'k')).ok());
  std::string empty;
  ASSERT_TRUE(AeadSeal(key, "", "", &empty).ok());
  ASSERT_TRUE(AeadOpen(key, empty, "", &pt).ok());
  EXPECT_TRUE(pt.empty());
}

TEST(MiscCryptoTest, ConstantTimeRandomAndBlock) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "ab"));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  auto r1 = RandomString(32), r2 = RandomString(32);
  ASSERT_TRUE(r1.ok() && r2.ok());
  EXPECT_NE(*r1, *r2);
  // FIPS-197 appendix C.3 (AES-256).
  auto aes = AesBlockCipher::Create(
      Hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"));
  ASSERT_TRUE(aes.ok());
  std::string block = Hex("00112233445566778899aabbccddeeff");
  auto* b = reinterpret_cast<uint8_t*>(block.data());
  ASSERT_TRUE((*aes)->Encrypt(b, b).ok());
  EXPECT_EQ(absl::BytesToHexString(block), "8ea2b7ca516745bfeafc49904b496089");
  ASSERT_TRUE((*aes)->Decrypt(b, b).ok());
  EXPECT_EQ(absl::BytesToHexString(block), "00112233445566778899aabbccddeeff");
}

}  // namespace
}  // namespace clover::crypto

namespace clover::crypto {
namespace {

TEST(RandomTest, BufferedDrawsNeverRepeatAcrossForks) {
  std::set<std::string> seen;
  for (int i = 0; i < 2000; ++i) {
    auto r = RandomString(12);
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(seen.insert(*r).second);
  }
  // A forked child must not replay the parent's buffered bytes.
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  auto parent_next = RandomString(16);
  pid_t pid = fork();
  if (pid == 0) {
    auto child = RandomString(16);
    ssize_t n = write(fds[1], child->data(), child->size());
    _exit(n == 16 ? 0 : 1);
  }
  ASSERT_GT(pid, 0);
  char buf[16];
  ASSERT_EQ(read(fds[0], buf, sizeof(buf)), 16);
  int status = 0;
  waitpid(pid, &status, 0);
  close(fds[0]);
  close(fds[1]);
  auto parent_after = RandomString(16);
  std::string child(buf, 16);
  EXPECT_NE(child, *parent_after);
  EXPECT_NE(child, *parent_next);
  auto big = RandomString(1000);
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(big->size(), 1000u);
}

}  // namespace
}  // namespace clover::crypto
