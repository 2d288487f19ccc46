#include "audit/console_pages.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "audit/flows.h"
#include "core/canonical_json.h"
#include "core/rfc3339.h"
#include "rapidjson/document.h"
#include "server/page_token.h"

namespace clover::audit {
namespace {

constexpr absl::string_view kFlowEntryPrefix = "flowent/";
constexpr char kSep = '\x1f';

uint64_t HourKey(absl::Time t) {
  return t < absl::UnixEpoch() ? 0 : static_cast<uint64_t>(UnixHour(t));
}

absl::Status ValueParam(const server::HttpRequest& req, absl::string_view name,
                        std::string* out) {
  if (!req.HasQueryParam(name)) return absl::OkStatus();
  *out = req.QueryParam(name);
  if (out->empty() || out->size() > kMaxQueryValueBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "query '", name, "': 1 to ", kMaxQueryValueBytes, " bytes"));
  }
  return absl::OkStatus();
}

absl::Status TimeParam(const server::HttpRequest& req, absl::string_view name,
                       std::optional<absl::Time>* out) {
  if (!req.HasQueryParam(name)) return absl::OkStatus();
  absl::StatusOr<absl::Time> t = ParseRfc3339(req.QueryParam(name));
  if (!t.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("query '", name, "': ", t.status().message()));
  }
  *out = *t;
  return absl::OkStatus();
}

// Whether a stored flow entry summary belongs to the query's bucket.
// The origin region of a stored summary (rows indexed before origin_region
// existed: the region the entry stated).
std::string OriginRegionOf(const rapidjson::Document& d) {
  for (const char* name : {"origin_region", "region"}) {
    auto it = d.FindMember(name);
    if (it != d.MemberEnd() && it->value.IsString()) {
      return std::string(it->value.GetString(), it->value.GetStringLength());
    }
  }
  return "";
}

bool InBucket(const rapidjson::Document& d, const FlowEntryQuery& q) {
  if (!q.region.empty() && OriginRegionOf(d) != q.region) return false;
  auto str_is = [&d](const char* name, const std::string& want) {
    if (want.empty()) return true;
    auto it = d.FindMember(name);
    return it != d.MemberEnd() && it->value.IsString() &&
           absl::string_view(it->value.GetString(),
                             it->value.GetStringLength()) == want;
  };
  if (!str_is("destination", q.destination) || !str_is("purpose", q.purpose)) {
    return false;
  }
  if (q.category.empty() && !q.effect) return true;
  auto fields = d.FindMember("fields");
  if (fields == d.MemberEnd() || !fields->value.IsArray()) return false;
  const std::string effect =
      q.effect ? std::string(policy::ToString(*q.effect)) : "";
  for (const auto& f : fields->value.GetArray()) {
    if (!f.IsObject() || !f.HasMember("category") || !f.HasMember("effect") ||
        !f["category"].IsString() || !f["effect"].IsString()) {
      continue;
    }
    if ((q.category.empty() || q.category == f["category"].GetString()) &&
        (effect.empty() || effect == f["effect"].GetString())) {
      return true;
    }
  }
  return false;
}

}  // namespace

bool IncidentQuery::Matches(const Incident& i) const {
  if (status && i.status != *status) return false;
  if (severity && i.severity != *severity) return false;
  if (!detector.empty() && i.detector != detector) return false;
  if (since && i.last_seen < *since) return false;
  if (until && i.first_seen >= *until) return false;
  return true;
}

absl::StatusOr<IncidentQuery> ParseIncidentQuery(
    const server::HttpRequest& req) {
  IncidentQuery q;
  if (req.HasQueryParam("status")) {
    q.status = ParseIncidentStatus(req.QueryParam("status"));
    if (!q.status) {
      return absl::InvalidArgumentError(
          "query 'status': must be open, acknowledged or resolved");
    }
  }
  if (req.HasQueryParam("severity")) {
    q.severity = ParseSeverity(req.QueryParam("severity"));
    if (!q.severity) {
      return absl::InvalidArgumentError(
          "query 'severity': must be low, medium, high or critical");
    }
  }
  if (absl::Status s = ValueParam(req, "detector", &q.detector); !s.ok()) {
    return s;
  }
  if (absl::Status s = TimeParam(req, "since", &q.since); !s.ok()) return s;
  if (absl::Status s = TimeParam(req, "until", &q.until); !s.ok()) return s;
  if (q.since && q.until && *q.until <= *q.since) {
    return absl::InvalidArgumentError("query 'until': must be after 'since'");
  }
  // Without filters the text is empty, as before they existed.
  if (q.status || q.severity || !q.detector.empty() || q.since || q.until) {
    q.filter = server::JoinCursor(
        {q.status ? std::string(ToString(*q.status)) : "",
         q.severity ? std::string(ToString(*q.severity)) : "", q.detector,
         q.since ? absl::StrCat(absl::ToUnixNanos(*q.since)) : "",
         q.until ? absl::StrCat(absl::ToUnixNanos(*q.until)) : ""});
  }
  return q;
}

void AddJsonMember(std::string& json_object, absl::string_view name,
                   absl::string_view raw_value) {
  if (json_object.empty() || json_object.back() != '}') return;
  json_object.pop_back();
  if (json_object.size() > 1) json_object += ',';
  AppendJsonString(name, &json_object);
  json_object += ':';
  json_object.append(raw_value.data(), raw_value.size());
  json_object += '}';
}

void IndexFlowEntry(absl::string_view origin, uint64_t index,
                    const entry::DecisionEntry& e,
                    absl::string_view origin_region, kv::KvBatch& batch) {
  std::string v = "{\"origin\":";
  AppendJsonString(origin, &v);
  absl::StrAppend(&v, ",\"index\":", index, ",\"time\":");
  AppendJsonString(FormatRfc3339Millis(e.time), &v);
  for (auto [name, value] : {std::pair<const char*, const std::string*>{
                                 "principal", &e.principal_id},
                             {"action", &e.action},
                             {"purpose", &e.purpose},
                             {"destination", &e.destination},
                             {"region", &e.region},
                             {"node", &e.node}}) {
    absl::StrAppend(&v, ",\"", name, "\":");
    AppendJsonString(*value, &v);
  }
  v += ",\"origin_region\":";
  AppendJsonString(origin_region, &v);
  // Fields grouped by category and effect, in first-seen order.
  std::vector<std::pair<std::pair<std::string, policy::Effect>, uint64_t>> g;
  for (const entry::FieldEntry& f : e.fields) {
    auto it = std::find_if(g.begin(), g.end(), [&](const auto& x) {
      return x.first.first == f.category && x.first.second == f.effect;
    });
    if (it == g.end()) {
      g.push_back({{f.category, f.effect}, 1});
    } else {
      ++it->second;
    }
  }
  v += ",\"fields\":[";
  for (size_t k = 0; k < g.size(); ++k) {
    if (k > 0) v += ',';
    v += "{\"category\":";
    AppendJsonString(g[k].first.first, &v);
    v += ",\"effect\":";
    AppendJsonString(policy::ToString(g[k].first.second), &v);
    absl::StrAppend(&v, ",\"fields\":", g[k].second, "}");
  }
  v += "]}";
  batch.Put(absl::StrCat(kFlowEntryPrefix, kv::EncodeKeyU64(HourKey(e.time)),
                         origin, std::string(1, kSep), kv::EncodeKeyU64(index)),
            v);
}

absl::StatusOr<size_t> PruneFlowEntries(const kv::KvStore& kv,
                                        absl::Time cutoff, size_t max_rows,
                                        kv::KvBatch& batch) {
  // Rows of hours that ended before the cutoff: hour < UnixHour(cutoff).
  const uint64_t keep_from = HourKey(cutoff);
  size_t n = 0;
  absl::Status s =
      kv.Scan(kFlowEntryPrefix, [&](absl::string_view key, absl::string_view) {
        uint64_t h = 0;
        absl::string_view rest = key.substr(kFlowEntryPrefix.size());
        if (n == max_rows || !kv::DecodeKeyU64(rest.substr(0, 8), &h) ||
            h >= keep_from) {
          return false;
        }
        batch.Delete(key);
        ++n;
        return true;
      });
  if (!s.ok()) return s;
  return n;
}

std::string FlowEntryQuery::Filter() const {
  if (!region.empty()) {
    // A token of a query with a region is not one of the same query without.
    return server::JoinCursor(
        {region, destination, purpose, category,
         effect ? std::string(policy::ToString(*effect)) : ""});
  }
  return server::JoinCursor(
      {destination, purpose, category,
       effect ? std::string(policy::ToString(*effect)) : ""});
}

absl::StatusOr<FlowEntryPage> ListFlowEntries(const kv::KvStore& kv,
                                              const FlowEntryQuery& q,
                                              size_t limit,
                                              absl::string_view after,
                                              const FlowOptions& options) {
  const uint64_t first_hour = HourKey(q.from);
  const uint64_t end_hour = HourKey(q.to - absl::Nanoseconds(1)) + 1;
  std::string start =
      absl::StrCat(kFlowEntryPrefix, kv::EncodeKeyU64(first_hour));
  if (!after.empty()) {
    uint64_t h = 0;
    if (after.size() < 17 || !kv::DecodeKeyU64(after.substr(0, 8), &h) ||
        h < first_hour || h >= end_hour) {
      return absl::InvalidArgumentError(
          "query 'page_token': not a cursor of this window");
    }
    // Just after the last key returned.
    start = absl::StrCat(kFlowEntryPrefix, after, std::string(1, '\0'));
  }
  std::vector<std::string> rows;
  std::string last_key;    // of the last row read
  std::string last_match;  // of the last row kept
  size_t scanned = 0;
  bool more = false;
  absl::Status s = kv.Scan(
      kFlowEntryPrefix, start,
      [&](absl::string_view key, absl::string_view value) {
        absl::string_view rest = key.substr(kFlowEntryPrefix.size());
        uint64_t h = 0;
        if (!kv::DecodeKeyU64(rest.substr(0, 8), &h) || h >= end_hour) {
          return false;
        }
        if (scanned == kMaxFlowEntriesScanned) {
          more = true;  // resume from last_key
          return false;
        }
        ++scanned;
        rapidjson::Document d;
        d.Parse(value.data(), value.size());
        if (d.HasParseError() || !d.IsObject() || !InBucket(d, q)) {
          last_key = std::string(rest);
          return true;
        }
        if (rows.size() == limit) {
          more = true;  // resume after the last row kept
          last_key = last_match;
          return false;
        }
        std::string row(value.data(), value.size());
        std::string region = OriginRegionOf(d);
        if (!d.HasMember("origin_region")) {
          std::string quoted;
          AppendJsonString(region, &quoted);
          AddJsonMember(row, "origin_region", quoted);
        }
        std::string dest;
        auto di = d.FindMember("destination");
        if (di != d.MemberEnd() && di->value.IsString()) {
          dest.assign(di->value.GetString(), di->value.GetStringLength());
        }
        // ",\"destination_region\":..,\"out_of_region\":.." before
        // the closing brace.
        row.insert(row.size() - 1, RegionMembers(options, region, dest));
        rows.push_back(std::move(row));
        last_key = last_match = std::string(rest);
        return true;
      });
  if (!s.ok()) return s;
  FlowEntryPage page;
  page.json = "{\"from\":";
  AppendJsonString(FormatRfc3339Millis(q.from), &page.json);
  page.json += ",\"to\":";
  AppendJsonString(FormatRfc3339Millis(q.to), &page.json);
  page.json += ",\"entries\":[";
  for (size_t k = 0; k < rows.size(); ++k) {
    if (k > 0) page.json += ',';
    page.json += rows[k];
  }
  page.json += "]}";
  if (more && !last_key.empty()) page.next_cursor = last_key;
  return page;
}

std::string OpenIncidentsMember(const std::vector<Incident>& all) {
  std::string out = ",\"open_incidents\":{";
  bool first = true;
  for (Severity sev : {Severity::kCritical, Severity::kHigh, Severity::kMedium,
                       Severity::kLow}) {
    uint64_t n = 0;
    absl::Time nearest = absl::InfiniteFuture();
    for (const Incident& i : all) {
      if (i.severity != sev || i.status == IncidentStatus::kResolved) continue;
      ++n;
      nearest = std::min(nearest, i.notification_deadline);
    }
    if (!first) out += ',';
    first = false;
    AppendJsonString(ToString(sev), &out);
    absl::StrAppend(&out, ":{\"count\":", n, ",\"nearest_deadline\":");
    if (n == 0) {
      out += "null";
    } else {
      AppendJsonString(FormatRfc3339Millis(nearest), &out);
    }
    out += "}";
  }
  out += "}";
  return out;
}

std::string LogLagMembers(const LogFollower& f, const Witness& w) {
  const LogFollower::Lag lag = f.lag();
  std::optional<Witness::Latest> latest = w.LatestFor(f.origin());
  uint64_t seen = lag.seen_size;
  if (latest) seen = std::max(seen, latest->checkpoint.size);
  auto time = [](absl::Time t) {
    if (t == absl::InfinitePast()) return std::string("null");
    std::string out;
    AppendJsonString(FormatRfc3339Millis(t), &out);
    return out;
  };
  std::string out = absl::StrCat(
      ",\"verified_at\":", time(lag.verified_at),
      ",\"latest_seen_size\":", seen, ",\"latest_seen_at\":", time(lag.seen_at),
      ",\"lag_entries\":",
      seen > lag.verified_size ? seen - lag.verified_size : 0,
      ",\"lag_seconds\":",
      lag.behind_since == absl::InfinitePast() || seen <= lag.verified_size
          ? 0
          : std::max<int64_t>(0,
                              absl::ToInt64Seconds(lag.now - lag.behind_since)),
      ",\"witness\":");
  if (!latest) {
    out += "null";
  } else {
    absl::StrAppend(&out, "{\"size\":", latest->checkpoint.size,
                    ",\"checkpoint\":");
    AppendJsonString(latest->note, &out);
    out += "}";
  }
  return out;
}

}  // namespace clover::audit
