// POST /v1/exports: bulk transfers of named subjects to a destination.
#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/canonical_json.h"
#include "gateway/endpoints.h"
#include "gateway/pipeline.h"
#include "gateway/request_util.h"
#include "rapidjson/document.h"
#include "vault/erased.h"

namespace clover::gateway {
namespace {

using server::HttpRequest;
using server::HttpResponse;
using server::Responder;

constexpr size_t kMaxExportSubjects = 10000;

class ExportEndpoints : public EndpointFamily {
 public:
  using EndpointFamily::EndpointFamily;

  // The fields `dec` leaves to an approval, comma-separated ("" if none).
  static std::string ApprovalFieldNames(const Decision& dec) {
    std::string names;
    for (size_t i = 0; i < dec.verdicts.decisions.size(); ++i) {
      if (dec.verdicts.decisions[i].effect != policy::Effect::kApproval)
        continue;
      absl::StrAppend(&names, names.empty() ? "" : ",", dec.fields[i]->name);
    }
    return names;
  }

  // Grants are for interactive reads of named subjects; an export whose
  // fields need one is refused as a whole (logged), never silently thinned.
  void RefuseExportNeedingApproval(const Principal& p,
                                   absl::string_view purpose,
                                   absl::string_view destination,
                                   absl::string_view subject_jurisdiction,
                                   const Decision& dec, absl::string_view names,
                                   Responder respond) {
    std::string msg = absl::StrCat(
        "fields ", names,
        " need an approval; grants apply to reads (GET /v1/subjects/{id}), "
        "not to exports: leave these fields out of the export");
    pipe_.LogThen(pipe_.DecisionJson(p, purpose, "export", destination, "",
                                     subject_jurisdiction, dec, 0, 0),
                  std::move(respond), [msg](uint64_t index) {
                    return ErrorWith(403, "approval_required", msg,
                                     absl::StrCat("\"log_index\":", index));
                  });
  }

  void Export(HttpRequest& req, Responder respond) {
    rapidjson::Document body;
    auto caller = pipe_.Open(req, respond, Pipeline::Purpose::kNone, &body);
    if (!caller) return;
    const Principal& p = caller->principal;
    auto destination = StringMember(body, "destination", true);
    auto purpose = StringMember(body, "purpose", true);
    auto field_names = StringArrayMember(body, "fields", true, 1000);
    auto subjects =
        StringArrayMember(body, "subjects", true, kMaxExportSubjects);
    for (const absl::Status& s : {destination.status(), purpose.status(),
                                  field_names.status(), subjects.status()}) {
      if (!s.ok()) return respond(ErrorResponse(s));
    }
    if (d_.deployment->FindJurisdiction(*destination) == nullptr) {
      return respond(HttpResponse::Error(
          400, "invalid_argument",
          "'destination' is not a jurisdiction of the deployment"));
    }
    if (!IsIdentifier(*purpose)) {
      return respond(HttpResponse::Error(400, "invalid_argument",
                                         "'purpose' is not valid"));
    }
    if (absl::Status s = CheckDeclaredPurpose(*d_.deployment, *purpose);
        !s.ok()) {
      return respond(ErrorResponse(s));
    }
    if (field_names->empty()) {
      return respond(
          HttpResponse::Error(400, "invalid_argument", "'fields' is empty"));
    }
    auto fields = ResolveFields(d_.deployment->schema, *field_names);
    if (!fields.ok()) return respond(ErrorResponse(fields.status()));
    auto keys = d_.vault->TokenKeysFor(*destination, *purpose);
    if (!keys.ok()) return respond(ErrorResponse(keys.status()));
    // The release layer's justification: why, and the log's size at the
    // decision (its entry is appended at or after that index).
    vault::AccessContext ctx{p.id, *purpose, "export", d_.log->Size()};

    // Decisions depend on the subject's jurisdiction: decide once per
    // jurisdiction.
    std::map<std::string, Decision> by_jurisdiction;
    std::string ndjson;
    int64_t records = 0, skipped = 0;
    for (const std::string& subject : *subjects) {
      // One read of the subject's row per subject on a shared store.
      vault::Vault::ReadScope one_read(*d_.vault, subject);
      auto jurisdiction = d_.vault->HomeJurisdiction(subject);
      if (!jurisdiction.ok()) {
        if (jurisdiction.status().code() ==
            absl::StatusCode::kInvalidArgument) {
          return respond(ErrorResponse(jurisdiction.status()));
        }
        ++skipped;  // unknown here, or erased
        continue;
      }
      auto it = by_jurisdiction.find(*jurisdiction);
      if (it == by_jurisdiction.end()) {
        it = by_jurisdiction
                 .emplace(*jurisdiction,
                          pipe_.Decide(p, *purpose, "export", *jurisdiction,
                                       *destination, *fields))
                 .first;
      }
      const Decision& dec = it->second;
      if (std::string names = ApprovalFieldNames(dec); !names.empty()) {
        return RefuseExportNeedingApproval(p, *purpose, *destination,
                                           *jurisdiction, dec, names,
                                           std::move(respond));
      }
      if (!dec.AnyReturned()) {
        ++skipped;
        continue;
      }
      std::vector<std::string> wanted;
      for (size_t i = 0; i < dec.fields.size(); ++i) {
        if (dec.Returned(i)) wanted.push_back(dec.fields[i]->name);
      }
      auto record = d_.vault->Get(subject, wanted, ctx);
      if (!record.ok()) {
        if (vault::IsErased(record.status()) ||
            record.status().code() == absl::StatusCode::kNotFound) {
          ++skipped;
          continue;
        }
        return respond(ErrorResponse(record.status()));
      }
      std::shared_ptr<const vault::SubjectTokenKeys> subject_keys;
      auto subject_token = (*keys)->HmacToken(subject);
      if (!subject_token.ok())
        return respond(ErrorResponse(subject_token.status()));
      std::string line = "{\"fields\":{";
      bool first = true;
      for (size_t i = 0; i < dec.fields.size(); ++i) {
        const FieldSpec& f = *dec.fields[i];
        const vault::FieldValue* raw =
            dec.Returned(i) ? record->Find(f.name) : nullptr;
        if (raw == nullptr) continue;
        auto out =
            pipe_.Transform(f, *raw, dec.verdicts.decisions[i].effect, **keys,
                            subject, *destination, *purpose, ctx, subject_keys);
        if (!out.ok()) return respond(ErrorResponse(out.status()));
        if (!first) line.push_back(',');
        first = false;
        AppendJsonString(f.name, &line);
        line.push_back(':');
        AppendFieldValue(*out, &line);
      }
      line.append("},\"subject_token\":");
      AppendJsonString(*subject_token, &line);
      line.append("}\n");
      ndjson.append(line);
      ++records;
    }
    // One logged flow for the whole export. Subjects of several jurisdictions
    // may have been decided differently; the entry records, per field, the
    // least restrictive effect applied (what may have left) with that
    // decision's rules.
    Decision merged;
    std::string subject_jurisdiction;
    if (by_jurisdiction.size() == 1) {
      merged = by_jurisdiction.begin()->second;
      subject_jurisdiction = by_jurisdiction.begin()->first;
    } else if (by_jurisdiction.empty()) {
      merged = pipe_.Decide(p, *purpose, "export", "", *destination, *fields);
    } else {
      // Several jurisdictions: log the least restrictive effect per field (what
      // may have left), with the union of matching rules.
      merged = by_jurisdiction.begin()->second;
      for (const auto& [j, dec] : by_jurisdiction) {
        for (size_t i = 0; i < dec.verdicts.decisions.size(); ++i) {
          if (dec.verdicts.decisions[i].effect <
              merged.verdicts.decisions[i].effect) {
            merged.verdicts.decisions[i] = dec.verdicts.decisions[i];
            merged.verdicts.matched[i] = dec.verdicts.matched[i];
          }
        }
      }
    }
    int64_t bytes = static_cast<int64_t>(ndjson.size());
    LogEntry entry = pipe_.DecisionJson(
        p, *purpose, "export", *destination, "", subject_jurisdiction, merged,
        records, bytes, static_cast<int64_t>(subjects->size()));
    pipe_.LogThen(
        std::move(entry), std::move(respond),
        [ndjson = std::move(ndjson), records, skipped](uint64_t index) {
          HttpResponse r;
          r.status = 200;
          r.content_type = "application/x-ndjson";
          r.headers.emplace_back("X-Clover-Log-Index", absl::StrCat(index));
          r.headers.emplace_back("X-Clover-Records", absl::StrCat(records));
          r.headers.emplace_back("X-Clover-Skipped", absl::StrCat(skipped));
          r.body = ndjson;
          return r;
        });
  }
};

}  // namespace

void AddExportRoutes(Pipeline& pipe, server::Router& router) {
  auto e = std::make_shared<ExportEndpoints>(pipe);
  using E = ExportEndpoints;
  router.Handle("POST", "/v1/exports", pipe.Blocking(Bind(e, &E::Export)));
}

}  // namespace clover::gateway
