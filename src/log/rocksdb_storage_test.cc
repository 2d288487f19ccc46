#include "log/rocksdb_storage.h"

#include <memory>
#include <string>
#include <vector>

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
  b2.bundles.push_back({4, "full"});
  ASSERT_TRUE(st.Write(b2).ok());
  EXPECT_EQ(*st.ReadBundleFragment({3, 0}), "again");
  EXPECT_TRUE(absl::IsNotFound(st.ReadBundleFragment({3, 255}).status()));
  EXPECT_EQ(*st.ReadEntryBundle(3), "again");
  EXPECT_EQ(*st.ReadEntryBundle(4), "full");
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

TEST(RocksDbStorageTest, FullBundleIsItsFragmentsInOffsetOrder) {
  testing::TempDir dir;
  auto s = OpenRocksDbStorage(dir.path());
  ASSERT_TRUE(s.ok()) << s.status();
  LogWriteBatch b;
  b.fragments.push_back({{5, 200}, "third"});
  b.fragments.push_back({{5, 0}, "first,"});
  b.fragments.push_back({{5, 17}, "second,"});
  b.fragments.push_back({{6, 0}, "next bundle"});
  b.fragments.push_back({{4, 255}, "previous bundle"});
  ASSERT_TRUE((*s)->Write(b).ok());
  EXPECT_EQ(*(*s)->ReadEntryBundle(5), "first,second,third");
  EXPECT_EQ(*(*s)->ReadEntryBundle(6), "next bundle");
  EXPECT_TRUE(absl::IsNotFound((*s)->ReadEntryBundle(7).status()));
  // A bundle stored whole (as earlier versions did) is read as stored, unless
  // it has fragments: then the whole copy is a first-format partial bundle.
  LogWriteBatch whole;
  whole.bundles.push_back({3, "whole"});
  whole.bundles.push_back({5, "stale partial"});
  ASSERT_TRUE((*s)->Write(whole).ok());
  EXPECT_EQ(*(*s)->ReadEntryBundle(3), "whole");
  EXPECT_EQ(*(*s)->ReadEntryBundle(5), "first,second,third");
}

// The store opened directly with RocksDB (default and bundles families), to
// lay it out as an earlier version did and to look at where keys are.
struct RawStore {
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;  // default, bundles
  ~RawStore() {
    for (auto* h : handles)
      db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  }
};

std::unique_ptr<RawStore> OpenRaw(const std::string& dir, bool read_only) {
  auto raw = std::make_unique<RawStore>();
  rocksdb::Options o;
  const std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, o}, {"bundles", o}};
  rocksdb::DB* db = nullptr;
  rocksdb::Status s =
      read_only
          ? rocksdb::DB::OpenForReadOnly(o, dir, families, &raw->handles, &db)
          : rocksdb::DB::Open(o, dir, families, &raw->handles, &db);
  EXPECT_TRUE(s.ok()) << s.ToString();
  if (!s.ok()) return nullptr;
  raw->db.reset(db);
  return raw;
}

TEST(RocksDbStorageTest, FragmentsOfAnEarlierVersionMoveToTheBundleFamily) {
  testing::TempDir dir;
  const std::string key("f\0\0\0\0\0\0\0\x02\x00", 10);  // bundle 2, offset 0
  {
    auto s = OpenRocksDbStorage(dir.path());
    ASSERT_TRUE(s.ok()) << s.status();
  }
  {
    // Where an earlier version kept the partial bundle's fragments.
    auto raw = OpenRaw(dir.path(), /*read_only=*/false);
    ASSERT_NE(raw, nullptr);
    ASSERT_TRUE(
        raw->db->Put(rocksdb::WriteOptions(), key, "old fragment").ok());
  }
  RocksDbStorageOptions ro;
  ro.read_only = true;
  {
    // Read-only: served from where it is.
    auto s = OpenRocksDbStorage(dir.path(), ro);
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_EQ(*(*s)->ReadBundleFragment({2, 0}), "old fragment");
  }
  {
    auto s = OpenRocksDbStorage(dir.path());
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_EQ(*(*s)->ReadBundleFragment({2, 0}), "old fragment");
    LogWriteBatch b;
    b.fragments.push_back({{2, 1}, "+new"});
    ASSERT_TRUE((*s)->Write(b).ok());
    EXPECT_EQ(*(*s)->ReadEntryBundle(2), "old fragment+new");
  }
  auto raw = OpenRaw(dir.path(), /*read_only=*/true);
  ASSERT_NE(raw, nullptr);
  std::string value;
  EXPECT_TRUE(raw->db->Get(rocksdb::ReadOptions(), raw->handles[0], key, &value)
                  .IsNotFound());
  EXPECT_TRUE(
      raw->db->Get(rocksdb::ReadOptions(), raw->handles[1], key, &value).ok());
  EXPECT_EQ(value, "old fragment");
}

}  // namespace
}  // namespace clover::log
