#include "crypto/subject_pseudonym.h"

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

}  // namespace
}  // namespace clover::crypto
