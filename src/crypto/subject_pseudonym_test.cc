#include "crypto/subject_pseudonym.h"

#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "crypto/hmac.h"
#include "gtest/gtest.h"

namespace clover::crypto {
namespace {

TEST(SubjectPseudonymTest, DeterministicKeyedAndOpaque) {
  SecretKey root{};
  root[0] = 1;
  auto key = DeriveLogSubjectKey(root);
  ASSERT_TRUE(key.ok());
  EXPECT_NE(*key, root);
  std::string a = SubjectPseudonym(*key, "user-1");
  EXPECT_EQ(a.size(), 22u);
  EXPECT_EQ(a, SubjectPseudonym(*key, "user-1"));
  EXPECT_NE(a, SubjectPseudonym(*key, "user-2"));
  EXPECT_EQ(a.find("user"), std::string::npos);
  SecretKey other = *key;
  other[5] ^= 1;
  EXPECT_NE(a, SubjectPseudonym(other, "user-1"));
}

// The per-thread keyed HMAC must give exactly the one-shot HMAC, also when
// calls alternate between keys and run on several threads.
TEST(SubjectPseudonymTest, MatchesOneShotHmacAcrossKeysAndThreads) {
  SecretKey k1{}, k2{};
  k1[0] = 1;
  k2[0] = 2;
  auto expect = [](const SecretKey& k, const std::string& subject) {
    auto tag = HmacSha256Once(
        absl::string_view(reinterpret_cast<const char*>(k.data()), k.size()),
        subject);
    EXPECT_TRUE(tag.ok());
    return absl::WebSafeBase64Escape(
        absl::string_view(reinterpret_cast<const char*>(tag->data()), 16));
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        const SecretKey& k = (i + t) % 3 == 0 ? k2 : k1;
        std::string subject = absl::StrCat("user-", i);
        EXPECT_EQ(SubjectPseudonym(k, subject), expect(k, subject));
      }
    });
  }
  for (auto& th : threads) th.join();
}

}  // namespace
}  // namespace clover::crypto
