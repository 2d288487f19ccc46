#include "audit/flows.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/canonical_json.h"
#include "core/json_fields.h"
#include "core/rfc3339.h"
#include "server/page_token.h"

namespace clover::audit {
namespace {

constexpr char kSep[] = "\x1f";

// A row of unknown region keeps the form rows had before flows carried one
// (see flows.h), so that pruning deletes the very key an old auditor wrote.
std::string RegionPart(const std::string& region) {
  return region.empty() ? std::string() : absl::StrCat(region, kSep);
}
std::string FlowDbKey(const FlowKey& k) {
  return absl::StrCat("flow/", kv::EncodeKeyU64(static_cast<uint64_t>(k.hour)),
                      RegionPart(k.region), k.destination, kSep, k.category,
                      kSep, k.purpose, kSep, policy::ToString(k.effect));
}
std::string XferDbKey(const TransferKey& k) {
  return absl::StrCat("xfer/", kv::EncodeKeyU64(static_cast<uint64_t>(k.hour)),
                      RegionPart(k.region), k.destination, kSep, k.purpose,
                      kSep, k.action);
}

// The stored key's strings without the region, and the region ("" in the old
// form, which has `n` strings; the new form has n + 1).
bool SplitRegion(std::vector<std::string>& parts, size_t n,
                 std::string* region) {
  if (parts.size() == n + 1) {
    *region = std::move(parts[0]);
    parts.erase(parts.begin());
    return !region->empty();
  }
  region->clear();
  return parts.size() == n;
}

void AppendStr(std::string* out, absl::string_view name, absl::string_view v) {
  AppendJsonString(name, out);
  out->push_back(':');
  AppendJsonString(v, out);
  out->push_back(',');
}

}  // namespace

int64_t UnixHour(absl::Time t) { return absl::ToUnixSeconds(t) / 3600; }

std::string DestinationRegion(const FlowOptions& options,
                              absl::string_view destination) {
  auto it = options.destination_regions.find(destination);
  return it == options.destination_regions.end() ? std::string(destination)
                                                 : it->second;
}

std::string RegionMembers(const FlowOptions& options, absl::string_view region,
                          absl::string_view destination) {
  const std::string to = DestinationRegion(options, destination);
  std::string out = ",\"destination_region\":";
  AppendJsonString(to, &out);
  out += ",\"out_of_region\":";
  out += region.empty() ? "null" : (to != region ? "true" : "false");
  return out;
}

void FlowStats::Add(const entry::DecisionEntry& e,
                    absl::string_view origin_region) {
  const int64_t hour = UnixHour(e.time);
  // 0x1f separates the stored key's strings: a region holding it (from a
  // node's entry) must not make the stored row unreadable.
  std::string region(origin_region);
  std::replace(region.begin(), region.end(), kSep[0], '_');
  const uint64_t records = std::max<uint64_t>(e.records, 1);
  const auto add_flow = [&](const std::string& category, policy::Effect effect,
                            uint64_t fields) {
    FlowKey k{hour, region, e.destination, category, e.purpose, effect};
    FlowTotals* total = nullptr;
    for (auto* m : {&flows_, &metric_flows_}) {
      FlowTotals& t = (*m)[k];
      t.decisions += fields;
      t.values += records * fields;
      if (m == &flows_) total = &t;
    }
    dirty_flows_[std::move(k)] = *total;
  };
  // Fields of one category decided alike are one flow: count them first, so
  // that each flow's maps are looked up once per entry, not once per field.
  // At most kGrouped flows are grouped, which bounds the search per field
  // whatever an entry holds; the rest are added field by field.
  constexpr size_t kGrouped = 16;
  struct Count {
    const std::string* category;
    policy::Effect effect;
    uint64_t fields;
  };
  absl::InlinedVector<Count, kGrouped> counts;
  for (const entry::FieldEntry& f : e.fields) {
    auto it = std::find_if(counts.begin(), counts.end(), [&](const Count& c) {
      return c.effect == f.effect && *c.category == f.category;
    });
    if (it != counts.end()) {
      ++it->fields;
    } else if (counts.size() < kGrouped) {
      counts.push_back({&f.category, f.effect, 1});
    } else {
      add_flow(f.category, f.effect, 1);
    }
  }
  for (const Count& c : counts) add_flow(*c.category, c.effect, c.fields);
  TransferKey tk{hour, region, e.destination, e.purpose, e.action};
  for (auto* m : {&transfers_, &metric_xfers_}) {
    TransferTotals& t = (*m)[tk];
    t.requests += 1;
    t.records += e.records;
    t.bytes += e.bytes;
  }
  dirty_xfers_[tk] = transfers_[tk];
}

absl::Status FlowStats::Load(const kv::KvStore& kv) {
  absl::Status bad;
  absl::Status s =
      kv.Scan("flow/", [&](absl::string_view key, absl::string_view value) {
        key.remove_prefix(5);
        uint64_t hour;
        std::vector<std::string> parts = absl::StrSplit(key.substr(8), kSep);
        std::vector<std::string> nums = absl::StrSplit(value, ' ');
        FlowTotals t;
        std::optional<policy::Effect> effect;
        std::string region;
        if (!kv::DecodeKeyU64(key.substr(0, 8), &hour) ||
            !SplitRegion(parts, 4, &region) || nums.size() != 2 ||
            !absl::SimpleAtoi(nums[0], &t.decisions) ||
            !absl::SimpleAtoi(nums[1], &t.values) ||
            !(effect = policy::ParseEffect(parts[3]))) {
          bad = absl::DataLossError("corrupt flow record in the auditor store");
          return false;
        }
        flows_[FlowKey{static_cast<int64_t>(hour), std::move(region), parts[0],
                       parts[1], parts[2], *effect}] = t;
        return true;
      });
  if (!s.ok()) return s;
  if (!bad.ok()) return bad;
  s = kv.Scan("xfer/", [&](absl::string_view key, absl::string_view value) {
    key.remove_prefix(5);
    uint64_t hour;
    std::vector<std::string> parts = absl::StrSplit(key.substr(8), kSep);
    std::vector<std::string> nums = absl::StrSplit(value, ' ');
    TransferTotals t;
    std::string region;
    if (!kv::DecodeKeyU64(key.substr(0, 8), &hour) ||
        !SplitRegion(parts, 3, &region) || nums.size() != 3 ||
        !absl::SimpleAtoi(nums[0], &t.requests) ||
        !absl::SimpleAtoi(nums[1], &t.records) ||
        !absl::SimpleAtoi(nums[2], &t.bytes)) {
      bad = absl::DataLossError("corrupt transfer record in the auditor store");
      return false;
    }
    transfers_[TransferKey{static_cast<int64_t>(hour), std::move(region),
                           parts[0], parts[1], parts[2]}] = t;
    return true;
  });
  if (!s.ok()) return s;
  return bad;
}

void FlowStats::Flush(kv::KvBatch& batch) {
  for (const auto& [k, t] : dirty_flows_) {
    batch.Put(FlowDbKey(k), absl::StrCat(t.decisions, " ", t.values));
  }
  for (const auto& [k, t] : dirty_xfers_) {
    batch.Put(XferDbKey(k),
              absl::StrCat(t.requests, " ", t.records, " ", t.bytes));
  }
  dirty_flows_.clear();
  dirty_xfers_.clear();
}

size_t FlowStats::Prune(absl::Time now, kv::KvBatch& batch) {
  // Hours that ended before the cutoff go: [h*3600, (h+1)*3600) < cutoff.
  const int64_t keep_from = UnixHour(now - options_.retention);
  size_t removed = 0;
  size_t n = 0;
  for (auto it = flows_.begin();
       it != flows_.end() && it->first.hour < keep_from &&
       n < options_.prune_rows_per_pass;
       ++n) {
    batch.Delete(FlowDbKey(it->first));
    dirty_flows_.erase(it->first);
    it = flows_.erase(it);
  }
  removed += n;
  n = 0;
  for (auto it = transfers_.begin();
       it != transfers_.end() && it->first.hour < keep_from &&
       n < options_.prune_rows_per_pass;
       ++n) {
    batch.Delete(XferDbKey(it->first));
    dirty_xfers_.erase(it->first);
    it = transfers_.erase(it);
  }
  return removed + n;
}

void FlowStats::PublishMetrics(server::CounterFamily& decisions,
                               server::CounterFamily& bytes) {
  for (const auto& [k, t] : metric_flows_) {
    decisions
        .WithLabels({absl::string_view(k.region),
                     absl::string_view(k.destination),
                     absl::string_view(k.category),
                     absl::string_view(k.purpose), policy::ToString(k.effect)})
        .Increment(t.decisions);
  }
  for (const auto& [k, t] : metric_xfers_) {
    bytes
        .WithLabels({absl::string_view(k.region),
                     absl::string_view(k.destination),
                     absl::string_view(k.purpose), absl::string_view(k.action)})
        .Increment(t.bytes);
  }
  metric_flows_.clear();
  metric_xfers_.clear();
}

std::string FlowStats::ToJson(absl::Time from, absl::Time to) const {
  return ToJsonPage(from, to, SIZE_MAX, {})->json;  // no cursor: cannot fail
}

namespace {

// Page cursors of the two arrays: "" from the start, "a" + key after that
// row, "z" when the array was listed to its end.
std::string HourKey(int64_t hour) {
  return server::AscendingKey(static_cast<uint64_t>(hour) ^
                              (uint64_t{1} << 63));
}
std::optional<int64_t> HourOf(absl::string_view key) {
  if (key.size() != 8) return std::nullopt;
  uint64_t v = 0;
  for (char c : key) v = (v << 8) | static_cast<uint8_t>(c);
  return static_cast<int64_t>(v ^ (uint64_t{1} << 63));
}
std::string CursorOf(const FlowKey& k) {
  return "a" + server::JoinCursor({HourKey(k.hour), k.region, k.destination,
                                   k.category, k.purpose,
                                   std::string(policy::ToString(k.effect))});
}
std::string CursorOf(const TransferKey& k) {
  return "a" + server::JoinCursor({HourKey(k.hour), k.region, k.destination,
                                   k.purpose, k.action});
}
std::optional<FlowKey> FlowKeyOf(absl::string_view c) {
  auto f = server::SplitCursor(c, 6);
  if (!f) return std::nullopt;
  auto hour = HourOf((*f)[0]);
  auto effect = policy::ParseEffect((*f)[5]);
  if (!hour || !effect) return std::nullopt;
  return FlowKey{*hour, (*f)[1], (*f)[2], (*f)[3], (*f)[4], *effect};
}
std::optional<TransferKey> TransferKeyOf(absl::string_view c) {
  auto f = server::SplitCursor(c, 5);
  if (!f) return std::nullopt;
  auto hour = HourOf((*f)[0]);
  if (!hour) return std::nullopt;
  return TransferKey{*hour, (*f)[1], (*f)[2], (*f)[3], (*f)[4]};
}

// The later of two positions in `rows`.
template <typename Map>
typename Map::const_iterator Later(const Map& rows,
                                   typename Map::const_iterator a,
                                   typename Map::const_iterator b) {
  if (a == rows.end() || b == rows.end()) return rows.end();
  return a->first < b->first ? b : a;
}

// Appends to `out` up to `limit` rows of `rows` with hours in [h0, h1],
// starting at `begin`; returns the cursor of what is left ("z": nothing).
template <typename Map, typename Write>
std::string AppendRows(const Map& rows, typename Map::const_iterator it,
                       int64_t h1, size_t limit, std::string& out,
                       Write write) {
  bool first = true;
  size_t n = 0;
  typename Map::const_iterator last = rows.end();
  for (; it != rows.end() && it->first.hour <= h1; ++it) {
    if (n == limit) return CursorOf(last->first);
    if (!first) out += ',';
    first = false;
    write(it->first, it->second);
    last = it;
    ++n;
  }
  return "z";
}

}  // namespace

absl::StatusOr<FlowStats::Page> FlowStats::ToJsonPage(
    absl::Time from, absl::Time to, size_t limit,
    const std::vector<std::string>& after) const {
  const int64_t h0 = UnixHour(from);
  const int64_t h1 = UnixHour(to - absl::Nanoseconds(1));
  const std::string flows_after = after.size() == 2 ? after[0] : "";
  const std::string xfers_after = after.size() == 2 ? after[1] : "";
  auto bad = [] {
    return absl::InvalidArgumentError("query 'page_token': not a flows cursor");
  };
  auto flow_it =
      flows_.lower_bound(FlowKey{h0, "", "", "", "", policy::Effect::kAllow});
  if (flows_after == "z") {
    flow_it = flows_.end();
  } else if (!flows_after.empty()) {
    auto k = FlowKeyOf(absl::string_view(flows_after).substr(1));
    if (flows_after[0] != 'a' || !k) return bad();
    flow_it = Later(flows_, flow_it, flows_.upper_bound(*k));
  }
  auto xfer_it = transfers_.lower_bound(TransferKey{h0, "", "", "", ""});
  if (xfers_after == "z") {
    xfer_it = transfers_.end();
  } else if (!xfers_after.empty()) {
    auto k = TransferKeyOf(absl::string_view(xfers_after).substr(1));
    if (xfers_after[0] != 'a' || !k) return bad();
    xfer_it = Later(transfers_, xfer_it, transfers_.upper_bound(*k));
  }
  Page page;
  std::string& out = page.json;
  out = "{";
  AppendStr(&out, "from", FormatRfc3339Millis(from));
  AppendStr(&out, "to", FormatRfc3339Millis(to));
  out += "\"flows\":[";
  page.next.push_back(AppendRows(
      flows_, flow_it, h1, limit, out,
      [this, &out](const FlowKey& k, const FlowTotals& t) {
        out += '{';
        AppendStr(&out, "hour",
                  FormatRfc3339Millis(absl::FromUnixSeconds(k.hour * 3600)));
        AppendStr(&out, "region", k.region);
        AppendStr(&out, "destination", k.destination);
        AppendStr(&out, "category", k.category);
        AppendStr(&out, "purpose", k.purpose);
        AppendStr(&out, "effect", policy::ToString(k.effect));
        absl::StrAppend(&out, "\"decisions\":", t.decisions,
                        ",\"values\":", t.values,
                        RegionMembers(options_, k.region, k.destination), "}");
      }));
  out += "],\"transfers\":[";
  page.next.push_back(AppendRows(
      transfers_, xfer_it, h1, limit, out,
      [this, &out](const TransferKey& k, const TransferTotals& t) {
        out += '{';
        AppendStr(&out, "hour",
                  FormatRfc3339Millis(absl::FromUnixSeconds(k.hour * 3600)));
        AppendStr(&out, "region", k.region);
        AppendStr(&out, "destination", k.destination);
        AppendStr(&out, "purpose", k.purpose);
        AppendStr(&out, "action", k.action);
        absl::StrAppend(&out, "\"requests\":", t.requests,
                        ",\"records\":", t.records, ",\"bytes\":", t.bytes,
                        RegionMembers(options_, k.region, k.destination), "}");
      }));
  out += "]}";
  if (page.next[0] == "z" && page.next[1] == "z") page.next.clear();
  return page;
}

}  // namespace clover::audit
