#include "gateway/access_index.h"

#include <algorithm>

#include "log/tile.h"
#include "rapidjson/document.h"

namespace clover::gateway {
namespace {

void SubjectsOf(absl::string_view entry, uint64_t index,
                std::vector<std::pair<std::string, uint64_t>>& out) {
  rapidjson::Document doc;
  doc.Parse(entry.data(), entry.size());
  if (doc.HasParseError() || !doc.IsObject()) return;
  auto subject = doc.FindMember("subject");
  if (subject != doc.MemberEnd() && subject->value.IsString()) {
    out.emplace_back(std::string(subject->value.GetString(),
                                 subject->value.GetStringLength()),
                     index);
  }
  auto subjects = doc.FindMember("subjects");
  if (subjects != doc.MemberEnd() && subjects->value.IsArray()) {
    for (const auto& s : subjects->value.GetArray()) {
      if (s.IsString())
        out.emplace_back(std::string(s.GetString(), s.GetStringLength()),
                         index);
    }
  }
}

}  // namespace

AccessIndex::~AccessIndex() { Stop(); }

absl::Status AccessIndex::CatchUp() {
  absl::MutexLock lock(&catch_up_mu_);
  auto from = store_.IndexedUpTo();
  if (!from.ok()) return from.status();
  uint64_t size = log_.Size();
  uint64_t next = *from;
  while (next < size) {
    uint64_t bundle = next / log::kTileWidth;
    uint64_t bundle_end =
        std::min<uint64_t>((bundle + 1) * log::kTileWidth, size);
    int width = static_cast<int>(bundle_end - bundle * log::kTileWidth);
    auto data = log_.ReadEntryBundle(bundle, width);
    if (!data.ok()) return data.status();
    auto entries = log::ParseEntryBundle(*data);
    if (!entries.ok()) return entries.status();
    std::vector<std::pair<std::string, uint64_t>> accesses;
    for (uint64_t i = next; i < bundle_end; ++i) {
      uint64_t offset = i - bundle * log::kTileWidth;
      if (offset < entries->size()) SubjectsOf((*entries)[offset], i, accesses);
    }
    if (absl::Status s = store_.IndexBatch(accesses, bundle_end); !s.ok())
      return s;
    next = bundle_end;
  }
  return absl::OkStatus();
}

void AccessIndex::Start(absl::Duration period) {
  thread_ = std::thread([this, period] {
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
