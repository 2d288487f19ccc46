#include "gateway/access_index.h"

#include <pthread.h>

#include <algorithm>

#include "entry/entry_subjects.h"
#include "log/tile.h"

namespace clover::gateway {

AccessIndex::~AccessIndex() { Stop(); }

void AccessIndex::Note(uint64_t index, std::string subject) {
  absl::MutexLock lock(&noted_mu_);
  if (index < indexed_) return;
  noted_.emplace(index, std::move(subject));
}

bool AccessIndex::TakeNoted(uint64_t from, uint64_t to,
                            std::vector<std::optional<std::string>>& out) {
  out.assign(to - from, std::nullopt);
  size_t taken = 0;
  absl::MutexLock lock(&noted_mu_);
  auto it = noted_.lower_bound(from);
  while (it != noted_.end() && it->first < to) {
    out[it->first - from] = std::move(it->second);
    it = noted_.erase(it);
    ++taken;
  }
  return taken == out.size();
}

void AccessIndex::Indexed(uint64_t up_to) {
  absl::MutexLock lock(&noted_mu_);
  indexed_ = up_to;
  // Notes that arrived for entries already read back from the log.
  noted_.erase(noted_.begin(), noted_.lower_bound(up_to));
}

absl::Status AccessIndex::CatchUp() {
  absl::MutexLock lock(&catch_up_mu_);
  auto from = store_.IndexedUpTo();
  if (!from.ok()) return from.status();
  uint64_t size = log_.Size();
  uint64_t next = *from;
  std::vector<std::pair<std::string, uint64_t>> accesses;
  std::vector<std::optional<std::string>> noted;
  std::vector<std::string> found;  // one entry's subjects
  int bundles_pending = 0;
  while (next < size) {
    uint64_t bundle = next / log::kTileWidth;
    uint64_t bundle_end =
        std::min<uint64_t>((bundle + 1) * log::kTileWidth, size);
    std::string bundle_data;
    std::vector<absl::string_view> entries;  // views into bundle_data
    if (!TakeNoted(next, bundle_end, noted)) {
      int width = static_cast<int>(bundle_end - bundle * log::kTileWidth);
      auto data = log_.ReadEntryBundle(bundle, width);
      if (!data.ok()) return data.status();
      bundle_data = *std::move(data);
      auto parsed = log::ParseEntryBundle(bundle_data);
      if (!parsed.ok()) return parsed.status();
      entries = *std::move(parsed);
    }
    for (uint64_t i = next; i < bundle_end; ++i) {
      std::optional<std::string>& subject = noted[i - next];
      if (subject.has_value()) {
        if (!subject->empty()) accesses.emplace_back(std::move(*subject), i);
        continue;
      }
      uint64_t offset = i - bundle * log::kTileWidth;
      // An entry that is not JSON names no subject.
      if (offset < entries.size() &&
          entry::SubjectsOf(entries[offset], found)) {
        for (std::string& s : found) accesses.emplace_back(std::move(s), i);
      }
    }
    next = bundle_end;
    // One write per 64 bundles (or at the end): bounded memory on a long
    // catch-up, few writes in steady state.
    if (++bundles_pending == 64 || next >= size) {
      if (absl::Status s = store_.IndexBatch(accesses, next); !s.ok()) return s;
      Indexed(next);
      accesses.clear();
      bundles_pending = 0;
    }
  }
  return absl::OkStatus();
}

void AccessIndex::Start(absl::Duration period) {
  thread_ = std::thread([this, period] {
    pthread_setname_np(pthread_self(), "access-index");
    absl::MutexLock lock(&mu_);
    while (!stopping_) {
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), period);
      if (stopping_) break;
      mu_.Unlock();
      // A failure here is retried on the next round; access reports catch up
      // themselves.
      (void)CatchUp();
      mu_.Lock();
    }
  });
}

void AccessIndex::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

absl::StatusOr<std::vector<uint64_t>> AccessIndex::EntriesOf(
    absl::string_view pseudonym) {
  if (absl::Status s = CatchUp(); !s.ok()) return s;
  return store_.AccessesOf(pseudonym);
}

}  // namespace clover::gateway
