#include "entry/field_groups.h"

#include <algorithm>
#include <vector>

#include "core/canonical_json.h"

namespace clover::entry {
namespace {

void AppendStringArray(std::span<const absl::string_view> items,
                       std::string* out) {
  out->push_back('[');
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out->push_back(',');
    AppendJsonString(items[i], out);
  }
  out->push_back(']');
}

bool DecidedAlike(const FieldOutcome& a, const FieldOutcome& b) {
  return a.effect == b.effect && a.decided_by == b.decided_by &&
         std::equal(a.rules.begin(), a.rules.end(), b.rules.begin(),
                    b.rules.end());
}

// One group's object; its members are written in canonical (sorted) order.
void AppendGroup(std::vector<const FieldOutcome*>& group, std::string* out) {
  // Categories are member names, so they go in canonical order; the names of
  // one category keep their order.
  std::stable_sort(group.begin(), group.end(),
                   [](const FieldOutcome* a, const FieldOutcome* b) {
                     return JsonKeyLess(a->category, b->category);
                   });
  const FieldOutcome& head = *group.front();
  out->push_back('{');
  if (!head.decided_by.empty()) {
    out->append("\"decided_by\":");
    AppendJsonString(head.decided_by, out);
    out->push_back(',');
  }
  out->append("\"effect\":");
  AppendJsonString(head.effect, out);
  out->append(",\"fields\":{");
  for (size_t i = 0; i < group.size(); ++i) {
    if (i == 0 || group[i]->category != group[i - 1]->category) {
      if (i > 0) out->append("],");
      AppendJsonString(group[i]->category, out);
      out->append(":[");
    } else {
      out->push_back(',');
    }
    AppendJsonString(group[i]->name, out);
  }
  out->append("]},\"restricted\":");
  std::vector<absl::string_view> restricted;
  for (const FieldOutcome* f : group)
    if (f->restricted) restricted.push_back(f->name);
  AppendStringArray(restricted, out);
  out->append(",\"rules\":");
  AppendStringArray(head.rules, out);
  out->push_back('}');
}

}  // namespace

void AppendFieldGroupsJson(std::span<const FieldOutcome> fields,
                           std::string* out) {
  std::vector<std::vector<const FieldOutcome*>> groups;
  for (const FieldOutcome& f : fields) {
    auto g = std::find_if(groups.begin(), groups.end(), [&](const auto& g) {
      return DecidedAlike(*g.front(), f);
    });
    if (g == groups.end()) {
      groups.emplace_back(1, &f);
    } else {
      g->push_back(&f);
    }
  }
  out->push_back('[');
  for (size_t i = 0; i < groups.size(); ++i) {
    if (i > 0) out->push_back(',');
    AppendGroup(groups[i], out);
  }
  out->push_back(']');
}

}  // namespace clover::entry
