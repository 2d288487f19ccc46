#include "log/rocksdb_storage.h"

#include <string>

#include "gtest/gtest.h"
#include "log/test_util.h"
#include "rocksdb/db.h"

namespace clover::log {
namespace {

TEST(RocksDbStorageTest, FragmentsAreWrittenDeletedAndBoundsChecked) {
  testing::TempDir dir;
  auto s = OpenRocksDbStorage(dir.path());
  ASSERT_TRUE(s.ok()) << s.status();
  LogStorage& st = **s;
  EXPECT_TRUE(absl::IsNotFound(st.ReadBundleFragment({3, 0}).status()));
  LogWriteBatch b1;
  b1.fragments.push_back({{3, 0}, std::string("\0\x01x", 3)});
  b1.fragments.push_back({{3, 255}, "last"});
  ASSERT_TRUE(st.Write(b1).ok());
  EXPECT_EQ(*st.ReadBundleFragment({3, 0}), std::string("\0\x01x", 3));
  EXPECT_EQ(*st.ReadBundleFragment({3, 255}), "last");
  // Deletions apply before puts: a fragment deleted and written in one batch
  // holds the new bytes. Deleting a missing fragment is fine.
  LogWriteBatch b2;
  b2.deleted_fragments = {{3, 0}, {3, 255}, {4, 7}};
  b2.fragments.push_back({{3, 0}, "again"});
  b2.bundles.push_back({3, "full"});
  ASSERT_TRUE(st.Write(b2).ok());
  EXPECT_EQ(*st.ReadBundleFragment({3, 0}), "again");
  EXPECT_TRUE(absl::IsNotFound(st.ReadBundleFragment({3, 255}).status()));
  EXPECT_EQ(*st.ReadEntryBundle(3), "full");
  EXPECT_EQ(st.ReadBundleFragment({3, 256}).status().code(),
            absl::StatusCode::kInvalidArgument);
  LogWriteBatch bad;
  bad.fragments.push_back({{3, -1}, "x"});
  bad.checkpoint = "must not land";
  EXPECT_EQ(st.Write(bad).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::IsNotFound(st.ReadCheckpoint().status()));
}

TEST(RocksDbStorageTest, ReadsBundlesStoredBeforeTheColumnFamilySplit) {
  testing::TempDir dir;
  const std::string key("b\0\0\0\0\0\0\0\x02", 9);  // bundle 2
  {
    // A store written by the earlier driver: one column family.
    rocksdb::Options o;
    o.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(o, dir.path(), &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), key, "legacy").ok());
  }
  RocksDbStorageOptions ro;
  ro.read_only = true;
  {
    auto s = OpenRocksDbStorage(dir.path(), ro);
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_EQ(*(*s)->ReadEntryBundle(2), "legacy");
    EXPECT_TRUE(absl::IsNotFound((*s)->ReadEntryBundle(3).status()));
  }
  {
    auto s = OpenRocksDbStorage(dir.path());
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_EQ(*(*s)->ReadEntryBundle(2), "legacy");
    LogWriteBatch b;
    b.bundles.push_back({2, "rewritten"});
    b.bundles.push_back({3, "new"});
    ASSERT_TRUE((*s)->Write(b).ok());
    EXPECT_EQ(*(*s)->ReadEntryBundle(2), "rewritten");
  }
  auto s = OpenRocksDbStorage(dir.path(), ro);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(*(*s)->ReadEntryBundle(2), "rewritten");
  EXPECT_EQ(*(*s)->ReadEntryBundle(3), "new");
}

}  // namespace
}  // namespace clover::log
