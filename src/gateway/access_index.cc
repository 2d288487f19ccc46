#include "gateway/access_index.h"

#include <pthread.h>

#include <algorithm>

#include "log/tile.h"
#include "rapidjson/memorystream.h"
#include "rapidjson/reader.h"

namespace clover::gateway {
namespace {

// Collects the top-level "subject" string and the strings of a top-level
// "subjects" array of a decision entry, reading it as a stream of SAX events:
// no document is built for the ~1.4 KB of every entry the index tails.
class SubjectsHandler
    : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, SubjectsHandler> {
 public:
  SubjectsHandler(uint64_t index,
                  std::vector<std::pair<std::string, uint64_t>>& out)
      : index_(index), out_(out) {}

  bool Default() { return true; }
  bool Key(const char* s, rapidjson::SizeType n, bool) {
    if (depth_ == 1) {
      const absl::string_view key(s, n);
      wanted_ = key == "subject"    ? Wanted::kSubject
                : key == "subjects" ? Wanted::kSubjects
                                    : Wanted::kNone;
    }
    return true;
  }
  bool String(const char* s, rapidjson::SizeType n, bool) {
    if ((depth_ == 1 && wanted_ == Wanted::kSubject) ||
        (depth_ == 2 && in_subjects_)) {
      found_.emplace_back(std::string(s, n), index_);
    }
    return true;
  }
  bool StartObject() { return Enter(false); }
  bool EndObject(rapidjson::SizeType) { return Leave(); }
  bool StartArray() {
    return Enter(depth_ == 1 && wanted_ == Wanted::kSubjects);
  }
  bool EndArray(rapidjson::SizeType) { return Leave(); }

  // Hands over what was found; only for an entry that parsed completely.
  void Commit() {
    for (auto& f : found_) out_.push_back(std::move(f));
  }

 private:
  enum class Wanted { kNone, kSubject, kSubjects };
  bool Enter(bool subjects_array) {
    ++depth_;
    if (depth_ == 2) in_subjects_ = subjects_array;
    return true;
  }
  bool Leave() {
    if (depth_ == 2) in_subjects_ = false;
    if (depth_ == 1) wanted_ = Wanted::kNone;
    --depth_;
    return true;
  }

  const uint64_t index_;
  std::vector<std::pair<std::string, uint64_t>>& out_;
  std::vector<std::pair<std::string, uint64_t>> found_;
  int depth_ = 0;
  Wanted wanted_ = Wanted::kNone;
  bool in_subjects_ = false;
};

void SubjectsOf(absl::string_view entry, uint64_t index,
                std::vector<std::pair<std::string, uint64_t>>& out) {
  SubjectsHandler handler(index, out);
  rapidjson::Reader reader;
  rapidjson::MemoryStream stream(entry.data(), entry.size());
  // Iterative: an entry is the gateway's own canonical JSON, but the index
  // must not trust its nesting depth either.
  if (reader.Parse<rapidjson::kParseIterativeFlag>(stream, handler).IsError())
    return;
  handler.Commit();
}

}  // namespace

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
      if (offset < entries.size()) SubjectsOf(entries[offset], i, accesses);
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
