// A bounded LRU cache of expanded full tiles: memory stays constant as the log
// grows.
#ifndef CLOVER_LOG_TILE_CACHE_H_
#define CLOVER_LOG_TILE_CACHE_H_

#include <cstdint>
#include <list>
#include <memory>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "log/tile_tree.h"

namespace clover::log {

// Thread-safe.
class TileCache {
 public:
  // Holds at most `capacity` tiles (about 16 KiB each); 0 disables caching.
  explicit TileCache(size_t capacity) : capacity_(capacity) {}

  [[nodiscard]] std::shared_ptr<const TileTree> Get(int level, uint64_t index);
  void Put(int level, uint64_t index, std::shared_ptr<const TileTree> tile);
  [[nodiscard]] size_t size() const;

 private:
  using Key = std::pair<int, uint64_t>;
  struct Item {
    Key key;
    std::shared_ptr<const TileTree> tile;
  };
  const size_t capacity_;
  mutable absl::Mutex mu_;
  std::list<Item> lru_ ABSL_GUARDED_BY(mu_);  // front = most recent
  absl::flat_hash_map<Key, std::list<Item>::iterator> map_ ABSL_GUARDED_BY(mu_);
};

}  // namespace clover::log

#endif  // CLOVER_LOG_TILE_CACHE_H_
