// A sharded, bounded, least-recently-used map from string keys to copyable
// values (typically shared_ptr). Thread-safe.
#ifndef CLOVER_VAULT_LRU_CACHE_H_
#define CLOVER_VAULT_LRU_CACHE_H_

#include <cstddef>
#include <functional>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/synchronization/mutex.h"

namespace clover::vault {

template <typename V>
class LruCache {
 public:
  // Holds at most `capacity` entries in total (0 disables caching).
  explicit LruCache(size_t capacity)
      : per_shard_(capacity == 0 ? 0 : (capacity + kShards - 1) / kShards) {}

  std::optional<V> Get(std::string_view key) {
    Shard& s = ShardOf(key);
    absl::MutexLock lock(&s.mu);
    auto it = s.index.find(key);
    if (it == s.index.end()) return std::nullopt;
    s.order.splice(s.order.begin(), s.order, it->second);
    return it->second->second;
  }

  void Put(std::string_view key, V value) {
    if (per_shard_ == 0) return;
    Shard& s = ShardOf(key);
    absl::MutexLock lock(&s.mu);
    auto it = s.index.find(key);
    if (it != s.index.end()) {
      it->second->second = std::move(value);
      s.order.splice(s.order.begin(), s.order, it->second);
      return;
    }
    s.order.emplace_front(std::string(key), std::move(value));
    s.index.emplace(s.order.front().first, s.order.begin());
    if (s.order.size() > per_shard_) {
      s.index.erase(s.order.back().first);
      s.order.pop_back();
    }
  }

  void Erase(std::string_view key) {
    Shard& s = ShardOf(key);
    absl::MutexLock lock(&s.mu);
    auto it = s.index.find(key);
    if (it == s.index.end()) return;
    s.order.erase(it->second);
    s.index.erase(it);
  }

  void Clear() {
    for (Shard& s : shards_) {
      absl::MutexLock lock(&s.mu);
      s.index.clear();
      s.order.clear();
    }
  }

 private:
  static constexpr size_t kShards = 16;
  using List = std::list<std::pair<std::string, V>>;
  struct Shard {
    absl::Mutex mu;
    List order ABSL_GUARDED_BY(mu);  // most recent first
    // Keys are views into the list nodes, which never move.
    absl::flat_hash_map<std::string_view, typename List::iterator> index
        ABSL_GUARDED_BY(mu);
  };
  Shard& ShardOf(std::string_view key) {
    return shards_[absl::Hash<std::string_view>{}(key) % kShards];
  }

  const size_t per_shard_;
  Shard shards_[kShards];
};

}  // namespace clover::vault

#endif  // CLOVER_VAULT_LRU_CACHE_H_
