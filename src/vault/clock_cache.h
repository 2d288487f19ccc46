// A sharded, bounded map from string keys to copyable values (typically
// shared_ptr) with CLOCK (second-chance) eviction: an approximation of
// least-recently-used in which a hit only sets a flag. Hits take a shard's lock
// in shared mode and write nothing but that flag, so concurrent readers do not
// serialise and a hit on a large cache touches two cache lines instead of
// relinking list nodes scattered over the heap. Thread-safe.
#ifndef CLOVER_VAULT_CLOCK_CACHE_H_
#define CLOVER_VAULT_CLOCK_CACHE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace clover::vault {

template <typename V>
class ClockCache {
 public:
  // Holds at most `capacity` entries in total (0 disables caching).
  explicit ClockCache(size_t capacity)
      : per_shard_(capacity == 0 ? 0 : (capacity + kShards - 1) / kShards) {}

  // The value cached under `key`, if any; marks it recently used.
  std::optional<V> Get(absl::string_view key) {
    Shard& s = ShardOf(key);
    absl::ReaderMutexLock lock(&s.mu);
    auto it = s.index.find(key);
    if (it == s.index.end()) return std::nullopt;
    Slot& slot = s.slots[it->second];
    // Test first: a hot entry's flag is already set, and not writing it keeps
    // its cache line shared between cores.
    if (!slot.referenced.load(std::memory_order_relaxed))
      slot.referenced.store(true, std::memory_order_relaxed);
    return slot.value;
  }

  // Inserts or replaces; when the shard is full, evicts the first entry the
  // clock hand finds not used since its last pass.
  void Put(absl::string_view key, V value) {
    if (per_shard_ == 0) return;
    Shard& s = ShardOf(key);
    absl::MutexLock lock(&s.mu);
    // Sized once for a full shard: growing a large index rehashes every entry
    // several times on the way (and a rehash now would move `it` below).
    if (s.slots.empty()) s.index.reserve(per_shard_);
    // One probe for both outcomes: the new entry's key first points at the
    // caller's bytes, then at the slot's copy.
    auto [it, inserted] = s.index.try_emplace(IndexKey{key}, 0);
    if (!inserted) {
      Slot& slot = s.slots[it->second];
      slot.value = std::move(value);
      slot.referenced.store(true, std::memory_order_relaxed);
      return;
    }
    // Evicting erases another entry, which leaves `it` in place (erasure does
    // not move the elements of an absl flat map).
    const uint32_t i = FreeSlot(s);
    Slot& slot = s.slots[i];
    slot.key.assign(key);
    slot.value = std::move(value);
    // New entries start unflagged: a full turn of the hand is their grace
    // period, and a shard full of flagged newcomers cannot make the hand
    // clear and then evict an entry that is in constant use.
    slot.referenced.store(false, std::memory_order_relaxed);
    // The slot never moves (the deque keeps its elements in place).
    it->first.Repoint(slot.key.view());
    it->second = i;
  }

  void Erase(absl::string_view key) {
    Shard& s = ShardOf(key);
    absl::MutexLock lock(&s.mu);
    auto it = s.index.find(key);
    if (it == s.index.end()) return;
    const uint32_t i = it->second;
    s.index.erase(it);
    Release(s.slots[i]);
    s.free.push_back(i);
  }

  // Entries held now (a snapshot; other threads may change it at once).
  size_t Size() const {
    size_t n = 0;
    for (const Shard& s : shards_) {
      absl::ReaderMutexLock lock(&s.mu);
      n += s.index.size();
    }
    return n;
  }

  void Clear() {
    for (Shard& s : shards_) {
      absl::MutexLock lock(&s.mu);
      s.index.clear();
      s.slots.clear();
      s.free.clear();
      s.hand = 0;
    }
  }

 private:
  static constexpr size_t kShards = 16;
  // A slot's key, stored in the slot itself when short (subject ids mostly
  // are), so a lookup's key comparison reads the cache line the value is on
  // rather than a separate heap block.
  class SlotKey {
   public:
    absl::string_view view() const {
      return heap_ != nullptr ? absl::string_view(heap_.get(), size_)
                              : absl::string_view(inline_, size_);
    }
    void assign(absl::string_view key) {
      size_ = key.size();
      if (key.size() <= sizeof inline_) {
        heap_.reset();
        std::memcpy(inline_, key.data(), key.size());
      } else {
        heap_ = std::make_unique<char[]>(key.size());
        std::memcpy(heap_.get(), key.data(), key.size());
      }
    }
    void clear() {
      heap_.reset();
      size_ = 0;
    }

   private:
    size_t size_ = 0;
    std::unique_ptr<char[]> heap_;  // keys longer than inline_
    char inline_[40];
  };
  // The index's key: a view of the entry's key bytes. Repointing it at an
  // equal copy changes neither its hash nor its equality, hence `mutable`.
  class IndexKey {
   public:
    explicit IndexKey(absl::string_view key) : key_(key) {}
    absl::string_view view() const { return key_; }
    void Repoint(absl::string_view equal_copy) const { key_ = equal_copy; }

   private:
    mutable absl::string_view key_;
  };
  struct IndexHash {
    using is_transparent = void;
    size_t operator()(absl::string_view key) const {
      return absl::Hash<absl::string_view>{}(key);
    }
    size_t operator()(const IndexKey& key) const { return (*this)(key.view()); }
  };
  struct IndexEq {
    using is_transparent = void;
    static absl::string_view View(absl::string_view key) { return key; }
    static absl::string_view View(const IndexKey& key) { return key.view(); }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return View(a) == View(b);
    }
  };
  struct Slot {
    SlotKey key;
    V value{};
    std::atomic<bool> referenced{false};  // set by readers under a shared lock
  };
  struct Shard {
    mutable absl::Mutex mu;
    std::deque<Slot> slots ABSL_GUARDED_BY(mu);  // grows to per_shard_
    absl::flat_hash_map<IndexKey, uint32_t, IndexHash, IndexEq> index
        ABSL_GUARDED_BY(mu);
    std::vector<uint32_t> free ABSL_GUARDED_BY(mu);  // erased slots
    size_t hand ABSL_GUARDED_BY(mu) = 0;
  };

  static void Release(Slot& slot) {
    slot.key.clear();
    slot.value = V{};
    slot.referenced.store(false, std::memory_order_relaxed);
  }

  // A slot for a new entry: an erased one, a new one, or an evicted one.
  uint32_t FreeSlot(Shard& s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) {
    if (!s.free.empty()) {
      const uint32_t i = s.free.back();
      s.free.pop_back();
      return i;
    }
    if (s.slots.size() < per_shard_) {
      s.slots.emplace_back();
      return static_cast<uint32_t>(s.slots.size() - 1);
    }
    // Every slot is in use (free is empty): at most one full turn clears
    // every flag, so the loop ends within two turns.
    for (;;) {
      const uint32_t i = static_cast<uint32_t>(s.hand);
      s.hand = (s.hand + 1) % s.slots.size();
      Slot& slot = s.slots[i];
      if (slot.referenced.load(std::memory_order_relaxed)) {
        slot.referenced.store(false, std::memory_order_relaxed);
        continue;
      }
      s.index.erase(slot.key.view());
      Release(slot);
      return i;
    }
  }

  // The shard comes from the hash's top bits: the index tells keys apart by
  // the low 7 bits (its control bytes), and if the shard took some of those,
  // every key of a shard would share them and most probes would compare keys
  // that merely share a tag.
  Shard& ShardOf(absl::string_view key) {
    static_assert((kShards & (kShards - 1)) == 0 && kShards <= 64);
    constexpr int kShardBits = __builtin_ctzll(kShards);
    const uint64_t hash = absl::Hash<absl::string_view>{}(key);
    return shards_[hash >> (64 - kShardBits)];
  }

  const size_t per_shard_;
  Shard shards_[kShards];
};

}  // namespace clover::vault

#endif  // CLOVER_VAULT_CLOCK_CACHE_H_
