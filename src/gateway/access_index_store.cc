#include "gateway/access_index_store.h"

#include "absl/container/flat_hash_map.h"
#include "core/varint.h"

namespace clover::gateway {

std::vector<AccessRow> GroupAccesses(
    const std::vector<std::pair<std::string, uint64_t>>& accesses) {
  std::vector<AccessRow> groups;
  std::vector<uint64_t> last;  // of each group, its highest index so far
  std::vector<AccessRow> singles;
  absl::flat_hash_map<absl::string_view, size_t> group_of;
  for (const auto& [subject, index] : accesses) {
    auto [it, added] = group_of.try_emplace(subject, groups.size());
    if (added) {
      groups.push_back({subject, index, {}});
      last.push_back(index);
      continue;
    }
    AccessRow& g = groups[it->second];
    uint64_t& g_last = last[it->second];
    if (index > g_last) {
      AppendVarint64(index - g_last, &g.deltas);
      g_last = index;
    } else if (index != g_last && index != g.first) {
      singles.push_back({subject, index, {}});
    }
  }
  for (AccessRow& s : singles) groups.push_back(std::move(s));
  return groups;
}

}  // namespace clover::gateway
