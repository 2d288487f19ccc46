#include "rocksdb_crc32c/crc32c.h"

#include <rocksdb/db.h>

#include <memory>
#include <random>
#include <string>

#include "core/test_temp_dir.h"
#include "gtest/gtest.h"

namespace clover::rocksdb_crc32c {
namespace {

uint32_t Crc(const std::string& s) { return Extend(0, s.data(), s.size()); }

TEST(RocksDbCrc32cTest, MatchesPublishedVectors) {
  EXPECT_EQ(Crc(""), 0u);
  EXPECT_EQ(Crc("123456789"), 0xE3069283u);  // the CRC catalogue's check value
  // RFC 3720, appendix B.4.
  EXPECT_EQ(Crc(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(Crc(std::string(32, '\xff')), 0x62A8AB43u);
  std::string ascending, descending;
  for (int i = 0; i < 32; ++i) {
    ascending.push_back(static_cast<char>(i));
    descending.push_back(static_cast<char>(31 - i));
  }
  EXPECT_EQ(Crc(ascending), 0x46DD794Eu);
  EXPECT_EQ(Crc(descending), 0x113FDB5Cu);
}

TEST(RocksDbCrc32cTest, AgreesWithRocksDbsOwnImplementation) {
  ExtendFunction library = LibraryExtend();
  ASSERT_NE(library, nullptr) << "librocksdb's crc32c::Extend not found";
  std::mt19937_64 rng(7);
  std::string buf(4096 + 16, '\0');
  for (char& c : buf) c = static_cast<char>(rng());
  for (int i = 0; i < 2000; ++i) {
    const size_t offset = rng() % 16;  // unaligned starts too
    const size_t size = rng() % 4096;
    const uint32_t seed = i % 3 == 0 ? 0 : static_cast<uint32_t>(rng());
    ASSERT_EQ(Extend(seed, buf.data() + offset, size),
              library(seed, buf.data() + offset, size))
        << "offset " << offset << " size " << size;
  }
  // Extending in pieces equals one pass, as RocksDB's log writer relies on.
  const uint32_t whole = Extend(0, buf.data(), 1000);
  EXPECT_EQ(Extend(Extend(0, buf.data(), 333), buf.data() + 333, 667), whole);
}

TEST(RocksDbCrc32cTest, RocksDbCallsResolveHere) {
#if defined(__x86_64__)
  if (!__builtin_cpu_supports("sse4.2")) GTEST_SKIP() << "no SSE4.2";
  EXPECT_TRUE(Accelerated());
#else
  GTEST_SKIP() << "only x86-64 has the accelerated path";
#endif
}

TEST(RocksDbCrc32cTest, RocksDbVerifiesWhatItWroteAfterReopen) {
  test::TempDir tmp("crc32c");
  const std::string& dir = tmp.path();
  rocksdb::Options options;
  options.create_if_missing = true;
  options.paranoid_checks = true;
  {
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, dir, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    for (int i = 0; i < 1000; ++i) {
      ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "key" + std::to_string(i),
                          std::string(100 + i % 50, static_cast<char>(i)))
                      .ok());
    }
    // Half in a table file (block checksums), half left in the WAL.
    ASSERT_TRUE(db->Flush(rocksdb::FlushOptions()).ok());
    for (int i = 1000; i < 2000; ++i) {
      ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "key" + std::to_string(i),
                          std::string(100 + i % 50, static_cast<char>(i)))
                      .ok());
    }
  }
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(rocksdb::DB::Open(options, dir, &raw).ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::ReadOptions read;
  read.verify_checksums = true;
  for (int i = 0; i < 2000; ++i) {
    std::string value;
    ASSERT_TRUE(db->Get(read, "key" + std::to_string(i), &value).ok()) << i;
    EXPECT_EQ(value, std::string(100 + i % 50, static_cast<char>(i)));
  }
}

}  // namespace
}  // namespace clover::rocksdb_crc32c
