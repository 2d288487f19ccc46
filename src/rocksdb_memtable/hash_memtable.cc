#include "rocksdb_memtable/hash_memtable.h"

#include <rocksdb/slice.h>
#include <rocksdb/version.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <utility>
#include <vector>

#include "absl/hash/hash.h"
#include "absl/strings/string_view.h"
#include "core/big_endian.h"

static_assert(ROCKSDB_MAJOR == 7 && ROCKSDB_MINOR == 8,
              "hash_memtable.cc relies on RocksDB 7.8's LookupKey layout and "
              "Arena symbol: review them for this version");

namespace rocksdb {
// memory/arena.h is not installed; librocksdb 7.8 exports this member
// (_ZN7rocksdb5Arena15AllocateAlignedEmmPNS_6LoggerE). It is virtual there;
// calling the exported definition directly is what a call through the object's
// vtable would reach, since Arena has no subclass.
class Arena {
 public:
  char* AllocateAligned(size_t bytes, size_t huge_page_size, Logger* logger);
};
}  // namespace rocksdb

namespace clover::rocksdb_memtable {
namespace {

using rocksdb::Slice;
using Comparator = rocksdb::MemTableRep::KeyComparator;

// RocksDB's memtable entry: varint32 length, internal key (user key and an
// 8-byte sequence/type trailer), then the value. RocksDB's own decoder
// (declared in rocksdb/memtablerep.h) reads the length.
Slice InternalKeyOf(const char* entry) {
  return rocksdb::GetLengthPrefixedSlice(entry);
}

absl::string_view UserKeyOf(const Slice& internal_key) {
  return absl::string_view(internal_key.data(), internal_key.size() - 8);
}

// The first 8 bytes of a user key, zero-padded, as a big-endian number: when
// two keys' prefixes differ, they order the keys as the bytewise comparator
// does (a shorter key pads with zeros, which sort first, as the shorter key
// itself does).
uint64_t PrefixOf(absl::string_view user_key) {
  char bytes[8] = {};
  std::memcpy(bytes, user_key.data(), std::min<size_t>(8, user_key.size()));
  return ReadBigEndian64(bytes);
}

// The fields of rocksdb::LookupKey (db/lookup_key.h in RocksDB 7.8, which the
// installed headers only declare): the memtable key is [start, end), the
// internal key [kstart, end).
struct LookupKeyFields {
  const char* start;
  const char* kstart;
  const char* end;
};

Slice InternalKeyOf(const rocksdb::LookupKey& lookup) {
  LookupKeyFields fields;
  std::memcpy(&fields, &lookup, sizeof fields);
  // A malformed length decodes to a null slice, which fails the check too.
  const Slice key = InternalKeyOf(fields.start);
  if (key.data() != fields.kstart || fields.end < fields.kstart ||
      static_cast<size_t>(fields.end - fields.kstart) != key.size() ||
      key.size() < 8) {
    std::fprintf(stderr,
                 "clover hash memtable: rocksdb::LookupKey does not have the "
                 "RocksDB 7.8 layout\n");
    std::abort();
  }
  return key;
}

struct Node {
  std::atomic<Node*> next{nullptr};  // the bucket's next entry, in key order
  Node* older = nullptr;             // the entry inserted before this one
  uint64_t prefix = 0;               // PrefixOf(user key)
  // The entry follows the node.
  const char* entry() const { return reinterpret_cast<const char*>(this + 1); }
};

// Entries in the comparator's order, shared by the iterators of an immutable
// memtable.
using SortedEntries = std::vector<const char*>;

class SortedIterator final : public rocksdb::MemTableRep::Iterator {
 public:
  SortedIterator(const Comparator& compare,
                 std::shared_ptr<const SortedEntries> entries)
      : compare_(compare),
        entries_(std::move(entries)),
        position_(entries_->size()) {}

  bool Valid() const override { return position_ < entries_->size(); }
  const char* key() const override { return (*entries_)[position_]; }
  void Next() override { ++position_; }
  void Prev() override {
    position_ = position_ == 0 ? entries_->size() : position_ - 1;
  }
  void Seek(const Slice& internal_key, const char* /*memtable_key*/) override {
    position_ = static_cast<size_t>(
        std::lower_bound(entries_->begin(), entries_->end(), internal_key,
                         [this](const char* entry, const Slice& target) {
                           return compare_(entry, target) < 0;
                         }) -
        entries_->begin());
  }
  void SeekForPrev(const Slice& internal_key,
                   const char* /*memtable_key*/) override {
    const size_t after = static_cast<size_t>(
        std::upper_bound(entries_->begin(), entries_->end(), internal_key,
                         [this](const Slice& target, const char* entry) {
                           return compare_(entry, target) > 0;
                         }) -
        entries_->begin());
    position_ = after == 0 ? entries_->size() : after - 1;
  }
  void SeekToFirst() override { position_ = 0; }
  void SeekToLast() override {
    position_ = entries_->empty() ? 0 : entries_->size() - 1;
  }

 private:
  const Comparator& compare_;
  const std::shared_ptr<const SortedEntries> entries_;
  size_t position_;  // entries_->size() when not valid
};

class HashMemTable final : public rocksdb::MemTableRep {
 public:
  HashMemTable(const Comparator& compare, rocksdb::Allocator* allocator,
               size_t buckets)
      : MemTableRep(allocator),
        compare_(compare),
        mask_(buckets - 1),
        buckets_(new std::atomic<Node*>[buckets]()) {}

  rocksdb::KeyHandle Allocate(const size_t len, char** buf) override {
    char* raw = nullptr;
    MemTableRep::Allocate(len + sizeof(Node) + alignof(Node) - 1, &raw);
    const auto address =
        (reinterpret_cast<uintptr_t>(raw) + alignof(Node) - 1) &
        ~uintptr_t{alignof(Node) - 1};
    Node* node = new (reinterpret_cast<void*>(address)) Node();
    *buf = const_cast<char*>(node->entry());
    return node;
  }

  // The one writer: readers see a node only once it is fully written (release
  // stores of the links that publish it).
  void Insert(rocksdb::KeyHandle handle) override {
    Node* node = static_cast<Node*>(handle);
    const Slice key = InternalKeyOf(node->entry());
    const absl::string_view user_key = UserKeyOf(key);
    node->prefix = PrefixOf(user_key);
    std::atomic<Node*>* link = &BucketOf(user_key);
    Node* next = link->load(std::memory_order_relaxed);
    while (next != nullptr && compare_(next->entry(), key) < 0) {
      link = &next->next;
      next = next->next.load(std::memory_order_relaxed);
    }
    node->next.store(next, std::memory_order_relaxed);
    node->older = newest_.load(std::memory_order_relaxed);
    link->store(node, std::memory_order_release);
    newest_.store(node, std::memory_order_release);
    count_.store(count_.load(std::memory_order_relaxed) + 1,
                 std::memory_order_relaxed);
  }

  bool Contains(const char* entry) const override {
    const Slice key = InternalKeyOf(entry);
    for (Node* node = First(key); node != nullptr;
         node = node->next.load(std::memory_order_acquire)) {
      const int order = compare_(node->entry(), key);
      if (order >= 0) return order == 0;
    }
    return false;
  }

  // The entries of the looked-up user key from its sequence number down, in
  // order, then whatever follows in the bucket: the callback stops at the
  // first entry of another user key.
  void Get(const rocksdb::LookupKey& lookup, void* callback_args,
           bool (*callback)(void* arg, const char* entry)) override {
    const Slice key = InternalKeyOf(lookup);
    for (Node* node = First(key); node != nullptr;
         node = node->next.load(std::memory_order_acquire)) {
      if (!callback(callback_args, node->entry())) return;
    }
  }

  void MarkReadOnly() override {
    read_only_.store(true, std::memory_order_release);
  }

  size_t ApproximateMemoryUsage() override {
    return (mask_ + 1) * sizeof(std::atomic<Node*>);
  }

  Iterator* GetIterator(rocksdb::Arena* arena) override {
    std::shared_ptr<const SortedEntries> entries;
    if (read_only_.load(std::memory_order_acquire)) {
      std::call_once(sorted_once_, [this] { sorted_ = Sort(); });
      entries = sorted_;
    } else {
      entries = Sort();
    }
    if (arena == nullptr) return new SortedIterator(compare_, entries);
    void* memory = arena->AllocateAligned(sizeof(SortedIterator), 0, nullptr);
    return new (memory) SortedIterator(compare_, std::move(entries));
  }

 private:
  std::atomic<Node*>& BucketOf(absl::string_view user_key) const {
    return buckets_[absl::Hash<absl::string_view>{}(user_key)&mask_];
  }

  // The bucket's first entry not before `key`.
  Node* First(const Slice& key) const {
    Node* node = BucketOf(UserKeyOf(key)).load(std::memory_order_acquire);
    while (node != nullptr && compare_(node->entry(), key) < 0) {
      node = node->next.load(std::memory_order_acquire);
    }
    return node;
  }

  std::shared_ptr<const SortedEntries> Sort() const {
    std::vector<std::pair<uint64_t, const Node*>> nodes;
    nodes.reserve(count_.load(std::memory_order_relaxed));
    for (const Node* node = newest_.load(std::memory_order_acquire);
         node != nullptr; node = node->older) {
      nodes.emplace_back(node->prefix, node);
    }
    std::sort(nodes.begin(), nodes.end(),
              [this](const std::pair<uint64_t, const Node*>& a,
                     const std::pair<uint64_t, const Node*>& b) {
                if (a.first != b.first) return a.first < b.first;
                return compare_(a.second->entry(), b.second->entry()) < 0;
              });
    auto entries = std::make_shared<SortedEntries>();
    entries->reserve(nodes.size());
    for (const auto& [prefix, node] : nodes) entries->push_back(node->entry());
    return entries;
  }

  const Comparator& compare_;
  const size_t mask_;
  const std::unique_ptr<std::atomic<Node*>[]> buckets_;
  std::atomic<Node*> newest_{nullptr};
  std::atomic<size_t> count_{0};
  std::atomic<bool> read_only_{false};
  std::once_flag sorted_once_;
  std::shared_ptr<const SortedEntries> sorted_;  // set once read-only
};

class HashMemTableFactory final : public rocksdb::MemTableRepFactory {
 public:
  explicit HashMemTableFactory(size_t buckets) : buckets_(buckets) {}

  const char* Name() const override { return "CloverHashMemTableFactory"; }

  rocksdb::MemTableRep* CreateMemTableRep(
      const Comparator& compare, rocksdb::Allocator* allocator,
      const rocksdb::SliceTransform* /*prefix_extractor*/,
      rocksdb::Logger* /*logger*/) override {
    return new HashMemTable(compare, allocator, buckets_);
  }

 private:
  const size_t buckets_;
};

}  // namespace

std::shared_ptr<rocksdb::MemTableRepFactory> NewHashMemTableFactory(
    size_t buckets) {
  size_t rounded = 1024;
  while (rounded < buckets && rounded < (size_t{1} << 40)) rounded <<= 1;
  return std::make_shared<HashMemTableFactory>(rounded);
}

}  // namespace clover::rocksdb_memtable
