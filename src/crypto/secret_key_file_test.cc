#include "crypto/secret_key_file.h"

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/test_temp_dir.h"
#include "gtest/gtest.h"

namespace clover::crypto {
namespace {

TEST(SecretKeyFileTest, RoundTripWithMode0600) {
  test::TempDir dir("secret-key-file");
  const std::string path = dir.Sub("kek");
  auto key = GenerateSecretKey();
  ASSERT_TRUE(key.ok());
  ASSERT_TRUE(WriteSecretKeyFile(path, *key).ok());
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto read = ReadSecretKeyFile(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, *key);
  EXPECT_EQ(WriteSecretKeyFile(path, *key).code(),
            absl::StatusCode::kAlreadyExists);
  chmod(path.c_str(), 0644);
  EXPECT_EQ(ReadSecretKeyFile(path).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(SecretKeyFileTest, ParseErrors) {
  SecretKey k{};
  k[0] = 1;
  const std::string text = FormatSecretKey(k);
  EXPECT_EQ(text.rfind("CLOVER-SECRET-V1+", 0), 0u);
  EXPECT_EQ(text.back(), '\n');
  EXPECT_EQ(*ParseSecretKey(text), k);
  EXPECT_EQ(*ParseSecretKey(text.substr(0, text.size() - 1)), k);
  EXPECT_FALSE(ParseSecretKey("").ok());
  EXPECT_FALSE(ParseSecretKey("CLOVER-SECRET-V2+" + text.substr(17)).ok());
  EXPECT_FALSE(ParseSecretKey(text.substr(0, text.size() - 5)).ok());
  EXPECT_FALSE(ParseSecretKey("CLOVER-SECRET-V1+AAAA").ok());
  EXPECT_EQ(ReadSecretKeyFile("/nonexistent/clover").status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace clover::crypto
