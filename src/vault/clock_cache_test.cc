#include "vault/clock_cache.h"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace clover::vault {
namespace {

TEST(ClockCacheTest, GetPutEraseClear) {
  ClockCache<int> cache(64);
  EXPECT_FALSE(cache.Get("a").has_value());
  cache.Put("a", 1);
  cache.Put("b", 2);
  EXPECT_EQ(cache.Get("a"), 1);
  cache.Put("a", 3);  // replaces
  EXPECT_EQ(cache.Get("a"), 3);
  cache.Erase("a");
  EXPECT_FALSE(cache.Get("a").has_value());
  EXPECT_EQ(cache.Get("b"), 2);
  cache.Put("a", 4);  // reuses the erased slot
  EXPECT_EQ(cache.Get("a"), 4);
  cache.Clear();
  EXPECT_FALSE(cache.Get("a").has_value());
  EXPECT_FALSE(cache.Get("b").has_value());
  cache.Put("c", 5);
  EXPECT_EQ(cache.Get("c"), 5);
}

TEST(ClockCacheTest, ZeroCapacityCachesNothing) {
  ClockCache<int> cache(0);
  cache.Put("a", 1);
  EXPECT_FALSE(cache.Get("a").has_value());
  cache.Erase("a");
}

TEST(ClockCacheTest, StaysBoundedAndKeepsWhatIsUsed) {
  constexpr int kCapacity = 1600;  // 100 per shard
  ClockCache<int> cache(kCapacity);
  for (int i = 0; i < 20 * kCapacity; ++i) {
    cache.Put("key-" + std::to_string(i), i);
    // A small hot set is read between insertions and must survive them.
    if (i >= 10) {
      for (int h = 0; h < 10; ++h) {
        ASSERT_EQ(cache.Get("key-" + std::to_string(h)), h) << "after " << i;
      }
    } else if (i == 9) {
      for (int h = 0; h < 10; ++h) cache.Get("key-" + std::to_string(h));
    }
  }
  int present = 0;
  for (int i = 0; i < 20 * kCapacity; ++i) {
    auto v = cache.Get("key-" + std::to_string(i));
    if (v.has_value()) {
      EXPECT_EQ(*v, i);
      ++present;
    }
  }
  EXPECT_LE(present, kCapacity);
  EXPECT_GE(present, kCapacity / 2);  // most of the room is in use
}

TEST(ClockCacheTest, ConcurrentReadersAndWriters) {
  ClockCache<std::shared_ptr<const std::string>> cache(256);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&cache, t] {
      for (int i = 0; i < 20000; ++i) {
        const std::string key = "k" + std::to_string((i * 7 + t) % 512);
        if (i % 3 == 0) {
          cache.Put(key, std::make_shared<const std::string>(key));
        } else if (i % 97 == 0) {
          cache.Erase(key);
        } else if (auto v = cache.Get(key); v.has_value()) {
          ASSERT_EQ(**v, key);  // never another key's value
        }
      }
    });
  }
  for (auto& th : threads) th.join();
}

// Keys are kept inline in their slot up to a size and on the heap beyond it;
// both kinds, and slots reused from one kind to the other, must behave alike.
TEST(ClockCacheTest, ShortAndLongKeysAlike) {
  ClockCache<int> cache(64);
  auto key = [](size_t n, char c) { return std::string(n, c); };
  for (size_t n = 0; n <= 130; ++n) cache.Put(key(n, 'a'), static_cast<int>(n));
  // 131 keys in a 64-entry cache: the newest are there, with their values.
  int found = 0;
  for (size_t n = 0; n <= 130; ++n) {
    auto v = cache.Get(key(n, 'a'));
    if (v.has_value()) {
      EXPECT_EQ(*v, static_cast<int>(n));
      ++found;
    }
  }
  EXPECT_GT(found, 0);
  EXPECT_LE(found, 64 + 16);  // capacity is rounded up per shard
  // A key that differs only past the inline size is another key.
  std::string long_a = key(60, 'x') + "a";
  std::string long_b = key(60, 'x') + "b";
  cache.Put(long_a, 1);
  cache.Put(long_b, 2);
  EXPECT_EQ(cache.Get(long_a), 1);
  EXPECT_EQ(cache.Get(long_b), 2);
  cache.Erase(long_a);
  EXPECT_FALSE(cache.Get(long_a).has_value());
  EXPECT_EQ(cache.Get(long_b), 2);
  // Reused slots: erase and insert across the two kinds.
  for (int round = 0; round < 3; ++round) {
    for (size_t n = 30; n < 50; ++n) cache.Erase(key(n, 'a'));
    for (size_t n = 30; n < 50; ++n) cache.Put(key(n, 'b'), 1000 + n);
    for (size_t n = 30; n < 50; ++n) {
      auto v = cache.Get(key(n, 'b'));
      if (v.has_value()) {
        EXPECT_EQ(*v, static_cast<int>(1000 + n));
      }
      EXPECT_FALSE(cache.Get(key(n, 'a')).has_value());
    }
  }
}

}  // namespace
}  // namespace clover::vault
