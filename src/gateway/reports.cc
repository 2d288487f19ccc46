// GET /v1/subjects/{id}/access-report: who saw a subject's data, with proofs.
#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "core/canonical_json.h"
#include "core/status_macros.h"
#include "entry/entry_subjects.h"
#include "gateway/endpoints.h"
#include "gateway/peer_logs.h"
#include "gateway/pipeline.h"
#include "gateway/regional_access_index.h"
#include "gateway/request_util.h"
#include "log/tile.h"
#include "server/page_token.h"

namespace clover::gateway {
namespace {

using server::HttpRequest;
using server::HttpResponse;
using server::Responder;

class ReportEndpoints : public EndpointFamily {
 public:
  using EndpointFamily::EndpointFamily;

  // An access report reveals who saw a subject's data and when: the look-up
  // is logged (action "access_report", purpose "audit", the subject's
  // pseudonym) and the report returned only once that entry is durable; a
  // refused look-up is logged as well.
  void AccessReport(HttpRequest& req, Responder respond) {
    auto caller = pipe_.Open(req, respond, Pipeline::Purpose::kNone);
    if (!caller) return;
    const Principal& p = caller->principal;
    const std::string& subject = req.path_params["id"];
    std::string pseudonym = pipe_.Pseudonym(subject);
    if (p.kind != PrincipalKind::kAuditor && p.kind != PrincipalKind::kAdmin) {
      return pipe_.RefuseLogged(
          pipe_.LookupJson(p, "audit", "access_report", p.jurisdiction,
                           pseudonym, "forbidden"),
          "access reports are for the auditor and "
          "administrators",
          std::move(respond));
    }
    // Paged per log (the node's own and each other DC's): at most `limit`
    // entries of each, resuming after the index the token names for it.
    // Indices only grow, so entries logged during a walk never shift it.
    auto page = server::ParsePageRequest(req, "access_report", subject);
    if (!page.ok()) return respond(ErrorResponse(page.status()));
    Cursors after;
    if (page->after.has_value()) {
      // (log, cursor) pairs; a region has a few DCs.
      std::optional<std::vector<std::string>> all;
      for (size_t n = 2; n <= 128 && !all; n += 2) {
        all = server::SplitCursor(*page->after, n);
      }
      if (!all) {
        return respond(ErrorResponse(absl::InvalidArgumentError(
            "query 'page_token': not an access report cursor")));
      }
      for (size_t i = 0; i + 1 < all->size(); i += 2) {
        after[(*all)[i]] = (*all)[i + 1];
      }
    }
    Paging paging{page->limit, std::move(after), {}};
    // With the region's database the index holds every node's decisions;
    // they are proved against their own node's log, read from its schema.
    std::map<std::string, std::vector<uint64_t>> regional;
    std::map<std::string, absl::StatusOr<uint64_t>> markers;
    absl::StatusOr<std::vector<uint64_t>> entries;
    if (d_.regional_index != nullptr) {
      // Each node's marker before the entries: what a node indexes after its
      // marker was read is found again by reading its log's tail.
      if (d_.peer_logs != nullptr) {
        for (const std::string& dc : d_.peer_logs->dcs()) {
          markers.emplace(dc, d_.regional_index->IndexedUpToOf(dc));
        }
      }
      absl::Status caught_up = d_.access_index->CatchUp();
      if (!caught_up.ok()) return respond(ErrorResponse(caught_up));
      auto all = d_.regional_index->AllAccessesOf(pseudonym);
      if (!all.ok()) return respond(ErrorResponse(all.status()));
      regional = *std::move(all);
      entries = std::move(regional[d_.regional_index->dc()]);
    } else {
      entries = d_.access_index->EntriesOf(pseudonym);
    }
    if (!entries.ok()) return respond(ErrorResponse(entries.status()));
    std::string checkpoint = d_.log->SignedCheckpoint();
    uint64_t size = d_.log->Size();
    *entries = PageOf(*std::move(entries), size, "", paging);
    std::string out = "{\"checkpoint\":";
    AppendJsonString(checkpoint, &out);
    out.append(",\"entries\":[");
    int64_t reported = 0;
    const std::string own_dc = d_.peer_logs != nullptr ? pipe_.node().dc : "";
    if (absl::Status s =
            AppendEntries(*d_.log, *entries, size, own_dc, out, reported);
        !s.ok()) {
      return respond(ErrorResponse(s));
    }
    out.push_back(']');
    if (d_.peer_logs != nullptr) {
      absl::StrAppend(&out, ",\"dc\":");
      AppendJsonString(pipe_.node().dc, &out);
      absl::StrAppend(&out, ",\"origin\":");
      AppendJsonString(d_.log->origin(), &out);
      AppendRegionLogs(pseudonym, markers, regional, paging, out, reported);
    }
    bool more = false;
    // A log unreadable now keeps its cursor for the next page, without
    // holding the walk open (the report lists it in unavailable_logs).
    Cursors carried = paging.next;
    carried.insert(paging.after.begin(), paging.after.end());
    std::vector<std::string> next;
    for (const auto& [log, state] : carried) {
      more = more || (paging.next.contains(log) && state != "z");
      next.push_back(log);
      next.push_back(state);
    }
    // The token is the suffix's last member (the log index comes before it).
    std::string token;
    if (more) {
      token = server::PageTokens::ForProcess().Issue("access_report", subject,
                                                     server::JoinCursor(next));
    }
    // The look-up's own entry comes after the checkpoint the report proves
    // against; its index is in "log_index".
    absl::StrAppend(&out, ",\"log_index\":");
    std::string suffix = ",\"subject\":";
    AppendJsonString(subject, &suffix);
    absl::StrAppend(&suffix, ",\"subject_pseudonym\":\"", pseudonym,
                    "\",\"tree_size\":", size, "}");
    server::AddNextPageToken(suffix, token);
    const int64_t bytes = static_cast<int64_t>(out.size() + suffix.size());
    pipe_.LogThenAnswer(
        pipe_.LookupJson(p, "audit", "access_report", p.jurisdiction, pseudonym,
                         "", reported, bytes),
        std::move(respond), std::move(out), std::move(suffix));
  }

 private:
  // Per log ("" the node's own, else a DC): the last index reported, as
  // server::AscendingKey, or "z" once the log was reported to its end.
  using Cursors = std::map<std::string, std::string>;
  struct Paging {
    size_t limit;
    Cursors after;
    Cursors next;
  };

  // This page's part of `indices` of log `log` (of `size` entries): sorted,
  // after its cursor, at most paging.limit; records the log's next cursor.
  static std::vector<uint64_t> PageOf(std::vector<uint64_t> indices,
                                      uint64_t size, const std::string& log,
                                      Paging& paging) {
    std::sort(indices.begin(), indices.end());
    indices.erase(std::unique(indices.begin(), indices.end()), indices.end());
    std::erase_if(indices, [size](uint64_t i) { return i >= size; });
    std::string from;
    if (auto it = paging.after.find(log); it != paging.after.end()) {
      from = it->second;
    }
    std::vector<uint64_t> out;
    std::string& next = paging.next[log];
    next = "z";
    if (from == "z") return out;
    for (uint64_t i : indices) {
      if (!from.empty() && !(server::AscendingKey(i) > from)) continue;
      if (out.size() == paging.limit) {
        next = server::AscendingKey(out.back());
        break;
      }
      out.push_back(i);
    }
    return out;
  }

  // Appends `indices` (below `size`) of `log` with their inclusion proofs
  // against the tree of `size`, comma-separated; with `dc`, each names it.
  static absl::Status AppendEntries(const log::LogReader& log,
                                    const std::vector<uint64_t>& indices,
                                    uint64_t size, absl::string_view dc,
                                    std::string& out, int64_t& reported) {
    bool first = true;
    for (uint64_t index : indices) {
      if (index >= size) continue;
      auto entry = log.ReadEntry(index);
      if (!entry.ok()) return entry.status();
      auto proof = log.InclusionProof(index, size);
      if (!proof.ok()) return proof.status();
      if (!first) out.push_back(',');
      first = false;
      ++reported;
      absl::StrAppend(&out, "{\"entry\":", *entry, ",\"inclusion_proof\":[");
      for (size_t k = 0; k < proof->size(); ++k) {
        if (k > 0) out.push_back(',');
        const auto& h = (*proof)[k];
        out.push_back('"');
        out.append(absl::Base64Escape(absl::string_view(
            reinterpret_cast<const char*>(h.data()), h.size())));
        out.push_back('"');
      }
      absl::StrAppend(&out, "],\"index\":", index);
      if (!dc.empty()) {
        out.append(",\"dc\":");
        AppendJsonString(dc, &out);
      }
      out.push_back('}');
    }
    return absl::OkStatus();
  }

  // The other nodes' decisions on the subject, per node: "region_logs" (each
  // with that node's signed checkpoint and the proofs against it) and
  // "unavailable_logs" (nodes whose log could not be read now). Entries a
  // node logged but has not indexed yet (at most its last few hundred
  // milliseconds; all of them if it died before indexing them) are found by
  // reading its log's tail, read-only, up to kMaxTailScan entries.
  void AppendRegionLogs(
      const std::string& pseudonym,
      const std::map<std::string, absl::StatusOr<uint64_t>>& markers,
      std::map<std::string, std::vector<uint64_t>>& regional, Paging& paging,
      std::string& out, int64_t& reported) {
    std::string unavailable;
    out.append(",\"region_logs\":[");
    bool first = true;
    for (const std::string& dc : d_.peer_logs->dcs()) {
      auto marker = markers.find(dc);
      absl::Status s =
          marker == markers.end()
              ? absl::InternalError("no index marker read")
              : AppendRegionLog(dc, pseudonym, marker->second, regional[dc],
                                paging, out, first, reported);
      if (s.ok() || absl::IsNotFound(s)) continue;  // NotFound: no log yet
      if (!unavailable.empty()) unavailable.push_back(',');
      unavailable.append("{\"dc\":");
      AppendJsonString(dc, &unavailable);
      unavailable.append(",\"error\":");
      AppendJsonString(s.message(), &unavailable);
      unavailable.push_back('}');
    }
    absl::StrAppend(&out, "],\"unavailable_logs\":[", unavailable, "]");
  }

  static constexpr uint64_t kMaxTailScan = 1 << 16;

  absl::Status AppendRegionLog(const std::string& dc,
                               const std::string& pseudonym,
                               const absl::StatusOr<uint64_t>& marker,
                               std::vector<uint64_t>& indices, Paging& paging,
                               std::string& out, bool& first,
                               int64_t& reported) {
    if (!marker.ok()) return marker.status();
    auto snap = d_.peer_logs->Snapshot(dc, absl::ZeroDuration());
    if (!snap.ok()) return snap.status();
    const log::Sequencer& log = **snap;
    const uint64_t size = log.Size();
    const uint64_t tail_end = std::min(size, *marker + kMaxTailScan);
    auto tail = ScanTail(log, pseudonym, *marker, tail_end);
    if (!tail.ok()) return tail.status();
    indices.insert(indices.end(), tail->begin(), tail->end());
    indices = PageOf(std::move(indices), size, dc, paging);
    std::string group = "{\"dc\":";
    AppendJsonString(dc, &group);
    group.append(",\"origin\":");
    AppendJsonString(log.origin(), &group);
    group.append(",\"checkpoint\":");
    AppendJsonString(log.SignedCheckpoint(), &group);
    absl::StrAppend(&group, ",\"tree_size\":", size,
                    ",\"complete\":", tail_end == size ? "true" : "false",
                    ",\"entries\":[");
    int64_t n = 0;
    CLOVER_RETURN_IF_ERROR(AppendEntries(log, indices, size, dc, group, n));
    group.append("]}");
    if (!first) out.push_back(',');
    first = false;
    out.append(group);
    reported += n;
    return absl::OkStatus();
  }

  // Indices in [from, to) of `log` whose entry names `pseudonym`.
  static absl::StatusOr<std::vector<uint64_t>> ScanTail(
      const log::LogReader& log, const std::string& pseudonym, uint64_t from,
      uint64_t to) {
    std::vector<uint64_t> out;
    std::vector<std::string> found;
    for (uint64_t next = from; next < to;) {
      const uint64_t bundle = next / log::kTileWidth;
      const uint64_t bundle_start = bundle * log::kTileWidth;
      const uint64_t end = std::min(bundle_start + log::kTileWidth, to);
      auto data =
          log.ReadEntryBundle(bundle, static_cast<int>(end - bundle_start));
      if (!data.ok()) return data.status();
      auto entries = log::ParseEntryBundle(*data);
      if (!entries.ok()) return entries.status();
      for (uint64_t i = next; i < end; ++i) {
        const uint64_t offset = i - bundle_start;
        if (offset >= entries->size() ||
            !entry::SubjectsOf((*entries)[offset], found)) {
          continue;
        }
        for (const std::string& s : found) {
          if (s == pseudonym) {
            out.push_back(i);
            break;
          }
        }
      }
      next = end;
    }
    return out;
  }
};

}  // namespace

void AddReportRoutes(Pipeline& pipe, server::Router& router) {
  auto e = std::make_shared<ReportEndpoints>(pipe);
  using E = ReportEndpoints;
  // A regional report reads the region's database (the index, the other
  // nodes' logs): off the I/O threads.
  router.Handle("GET", "/v1/subjects/{id}/access-report",
                pipe.deps().peer_logs != nullptr
                    ? pipe.Blocking(Bind(e, &E::AccessReport))
                    : pipe.Inline(Bind(e, &E::AccessReport)));
}

}  // namespace clover::gateway
