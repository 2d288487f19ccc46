#include "rocksdb_wal/mapped_wal.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "core/owned_dir.h"
#include "gtest/gtest.h"

namespace clover::rocksdb_wal {
namespace {

constexpr int kChildWrites = 5000;
constexpr char kDirVariable[] = "CLOVER_MAPPED_WAL_KILL_TEST_DIR";

std::string ValueOf(int i) {
  return absl::StrCat("value-", i, "-", std::string(300, 'v'));
}

std::string KeyOf(int i) { return absl::StrCat("key-", i); }

std::unique_ptr<rocksdb::DB> OpenDb(const std::string& dir, rocksdb::Env* env) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.env = env;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, dir, &raw);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return std::unique_ptr<rocksdb::DB>(raw);
}

// Every key of 0..count-1 reads back with its value.
void ExpectAllReadBack(rocksdb::DB& db, int count) {
  for (int i = 0; i < count; ++i) {
    std::string value;
    ASSERT_TRUE(db.Get({}, KeyOf(i), &value).ok()) << i;
    ASSERT_EQ(value, ValueOf(i)) << i;
  }
}

// The one live write-ahead log in `dir` (RocksDB names them NNNNNN.log).
std::filesystem::path OnlyLog(const std::string& dir) {
  std::vector<std::filesystem::path> logs;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".log") logs.push_back(entry.path());
  }
  EXPECT_EQ(logs.size(), 1u) << dir;
  return logs.empty() ? std::filesystem::path() : logs.front();
}

class MappedWalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto made = CreateOwnedTempDir("mapped-wal", "/tmp");
    ASSERT_TRUE(made.ok()) << made.status();
    dir_ = *made;
  }
  void TearDown() override {
    if (!dir_.empty()) {
      EXPECT_TRUE(RemoveOwnedDir(dir_).ok()) << dir_;
    }
  }

  std::string dir_;
};

TEST_F(MappedWalTest, LogGrowsByMappedRegionsWhileOpen) {
  for (rocksdb::Env* env : {rocksdb::Env::Default(), MappedWalEnv()}) {
    const bool mapped = env == MappedWalEnv();
    const std::string dir = absl::StrCat(dir_, mapped ? "/mapped" : "/plain");
    auto db = OpenDb(dir, env);
    ASSERT_NE(db, nullptr);
    for (int i = 0; i < 10; ++i) {
      ASSERT_TRUE(db->Put({}, KeyOf(i), ValueOf(i)).ok());
    }
    // Ten records are ~3.3 KB. The mapped writer has allocated its first
    // 64 KiB region; write(2) has written what it was given.
    const auto size = std::filesystem::file_size(OnlyLog(dir));
    if (mapped) {
      EXPECT_GE(size, 65536u);
    } else {
      EXPECT_LT(size, 65536u);
    }
  }
}

TEST_F(MappedWalTest, CloseTruncatesTheLogToItsRecords) {
  {
    auto db = OpenDb(dir_, MappedWalEnv());
    ASSERT_NE(db, nullptr);
    for (int i = 0; i < 10; ++i) {
      ASSERT_TRUE(db->Put({}, KeyOf(i), ValueOf(i)).ok());
    }
    ASSERT_TRUE(db->Close().ok());
  }
  EXPECT_LT(std::filesystem::file_size(OnlyLog(dir_)), 8192u);
  auto db = OpenDb(dir_, MappedWalEnv());
  ASSERT_NE(db, nullptr);
  ExpectAllReadBack(*db, 10);
}

TEST_F(MappedWalTest, SyncedWritesAcrossRegionsReadBack) {
  rocksdb::WriteOptions synced;
  synced.sync = true;
  // 400 records of ~330 bytes run from the first region (64 KiB) into the
  // second.
  {
    auto db = OpenDb(dir_, MappedWalEnv());
    ASSERT_NE(db, nullptr);
    for (int i = 0; i < 400; ++i) {
      ASSERT_TRUE(db->Put(synced, KeyOf(i), ValueOf(i)).ok()) << i;
    }
  }
  auto db = OpenDb(dir_, MappedWalEnv());
  ASSERT_NE(db, nullptr);
  ExpectAllReadBack(*db, 400);
}

// The writer of KilledWriterLosesNoAcknowledgedWrite, in a child process:
// writes, then kills itself with SIGKILL, so the log is never closed.
void WriteThenDieByKill(const std::string& dir) {
  auto db = OpenDb(dir, MappedWalEnv());
  if (db == nullptr) std::_Exit(3);
  for (int i = 0; i < kChildWrites; ++i) {
    if (!db->Put({}, KeyOf(i), ValueOf(i)).ok()) std::_Exit(4);
  }
  kill(getpid(), SIGKILL);
  std::_Exit(5);
}

// Not a MappedWalTest: the death test's child runs this body again from the
// top, and must write into the parent's directory, not a new one.
TEST(MappedWalKillTest, KilledWriterLosesNoAcknowledgedWrite) {
  // "threadsafe" death tests run the child as a fresh exec of this binary:
  // this process may have RocksDB threads that a plain fork would not carry.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const char* inherited = getenv(kDirVariable);  // set: this is the child
  std::string dir;
  if (inherited != nullptr) {
    dir = inherited;
  } else {
    auto made = CreateOwnedTempDir("mapped-wal-kill", "/tmp");
    ASSERT_TRUE(made.ok()) << made.status();
    dir = *made;
    setenv(kDirVariable, dir.c_str(), 1);
  }
  EXPECT_EXIT(WriteThenDieByKill(dir), ::testing::KilledBySignal(SIGKILL), "");
  unsetenv(kDirVariable);
  absl::Cleanup remove_dir = [&dir] {
    EXPECT_TRUE(RemoveOwnedDir(dir).ok()) << dir;
  };

  // The killed writer's log still ends in its mapped region's zeros.
  const std::filesystem::path log = OnlyLog(dir);
  const auto size = std::filesystem::file_size(log);
  ASSERT_GE(size, static_cast<uintmax_t>(kChildWrites) * 300);
  std::ifstream in(log, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(size - 512));
  std::string tail(512, '\1');
  ASSERT_TRUE(in.read(tail.data(), 512));
  EXPECT_TRUE(tail == std::string(512, '\0'))
      << "the log's last 512 bytes are not zeros";

  // Recovery through the mapped Env (as the vault reopens) and then through
  // the default one (RocksDB's own reader and writer) finds every write.
  for (rocksdb::Env* env : {MappedWalEnv(), rocksdb::Env::Default()}) {
    auto db = OpenDb(dir, env);
    ASSERT_NE(db, nullptr);
    ExpectAllReadBack(*db, kChildWrites);
    ASSERT_TRUE(db->Close().ok());
  }
}

}  // namespace
}  // namespace clover::rocksdb_wal
