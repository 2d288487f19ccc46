// PUT, GET and DELETE /v1/subjects/{id}: writes, reads and erasures of one
// subject (docs/api.md).
#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/canonical_json.h"
#include "gateway/endpoints.h"
#include "gateway/pipeline.h"
#include "gateway/request_util.h"
#include "vault/erased.h"
#include "vault/key_not_cached.h"
#include "vault/record_parser.h"
#include "vault/residency.h"

namespace clover::gateway {
namespace {

using server::HttpRequest;
using server::HttpResponse;
using server::Responder;

// The jurisdiction a region's data centres sit in: the destination of a
// write stored there (this node's is Pipeline::storage_jurisdiction()).
std::string StorageJurisdictionOf(const Deployment& deployment,
                                  absl::string_view region) {
  if (const Region* r = deployment.FindRegion(region);
      r != nullptr && !r->dcs.empty()) {
    if (const Jurisdiction* j =
            deployment.JurisdictionOfCountry(r->dcs.front().country)) {
      return j->id;
    }
  }
  return std::string(region);
}

class SubjectEndpoints : public EndpointFamily {
 public:
  using EndpointFamily::EndpointFamily;

  void PutSubject(HttpRequest& req, Responder respond) {
    // Authentication first: who is not authenticated learns nothing, not
    // even where a subject would be stored.
    auto caller = pipe_.Open(req, respond, Pipeline::Purpose::kHeader);
    if (!caller) return;
    WriteSubject(pipe_, caller->principal, caller->purpose,
                 req.path_params["id"], req.body, std::move(respond));
  }

  void GetSubject(HttpRequest& req, Responder respond) {
    auto caller = pipe_.Open(req, respond, Pipeline::Purpose::kHeader);
    if (!caller) return;
    const std::string& subject = req.path_params["id"];
    if (!d_.vault->fetches_rows_async()) {
      // On a region's shared store the subject's row is read once for this
      // request (jurisdiction, record and siv keys), not once per vault call.
      vault::Vault::ReadScope one_read(*d_.vault, subject);
      return ReadSubject(req, *caller, std::move(respond));
    }
    // The row is fetched first, without holding an I/O thread while the
    // database answers (concurrent reads share a round trip), and the
    // request's reads answer from it: it was read after the request came.
    pipe_.WithFetchedRow(
        subject, [this, req, caller = *caller, respond = std::move(respond)](
                     vault::Vault::FetchedRow row) mutable {
          vault::Vault::ReadScope one_read(*d_.vault, req.path_params["id"],
                                           std::move(row));
          ReadSubject(req, caller, std::move(respond));
        });
  }

  void ReadSubject(HttpRequest& req, const Caller& caller, Responder respond) {
    const Principal& p = caller.principal;
    const std::string& purpose = caller.purpose;
    const std::string& subject = req.path_params["id"];
    auto fields = ResolveFields(d_.deployment->schema,
                                SplitList(req.QueryParam("fields")));
    if (!fields.ok()) return respond(ErrorResponse(fields.status()));
    // An interactive read is a transfer to where the reader works.
    const std::string& destination = p.jurisdiction;
    auto jurisdiction = d_.vault->HomeJurisdiction(subject);
    if (!jurisdiction.ok()) {
      return pipe_.RespondAbsent(p, purpose, "read", destination, subject,
                                 jurisdiction.status(), std::move(respond));
    }
    Decision dec =
        pipe_.Decide(p, purpose, "read", *jurisdiction, destination, *fields);
    pipe_.ApplyGrants(p, subject, dec);
    std::string pseudonym = pipe_.Pseudonym(subject);
    if (!dec.AnyReturned()) {
      return pipe_.RefuseLogged(
          pipe_.DecisionJson(p, purpose, "read", destination, pseudonym,
                             *jurisdiction, dec, 0, 0),
          "the policy returns none of the requested fields to this principal",
          std::move(respond));
    }
    std::vector<std::string> wanted;
    for (size_t i = 0; i < dec.fields.size(); ++i) {
      if (dec.Returned(i)) wanted.push_back(dec.fields[i]->name);
    }
    // Under external key release, a data key the cache does not hold is
    // released for this read's decision entry by its exact index: the read
    // first tries the cache alone; on a miss the decision is logged first
    // and the read runs once it is durable, naming the entry (its "bytes"
    // then is 0: the entry is written before the values exist). A cached
    // key needs no release, so the read keeps today's order.
    vault::AccessContext ctx{p.id, purpose, "read"};
    ctx.cached_only = d_.deployment->keys.release.has_value();
    absl::StatusOr<std::string> values =
        ReadValues(subject, wanted, destination, purpose, dec, ctx);
    if (!values.ok() && vault::IsKeyNotCached(values.status())) {
      pipe_.LogThenEffect(
          pipe_.DecisionJson(p, purpose, "read", destination, pseudonym,
                             *jurisdiction, dec, 1, 0),
          std::move(respond),
          [this, subject, wanted = std::move(wanted), destination,
           purpose = std::string(purpose), actor = p.id,
           dec](uint64_t index) -> HttpResponse {
            vault::Vault::ReadScope scope(*d_.vault, subject);
            vault::AccessContext exact{actor, purpose, "read", index};
            absl::StatusOr<std::string> v =
                ReadValues(subject, wanted, destination, purpose, dec, exact);
            if (!v.ok()) return ErrorResponse(v.status());
            return HttpResponse::Json(
                200, ReadBody(subject, destination, purpose, *v, index));
          });
      return;
    }
    if (!values.ok()) return respond(ErrorResponse(values.status()));
    std::string prefix =
        absl::StrCat("{\"destination\":\"", destination,
                     "\",\"fields\":", *values, ",\"log_index\":");
    std::string suffix =
        absl::StrCat(",\"policy\":\"", d_.policy->sha256(), "\",\"purpose\":\"",
                     purpose, "\",\"subject\":");
    AppendJsonString(subject, &suffix);
    suffix.push_back('}');
    pipe_.LogThenAnswer(
        pipe_.DecisionJson(p, purpose, "read", destination, pseudonym,
                           *jurisdiction, dec, 1,
                           static_cast<int64_t>(values->size())),
        std::move(respond), std::move(prefix), std::move(suffix));
  }

  // The read's "fields" object: each decided field's effect and, where the
  // decision returns it, its value transformed as the effect dictates.
  absl::StatusOr<std::string> ReadValues(const std::string& subject,
                                         const std::vector<std::string>& wanted,
                                         const std::string& destination,
                                         const std::string& purpose,
                                         const Decision& dec,
                                         const vault::AccessContext& ctx) {
    auto record = d_.vault->Get(subject, wanted, ctx);
    if (!record.ok()) return record.status();
    auto keys = d_.vault->TokenKeysFor(destination, purpose);
    if (!keys.ok()) return keys.status();
    std::shared_ptr<const vault::SubjectTokenKeys> subject_keys;

    std::string values;  // the "fields" object
    values.reserve(1024);
    values.push_back('{');
    for (size_t i = 0; i < dec.fields.size(); ++i) {
      const FieldSpec& f = *dec.fields[i];
      if (i > 0) values.push_back(',');
      AppendJsonString(f.name, &values);
      values.append(":{\"effect\":");
      AppendJsonString(policy::ToString(dec.verdicts.decisions[i].effect),
                       &values);
      if (dec.verdicts.decisions[i].effect == policy::Effect::kApproval) {
        values.append(dec.granted[i] ? ",\"granted\":true"
                                     : ",\"granted\":false");
      }
      const vault::FieldValue* raw =
          dec.Returned(i) ? record->Find(f.name) : nullptr;
      if (raw != nullptr) {
        auto out =
            pipe_.Transform(f, *raw, dec.verdicts.decisions[i].effect, **keys,
                            subject, destination, purpose, ctx, subject_keys);
        if (!out.ok()) return out.status();
        values.append(",\"value\":");
        AppendFieldValue(*out, &values);
      }
      values.push_back('}');
    }
    values.push_back('}');
    return values;
  }

  std::string ReadBody(const std::string& subject,
                       const std::string& destination,
                       const std::string& purpose, const std::string& values,
                       uint64_t index) {
    std::string body = absl::StrCat(
        "{\"destination\":\"", destination, "\",\"fields\":", values,
        ",\"log_index\":", index, ",\"policy\":\"", d_.policy->sha256(),
        "\",\"purpose\":\"", purpose, "\",\"subject\":");
    AppendJsonString(subject, &body);
    body.push_back('}');
    return body;
  }

  void DeleteSubject(HttpRequest& req, Responder respond) {
    auto caller = pipe_.Open(req, respond, Pipeline::Purpose::kHeader);
    if (!caller) return;
    const Principal& p = caller->principal;
    const std::string& purpose = caller->purpose;
    const std::string& subject = req.path_params["id"];
    auto jurisdiction = d_.vault->HomeJurisdiction(subject);
    if (!jurisdiction.ok()) {
      return pipe_.RespondAbsent(p, purpose, "erase",
                                 pipe_.storage_jurisdiction(), subject,
                                 jurisdiction.status(), std::move(respond));
    }
    // Erasure destroys every field: it is decided over all of them.
    auto all = ResolveFields(d_.deployment->schema, {});
    if (!all.ok()) return respond(ErrorResponse(all.status()));
    Decision dec = pipe_.Decide(p, purpose, "erase", *jurisdiction,
                                pipe_.storage_jurisdiction(), *std::move(all));
    std::string pseudonym = pipe_.Pseudonym(subject);
    if (!dec.AllAllowed()) {
      return pipe_.RefuseLogged(
          pipe_.DecisionJson(p, purpose, "erase", pipe_.storage_jurisdiction(),
                             pseudonym, *jurisdiction, dec, 0, 0),
          "the policy does not allow this principal to erase subjects",
          std::move(respond));
    }
    // From the log append to the vault's erasure, a purge's cut waits for
    // this erasure: its attestation covers it or leaves it to the next one
    // by log position (vault.h, BeginErasure).
    std::shared_ptr<void> in_flight = d_.vault->BeginErasure();
    pipe_.LogThenEffect(
        pipe_.DecisionJson(p, purpose, "erase", pipe_.storage_jurisdiction(),
                           pseudonym, *jurisdiction, dec, 1, 0),
        std::move(respond),
        [this, subject, in_flight](uint64_t index) -> HttpResponse {
          if (absl::Status s = d_.vault->Erase(subject); !s.ok())
            return ErrorResponse(s);
          std::string body = absl::StrCat(
              "{\"erased\":true,\"log_index\":", index, ",\"subject\":");
          AppendJsonString(subject, &body);
          body.push_back('}');
          return HttpResponse::Json(200, std::move(body));
        });
  }
};

}  // namespace

namespace {

// A write decided and allowed, not yet logged.
struct PreparedWrite {
  LogEntry decision;
  std::string subject;
  vault::Record record;
  std::shared_ptr<vault::Vault::RowSnapshot> snapshot;
};

// Everything WriteSubject does before it logs: parse, residency, the
// decision, the vault's own refusals. Returns the write to log and make, or
// answers `respond` itself (an error, a logged refusal, a misdirected write)
// and returns nullopt; `respond` is left untouched when a write is returned.
std::optional<PreparedWrite> PrepareWrite(Pipeline& pipe, const Principal& p,
                                          const std::string& purpose,
                                          const std::string& subject,
                                          const std::string& body,
                                          Responder& respond) {
  const GatewayDeps& d = pipe.deps();
  auto record = vault::ParseRecordJson(d.deployment->schema, body);
  if (!record.ok()) {
    respond(ErrorResponse(record.status()));
    return std::nullopt;
  }
  auto jurisdiction =
      d.vault->residency().JurisdictionOfCountry(record->country);
  if (!jurisdiction.ok()) {
    respond(ErrorResponse(jurisdiction.status()));
    return std::nullopt;
  }
  absl::Status here = d.vault->residency().CheckStoredHere(*jurisdiction);
  std::optional<vault::ResidencyRedirect> redirect;
  if (!here.ok()) {
    redirect = vault::GetResidencyRedirect(here);
    if (!redirect.has_value()) {
      respond(HttpResponse::Error(422, "no_home_region", here.message()));
      return std::nullopt;
    }
  }
  // A write replaces the whole record (fields it leaves out are dropped),
  // so it is decided over every field of the schema, whatever the body
  // holds: the policy must allow this principal to write all of them. It is
  // decided where it would be stored: here, or for a misdirected write in
  // its home region. So a principal that may not write this subject is
  // refused (and logged) wherever it asks, and is never sent on to the home
  // region, which would refuse it too.
  const std::string destination =
      redirect.has_value()
          ? StorageJurisdictionOf(*d.deployment, redirect->region)
          : pipe.storage_jurisdiction();
  auto all = ResolveFields(d.deployment->schema, {});
  if (!all.ok()) {
    respond(ErrorResponse(all.status()));
    return std::nullopt;
  }
  Decision dec = pipe.Decide(p, purpose, "write", *jurisdiction, destination,
                             *std::move(all));
  std::string pseudonym = pipe.Pseudonym(subject);
  if (!dec.AllAllowed()) {
    pipe.RefuseLogged(
        pipe.DecisionJson(p, purpose, "write", destination, pseudonym,
                          *jurisdiction, dec, 0, 0),
        "the policy does not allow this principal to write this subject",
        std::move(respond));
    return std::nullopt;
  }
  // A misdirected write touches nothing here.
  if (redirect.has_value()) {
    pipe.misdirected().Increment();
    respond(ErrorResponse(here));
    return std::nullopt;
  }
  // What the vault would refuse for this subject is refused before a
  // decision is logged: a logged write is one decided to happen. On a
  // shared store the row this reads is where the write starts from (one
  // row read per write; the write is conditional on it).
  auto snapshot = std::make_shared<vault::Vault::RowSnapshot>();
  if (auto home = d.vault->HomeJurisdiction(subject, snapshot.get());
      home.ok()) {
    if (*home != *jurisdiction) {
      respond(ErrorResponse(absl::FailedPreconditionError(absl::StrCat(
          "the subject has home jurisdiction ", *home, "; country ",
          record->country, " (", *jurisdiction, ") would change it"))));
      return std::nullopt;
    }
  } else if (vault::IsErased(home.status())) {
    respond(ErrorResponse(absl::FailedPreconditionError(
        "the subject was erased; its id cannot be reused")));
    return std::nullopt;
  } else if (home.status().code() != absl::StatusCode::kNotFound) {
    respond(ErrorResponse(home.status()));
    return std::nullopt;
  }
  return PreparedWrite{
      pipe.DecisionJson(p, purpose, "write", pipe.storage_jurisdiction(),
                        pseudonym, *jurisdiction, dec, 1,
                        static_cast<int64_t>(body.size())),
      subject, *std::move(record), std::move(snapshot)};
}

// The answer to a stored write.
HttpResponse WrittenResponse(
    const std::string& region, const std::string& subject, uint64_t index,
    const absl::StatusOr<vault::Vault::PutResult>& put) {
  if (!put.ok()) return ErrorResponse(put.status());
  std::string body =
      absl::StrCat("{\"created\":", put->created ? "true" : "false",
                   ",\"log_index\":", index, ",\"region\":\"", region,
                   "\",\"revision\":", put->revision, ",\"subject\":");
  AppendJsonString(subject, &body);
  body.push_back('}');
  return HttpResponse::Json(put->created ? 201 : 200, std::move(body));
}

}  // namespace

void WriteSubject(Pipeline& pipe, const Principal& p,
                  const std::string& purpose, const std::string& subject,
                  const std::string& body, Responder respond) {
  std::optional<PreparedWrite> w =
      PrepareWrite(pipe, p, purpose, subject, body, respond);
  if (!w.has_value()) return;
  const GatewayDeps& d = pipe.deps();
  pipe.LogThenEffect(
      std::move(w->decision), std::move(respond),
      [&d, region = pipe.node().region, subject, snapshot = w->snapshot,
       record = std::move(w->record)](uint64_t index) -> HttpResponse {
        return WrittenResponse(region, subject, index,
                               d.vault->Put(subject, record, snapshot.get()));
      });
}

void WriteSubjects(Pipeline& pipe, const Principal& p,
                   const std::string& purpose,
                   std::vector<std::pair<std::string, std::string>> items,
                   std::vector<Responder> respond) {
  auto writes = std::make_shared<std::vector<PreparedWrite>>();
  auto answer = std::make_shared<std::vector<Responder>>();
  std::vector<LogEntry> entries;
  for (size_t i = 0; i < items.size(); ++i) {
    std::optional<PreparedWrite> w = PrepareWrite(
        pipe, p, purpose, items[i].first, items[i].second, respond[i]);
    if (!w.has_value()) continue;
    entries.push_back(std::move(w->decision));
    writes->push_back(*std::move(w));
    answer->push_back(std::move(respond[i]));
  }
  if (writes->empty()) return;
  const GatewayDeps& d = pipe.deps();
  pipe.LogAllThenEffect(
      std::move(entries), [&d, region = pipe.node().region, writes, answer](
                              std::vector<absl::StatusOr<uint64_t>> indexes) {
        // Only writes whose decision is durable are made.
        std::vector<vault::Vault::BatchItem> items;
        std::vector<size_t> logged;
        for (size_t i = 0; i < writes->size(); ++i) {
          if (!indexes[i].ok()) {
            (*answer)[i](HttpResponse::Error(
                503, "log_unavailable",
                "the decision could not be logged; nothing was changed"));
            continue;
          }
          PreparedWrite& w = (*writes)[i];
          items.push_back({w.subject, &w.record, w.snapshot.get()});
          logged.push_back(i);
        }
        absl::Status write_status;
        std::vector<absl::StatusOr<vault::Vault::PutResult>> puts =
            d.vault->PutBatch(items, &write_status);
        for (size_t k = 0; k < logged.size(); ++k) {
          const size_t i = logged[k];
          HttpResponse r = WrittenResponse(region, (*writes)[i].subject,
                                           *indexes[i], puts[k]);
          r.log_index = static_cast<int64_t>(*indexes[i]);
          (*answer)[i](std::move(r));
        }
      });
}

void AddSubjectRoutes(Pipeline& pipe, server::Router& router) {
  auto e = std::make_shared<SubjectEndpoints>(pipe);
  using E = SubjectEndpoints;
  router.Handle("PUT", "/v1/subjects/{id}",
                pipe.Blocking(Bind(e, &E::PutSubject)));
  router.Handle("GET", "/v1/subjects/{id}",
                pipe.Inline(Bind(e, &E::GetSubject)));
  router.Handle("DELETE", "/v1/subjects/{id}",
                pipe.Blocking(Bind(e, &E::DeleteSubject)));
}

}  // namespace clover::gateway
