// The /v1 routes the web console's pages add (audit/console_pages.h;
// docs/api.md): one incident, the decision entries behind a flow, and one
// entry with its inclusion proof.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "audit/auditor.h"
#include "audit/console_pages.h"
#include "core/canonical_json.h"
#include "core/rfc3339.h"
#include "server/page_token.h"

namespace clover::audit {
namespace {

server::HttpResponse Json(std::string body) {
  server::HttpResponse r;
  r.content_type = "application/json";
  r.body = std::move(body);
  return r;
}

// Reads the flow entry query's window and bucket from `req`; a page token's
// window replaces the default one (and must equal a window named again).
absl::StatusOr<std::pair<FlowEntryQuery, server::PageRequest>> ParseFlowQuery(
    const server::HttpRequest& req, absl::Time now) {
  FlowEntryQuery q;
  q.to = now;
  q.from = now - absl::Hours(24);
  for (auto [name, out] :
       {std::pair<const char*, absl::Time*>{"from", &q.from}, {"to", &q.to}}) {
    if (!req.HasQueryParam(name)) continue;
    absl::StatusOr<absl::Time> t = ParseRfc3339(req.QueryParam(name));
    if (!t.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("query '", name, "': ", t.status().message()));
    }
    *out = *t;
  }
  for (auto [name, out] :
       {std::pair<const char*, std::string*>{"region", &q.region},
        {"destination", &q.destination},
        {"purpose", &q.purpose},
        {"category", &q.category}}) {
    if (!req.HasQueryParam(name)) continue;
    *out = req.QueryParam(name);
    if (out->empty() || out->size() > kMaxQueryValueBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "query '", name, "': 1 to ", kMaxQueryValueBytes, " bytes"));
    }
  }
  if (req.HasQueryParam("effect")) {
    q.effect = policy::ParseEffect(req.QueryParam("effect"));
    if (!q.effect) {
      return absl::InvalidArgumentError(
          "query 'effect': not an effect (allow, generalize, "
          "pseudonymize, aggregate, approval, deny)");
    }
  }
  absl::StatusOr<server::PageRequest> page =
      server::ParsePageRequest(req, "flow_entries", q.Filter());
  if (!page.ok()) return page.status();
  if (page->after.has_value()) {
    auto fields = server::SplitCursor(*page->after, 3);
    int64_t from_ns = 0;
    int64_t to_ns = 0;
    if (!fields || !absl::SimpleAtoi((*fields)[0], &from_ns) ||
        !absl::SimpleAtoi((*fields)[1], &to_ns)) {
      return absl::InvalidArgumentError(
          "query 'page_token': not a flow entries cursor");
    }
    const absl::Time f = absl::FromUnixNanos(from_ns);
    const absl::Time t = absl::FromUnixNanos(to_ns);
    if ((req.HasQueryParam("from") && q.from != f) ||
        (req.HasQueryParam("to") && q.to != t)) {
      return absl::InvalidArgumentError(
          "query 'page_token': issued for another from/to window");
    }
    q.from = f;
    q.to = t;
    page->after = (*fields)[2];
  }
  if (q.to <= q.from) {
    return absl::InvalidArgumentError("'to' must be after 'from'");
  }
  if (q.to - q.from > absl::Hours(24 * 366)) {
    return absl::InvalidArgumentError("the window is at most 366 days");
  }
  return std::make_pair(std::move(q), *std::move(page));
}

}  // namespace

absl::StatusOr<std::pair<std::string, std::string>> Auditor::EntryWithProof(
    absl::string_view origin, uint64_t index) {
  std::optional<LogFollower::EntryFetch> fetch;
  std::string proof;
  {
    // The followers are driven by one polling round at a time: what the
    // check needs is taken under the round's lock, the bundle is fetched
    // after it (a slow log must not hold up polling, nor polling the page).
    absl::MutexLock round(&poll_mu_);
    for (const auto& f : followers_) {
      if (f->origin() != origin) continue;
      if (index >= f->size()) {
        return absl::NotFoundError(absl::StrCat(
            "entry ", index, " of log '", origin,
            "' is not verified yet (verified size ", f->size(), ")"));
      }
      absl::StatusOr<LogFollower::EntryFetch> prepared =
          f->PrepareEntryFetch(index);
      if (!prepared.ok()) return prepared.status();
      absl::StatusOr<std::string> p = f->ProofFor(index);
      if (!p.ok()) return p.status();
      fetch = *std::move(prepared);
      proof = *std::move(p);
      break;
    }
  }
  if (!fetch) return absl::NotFoundError("no such followed log");
  // Checked against the leaf hash verified for the same checkpoint the
  // proof is against, so entry and proof agree whatever was polled since.
  absl::StatusOr<std::string> entry = fetch->Fetch();
  if (!entry.ok()) return entry.status();
  return std::make_pair(*std::move(entry), std::move(proof));
}

void Auditor::RegisterConsolePageRoutes(server::Router& router,
                                        const Guard& guarded) {
  router.Handle(
      "GET", "/v1/incidents/{id}",
      guarded(ApiRole::kRead, [this](server::HttpRequest& req,
                                     server::Responder respond,
                                     const std::string&) {
        absl::StatusOr<Incident> i = incidents_->Get(req.path_params["id"]);
        respond(i.ok() ? Json(IncidentToJson(*i))
                       : server::HttpResponse::FromStatus(i.status()));
      }));
  router.Handle(
      "GET", "/v1/flows/entries",
      guarded(ApiRole::kRead, [this](server::HttpRequest& req,
                                     server::Responder respond,
                                     const std::string&) {
        auto parsed = ParseFlowQuery(req, clock_.Now());
        if (!parsed.ok()) {
          respond(server::HttpResponse::FromStatus(parsed.status()));
          return;
        }
        const auto& [q, page] = *parsed;
        absl::StatusOr<FlowEntryPage> p = ListFlowEntries(
            *kv_, q, page.limit, page.after.value_or(""), config_.flows);
        if (!p.ok()) {
          respond(server::HttpResponse::FromStatus(p.status()));
          return;
        }
        if (!p->next_cursor.empty()) {
          server::AddNextPageToken(
              p->json,
              server::PageTokens::ForProcess().Issue(
                  "flow_entries", q.Filter(),
                  server::JoinCursor({absl::StrCat(absl::ToUnixNanos(q.from)),
                                      absl::StrCat(absl::ToUnixNanos(q.to)),
                                      p->next_cursor})));
        }
        respond(Json(std::move(p->json)));
      }));
  router.Handle(
      "GET", "/v1/flows/entry",
      guarded(ApiRole::kRead, [this](server::HttpRequest& req,
                                     server::Responder respond,
                                     const std::string&) {
        const std::string origin = req.QueryParam("origin");
        uint64_t index = 0;
        if (origin.empty() || origin.size() > kMaxQueryValueBytes) {
          respond(server::HttpResponse::Error(
              400, "invalid_argument", "query 'origin': a followed log"));
          return;
        }
        if (!absl::SimpleAtoi(req.QueryParam("index"), &index)) {
          respond(server::HttpResponse::Error(
              400, "invalid_argument",
              "query 'index': a non-negative integer"));
          return;
        }
        auto got = EntryWithProof(origin, index);
        if (!got.ok()) {
          respond(server::HttpResponse::FromStatus(got.status()));
          return;
        }
        std::string out = "{\"origin\":";
        AppendJsonString(origin, &out);
        absl::StrAppend(&out, ",\"index\":", index, ",\"entry\":");
        AppendJsonString(got->first, &out);
        out += ",\"proof\":";
        AppendJsonString(got->second, &out);
        out += ",\"verifier_keys\":[";
        for (const auto& f : followers_) {
          if (f->origin() != origin) continue;
          for (size_t k = 0; k < f->verifier_keys().size(); ++k) {
            if (k > 0) out += ',';
            AppendJsonString(f->verifier_keys()[k], &out);
          }
        }
        out += "]}";
        respond(Json(std::move(out)));
      }));
}

}  // namespace clover::audit
