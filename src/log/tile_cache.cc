#include "log/tile_cache.h"

namespace clover::log {

std::shared_ptr<const TileTree> TileCache::Get(int level, uint64_t index) {
  absl::MutexLock lock(&mu_);
  auto it = map_.find(Key(level, index));
  if (it == map_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->tile;
}

void TileCache::Put(int level, uint64_t index,
                    std::shared_ptr<const TileTree> tile) {
  if (capacity_ == 0) return;
  absl::MutexLock lock(&mu_);
  const Key key(level, index);
  auto it = map_.find(key);
  if (it != map_.end()) {
    it->second->tile = std::move(tile);
    lru_.splice(lru_.begin(), lru_, it->second);
    return;
  }
  lru_.push_front(Item{key, std::move(tile)});
  map_[key] = lru_.begin();
  while (lru_.size() > capacity_) {
    map_.erase(lru_.back().key);
    lru_.pop_back();
  }
}

size_t TileCache::size() const {
  absl::MutexLock lock(&mu_);
  return lru_.size();
}

}  // namespace clover::log
