#include "audit/report.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "audit/flows.h"
#include "audit/incident.h"
#include "audit/legacy_check.h"
#include "core/canonical_json.h"
#include "core/json_fields.h"
#include "core/rfc3339.h"
#include "core/status_macros.h"
#include "kv/kv_store.h"
#include "log/checkpoint.h"
#include "log/note.h"
#include "policy/bundle.h"

namespace clover::audit {
namespace {

std::string Html(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

struct CheckpointRow {
  std::string origin;
  uint64_t size = 0;
  absl::Time cosigned = absl::InfinitePast();
  std::string note;
};

struct PolicyUse {
  std::string sha256;
  absl::Time first;
  absl::Time last;
  uint64_t decisions = 0;
};

constexpr const char* kEffectColors[] = {"#2e7d32", "#9e9d24", "#1565c0",
                                         "#6a1b9a", "#ef6c00", "#c62828"};

}  // namespace

std::string FlowChartSvg(const FlowStats& flows, absl::Time from,
                         absl::Time to) {
  // Field decisions per destination, stacked by effect.
  std::map<std::string, std::array<uint64_t, policy::kEffectCount>> bars;
  const int64_t h0 = UnixHour(from), h1 = UnixHour(to - absl::Nanoseconds(1));
  uint64_t max = 1;
  for (const auto& [k, t] : flows.flows()) {
    if (k.hour < h0 || k.hour > h1) continue;
    bars[k.destination][static_cast<int>(k.effect)] += t.decisions;
  }
  for (const auto& [d, v] : bars) {
    uint64_t sum = 0;
    for (uint64_t x : v) sum += x;
    max = std::max(max, sum);
  }
  const int bar_w = 60, gap = 30, height = 220, top = 20;
  const int width =
      std::max<int>(420, 60 + static_cast<int>(bars.size()) * (bar_w + gap));
  // The legend wraps into rows of items wide enough for the longest effect
  // name ("pseudonymize", about 90 px at 12 px), so every effect is labelled
  // whatever the number of bars.
  const int item_w = 125, row_h = 18;
  const int per_row = std::max(1, (width - 10) / item_w);
  const int rows = (policy::kEffectCount + per_row - 1) / per_row;
  std::string svg = absl::StrFormat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
      "role=\"img\" "
      "aria-label=\"field decisions by destination and effect\">",
      width, top + height + 35 + rows * row_h + 6);
  int x = 50;
  for (const auto& [dest, v] : bars) {
    double y = top + height;
    for (int e = 0; e < policy::kEffectCount; ++e) {
      if (v[e] == 0) continue;
      const double h =
          static_cast<double>(v[e]) / static_cast<double>(max) * height;
      y -= h;
      absl::StrAppendFormat(
          &svg,
          "<rect x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%.1f\" fill=\"%s\">"
          "<title>%s %s: %d</title></rect>",
          x, y, bar_w, h, kEffectColors[e], Html(dest),
          std::string(policy::ToString(static_cast<policy::Effect>(e))), v[e]);
    }
    absl::StrAppendFormat(
        &svg,
        "<text x=\"%d\" y=\"%d\" font-size=\"13\" text-anchor=\"middle\">%s"
        "</text>",
        x + bar_w / 2, top + height + 18, Html(dest));
    x += bar_w + gap;
  }
  for (int e = 0; e < policy::kEffectCount; ++e) {
    absl::StrAppendFormat(
        &svg,
        "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/>"
        "<text x=\"%d\" y=\"%d\" font-size=\"12\">%s</text>",
        10 + (e % per_row) * item_w, top + height + 35 + (e / per_row) * row_h,
        kEffectColors[e], 26 + (e % per_row) * item_w,
        top + height + 46 + (e / per_row) * row_h,
        std::string(policy::ToString(static_cast<policy::Effect>(e))));
  }
  absl::StrAppendFormat(
      &svg, "<text x=\"5\" y=\"14\" font-size=\"12\">max %d</text></svg>", max);
  return svg;
}

absl::StatusOr<ReportFiles> WriteAuditReport(const AuditorConfig& config,
                                             absl::Time from, absl::Time to,
                                             const std::string& out_dir) {
  if (to <= from)
    return absl::InvalidArgumentError("--to must be after --from");
  const std::string store = config.data_dir + "/store";
  if (!std::filesystem::exists(store)) {
    return absl::NotFoundError(
        absl::StrCat("no auditor store at '", store,
                     "' (run `clover audit --config` first)"));
  }
  CLOVER_ASSIGN_OR_RETURN(std::unique_ptr<kv::KvStore> kv,
                          kv::KvStore::Open(store, true));
  FlowStats flows;
  flows.set_options(config.flows);
  CLOVER_RETURN_IF_ERROR(flows.Load(*kv));

  std::vector<Incident> incidents;
  absl::Status bad;
  CLOVER_RETURN_IF_ERROR(
      kv->Scan("incident/", [&](absl::string_view, absl::string_view v) {
        absl::StatusOr<Incident> i = IncidentFromJson(v);
        if (!i.ok()) {
          bad = i.status();
          return false;
        }
        if (i->last_seen >= from && i->first_seen < to)
          incidents.push_back(*std::move(i));
        return true;
      }));
  CLOVER_RETURN_IF_ERROR(bad);
  std::sort(incidents.begin(), incidents.end(),
            [](const Incident& a, const Incident& b) {
              return a.first_seen < b.first_seen;
            });

  // Checkpoints verified and cosigned in the period (the cosignature carries
  // its time).
  std::vector<CheckpointRow> checkpoints;
  std::string witness_name;
  if (auto k = ReadKeyFile(config.witness_key_file, true); k.ok()) {
    if (auto s = log::ParseSignerKey(*k); s.ok()) witness_name = (*s)->name();
  }
  CLOVER_RETURN_IF_ERROR(
      kv->Scan("ckpt/", [&](absl::string_view, absl::string_view v) {
        absl::StatusOr<log::ParsedNote> n = log::ParseNote(v);
        if (!n.ok()) return true;
        absl::StatusOr<log::Checkpoint> cp = log::ParseCheckpoint(n->text);
        if (!cp.ok()) return true;
        CheckpointRow row{cp->origin, cp->size, absl::InfinitePast(),
                          std::string(v)};
        for (const log::NoteSignature& s : n->signatures) {
          if (s.name != witness_name) continue;
          if (auto ts = log::CosignatureTimestamp(s.signature); ts.ok()) {
            row.cosigned = absl::FromUnixSeconds(static_cast<int64_t>(*ts));
          }
        }
        if (row.cosigned == absl::InfinitePast() ||
            (row.cosigned >= from && row.cosigned < to)) {
          checkpoints.push_back(std::move(row));
        }
        return true;
      }));

  std::vector<PolicyUse> uses;
  CLOVER_RETURN_IF_ERROR(
      kv->Scan("policyuse/", [&](absl::string_view k, absl::string_view v) {
        std::vector<std::string> parts = absl::StrSplit(v, ' ');
        PolicyUse u;
        u.sha256 = std::string(k.substr(10));
        int64_t a, b;
        if (parts.size() == 3 && absl::SimpleAtoi(parts[0], &a) &&
            absl::SimpleAtoi(parts[1], &b) &&
            absl::SimpleAtoi(parts[2], &u.decisions)) {
          u.first = absl::FromUnixMillis(a);
          u.last = absl::FromUnixMillis(b);
          uses.push_back(std::move(u));
        }
        return true;
      }));
  // Key releases: what the auditor counted of each release log (totals
  // since it began following it, not per period).
  std::vector<std::pair<std::string, ReleaseCounts>> releases;
  for (const ReleaseLogConfig& l : config.releases) {
    ReleaseCounts c;
    if (absl::StatusOr<std::string> v = kv->Get(ReleaseCountsKey(l.log.origin));
        v.ok()) {
      if (absl::StatusOr<ReleaseCounts> d = DecodeReleaseCounts(*v); d.ok())
        c = *d;
    }
    releases.emplace_back(l.log.origin, c);
  }
  // Legacy migrations: the deletion attestations checked so far (all, not
  // per period: a batch stays watched).
  CLOVER_ASSIGN_OR_RETURN(
      std::vector<MigrationSummary> migrations,
      LoadMigrationSummaries(*kv, config.migration.sources));
  std::map<std::string, std::string> signed_paths;  // sha -> path
  for (const std::string& p : config.policy_bundles) {
    if (auto text = policy::ReadFileToString(p); text.ok()) {
      signed_paths[policy::Sha256Hex(*text)] = p;
    }
  }

  // JSON.
  std::string json = "{";
  absl::StrAppend(&json, "\"auditor\":");
  AppendJsonString(config.name, &json);
  absl::StrAppend(&json, ",\"from\":\"", FormatRfc3339Millis(from),
                  "\",\"to\":\"", FormatRfc3339Millis(to),
                  "\",\"generated\":\"", FormatRfc3339Millis(absl::Now()),
                  "\",\"flows\":", flows.ToJson(from, to), ",\"incidents\":[");
  for (size_t i = 0; i < incidents.size(); ++i) {
    if (i) json += ',';
    json += IncidentToJson(incidents[i]);
  }
  json += "],\"checkpoints\":[";
  for (size_t i = 0; i < checkpoints.size(); ++i) {
    if (i) json += ',';
    json += "{\"origin\":";
    AppendJsonString(checkpoints[i].origin, &json);
    absl::StrAppend(&json, ",\"size\":", checkpoints[i].size,
                    ",\"cosigned\":\"",
                    checkpoints[i].cosigned == absl::InfinitePast()
                        ? ""
                        : FormatRfc3339Millis(checkpoints[i].cosigned),
                    "\",\"note\":");
    AppendJsonString(checkpoints[i].note, &json);
    json += '}';
  }
  json += "],\"policies\":[";
  for (size_t i = 0; i < uses.size(); ++i) {
    if (i) json += ',';
    auto it = signed_paths.find(uses[i].sha256);
    absl::StrAppend(&json, "{\"sha256\":\"", uses[i].sha256, "\",\"signed\":",
                    it != signed_paths.end() ? "true" : "false",
                    ",\"first_seen\":\"", FormatRfc3339Millis(uses[i].first),
                    "\",\"last_seen\":\"", FormatRfc3339Millis(uses[i].last),
                    "\",\"decisions\":", uses[i].decisions, "}");
  }
  json += "],\"releases\":[";
  for (size_t i = 0; i < releases.size(); ++i) {
    const ReleaseCounts& c = releases[i].second;
    if (i) json += ',';
    json += "{\"origin\":";
    AppendJsonString(releases[i].first, &json);
    absl::StrAppend(
        &json, ",\"released\":", c.released, ",\"justified\":", c.justified,
        ",\"unjustified\":", c.unjustified, ",\"maintenance\":", c.maintenance,
        ",\"refused\":", c.refused, ",\"cutoffs\":", c.cutoffs,
        ",\"restores\":", c.restores, ",\"pending\":", c.pending, "}");
  }
  absl::StrAppend(&json,
                  "],\"migrations\":", MigrationSummariesJson(migrations), "}");
  CLOVER_ASSIGN_OR_RETURN(std::string canonical, CanonicalizeJson(json));

  // HTML.
  std::string html = absl::StrCat(
      "<!doctype html><html lang=\"en\"><head><meta "
      "charset=\"utf-8\"><title>Clover audit "
      "report</"
      "title><style>body{font-family:system-ui,sans-serif;margin:2em;max-width:"
      "1100px}"
      "table{border-collapse:collapse;width:100%;margin:1em 0}td,th{border:1px "
      "solid #ccc;"
      "padding:4px 8px;text-align:left;vertical-align:top;font-size:13px}"
      ".out td{color:#b71c1c}"
      ".critical{color:#b71c1c;font-weight:bold}.high{color:#e65100}pre{white-"
      "space:pre-wrap;"
      "font-size:11px;background:#f5f5f5;padding:6px}</style></head><body>",
      "<h1>Clover audit report</h1><p>Auditor <b>", Html(config.name),
      "</b>, period ", FormatRfc3339Millis(from), " to ",
      FormatRfc3339Millis(to), ".</p>");
  absl::StrAppend(&html, "<h2>Data flows</h2>", FlowChartSvg(flows, from, to),
                  "<table><tr><th>origin region</th><th>destination</th>"
                  "<th>out of the region</th><th>purpose</th><th>action</"
                  "th><th>requests"
                  "</th><th>records</th><th>bytes</th></tr>");
  std::map<std::tuple<std::string, std::string, std::string, std::string>,
           TransferTotals>
      xfers;
  for (const auto& [k, t] : flows.transfers()) {
    if (k.hour < UnixHour(from) || k.hour > UnixHour(to - absl::Nanoseconds(1)))
      continue;
    TransferTotals& x = xfers[{k.region, k.destination, k.purpose, k.action}];
    x.requests += t.requests;
    x.records += t.records;
    x.bytes += t.bytes;
  }
  for (const auto& [k, t] : xfers) {
    const std::string& region = std::get<0>(k);
    const bool out =
        DestinationRegion(flows.options(), std::get<1>(k)) != region;
    absl::StrAppend(
        &html, "<tr", out && !region.empty() ? " class=\"out\"" : "", "><td>",
        region.empty() ? "unknown" : Html(region), "</td><td>",
        Html(std::get<1>(k)), "</td><td>",
        region.empty() ? "unknown" : (out ? "yes" : "no"), "</td><td>",
        Html(std::get<2>(k)), "</td><td>", Html(std::get<3>(k)), "</td><td>",
        t.requests, "</td><td>", t.records, "</td><td>", t.bytes, "</td></tr>");
  }
  absl::StrAppend(
      &html, "</table><h2>Incidents (", incidents.size(),
      ")</h2><table><tr><th>id"
      "</th><th>detector</th><th>severity</th><th>status</th><th>first / last "
      "seen"
      "</th><th>GDPR deadline</th><th>summary and evidence</th></tr>");
  for (const Incident& i : incidents) {
    absl::StrAppend(&html, "<tr><td>", Html(i.id), "</td><td>",
                    Html(i.detector), "</td><td class=\"", ToString(i.severity),
                    "\">", ToString(i.severity), "</td><td>",
                    ToString(i.status), "</td><td>",
                    FormatRfc3339Millis(i.first_seen), "<br>",
                    FormatRfc3339Millis(i.last_seen), " (", i.occurrences,
                    "x)</td><td>", FormatRfc3339Millis(i.notification_deadline),
                    "</td><td>", Html(i.summary));
    for (const Evidence& e : i.evidence) {
      absl::StrAppend(&html, "<details><summary>", Html(e.origin));
      if (e.index) absl::StrAppend(&html, " entry ", *e.index);
      absl::StrAppend(&html, " ", Html(e.note), "</summary>");
      if (!e.entry.empty())
        absl::StrAppend(&html, "<pre>", Html(e.entry), "</pre>");
      if (!e.proof.empty())
        absl::StrAppend(&html, "<pre>", Html(e.proof), "</pre>");
      for (const std::string& c : e.checkpoints)
        absl::StrAppend(&html, "<pre>", Html(c), "</pre>");
      html += "</details>";
    }
    html += "</td></tr>";
  }
  absl::StrAppend(
      &html, "</table><h2>Checkpoints verified and cosigned (",
      checkpoints.size(),
      ")</h2><table><tr><th>log</th><th>tree size</th><th>cosigned at</th>"
      "<th>checkpoint</th></tr>");
  for (const CheckpointRow& c : checkpoints) {
    absl::StrAppend(
        &html, "<tr><td>", Html(c.origin), "</td><td>", c.size, "</td><td>",
        c.cosigned == absl::InfinitePast() ? "-"
                                           : FormatRfc3339Millis(c.cosigned),
        "</td><td><details><summary>note</summary><pre>", Html(c.note),
        "</pre></details></td></tr>");
  }
  absl::StrAppend(
      &html,
      "</table><h2>Policy versions in force</h2><table><tr><th>bundle "
      "sha256</th><th>signed by the auditor</th><th>decisions</th><th>first / "
      "last"
      " decision</th></tr>");
  for (const PolicyUse& u : uses) {
    auto it = signed_paths.find(u.sha256);
    absl::StrAppend(&html, "<tr><td><code>", Html(u.sha256), "</code></td><td>",
                    it != signed_paths.end() ? Html(it->second)
                                             : "<b class=\"critical\">NO</b>",
                    "</td><td>", u.decisions, "</td><td>",
                    FormatRfc3339Millis(u.first), "<br>",
                    FormatRfc3339Millis(u.last), "</td></tr>");
  }
  if (!releases.empty()) {
    html +=
        "</table><h2>Key releases checked against decisions (since the "
        "auditor began following each release log)</h2><table><tr><th>release "
        "log</th><th>released</th><th>justified</th><th>unjustified</th>"
        "<th>maintenance</th><th>refused</th><th>cut-offs / restores</th>"
        "<th>awaiting their decision</th></tr>";
    for (const auto& [origin, c] : releases) {
      absl::StrAppend(&html, "<tr><td>", Html(origin), "</td><td>", c.released,
                      "</td><td>", c.justified, "</td><td",
                      c.unjustified ? " class=\"critical\"" : "", ">",
                      c.unjustified, "</td><td>", c.maintenance, "</td><td>",
                      c.refused, "</td><td>", c.cutoffs, " / ", c.restores,
                      "</td><td>", c.pending, "</td></tr>");
    }
  }
  if (!migrations.empty()) {
    html +=
        "</table><h2>Legacy migrations: deletions at the source verified"
        "</h2><table><tr><th>migration</th><th>source</th><th>batches</th>"
        "<th>records attested</th><th>verified</th><th>unverified</th>"
        "<th>not checked</th><th>source last read</th></tr>";
    for (const MigrationSummary& m : migrations) {
      absl::StrAppend(
          &html, "<tr><td>", Html(m.migration), "</td><td>", Html(m.source),
          m.source_configured ? "" : " (no read access: writes checked only)",
          "</td><td>", m.batches, "</td><td>", m.records, "</td><td>",
          m.verified, "</td><td", m.unverified ? " class=\"critical\"" : "",
          ">", m.unverified, "</td><td>", m.unchecked, "</td><td>",
          m.last_check == absl::InfinitePast()
              ? "-"
              : FormatRfc3339Millis(m.last_check),
          "</td></tr>");
    }
  }
  html += "</table></body></html>\n";

  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec)
    return absl::InternalError(
        absl::StrCat("cannot create '", out_dir, "': ", ec.message()));
  ReportFiles files{out_dir + "/audit-report.html",
                    out_dir + "/audit-report.json"};
  for (const auto& [path, body] :
       {std::pair<std::string, std::string>{files.html, html},
        {files.json, canonical + "\n"}}) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << body;
    if (!out.good())
      return absl::InternalError(absl::StrCat("cannot write '", path, "'"));
  }
  return files;
}

}  // namespace clover::audit
