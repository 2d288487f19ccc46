#include "gateway/regional_access_index.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/varint.h"

namespace clover::gateway {
namespace {

std::string SubjectPrefix(absl::string_view region, absl::string_view subject) {
  std::string key = absl::StrCat("access/", region);
  key.push_back('\0');
  absl::StrAppend(&key, subject);
  key.push_back('\0');
  return key;
}

std::string EntryKey(absl::string_view region, absl::string_view subject,
                     absl::string_view dc, uint64_t index) {
  std::string key = SubjectPrefix(region, subject);
  absl::StrAppend(&key, dc);
  key.push_back('\0');
  key.append(kv::EncodeKeyU64(index));
  return key;
}

std::string MarkerKey(absl::string_view region, absl::string_view dc) {
  std::string key = absl::StrCat("access-indexed/", region);
  key.push_back('\0');
  absl::StrAppend(&key, dc);
  return key;
}

// Appends the indices of one stored group (its first index in the key, the
// rest as deltas in `value`). False if the value is malformed.
bool DecodeGroup(uint64_t first, absl::string_view value,
                 std::vector<uint64_t>& out) {
  uint64_t index = first;
  out.push_back(index);
  while (!value.empty()) {
    uint64_t delta = 0;
    if (!ReadVarint64(&value, &delta) || delta == 0 ||
        index > UINT64_MAX - delta) {
      return false;
    }
    index += delta;
    out.push_back(index);
  }
  return true;
}

void SortUnique(std::vector<uint64_t>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

absl::Status Malformed() {
  return absl::DataLossError("regional access index: malformed entry");
}

}  // namespace

absl::Status RegionalAccessIndexStore::IndexBatch(
    const std::vector<std::pair<std::string, uint64_t>>& accesses,
    uint64_t indexed_up_to) {
  kv::KvBatch batch;
  for (const AccessRow& row : GroupAccesses(accesses)) {
    batch.Put(EntryKey(region_, row.subject, dc_, row.first), row.deltas);
  }
  batch.Put(MarkerKey(region_, dc_), kv::EncodeKeyU64(indexed_up_to));
  return kv_.Write(batch);
}

absl::StatusOr<uint64_t> RegionalAccessIndexStore::IndexedUpToOf(
    absl::string_view dc) const {
  absl::StatusOr<std::string> v = kv_.Get(MarkerKey(region_, dc));
  if (absl::IsNotFound(v.status())) return 0;
  if (!v.ok()) return v.status();
  uint64_t n = 0;
  if (!kv::DecodeKeyU64(*v, &n)) {
    return absl::DataLossError("regional access index: bad marker");
  }
  return n;
}

absl::StatusOr<std::map<std::string, std::vector<uint64_t>>>
RegionalAccessIndexStore::AllAccessesOf(absl::string_view subject) const {
  const std::string prefix = SubjectPrefix(region_, subject);
  std::map<std::string, std::vector<uint64_t>> out;
  bool malformed = false;
  absl::Status s =
      kv_.Scan(prefix, [&](absl::string_view key, absl::string_view value) {
        absl::string_view rest = key.substr(prefix.size());
        // dc NUL index(8)
        if (rest.size() < 10 || rest[rest.size() - 9] != '\0') {
          malformed = true;
          return false;
        }
        absl::string_view dc = rest.substr(0, rest.size() - 9);
        uint64_t first = 0;
        if (dc.find('\0') != absl::string_view::npos ||
            !kv::DecodeKeyU64(rest.substr(rest.size() - 8), &first) ||
            !DecodeGroup(first, value, out[std::string(dc)])) {
          malformed = true;
          return false;
        }
        return true;
      });
  if (!s.ok()) return s;
  if (malformed) return Malformed();
  // Groups written again after a crash (the index is rebuilt from the log)
  // may overlap the ones written before it.
  for (auto& [dc, v] : out) SortUnique(v);
  return out;
}

absl::StatusOr<std::vector<uint64_t>> RegionalAccessIndexStore::AccessesOf(
    absl::string_view subject) const {
  auto all = AllAccessesOf(subject);
  if (!all.ok()) return all.status();
  auto it = all->find(dc_);
  if (it == all->end()) return std::vector<uint64_t>{};
  return std::move(it->second);
}

}  // namespace clover::gateway
