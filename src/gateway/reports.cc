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
#include "gateway/endpoints.h"
#include "gateway/pipeline.h"
#include "gateway/request_util.h"

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
    auto entries = d_.access_index->EntriesOf(pseudonym);
    if (!entries.ok()) return respond(ErrorResponse(entries.status()));
    std::string checkpoint = d_.log->SignedCheckpoint();
    uint64_t size = d_.log->Size();
    std::string out = "{\"checkpoint\":";
    AppendJsonString(checkpoint, &out);
    out.append(",\"entries\":[");
    bool first = true;
    int64_t reported = 0;
    for (uint64_t index : *entries) {
      if (index >= size) continue;
      auto entry = d_.log->ReadEntry(index);
      if (!entry.ok()) return respond(ErrorResponse(entry.status()));
      auto proof = d_.log->InclusionProof(index, size);
      if (!proof.ok()) return respond(ErrorResponse(proof.status()));
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
      absl::StrAppend(&out, "],\"index\":", index, "}");
    }
    // The look-up's own entry comes after the checkpoint the report proves
    // against; its index is in "log_index".
    absl::StrAppend(&out, "],\"log_index\":");
    std::string suffix = ",\"subject\":";
    AppendJsonString(subject, &suffix);
    absl::StrAppend(&suffix, ",\"subject_pseudonym\":\"", pseudonym,
                    "\",\"tree_size\":", size, "}");
    const int64_t bytes = static_cast<int64_t>(out.size() + suffix.size());
    pipe_.LogThenAnswer(
        pipe_.LookupJson(p, "audit", "access_report", p.jurisdiction, pseudonym,
                         "", reported, bytes),
        std::move(respond), std::move(out), std::move(suffix));
  }
};

}  // namespace

void AddReportRoutes(Pipeline& pipe, server::Router& router) {
  auto e = std::make_shared<ReportEndpoints>(pipe);
  using E = ReportEndpoints;
  router.Handle("GET", "/v1/subjects/{id}/access-report",
                pipe.Inline(Bind(e, &E::AccessReport)));
}

}  // namespace clover::gateway
