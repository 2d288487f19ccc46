#include "crypto/secret_key_file.h"

#include <sys/resource.h>
#include <sys/stat.h>

#include <csignal>
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

// A write that fails part-way leaves no partial file behind: the file was
// created by this call, and a half-written one would make every retry
// AlreadyExists. The failure is real: a file size limit (RLIMIT_FSIZE) below
// the contents makes write() fail with EFBIG.
TEST(SecretKeyFileTest, AFailedWriteRemovesTheFileItCreated) {
  test::TempDir dir("secret-key-file");
  const std::string path = dir.Sub("partial");
  struct rlimit old_limit;
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  struct rlimit small = old_limit;
  small.rlim_cur = 16;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  absl::Status s = WritePrivateFile(path, std::string(4096, 'k'));
  setrlimit(RLIMIT_FSIZE, &old_limit);
  std::signal(SIGXFSZ, old_handler);
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal) << s;
  EXPECT_FALSE(std::filesystem::exists(path));
  // A retry is not blocked by what the failed call left.
  EXPECT_TRUE(WritePrivateFile(path, "contents").ok());
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
