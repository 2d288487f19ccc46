#include "rocksdb_memtable/hash_memtable.h"

#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/listener.h>
#include <rocksdb/options.h>
#include <rocksdb/snapshot.h>
#include <rocksdb/write_batch.h>

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/test_temp_dir.h"
#include "gtest/gtest.h"

namespace clover::rocksdb_memtable {
namespace {

using Model = std::map<std::string, std::string>;

// Counts completed flushes: the number of SST files cannot tell, since
// compaction may merge the flushed files at any time.
class FlushCounter : public rocksdb::EventListener {
 public:
  void OnFlushCompleted(rocksdb::DB*, const rocksdb::FlushJobInfo&) override {
    flushes_.fetch_add(1, std::memory_order_relaxed);
  }
  int flushes() const { return flushes_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int> flushes_{0};
};

class HashMemTableTest : public ::testing::Test {
 protected:
  // `write_buffer` small enough that the tests flush several memtables.
  void Open(size_t write_buffer = 64 << 10, size_t buckets = 256) {
    rocksdb::Options options;
    options.create_if_missing = true;
    options.allow_concurrent_memtable_write = false;
    options.memtable_factory = NewHashMemTableFactory(buckets);
    options.write_buffer_size = write_buffer;
    options.max_write_buffer_number = 4;
    options.memtable_prefix_bloom_size_ratio = 0.05;
    options.memtable_whole_key_filtering = true;
    options.listeners.push_back(flush_counter_);
    rocksdb::DB* raw = nullptr;
    rocksdb::Status s = rocksdb::DB::Open(options, dir_.path(), &raw);
    ASSERT_TRUE(s.ok()) << s.ToString();
    db_.reset(raw);
  }

  std::optional<std::string> Get(const std::string& key,
                                 const rocksdb::Snapshot* snapshot = nullptr) {
    rocksdb::ReadOptions read;
    read.snapshot = snapshot;
    std::string value;
    rocksdb::Status s = db_->Get(read, key, &value);
    if (s.IsNotFound()) return std::nullopt;
    EXPECT_TRUE(s.ok()) << s.ToString();
    return value;
  }

  // Forward and backward scans, and seeks to every model key and to keys
  // between them, agree with the model.
  void ExpectScansMatch(const Model& model, std::mt19937_64& rng,
                        const rocksdb::Snapshot* snapshot = nullptr) {
    rocksdb::ReadOptions read;
    read.snapshot = snapshot;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read));
    auto m = model.begin();
    for (it->SeekToFirst(); it->Valid(); it->Next(), ++m) {
      ASSERT_NE(m, model.end()) << "extra key " << it->key().ToString();
      ASSERT_EQ(it->key().ToString(), m->first);
      ASSERT_EQ(it->value().ToString(), m->second);
    }
    ASSERT_TRUE(it->status().ok());
    ASSERT_EQ(m, model.end());
    auto r = model.rbegin();
    for (it->SeekToLast(); it->Valid(); it->Prev(), ++r) {
      ASSERT_NE(r, model.rend());
      ASSERT_EQ(it->key().ToString(), r->first);
    }
    ASSERT_EQ(r, model.rend());
    for (int i = 0; i < 200; ++i) {
      std::string target = RandomKey(rng);
      it->Seek(target);
      auto expect = model.lower_bound(target);
      ASSERT_EQ(it->Valid(), expect != model.end()) << target;
      if (it->Valid()) {
        ASSERT_EQ(it->key().ToString(), expect->first);
      }
      it->SeekForPrev(target);
      auto after = model.upper_bound(target);
      ASSERT_EQ(it->Valid(), after != model.begin()) << target;
      if (it->Valid()) {
        ASSERT_EQ(it->key().ToString(), std::prev(after)->first);
      }
    }
  }

  // Keys of 0 to 12 bytes over a small alphabet that includes NUL and 0xff,
  // so that keys are prefixes of one another, share 8-byte prefixes, and
  // differ only beyond them.
  static std::string RandomKey(std::mt19937_64& rng) {
    static const char kAlphabet[] = {'\0', 'a', 'b', '\x7f', '\xff'};
    std::string key(rng() % 13, '\0');
    for (char& c : key) c = kAlphabet[rng() % sizeof kAlphabet];
    return key;
  }

  test::TempDir dir_{"hash-memtable"};
  std::shared_ptr<FlushCounter> flush_counter_ =
      std::make_shared<FlushCounter>();
  std::unique_ptr<rocksdb::DB> db_;
};

TEST_F(HashMemTableTest, RandomWritesMatchAMapThroughFlushes) {
  Open();
  std::mt19937_64 rng(7);
  Model model;
  for (int round = 0; round < 30; ++round) {
    for (int i = 0; i < 400; ++i) {
      std::string key = RandomKey(rng);
      if (rng() % 5 == 0) {
        ASSERT_TRUE(db_->Delete({}, key).ok());
        model.erase(key);
      } else {
        std::string value = "v" + std::to_string(round * 1000 + i) +
                            std::string(rng() % 64, 'x');
        rocksdb::WriteBatch batch;
        ASSERT_TRUE(batch.Put(key, value).ok());
        ASSERT_TRUE(db_->Write({}, &batch).ok());
        model[key] = value;
      }
    }
    for (int i = 0; i < 300; ++i) {
      std::string key = RandomKey(rng);
      auto expect = model.find(key);
      std::optional<std::string> got = Get(key);
      if (expect == model.end()) {
        ASSERT_FALSE(got.has_value()) << "key of size " << key.size();
      } else {
        ASSERT_EQ(got, expect->second);
      }
    }
    ExpectScansMatch(model, rng);
    if (round % 7 == 6) {
      ASSERT_TRUE(db_->Flush({}).ok());
    }
  }
  // Reopening replays the WAL into fresh memtables: the same data. Closing
  // also waits for the background flushes, so all of them are counted:
  // memtables were flushed (sorted by the representation) along the way, at
  // least the four asked for, each holding that round's writes.
  db_.reset();
  EXPECT_GE(flush_counter_->flushes(), 4);
  Open();
  ExpectScansMatch(model, rng);
}

TEST_F(HashMemTableTest, SnapshotsSeeTheirVersionsOfAKey) {
  Open(1 << 20);  // one memtable: every version is in it
  std::mt19937_64 rng(3);
  std::vector<std::pair<const rocksdb::Snapshot*, Model>> snapshots;
  Model model;
  for (int v = 0; v < 20; ++v) {
    for (int k = 0; k < 50; ++k) {
      std::string key = "key" + std::to_string(k);
      if ((v + k) % 6 == 0) {
        ASSERT_TRUE(db_->Delete({}, key).ok());
        model.erase(key);
      } else {
        std::string value = key + "@" + std::to_string(v);
        ASSERT_TRUE(db_->Put({}, key, value).ok());
        model[key] = value;
      }
    }
    snapshots.emplace_back(db_->GetSnapshot(), model);
  }
  for (auto& [snapshot, expect] : snapshots) {
    for (int k = 0; k < 50; ++k) {
      std::string key = "key" + std::to_string(k);
      auto e = expect.find(key);
      std::optional<std::string> got = Get(key, snapshot);
      if (e == expect.end()) {
        EXPECT_FALSE(got.has_value()) << key;
      } else {
        EXPECT_EQ(got, e->second);
      }
    }
    ExpectScansMatch(expect, rng, snapshot);
  }
  // The memtable becomes immutable and is flushed with every version the
  // snapshots hold; reads through the immutable memtable and the table agree.
  ASSERT_TRUE(db_->Flush({}).ok());
  for (auto& [snapshot, expect] : snapshots) {
    ExpectScansMatch(expect, rng, snapshot);
    db_->ReleaseSnapshot(snapshot);
  }
}

TEST_F(HashMemTableTest, ReadersRunBesideTheWriter) {
  // Values of a key only grow (zero-padded counters), so a reader can tell a
  // stale or torn read: each read must not go back, and every scan is in
  // order.
  Open(256 << 10, 1024);
  constexpr int kKeys = 500;
  std::atomic<bool> done{false};
  std::atomic<int> failures{0};
  std::thread writer([&] {
    std::mt19937_64 rng(11);
    for (int i = 1; i <= 60000; ++i) {
      char value[16];
      std::snprintf(value, sizeof value, "%010d", i);
      if (!db_->Put({}, "k" + std::to_string(rng() % kKeys), value).ok())
        failures.fetch_add(1);
    }
    done.store(true);
  });
  auto reader = [&](uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<std::string> last(kKeys);
    while (!done.load()) {
      for (int i = 0; i < 200; ++i) {
        const int k = static_cast<int>(rng() % kKeys);
        std::string value;
        rocksdb::Status s = db_->Get({}, "k" + std::to_string(k), &value);
        if (s.IsNotFound()) {
          if (!last[k].empty()) failures.fetch_add(1);
          continue;
        }
        if (!s.ok() || value < last[k]) failures.fetch_add(1);
        last[k] = value;
      }
      std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator({}));
      std::string previous;
      bool first = true;
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        if (!first && !(previous < it->key().ToString())) failures.fetch_add(1);
        previous = it->key().ToString();
        first = false;
      }
    }
  };
  std::thread r1(reader, 1), r2(reader, 2);
  writer.join();
  r1.join();
  r2.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST_F(HashMemTableTest, ConcurrentMemtableWritesAreRefused) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.memtable_factory = NewHashMemTableFactory(1024);
  options.allow_concurrent_memtable_write = true;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, dir_.path(), &raw);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  delete raw;
}

}  // namespace
}  // namespace clover::rocksdb_memtable
