#include "vault/read_batcher.h"

#include <utility>

namespace clover::vault {

ReadBatcher::ReadBatcher(Lookup lookup, size_t max_keys, int threads)
    : lookup_(std::move(lookup)), max_keys_(max_keys < 1 ? 1 : max_keys) {
  for (int i = 0; i < (threads < 1 ? 1 : threads); ++i) {
    threads_.emplace_back([this] { Loop(); });
  }
}

ReadBatcher::~ReadBatcher() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  for (std::thread& t : threads_) t.join();
}

void ReadBatcher::Read(Table table, std::string key,
                       StorageDriver::GetDone done) {
  absl::MutexLock lock(&mu_);
  queue_.push_back({table, std::move(key), std::move(done)});
}

void ReadBatcher::Loop() {
  for (;;) {
    std::vector<Pending> batch;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](ReadBatcher* b) ABSL_EXCLUSIVE_LOCKS_REQUIRED(b->mu_) {
            return b->stop_ || !b->queue_.empty();
          },
          this));
      if (queue_.empty()) return;  // stopping, and nothing left to answer
      // The reads of the first one's table, in order, up to the limit.
      const Table table = queue_.front().table;
      for (auto it = queue_.begin();
           it != queue_.end() && batch.size() < max_keys_;) {
        if (it->table != table) {
          ++it;
          continue;
        }
        batch.push_back(std::move(*it));
        it = queue_.erase(it);
      }
    }
    Answer(batch);
  }
}

void ReadBatcher::Answer(std::vector<Pending>& batch) {
  std::vector<std::string> keys;
  keys.reserve(batch.size());
  {
    absl::flat_hash_map<std::string, bool> seen;
    for (const Pending& p : batch) {
      if (seen.emplace(p.key, true).second) keys.push_back(p.key);
    }
  }
  absl::flat_hash_map<std::string, std::string> found;
  absl::Status s = lookup_(batch.front().table, keys, &found);
  for (Pending& p : batch) {
    if (!s.ok()) {
      p.done(s);
    } else if (auto it = found.find(p.key); it != found.end()) {
      p.done(std::optional<std::string>(it->second));
    } else {
      p.done(std::optional<std::string>());
    }
  }
}

}  // namespace clover::vault
