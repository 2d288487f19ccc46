#include "gateway/gateway.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "audit/field_groups.h"
#include "boost/asio/execution/outstanding_work.hpp"
#include "boost/asio/post.hpp"
#include "boost/asio/prefer.hpp"
#include "boost/asio/thread_pool.hpp"
#include "core/canonical_json.h"
#include "crypto/subject_pseudonym.h"
#include "gateway/decision_record.h"
#include "gateway/request_util.h"
#include "log/http_handlers.h"
#include "policy/approval_limits.h"
#include "policy/effect.h"
#include "rapidjson/document.h"
#include "vault/erased.h"
#include "vault/record_parser.h"
#include "vault/residency.h"

namespace clover::gateway {
namespace {

using server::HttpRequest;
using server::HttpResponse;
using server::Responder;

std::string_view Std(absl::string_view s) {
  return std::string_view(s.data(), s.size());
}

constexpr size_t kMaxExportSubjects = 10000;
constexpr size_t kMaxAggregateSubjects = 100000;

// Maps vault/policy errors to HTTP: erased subjects are 410, everything else by
// code.
HttpResponse ErrorResponse(const absl::Status& status) {
  if (auto own = HttpErrorResponse(status)) return *std::move(own);
  if (vault::IsErased(status))
    return HttpResponse::Error(410, "gone", status.message());
  if (auto redirect = vault::GetResidencyRedirect(status)) {
    std::string extra = "\"home_region\":";
    AppendJsonString(redirect->region, &extra);
    extra.append(",\"jurisdiction\":");
    AppendJsonString(redirect->jurisdiction, &extra);
    extra.append(",\"endpoint\":");
    AppendJsonString(redirect->endpoint, &extra);
    HttpResponse r = ErrorWith(421, "misdirected", status.message(), extra);
    r.headers.emplace_back("Location", redirect->endpoint);
    return r;
  }
  if (status.code() == absl::StatusCode::kUnauthenticated) {
    HttpResponse r = HttpResponse::FromStatus(status);
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
    return r;
  }
  return HttpResponse::FromStatus(status);
}

void AppendFieldValue(const vault::FieldValue& v, std::string* out) {
  if (!v.is_list) {
    AppendJsonString(v.value, out);
    return;
  }
  out->push_back('[');
  for (size_t i = 0; i < v.items.size(); ++i) {
    if (i > 0) out->push_back(',');
    AppendJsonString(v.items[i], out);
  }
  out->push_back(']');
}

vault::TransformMode ModeOf(policy::Effect e) {
  switch (e) {
    case policy::Effect::kAllow:
    case policy::Effect::kApproval:  // only reached with a live grant
      return vault::TransformMode::kRaw;
    case policy::Effect::kGeneralize:
      return vault::TransformMode::kGeneralize;
    default:
      return vault::TransformMode::kPseudonymize;
  }
}

// A number no other Gateway in this process has: it keys what a gateway keeps
// in thread-local memos, so that a gateway built at the address of a destroyed
// one never finds its entries.
uint64_t NextGatewayGeneration() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

// Appends `v`'s bytes to `key`.
template <typename T>
void AppendRaw(const T& v, std::string* key) {
  key->append(reinterpret_cast<const char*>(&v), sizeof v);
}

}  // namespace

// The decision of one request over a list of fields, with the ids the log
// needs.
struct Decision {
  std::vector<const FieldSpec*> fields;
  std::vector<policy::FieldDecision> out;
  std::vector<std::vector<absl::string_view>> rule_ids;
  std::vector<bool> granted;  // approval effect with a live grant
  std::string approval_id;

  bool Returned(size_t i) const {
    policy::Effect e = out[i].effect;
    return e == policy::Effect::kAllow || e == policy::Effect::kGeneralize ||
           e == policy::Effect::kPseudonymize ||
           (e == policy::Effect::kApproval && granted[i]);
  }
  bool AllAllowed() const {
    for (const auto& d : out) {
      if (d.effect != policy::Effect::kAllow) return false;
    }
    return true;
  }
  bool AnyReturned() const {
    for (size_t i = 0; i < out.size(); ++i) {
      if (Returned(i)) return true;
    }
    return false;
  }
};

class Gateway::Impl {
 public:
  explicit Impl(GatewayDeps deps)
      : d_(std::move(deps)), node_(*d_.deployment->node) {
    // Writes and erasures move data into (or within) this DC: their destination
    // is the jurisdiction the DC sits in.
    if (const Region* r = d_.deployment->FindRegion(node_.region)) {
      for (const DataCenter& dc : r->dcs) {
        if (dc.id != node_.dc) continue;
        if (const Jurisdiction* j =
                d_.deployment->JurisdictionOfCountry(dc.country)) {
          storage_jurisdiction_ = j->id;
        }
      }
    }
  }

  // Queued blocking handlers finish (and respond) before the gateway goes
  // away.
  ~Impl() { Drain(); }

  void Drain() { blocking_.join(); }

  absl::Status Init() {
    auto& m = *d_.metrics;
    auto decisions =
        m.AddCounter("clover_gateway_decisions_total",
                     "Field decisions by effect and destination jurisdiction",
                     {"effect", "destination", "action"});
    if (!decisions.ok()) return decisions.status();
    decisions_ = *decisions;
    auto append = m.AddHistogram(
        "clover_log_append_seconds",
        "Time from appending a decision to it being durable", {});
    if (!append.ok()) return append.status();
    append_latency_ = &(*append)->WithLabels({});
    auto size = m.AddGauge("clover_log_size",
                           "Entries in this node's transparency log", {});
    if (!size.ok()) return size.status();
    log_size_ = &(*size)->WithLabels({});
    auto misdirected =
        m.AddCounter("clover_misdirected_writes_total",
                     "Writes refused because another region is home", {});
    if (!misdirected.ok()) return misdirected.status();
    misdirected_ = &(*misdirected)->WithLabels({});
    return absl::OkStatus();
  }

  void AddRoutes(server::Router& router) {
    auto bind = [this](void (Impl::*fn)(HttpRequest&, Responder)) {
      return [this, fn](HttpRequest& req, Responder respond) {
        if (auto refused = CheckJsonContentType(req))
          return respond(*std::move(refused));
        (this->*fn)(req, std::move(respond));
      };
    };
    // Handlers that wait for a synced storage write or work through many
    // subjects run on the blocking pool, with a copy of their request.
    auto bind_blocking = [this](void (Impl::*fn)(HttpRequest&, Responder)) {
      return [this, fn](HttpRequest& req, Responder respond) {
        if (auto refused = CheckJsonContentType(req))
          return respond(*std::move(refused));
        boost::asio::post(
            blocking_, [this, fn, req, respond = std::move(respond)]() mutable {
              (this->*fn)(req, std::move(respond));
            });
      };
    };
    router.Handle("PUT", "/v1/subjects/{id}", bind_blocking(&Impl::PutSubject));
    router.Handle("GET", "/v1/subjects/{id}", bind(&Impl::GetSubject));
    router.Handle("DELETE", "/v1/subjects/{id}",
                  bind_blocking(&Impl::DeleteSubject));
    router.Handle("GET", "/v1/subjects/{id}/access-report",
                  bind(&Impl::AccessReport));
    router.Handle("POST", "/v1/exports", bind_blocking(&Impl::Export));
    router.Handle("POST", "/v1/detokenize", bind(&Impl::Detokenize));
    router.Handle("POST", "/v1/aggregates", bind_blocking(&Impl::Aggregate));
    router.Handle("POST", "/v1/approvals",
                  bind_blocking(&Impl::CreateApproval));
    router.Handle("GET", "/v1/approvals", bind(&Impl::ListApprovals));
    router.Handle("GET", "/v1/approvals/{id}", bind(&Impl::GetApproval));
    router.Handle("POST", "/v1/approvals/{id}/approve",
                  bind_blocking(&Impl::ApproveApproval));
    router.Handle("POST", "/v1/approvals/{id}/deny",
                  bind_blocking(&Impl::DenyApproval));
    router.Handle("POST", "/v1/approvals/{id}/revoke",
                  bind_blocking(&Impl::RevokeApproval));
    log_handler_ = std::make_unique<log::LogHttpHandler>(*d_.log, "/log");
    server::Handler log_handler = log_handler_->AsHandler();
    router.Handle("GET", "/log/*", log_handler);
    router.Handle("GET", "/v1/log/proof/inclusion", log_handler);
    router.Handle("GET", "/v1/log/proof/consistency", log_handler);
    router.Handle("GET", "/healthz", [](HttpRequest&, Responder respond) {
      respond(HttpResponse::Json(200, "{\"status\":\"ok\"}"));
    });
    router.Handle("GET", "/readyz", [this](HttpRequest&, Responder respond) {
      respond(HttpResponse::Json(
          200, absl::StrCat("{\"status\":\"ready\",\"node\":\"", node_.id,
                            "\",\"log_size\":", d_.log->Size(), "}")));
    });
    router.Handle("GET", "/metrics", [this](HttpRequest&, Responder respond) {
      log_size_->Set(static_cast<double>(d_.log->Size()));
      HttpResponse r;
      r.content_type = "text/plain; version=0.0.4";
      r.body = d_.metrics->Render();
      respond(std::move(r));
    });
  }

  // Expiry is in force by time alone (a grant past its end is never found);
  // the transitions are logged, then stored.
  void ExpireApprovals() {
    for (audit::ApprovalTransition& t : d_.approvals->PrepareExpireDue()) {
      absl::StatusOr<uint64_t> index = d_.log->Append(t.record).get();
      if (!index.ok() || !d_.approvals->Commit(t).ok()) d_.approvals->Abort(t);
    }
  }

 private:
  // --- pipeline pieces ---

  absl::StatusOr<const Principal*> Authenticate(const HttpRequest& req) {
    return d_.auth->Authenticate(req);
  }

  // The request's purpose (X-Clover-Purpose), which must be one the
  // deployment declares; hides gateway::PurposeOf in the handlers.
  absl::StatusOr<std::string> PurposeOf(const HttpRequest& req) const {
    absl::StatusOr<std::string> purpose = gateway::PurposeOf(req);
    if (!purpose.ok()) return purpose.status();
    if (absl::Status s = CheckDeclaredPurpose(*d_.deployment, *purpose);
        !s.ok()) {
      return s;
    }
    return purpose;
  }

  // The subject's pseudonym in decision entries: a keyed HMAC, about 2% of an
  // audited read's CPU. Subjects are read again and again (the vault's key
  // cache rests on it too), so each I/O thread keeps the pseudonyms of recent
  // subjects, under this gateway's generation since the key is per gateway.
  // They are what the log publishes; the raw ids are in the requests anyway.
  std::string Pseudonym(absl::string_view subject) const {
    thread_local absl::flat_hash_map<std::string, std::string> memo;
    std::string key;
    key.reserve(sizeof generation_ + subject.size());
    AppendRaw(generation_, &key);
    key.append(subject.data(), subject.size());
    if (auto it = memo.find(key); it != memo.end()) return it->second;
    std::string pseudonym =
        crypto::SubjectPseudonym(d_.log_subject_key, subject);
    // Bounded: a full memo simply starts over.
    if (memo.size() >= 16384) memo.clear();
    memo.emplace(std::move(key), pseudonym);
    return pseudonym;
  }

  Decision Decide(const Principal& p, absl::string_view purpose,
                  absl::string_view action,
                  absl::string_view subject_jurisdiction,
                  absl::string_view destination,
                  std::vector<const FieldSpec*> fields,
                  absl::string_view justification = {}) {
    Decision dec;
    dec.fields = std::move(fields);
    policy::Request r;
    r.principal_id = p.id;
    r.principal_kind = ToString(p.kind);
    r.principal_org = p.org;
    r.principal_roles = p.roles;
    r.principal_country = p.country;
    r.principal_jurisdiction = p.jurisdiction;
    r.purpose = purpose;
    r.action = action;
    r.subject_jurisdiction = subject_jurisdiction;
    r.destination = destination;
    r.approval_justification = justification;
    std::vector<policy::FieldRef> refs;
    refs.reserve(dec.fields.size());
    for (const FieldSpec* f : dec.fields) {
      refs.push_back({f->name, f->category, f->restricted});
    }
    dec.out.resize(refs.size());
    d_.policy->Decide(r, refs, dec.out);
    dec.rule_ids.resize(refs.size());
    dec.granted.assign(refs.size(), false);
    // Counted per effect, not per field: a labelled counter is a locked
    // lookup, and a decision's fields mostly share one or two effects.
    std::array<uint64_t, policy::kEffectCount> per_effect{};
    for (size_t i = 0; i < refs.size(); ++i) {
      const policy::FieldDecision& fd = dec.out[i];
      if (fd.matched_complete()) {
        for (uint32_t k = 0; k < fd.matched_count; ++k) {
          dec.rule_ids[i].push_back(d_.policy->rule(fd.matched[k]).id);
        }
      } else {
        for (int k : d_.policy->MatchedRules(r, refs[i])) {
          dec.rule_ids[i].push_back(d_.policy->rule(k).id);
        }
      }
      ++per_effect[static_cast<size_t>(fd.effect)];
    }
    for (size_t e = 0; e < per_effect.size(); ++e) {
      if (per_effect[e] == 0) continue;
      decisions_
          ->WithLabels({policy::ToString(static_cast<policy::Effect>(e)),
                        destination, action})
          .Increment(per_effect[e]);
    }
    return dec;
  }

  // Transforms one field value as `effect` dictates. A subject's siv keys are
  // fetched on first need and kept in `subject_keys` for the subject's other
  // fields.
  absl::StatusOr<vault::FieldValue> Transform(
      const FieldSpec& f, const vault::FieldValue& raw, policy::Effect effect,
      const vault::TokenKeys& keys, absl::string_view subject,
      absl::string_view destination, absl::string_view purpose,
      const vault::AccessContext& ctx,
      std::shared_ptr<const vault::SubjectTokenKeys>& subject_keys) {
    vault::TransformMode mode = ModeOf(effect);
    if (mode != vault::TransformMode::kRaw &&
        f.method == PseudonymMethod::kSiv && subject_keys == nullptr) {
      auto sk = d_.vault->SubjectKeys(Std(subject), Std(destination),
                                      Std(purpose), ctx);
      if (!sk.ok()) return sk.status();
      subject_keys = *sk;
    }
    return d_.vault->pseudonymizer().TransformField(f, raw, mode, keys,
                                                    subject_keys.get());
  }

  // Applies live approval grants to the fields whose effect is `approval`.
  void ApplyGrants(const Principal& p, absl::string_view subject,
                   Decision& dec) {
    absl::Time now = d_.clock->Now();
    for (size_t i = 0; i < dec.out.size(); ++i) {
      if (dec.out[i].effect != policy::Effect::kApproval) continue;
      auto grant =
          d_.approvals->FindLiveGrant(p.id, subject, dec.fields[i]->name, now);
      // The deciding rule's max_duration holds at use too (the policy may
      // have been tightened since the grant).
      const int rule = dec.out[i].deciding_rule;
      if (grant.has_value() && rule >= 0 &&
          now - grant->decided >= d_.policy->rule(rule).approval.max_duration) {
        continue;
      }
      if (grant.has_value()) {
        dec.granted[i] = true;
        dec.approval_id = grant->id;
      }
    }
  }

  // The fields `dec` leaves to an approval, comma-separated ("" if none).
  static std::string ApprovalFieldNames(const Decision& dec) {
    std::string names;
    for (size_t i = 0; i < dec.out.size(); ++i) {
      if (dec.out[i].effect != policy::Effect::kApproval) continue;
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
                                   const Decision& dec,
                                   absl::string_view names,
                                   Responder respond) {
    std::string msg = absl::StrCat(
        "fields ", names,
        " need an approval; grants apply to reads (GET /v1/subjects/{id}), "
        "not to exports: leave these fields out of the export");
    LogThen(DecisionJson(p, purpose, "export", destination, "",
                         subject_jurisdiction, dec, 0, 0),
            std::move(respond), [msg](uint64_t index) {
              return ErrorWith(403, "approval_required", msg,
                               absl::StrCat("\"log_index\":", index));
            });
  }

  // An entry to append, with what it names when the gateway knows it (the
  // access index then need not read it back from the log).
  struct LogEntry {
    std::string json;
    std::optional<std::string> subject;  // pseudonym, "" for none; unset:
                                         // the index reads the entry
  };

  // The decision entry's "field_groups" array. It depends only on the fields,
  // their effects and the rules that decided and matched them, which repeat for
  // every subject read alike, so each I/O thread keeps the arrays of recent
  // decisions (a third of building an entry). Fields and rule ids are
  // identified by address: both live as long as this gateway, whose
  // generation the key also holds. The view is valid until the next call on
  // this thread.
  absl::string_view FieldGroupsJson(const Decision& dec) {
    thread_local absl::flat_hash_map<std::string, std::string> memo;
    std::string key;
    key.reserve(16 + 32 * dec.fields.size());
    AppendRaw(generation_, &key);
    for (size_t i = 0; i < dec.fields.size(); ++i) {
      AppendRaw(dec.fields[i], &key);
      AppendRaw(dec.out[i].effect, &key);
      AppendRaw(dec.out[i].deciding_rule, &key);
      AppendRaw(dec.rule_ids[i].size(), &key);
      for (absl::string_view id : dec.rule_ids[i]) AppendRaw(id.data(), &key);
    }
    if (auto it = memo.find(key); it != memo.end()) return it->second;
    std::vector<audit::FieldOutcome> outcomes;
    outcomes.reserve(dec.fields.size());
    for (size_t i = 0; i < dec.fields.size(); ++i) {
      const FieldSpec& f = *dec.fields[i];
      const policy::FieldDecision& fd = dec.out[i];
      outcomes.push_back(
          {f.name, f.category, f.restricted, policy::ToString(fd.effect),
           fd.deciding_rule >= 0
               ? absl::string_view(d_.policy->rule(fd.deciding_rule).id)
               : absl::string_view(),
           dec.rule_ids[i]});
    }
    std::string json;
    audit::AppendFieldGroupsJson(outcomes, &json);
    // Bounded: principals x purposes x field lists is small in practice,
    // and a full memo simply starts over.
    if (memo.size() >= 4096) memo.clear();
    return memo.emplace(std::move(key), std::move(json)).first->second;
  }

  // What every entry of this node names: when, where, who, why, what, to
  // where, about whom, and under which policy.
  DecisionRecord RecordOf(const Principal& p, absl::string_view purpose,
                          absl::string_view action,
                          absl::string_view destination,
                          absl::string_view subject_pseudonym) const {
    DecisionRecord r;
    r.time = d_.clock->Now();
    r.node = node_.id;
    r.region = node_.region;
    r.principal = &p;
    r.purpose = purpose;
    r.action = action;
    r.destination = destination;
    r.subject = subject_pseudonym;
    r.policy = d_.policy->sha256();
    return r;
  }

  LogEntry DecisionJson(const Principal& p, absl::string_view purpose,
                        absl::string_view action, absl::string_view destination,
                        absl::string_view subject_pseudonym,
                        absl::string_view subject_jurisdiction,
                        const Decision& dec, int64_t records, int64_t bytes,
                        int64_t subjects = -1) {
    DecisionRecord r =
        RecordOf(p, purpose, action, destination, subject_pseudonym);
    r.field_groups_json = FieldGroupsJson(dec);
    r.subject_jurisdiction = subject_jurisdiction;
    r.subjects = subjects;
    r.approval = dec.approval_id;
    r.records = records;
    r.bytes = bytes;
    LogEntry entry;
    // A decision with ten fields is about 0.8 KB: one allocation, not a
    // doubling series.
    entry.json.reserve(1024);
    AppendDecisionJson(r, &entry.json);
    entry.subject = std::string(subject_pseudonym);
    return entry;
  }

  // Appends `entry`; once durable, calls `then` with its index (on the log's
  // thread: `then` must only build and send a response).
  void LogThen(LogEntry entry, Responder respond,
               std::function<HttpResponse(uint64_t index)> then) {
    absl::Time start = absl::Now();
    d_.log->Append(
        std::move(entry.json),
        [this, start, subject = std::move(entry.subject),
         respond = std::move(respond),
         then = std::move(then)](absl::StatusOr<uint64_t> index) mutable {
          append_latency_->Observe(absl::ToDoubleSeconds(absl::Now() - start));
          if (index.ok() && subject.has_value()) {
            d_.access_index->Note(*index, std::move(*subject));
          }
          if (!index.ok()) {
            // Nothing is returned without a durable decision.
            respond(HttpResponse::Error(
                503, "log_unavailable",
                "the decision could not be logged; no data was returned"));
            return;
          }
          respond(then(*index));
        });
  }

  static HttpResponse WithIndex(int status, const std::string& prefix,
                                uint64_t index, const std::string& suffix) {
    return HttpResponse::Json(status, absl::StrCat(prefix, index, suffix));
  }

  // Logs a refusal and answers 403 with the log index.
  void RefuseLogged(LogEntry entry, absl::string_view message,
                    Responder respond) {
    std::string msg(message);
    LogThen(std::move(entry), std::move(respond), [msg](uint64_t index) {
      return ErrorWith(403, "forbidden", msg,
                       absl::StrCat("\"log_index\":", index));
    });
  }

  // --- subjects ---

  // Appends `entry`; once it is durable, runs `effect` (a vault write or
  // erasure) with the entry's index on the blocking pool, and responds with
  // what it returns. So an effect becomes visible only after its decision is
  // durable: a crash in between leaves a logged decision without its effect,
  // never an effect without its decision. The log's thread only hands the
  // effect over (it must not wait for the vault's fsync). The executor tracks
  // outstanding work from the append until the effect has run, so Drain waits
  // for effects still behind the log. If the vault then refuses, `effect`
  // answers the mapped error and the entry stands as the decision made.
  void LogThenEffect(LogEntry entry, Responder respond,
                     std::function<HttpResponse(uint64_t index)> effect) {
    auto pool =
        boost::asio::prefer(blocking_.get_executor(),
                            boost::asio::execution::outstanding_work.tracked);
    absl::Time start = absl::Now();
    d_.log->Append(
        std::move(entry.json),
        [this, start, pool, subject = std::move(entry.subject),
         respond = std::move(respond),
         effect = std::move(effect)](absl::StatusOr<uint64_t> index) mutable {
          append_latency_->Observe(absl::ToDoubleSeconds(absl::Now() - start));
          if (!index.ok()) {
            respond(HttpResponse::Error(
                503, "log_unavailable",
                "the decision could not be logged; nothing was changed"));
            return;
          }
          if (subject.has_value()) {
            d_.access_index->Note(*index, std::move(*subject));
          }
          boost::asio::post(pool, [i = *index, respond = std::move(respond),
                                   effect = std::move(effect)]() mutable {
            respond(effect(i));
          });
        });
  }

  // The entry of a request that decided no field: a look-up of a subject
  // that is not stored here ("not_found", "gone"), an access report, or a
  // refusal before any field was decided ("forbidden"). It names the
  // principal, action and subject pseudonym; with no fields the auditor's
  // replay has nothing to re-derive.
  LogEntry LookupJson(const Principal& p, absl::string_view purpose,
                      absl::string_view action, absl::string_view destination,
                      absl::string_view subject_pseudonym,
                      absl::string_view outcome, int64_t records = 0,
                      int64_t bytes = 0) {
    DecisionRecord r =
        RecordOf(p, purpose, action, destination, subject_pseudonym);
    r.records = records;
    r.bytes = bytes;
    r.outcome = outcome;
    LogEntry entry;
    AppendDecisionJson(r, &entry.json);
    entry.subject = std::string(subject_pseudonym);
    return entry;
  }

  // Answers a look-up whose subject the vault does not have: 404 for an
  // unknown subject, 410 for an erased one, each after its entry is durable
  // (an existence check is an access too). Other errors (a malformed id,
  // storage) are answered without an entry.
  void RespondAbsent(const Principal& p, absl::string_view purpose,
                     absl::string_view action, absl::string_view destination,
                     const std::string& subject, const absl::Status& status,
                     Responder respond) {
    const bool gone = vault::IsErased(status);
    if (!gone && status.code() != absl::StatusCode::kNotFound) {
      return respond(ErrorResponse(status));
    }
    std::string message(status.message());
    LogThen(LookupJson(p, purpose, action, destination, Pseudonym(subject),
                       gone ? "gone" : "not_found"),
            std::move(respond), [gone, message](uint64_t index) {
              return ErrorWith(gone ? 410 : 404, gone ? "gone" : "not_found",
                               message, absl::StrCat("\"log_index\":", index));
            });
  }

  // The jurisdiction a region's data centres sit in: the destination of a
  // write stored there (this node's is storage_jurisdiction_).
  std::string StorageJurisdictionOf(absl::string_view region) const {
    if (const Region* r = d_.deployment->FindRegion(region);
        r != nullptr && !r->dcs.empty()) {
      if (const Jurisdiction* j =
              d_.deployment->JurisdictionOfCountry(r->dcs.front().country)) {
        return j->id;
      }
    }
    return std::string(region);
  }

  void PutSubject(HttpRequest& req, Responder respond) {
    // Authentication first: who is not authenticated learns nothing, not
    // even where a subject would be stored.
    auto principal = Authenticate(req);
    if (!principal.ok()) return respond(ErrorResponse(principal.status()));
    auto purpose = PurposeOf(req);
    if (!purpose.ok()) return respond(ErrorResponse(purpose.status()));
    const std::string& subject = req.path_params["id"];
    auto record = vault::ParseRecordJson(d_.deployment->schema, Std(req.body));
    if (!record.ok()) return respond(ErrorResponse(record.status()));
    auto jurisdiction =
        d_.vault->residency().JurisdictionOfCountry(record->country);
    if (!jurisdiction.ok())
      return respond(ErrorResponse(jurisdiction.status()));
    absl::Status here = d_.vault->residency().CheckStoredHere(*jurisdiction);
    std::optional<vault::ResidencyRedirect> redirect;
    if (!here.ok()) {
      redirect = vault::GetResidencyRedirect(here);
      if (!redirect.has_value()) {
        return respond(
            HttpResponse::Error(422, "no_home_region", here.message()));
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
        redirect.has_value() ? StorageJurisdictionOf(redirect->region)
                             : storage_jurisdiction_;
    auto all = ResolveFields(d_.deployment->schema, {});
    if (!all.ok()) return respond(ErrorResponse(all.status()));
    const Principal& p = **principal;
    Decision dec = Decide(p, *purpose, "write", *jurisdiction, destination,
                          *std::move(all));
    std::string pseudonym = Pseudonym(subject);
    if (!dec.AllAllowed()) {
      return RefuseLogged(
          DecisionJson(p, *purpose, "write", destination, pseudonym,
                       *jurisdiction, dec, 0, 0),
          "the policy does not allow this principal to write this subject",
          std::move(respond));
    }
    // A misdirected write touches nothing here.
    if (redirect.has_value()) {
      misdirected_->Increment();
      return respond(ErrorResponse(here));
    }
    // What the vault would refuse for this subject is refused before a
    // decision is logged: a logged write is one decided to happen.
    if (auto home = d_.vault->HomeJurisdiction(Std(subject)); home.ok()) {
      if (*home != *jurisdiction) {
        return respond(ErrorResponse(absl::FailedPreconditionError(absl::StrCat(
            "the subject has home jurisdiction ", *home, "; country ",
            record->country, " (", *jurisdiction, ") would change it"))));
      }
    } else if (vault::IsErased(home.status())) {
      return respond(ErrorResponse(absl::FailedPreconditionError(
          "the subject was erased; its id cannot be reused")));
    } else if (home.status().code() != absl::StatusCode::kNotFound) {
      return respond(ErrorResponse(home.status()));
    }
    LogThenEffect(
        DecisionJson(p, *purpose, "write", storage_jurisdiction_, pseudonym,
                     *jurisdiction, dec, 1,
                     static_cast<int64_t>(req.body.size())),
        std::move(respond),
        [this, subject,
         record = *std::move(record)](uint64_t index) -> HttpResponse {
          auto put = d_.vault->Put(Std(subject), record);
          if (!put.ok()) return ErrorResponse(put.status());
          std::string body = absl::StrCat(
              "{\"created\":", put->created ? "true" : "false",
              ",\"log_index\":", index, ",\"region\":\"", node_.region,
              "\",\"revision\":", put->revision, ",\"subject\":");
          AppendJsonString(subject, &body);
          body.push_back('}');
          return HttpResponse::Json(put->created ? 201 : 200, std::move(body));
        });
  }

  void GetSubject(HttpRequest& req, Responder respond) {
    auto principal = Authenticate(req);
    if (!principal.ok()) return respond(ErrorResponse(principal.status()));
    auto purpose = PurposeOf(req);
    if (!purpose.ok()) return respond(ErrorResponse(purpose.status()));
    const std::string& subject = req.path_params["id"];
    auto fields = ResolveFields(d_.deployment->schema,
                                SplitList(req.QueryParam("fields")));
    if (!fields.ok()) return respond(ErrorResponse(fields.status()));
    const Principal& p = **principal;
    // An interactive read is a transfer to where the reader works.
    const std::string& destination = p.jurisdiction;
    auto jurisdiction = d_.vault->HomeJurisdiction(Std(subject));
    if (!jurisdiction.ok()) {
      return RespondAbsent(p, *purpose, "read", destination, subject,
                           jurisdiction.status(), std::move(respond));
    }
    Decision dec =
        Decide(p, *purpose, "read", *jurisdiction, destination, *fields);
    ApplyGrants(p, subject, dec);
    std::string pseudonym = Pseudonym(subject);
    if (!dec.AnyReturned()) {
      return RefuseLogged(
          DecisionJson(p, *purpose, "read", destination, pseudonym,
                       *jurisdiction, dec, 0, 0),
          "the policy returns none of the requested fields to this principal",
          std::move(respond));
    }
    std::vector<std::string> wanted;
    for (size_t i = 0; i < dec.fields.size(); ++i) {
      if (dec.Returned(i)) wanted.push_back(dec.fields[i]->name);
    }
    vault::AccessContext ctx{p.id, *purpose};
    auto record = d_.vault->Get(Std(subject), wanted, ctx);
    if (!record.ok()) return respond(ErrorResponse(record.status()));
    auto keys = d_.vault->TokenKeysFor(Std(destination), Std(*purpose));
    if (!keys.ok()) return respond(ErrorResponse(keys.status()));
    std::shared_ptr<const vault::SubjectTokenKeys> subject_keys;

    std::string values;  // the "fields" object
    values.reserve(1024);
    values.push_back('{');
    for (size_t i = 0; i < dec.fields.size(); ++i) {
      const FieldSpec& f = *dec.fields[i];
      if (i > 0) values.push_back(',');
      AppendJsonString(f.name, &values);
      values.append(":{\"effect\":");
      AppendJsonString(policy::ToString(dec.out[i].effect), &values);
      if (dec.out[i].effect == policy::Effect::kApproval) {
        values.append(dec.granted[i] ? ",\"granted\":true"
                                     : ",\"granted\":false");
      }
      const vault::FieldValue* raw =
          dec.Returned(i) ? record->Find(Std(f.name)) : nullptr;
      if (raw != nullptr) {
        auto out = Transform(f, *raw, dec.out[i].effect, **keys, subject,
                             destination, *purpose, ctx, subject_keys);
        if (!out.ok()) return respond(ErrorResponse(out.status()));
        values.append(",\"value\":");
        AppendFieldValue(*out, &values);
      }
      values.push_back('}');
    }
    values.push_back('}');
    std::string prefix =
        absl::StrCat("{\"destination\":\"", destination,
                     "\",\"fields\":", values, ",\"log_index\":");
    std::string suffix =
        absl::StrCat(",\"policy\":\"", d_.policy->sha256(), "\",\"purpose\":\"",
                     *purpose, "\",\"subject\":");
    AppendJsonString(subject, &suffix);
    suffix.push_back('}');
    LogThen(
        DecisionJson(p, *purpose, "read", destination, pseudonym, *jurisdiction,
                     dec, 1, static_cast<int64_t>(values.size())),
        std::move(respond),
        [prefix = std::move(prefix), suffix = std::move(suffix)](
            uint64_t index) { return WithIndex(200, prefix, index, suffix); });
  }

  void DeleteSubject(HttpRequest& req, Responder respond) {
    auto principal = Authenticate(req);
    if (!principal.ok()) return respond(ErrorResponse(principal.status()));
    auto purpose = PurposeOf(req);
    if (!purpose.ok()) return respond(ErrorResponse(purpose.status()));
    const std::string& subject = req.path_params["id"];
    const Principal& p = **principal;
    auto jurisdiction = d_.vault->HomeJurisdiction(Std(subject));
    if (!jurisdiction.ok()) {
      return RespondAbsent(p, *purpose, "erase", storage_jurisdiction_, subject,
                           jurisdiction.status(), std::move(respond));
    }
    // Erasure destroys every field: it is decided over all of them.
    auto all = ResolveFields(d_.deployment->schema, {});
    if (!all.ok()) return respond(ErrorResponse(all.status()));
    Decision dec = Decide(p, *purpose, "erase", *jurisdiction,
                          storage_jurisdiction_, *std::move(all));
    std::string pseudonym = Pseudonym(subject);
    if (!dec.AllAllowed()) {
      return RefuseLogged(
          DecisionJson(p, *purpose, "erase", storage_jurisdiction_, pseudonym,
                       *jurisdiction, dec, 0, 0),
          "the policy does not allow this principal to erase subjects",
          std::move(respond));
    }
    LogThenEffect(
        DecisionJson(p, *purpose, "erase", storage_jurisdiction_, pseudonym,
                     *jurisdiction, dec, 1, 0),
        std::move(respond), [this, subject](uint64_t index) -> HttpResponse {
          if (absl::Status s = d_.vault->Erase(Std(subject)); !s.ok())
            return ErrorResponse(s);
          std::string body = absl::StrCat(
              "{\"erased\":true,\"log_index\":", index, ",\"subject\":");
          AppendJsonString(subject, &body);
          body.push_back('}');
          return HttpResponse::Json(200, std::move(body));
        });
  }

  // --- exports ---

  void Export(HttpRequest& req, Responder respond) {
    auto principal = Authenticate(req);
    if (!principal.ok()) return respond(ErrorResponse(principal.status()));
    rapidjson::Document body;
    if (absl::Status s = ParseJsonObject(req.body, &body); !s.ok())
      return respond(ErrorResponse(s));
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
    const Principal& p = **principal;
    auto keys = d_.vault->TokenKeysFor(Std(*destination), Std(*purpose));
    if (!keys.ok()) return respond(ErrorResponse(keys.status()));
    vault::AccessContext ctx{p.id, *purpose};

    // Decisions depend on the subject's jurisdiction: decide once per
    // jurisdiction.
    std::map<std::string, Decision> by_jurisdiction;
    std::string ndjson;
    int64_t records = 0, skipped = 0;
    for (const std::string& subject : *subjects) {
      auto jurisdiction = d_.vault->HomeJurisdiction(Std(subject));
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
                          Decide(p, *purpose, "export", *jurisdiction,
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
      auto record = d_.vault->Get(Std(subject), wanted, ctx);
      if (!record.ok()) {
        if (vault::IsErased(record.status()) ||
            record.status().code() == absl::StatusCode::kNotFound) {
          ++skipped;
          continue;
        }
        return respond(ErrorResponse(record.status()));
      }
      std::shared_ptr<const vault::SubjectTokenKeys> subject_keys;
      auto subject_token = (*keys)->HmacToken(Std(subject));
      if (!subject_token.ok())
        return respond(ErrorResponse(subject_token.status()));
      std::string line = "{\"fields\":{";
      bool first = true;
      for (size_t i = 0; i < dec.fields.size(); ++i) {
        const FieldSpec& f = *dec.fields[i];
        const vault::FieldValue* raw =
            dec.Returned(i) ? record->Find(Std(f.name)) : nullptr;
        if (raw == nullptr) continue;
        auto out = Transform(f, *raw, dec.out[i].effect, **keys, subject,
                             *destination, *purpose, ctx, subject_keys);
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
      merged = Decide(p, *purpose, "export", "", *destination, *fields);
    } else {
      // Several jurisdictions: log the least restrictive effect per field (what
      // may have left), with the union of matching rules.
      merged = by_jurisdiction.begin()->second;
      for (const auto& [j, dec] : by_jurisdiction) {
        for (size_t i = 0; i < dec.out.size(); ++i) {
          if (dec.out[i].effect < merged.out[i].effect) {
            merged.out[i] = dec.out[i];
            merged.rule_ids[i] = dec.rule_ids[i];
          }
        }
      }
    }
    int64_t bytes = static_cast<int64_t>(ndjson.size());
    LogEntry entry = DecisionJson(p, *purpose, "export", *destination, "",
                                  subject_jurisdiction, merged, records, bytes,
                                  static_cast<int64_t>(subjects->size()));
    LogThen(std::move(entry), std::move(respond),
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

  // --- detokenize ---

  void Detokenize(HttpRequest& req, Responder respond) {
    auto principal = Authenticate(req);
    if (!principal.ok()) return respond(ErrorResponse(principal.status()));
    auto purpose = PurposeOf(req);
    if (!purpose.ok()) return respond(ErrorResponse(purpose.status()));
    rapidjson::Document body;
    if (absl::Status s = ParseJsonObject(req.body, &body); !s.ok())
      return respond(ErrorResponse(s));
    auto token = StringMember(body, "token", true);
    auto field_name = StringMember(body, "field", true);
    // The (destination, purpose) the token was issued for; by default the
    // caller's own.
    auto issued_destination = StringMember(body, "issued_destination", false);
    auto issued_purpose = StringMember(body, "issued_purpose", false);
    for (const absl::Status& s :
         {token.status(), field_name.status(), issued_destination.status(),
          issued_purpose.status()}) {
      if (!s.ok()) return respond(ErrorResponse(s));
    }
    auto fields = ResolveFields(d_.deployment->schema, {*field_name});
    if (!fields.ok()) return respond(ErrorResponse(fields.status()));
    const FieldSpec& field = *(*fields)[0];
    if (field.method != PseudonymMethod::kSiv) {
      return respond(HttpResponse::Error(
          400, "not_reversible",
          absl::StrCat(
              "field '", field.name, "' uses ", ToString(field.method),
              " tokens, which cannot be reversed; only siv tokens can")));
    }
    const Principal& p = **principal;
    std::string token_destination =
        issued_destination->empty() ? p.jurisdiction : *issued_destination;
    std::string token_purpose =
        issued_purpose->empty() ? *purpose : *issued_purpose;
    // Only pairs tokens can have been issued for: anything else would only
    // derive (and cache) keys for names the caller invents.
    if (d_.deployment->FindJurisdiction(token_destination) == nullptr) {
      return respond(HttpResponse::Error(
          400, "invalid_argument",
          "'issued_destination' is not a jurisdiction of the deployment"));
    }
    if (!IsIdentifier(token_purpose)) {
      return respond(HttpResponse::Error(400, "invalid_argument",
                                         "'issued_purpose' is not valid"));
    }
    if (absl::Status s = CheckDeclaredPurpose(*d_.deployment, token_purpose);
        !s.ok()) {
      return respond(ErrorResponse(s));
    }
    vault::AccessContext ctx{p.id, *purpose};
    // The token opens only as the field it was issued for (its associated
    // data), so the field logged below is the field revealed.
    auto found =
        d_.vault->Detokenize(Std(*token), Std(field.name),
                             Std(token_destination), Std(token_purpose), ctx);
    if (!found.ok()) {
      if (vault::IsFieldMismatch(found.status())) {
        return respond(HttpResponse::Error(
            400, "field_mismatch",
            absl::StrCat("the token was not issued for field '", field.name,
                         "'; nothing was revealed")));
      }
      return respond(ErrorResponse(found.status()));
    }
    auto jurisdiction = d_.vault->HomeJurisdiction(Std(found->subject));
    if (!jurisdiction.ok())
      return respond(ErrorResponse(jurisdiction.status()));
    Decision dec = Decide(p, *purpose, "detokenize", *jurisdiction,
                          p.jurisdiction, *fields);
    ApplyGrants(p, found->subject, dec);
    std::string pseudonym = Pseudonym(found->subject);
    bool allowed =
        dec.out[0].effect == policy::Effect::kAllow || dec.granted[0];
    if (!allowed) {
      return RefuseLogged(
          DecisionJson(p, *purpose, "detokenize", p.jurisdiction, pseudonym,
                       *jurisdiction, dec, 0, 0),
          "the policy does not allow this principal to reverse this token",
          std::move(respond));
    }
    std::string prefix = "{\"field\":";
    AppendJsonString(field.name, &prefix);
    prefix.append(",\"log_index\":");
    std::string suffix = ",\"value\":";
    AppendJsonString(found->value, &suffix);
    suffix.push_back('}');
    LogThen(DecisionJson(p, *purpose, "detokenize", p.jurisdiction, pseudonym,
                         *jurisdiction, dec, 1,
                         static_cast<int64_t>(found->value.size())),
            std::move(respond), [prefix, suffix](uint64_t index) {
              return WithIndex(200, prefix, index, suffix);
            });
  }

  // --- aggregates ---

  // Who an aggregate's privacy budget belongs to: the principal's org (so
  // that an org's services and staff share one budget), else the principal.
  // Never anything the request chooses.
  static std::string BudgetHolder(const Principal& p) {
    return p.org.empty() ? absl::StrCat("principal:", p.id)
                         : absl::StrCat("org:", p.org);
  }

  void Aggregate(HttpRequest& req, Responder respond) {
    auto principal = Authenticate(req);
    if (!principal.ok()) return respond(ErrorResponse(principal.status()));
    auto purpose = PurposeOf(req);
    if (!purpose.ok()) return respond(ErrorResponse(purpose.status()));
    rapidjson::Document body;
    if (absl::Status s = ParseJsonObject(req.body, &body); !s.ok())
      return respond(ErrorResponse(s));
    auto field_name = StringMember(body, "field", true);
    auto destination_member = StringMember(body, "destination", false);
    auto subjects =
        StringArrayMember(body, "subjects", false, kMaxAggregateSubjects);
    for (const absl::Status& s :
         {field_name.status(), destination_member.status(),
          subjects.status()}) {
      if (!s.ok()) return respond(ErrorResponse(s));
    }
    const Principal& p = **principal;
    std::string destination =
        destination_member->empty() ? p.jurisdiction : *destination_member;
    if (d_.deployment->FindJurisdiction(destination) == nullptr) {
      return respond(HttpResponse::Error(
          400, "invalid_argument",
          "'destination' is not a jurisdiction of the deployment"));
    }
    auto fields = ResolveFields(d_.deployment->schema, {*field_name});
    if (!fields.ok()) return respond(ErrorResponse(fields.status()));
    const FieldSpec& field = *(*fields)[0];
    if (field.format == FieldFormat::kTextList) {
      return respond(
          HttpResponse::Error(400, "invalid_argument",
                              "aggregates over list fields are not supported"));
    }
    // Every subject stored here, unless the request names some. Each counts
    // once: naming one person k times is not a cohort of k.
    std::vector<std::string> ids = *subjects;
    if (ids.empty()) {
      absl::Status scan = d_.vault->ListSubjects(
          kMaxAggregateSubjects,
          [&ids](std::string_view id) { ids.emplace_back(id); });
      if (!scan.ok()) return respond(ErrorResponse(scan));
    }
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    // Decide per home jurisdiction; keep the subjects the policy lets in.
    std::map<std::string, Decision> by_jurisdiction;
    std::vector<const std::string*> permitted;
    for (const std::string& subject : ids) {
      auto jurisdiction = d_.vault->HomeJurisdiction(Std(subject));
      if (!jurisdiction.ok()) continue;
      auto it = by_jurisdiction.find(*jurisdiction);
      if (it == by_jurisdiction.end()) {
        it = by_jurisdiction
                 .emplace(*jurisdiction,
                          Decide(p, *purpose, "aggregate", *jurisdiction,
                                 destination, *fields))
                 .first;
      }
      if (it->second.out[0].effect > policy::Effect::kAggregate)
        continue;  // approval or deny: excluded
      permitted.push_back(&subject);
    }
    Decision logged;
    std::string subject_jurisdiction;
    if (by_jurisdiction.empty()) {
      logged = Decide(p, *purpose, "aggregate", "", destination, *fields);
    } else {
      logged = by_jurisdiction.begin()->second;
      if (by_jurisdiction.size() == 1)
        subject_jurisdiction = by_jurisdiction.begin()->first;
    }
    // The price is the decision's, known before any subject is looked at: the
    // largest epsilon of the aggregate rules that decided, whether or not a
    // subject then matches.
    bool any_permitted = false;
    double epsilon = 0;
    auto price = [&](const Decision& dec) {
      const policy::FieldDecision& fd = dec.out[0];
      if (fd.effect > policy::Effect::kAggregate) return;
      any_permitted = true;
      if (fd.effect == policy::Effect::kAggregate && fd.deciding_rule >= 0) {
        epsilon = std::max(epsilon,
                           d_.policy->rule(fd.deciding_rule).aggregate.epsilon);
      }
    };
    if (by_jurisdiction.empty()) price(logged);
    for (const auto& [j, dec] : by_jurisdiction) price(dec);
    if (!any_permitted) {
      return RefuseLogged(
          DecisionJson(p, *purpose, "aggregate", destination, "",
                       subject_jurisdiction, logged, 0, 0),
          "the policy does not allow aggregates of this field here",
          std::move(respond));
    }
    // Buckets must each stand for many people: only fields whose values are
    // generalised (a birth date to its year, an address to its /24, a country
    // to its jurisdiction) can be grouped. A token per value (device_id) would
    // be one bucket per person.
    if (field.method != PseudonymMethod::kGeneralize) {
      return respond(HttpResponse::Error(
          400, "field_not_generalized",
          absl::StrCat("aggregates group by generalised values only; field '",
                       field.name, "' uses ", ToString(field.method),
                       ", not generalize")));
    }
    if (epsilon <= 0) epsilon = 1.0;
    auto left = d_.state->SpendEpsilon(
        BudgetHolder(p), *purpose, epsilon,
        d_.deployment->privacy.daily_epsilon_budget, d_.clock->Now());
    if (!left.ok()) return respond(ErrorResponse(left.status()));
    vault::AccessContext ctx{p.id, *purpose};
    auto keys = d_.vault->TokenKeysFor(Std(destination), Std(*purpose));
    if (!keys.ok()) return respond(ErrorResponse(keys.status()));
    std::map<std::string, double> counts;
    int64_t included = 0;
    for (const std::string* subject : permitted) {
      auto record = d_.vault->Get(Std(*subject), {field.name}, ctx);
      if (!record.ok()) continue;
      const vault::FieldValue* raw = record->Find(Std(field.name));
      if (raw == nullptr) continue;
      auto bucket = d_.vault->pseudonymizer().TransformField(
          field, *raw, vault::TransformMode::kGeneralize, **keys, nullptr);
      if (!bucket.ok()) continue;
      counts[bucket->value] += 1;
      ++included;
    }
    const int k = d_.deployment->privacy.min_cohort;
    if (included < k) {
      // Logged (the budget is spent): a refusal must not be a free probe of
      // who is stored here.
      std::string msg =
          absl::StrCat("an aggregate must cover at least ", k,
                       " subjects with this field; this one covers fewer");
      return LogThen(DecisionJson(p, *purpose, "aggregate", destination, "",
                                  subject_jurisdiction, logged, 0, 0, included),
                     std::move(respond), [msg](uint64_t index) {
                       return ErrorWith(403, "cohort_too_small", msg,
                                        absl::StrCat("\"log_index\":", index));
                     });
    }
    // Noise first, then suppression: a bucket is listed only when its noisy
    // count reaches k, so small groups (and empty ones) never show.
    std::string buckets = "{";
    int64_t listed = 0;
    for (const auto& [value, count] : counts) {
      double noisy = std::round(count + LaplaceNoise(1.0 / epsilon));
      if (noisy < k) continue;
      if (listed++ > 0) buckets.push_back(',');
      AppendJsonString(value, &buckets);
      absl::StrAppend(&buckets, ":", static_cast<int64_t>(noisy));
    }
    buckets.push_back('}');
    std::string prefix = absl::StrCat(
        "{\"budget_left\":", *left, ",\"buckets\":", buckets,
        ",\"destination\":\"", destination, "\",\"epsilon\":", epsilon,
        ",\"field\":\"", field.name, "\",\"log_index\":");
    std::string suffix = absl::StrCat(",\"min_cohort\":", k, "}");
    LogThen(DecisionJson(p, *purpose, "aggregate", destination, "",
                         subject_jurisdiction, logged, listed,
                         static_cast<int64_t>(buckets.size()), included),
            std::move(respond), [prefix, suffix](uint64_t index) {
              return WithIndex(200, prefix, index, suffix);
            });
  }

  // --- access report ---

  // An access report reveals who saw a subject's data and when: the look-up
  // is logged (action "access_report", purpose "audit", the subject's
  // pseudonym) and the report returned only once that entry is durable; a
  // refused look-up is logged as well.
  void AccessReport(HttpRequest& req, Responder respond) {
    auto principal = Authenticate(req);
    if (!principal.ok()) return respond(ErrorResponse(principal.status()));
    const Principal& p = **principal;
    const std::string& subject = req.path_params["id"];
    std::string pseudonym = Pseudonym(subject);
    if (p.kind != PrincipalKind::kAuditor && p.kind != PrincipalKind::kAdmin) {
      return RefuseLogged(LookupJson(p, "audit", "access_report",
                                     p.jurisdiction, pseudonym, "forbidden"),
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
    LogThen(LookupJson(p, "audit", "access_report", p.jurisdiction, pseudonym,
                       "", reported, bytes),
            std::move(respond),
            [out = std::move(out), suffix = std::move(suffix)](uint64_t index) {
              return WithIndex(200, out, index, suffix);
            });
  }

  // --- approvals ---

  void CreateApproval(HttpRequest& req, Responder respond) {
    auto principal = Authenticate(req);
    if (!principal.ok()) return respond(ErrorResponse(principal.status()));
    const Principal& p = **principal;
    // Every request is kept, listed and logged: its size is bounded first.
    if (req.body.size() > audit::kMaxApprovalBodyBytes) {
      return respond(HttpResponse::Error(
          413, "payload_too_large",
          absl::StrCat("an approval request body is at most ",
                       audit::kMaxApprovalBodyBytes, " bytes")));
    }
    auto spec = audit::ParseApprovalCreateBody(req.body, p.id, p.country);
    if (!spec.ok()) return respond(ErrorResponse(spec.status()));
    if (spec->principal != p.id && p.kind != PrincipalKind::kAdmin) {
      return respond(HttpResponse::Error(
          403, "forbidden", "only an administrator may file for someone else"));
    }
    if (const Principal* target =
            d_.deployment->FindPrincipal(spec->principal)) {
      spec->requester_country = target->country;
    } else {
      return respond(HttpResponse::Error(400, "invalid_argument",
                                         "'principal' is unknown"));
    }
    for (const auto& f : spec->fields) {
      if (d_.deployment->schema.Find(f) == nullptr) {
        return respond(HttpResponse::Error(
            400, "invalid_argument",
            IsIdentifier(f) ? absl::StrCat("unknown field '", f, "'")
                            : std::string("unknown field")));
      }
    }
    auto t = d_.approvals->PrepareCreate(*spec, GrantLimitsOf(*spec));
    if (!t.ok()) {
      if (t.status().code() == absl::StatusCode::kResourceExhausted) {
        return respond(HttpResponse::Error(409, "too_many_open_requests",
                                           t.status().message()));
      }
      return respond(ErrorResponse(t.status()));
    }
    LogCommitRespond(*std::move(t), 201, respond);
  }

  // What the policy sets for `spec` (policy/approval_limits.h): the approval
  // rules that may decide the fields it covers for its principal and each of
  // its subjects' jurisdictions (unknown subjects: any jurisdiction).
  audit::GrantLimits GrantLimitsOf(const audit::ApprovalRequestSpec& spec) {
    audit::GrantLimits out;
    const Principal* target = d_.deployment->FindPrincipal(spec.principal);
    if (target == nullptr) return out;
    std::vector<policy::FieldRef> refs;
    for (const std::string& name : spec.fields) {
      if (const FieldSpec* f = d_.deployment->schema.Find(name))
        refs.push_back({f->name, f->category, f->restricted});
    }
    std::set<std::string> jurisdictions;
    for (const std::string& subject : spec.subjects) {
      auto j = d_.vault->HomeJurisdiction(Std(subject));
      jurisdictions.insert(j.ok() ? std::string(*j) : std::string());
    }
    const std::string kind(ToString(target->kind));
    policy::ApprovalLimits limits;
    for (const std::string& j : jurisdictions) {
      policy::Request r;
      r.principal_id = target->id;
      r.principal_kind = kind;
      r.principal_org = target->org;
      r.principal_roles = target->roles;
      r.principal_country = target->country;
      r.principal_jurisdiction = target->jurisdiction;
      r.subject_jurisdiction = j;
      policy::AddApprovalLimits(d_.policy->bundle(), r, refs, limits);
    }
    out.approver_roles = std::move(limits.approver_roles);
    out.max_duration = limits.max_duration;
    if (!limits.max_duration_rule.empty()) {
      out.max_duration_source =
          absl::StrCat("max_duration of policy rule '",
                       limits.max_duration_rule, "'");
    }
    return out;
  }

  // Log before effect: the transition's record is durable in the log before
  // the store applies it; a record that cannot be logged is dropped and
  // nothing changes. Runs on the blocking pool (it waits for the log).
  void LogCommitRespond(audit::ApprovalTransition t, int status,
                        Responder& respond) {
    absl::StatusOr<uint64_t> index = d_.log->Append(t.record).get();
    if (!index.ok()) {
      d_.approvals->Abort(t);
      return respond(HttpResponse::Error(
          503, "log_unavailable",
          "the approval could not be logged; nothing was changed"));
    }
    if (absl::Status s = d_.approvals->Commit(t); !s.ok()) {
      // The logged record stands as decided but not applied.
      return respond(ErrorWith(
          503, "approval_not_applied",
          "the approval was logged but could not be stored; retry",
          absl::StrCat("\"log_index\":", *index)));
    }
    respond(HttpResponse::Json(
        status,
        absl::StrCat("{\"approval\":", audit::ApprovalToJson(t.approval),
                     ",\"log_index\":", *index, "}")));
  }

  static audit::Approver ApproverOf(const Principal& p) {
    return audit::Approver{p.id, std::string(ToString(p.kind)), p.roles};
  }

  // An administrative look-up at the approvals desk, logged before the answer
  // (it carries no personal data: ids, a count, the filter). Keys in RFC 8785
  // order; `approval` and `state` empty and `count` < 0 are left out.
  void LogLookupThen(const Principal& p, absl::string_view action,
                     absl::string_view approval, int64_t count,
                     absl::string_view state, Responder respond,
                     std::function<HttpResponse(uint64_t)> then) {
    std::string json = "{\"action\":";
    AppendJsonString(action, &json);
    if (!approval.empty()) {
      json.append(",\"approval\":");
      AppendJsonString(approval, &json);
    }
    if (count >= 0) absl::StrAppend(&json, ",\"count\":", count);
    json.append(",\"node\":");
    AppendJsonString(node_.id, &json);
    json.append(",\"principal\":{\"id\":");
    AppendJsonString(p.id, &json);
    json.append(",\"kind\":");
    AppendJsonString(ToString(p.kind), &json);
    json.append("}");
    if (!state.empty()) {
      json.append(",\"state\":");
      AppendJsonString(state, &json);
    }
    json.append(",\"time\":");
    AppendJsonString(FormatRfc3339Millis(d_.clock->Now()), &json);
    json.append(",\"type\":\"lookup\",\"v\":1}");
    LogThen({std::move(json), std::nullopt}, std::move(respond),
            std::move(then));
  }

  void ListApprovals(HttpRequest& req, Responder respond) {
    auto principal = Authenticate(req);
    if (!principal.ok()) return respond(ErrorResponse(principal.status()));
    const Principal& p = **principal;
    std::optional<audit::ApprovalState> state;
    if (req.HasQueryParam("state")) {
      std::string s = req.QueryParam("state");
      state = audit::ParseApprovalState(s);
      if (!state.has_value()) {
        return respond(HttpResponse::Error(
            400, "invalid_argument",
            "'state' must be pending, approved, denied, expired or revoked"));
      }
    }
    std::vector<audit::Approval> list = d_.approvals->List(state);
    bool sees_all =
        p.kind == PrincipalKind::kAuditor || p.kind == PrincipalKind::kAdmin;
    if (!sees_all) {
      std::erase_if(list, [&p](const audit::Approval& a) {
        return a.request.principal != p.id && a.request.requested_by != p.id;
      });
      return respond(HttpResponse::Json(200, audit::ApprovalListToJson(list)));
    }
    auto body = std::make_shared<std::string>(audit::ApprovalListToJson(list));
    LogLookupThen(p, "list_approvals", "", static_cast<int64_t>(list.size()),
                  state.has_value() ? audit::ToString(*state) : "",
                  std::move(respond),
                  [body](uint64_t) {
                    return HttpResponse::Json(200, std::move(*body));
                  });
  }

  void GetApproval(HttpRequest& req, Responder respond) {
    auto principal = Authenticate(req);
    if (!principal.ok()) return respond(ErrorResponse(principal.status()));
    const Principal& p = **principal;
    auto a = d_.approvals->Get(req.path_params["id"]);
    if (!a.ok()) return respond(ErrorResponse(a.status()));
    bool sees_all =
        p.kind == PrincipalKind::kAuditor || p.kind == PrincipalKind::kAdmin;
    if (!sees_all && a->request.principal != p.id &&
        a->request.requested_by != p.id) {
      return respond(HttpResponse::Error(404, "not_found", "no such approval"));
    }
    if (!sees_all) {
      return respond(HttpResponse::Json(200, audit::ApprovalToJson(*a)));
    }
    auto body = std::make_shared<std::string>(audit::ApprovalToJson(*a));
    LogLookupThen(p, "get_approval", a->id, -1, "", std::move(respond),
                  [body](uint64_t) {
                    return HttpResponse::Json(200, std::move(*body));
                  });
  }

  void ApproveApproval(HttpRequest& req, Responder respond) {
    DecideApproval(req, respond, audit::ApprovalState::kApproved);
  }
  void DenyApproval(HttpRequest& req, Responder respond) {
    DecideApproval(req, respond, audit::ApprovalState::kDenied);
  }
  void RevokeApproval(HttpRequest& req, Responder respond) {
    DecideApproval(req, respond, audit::ApprovalState::kRevoked);
  }

  void DecideApproval(HttpRequest& req, Responder& respond,
                      audit::ApprovalState to) {
    auto principal = Authenticate(req);
    if (!principal.ok()) return respond(ErrorResponse(principal.status()));
    auto body = audit::ParseApprovalDecisionBody(req.body);
    if (!body.ok()) return respond(ErrorResponse(body.status()));
    const std::string& id = req.path_params["id"];
    if (to != audit::ApprovalState::kApproved &&
        body->duration != absl::ZeroDuration()) {
      return respond(HttpResponse::Error(
          400, "invalid_argument",
          "field 'duration': only an approval takes a duration"));
    }
    auto current = d_.approvals->Get(id);
    if (!current.ok()) return respond(ErrorResponse(current.status()));
    // The policy's approver_role and max_duration, as of this decision.
    const audit::GrantLimits limits = GrantLimitsOf(current->request);
    const audit::Approver approver = ApproverOf(**principal);
    absl::StatusOr<audit::ApprovalTransition> t;
    switch (to) {
      case audit::ApprovalState::kApproved:
        t = d_.approvals->PrepareApprove(id, approver, body->reason,
                                         body->duration, limits);
        break;
      case audit::ApprovalState::kRevoked:
        t = d_.approvals->PrepareRevoke(id, approver, body->reason, limits);
        break;
      default:
        t = d_.approvals->PrepareDeny(id, approver, body->reason, limits);
        break;
    }
    if (!t.ok()) return respond(ErrorResponse(t.status()));
    LogCommitRespond(*std::move(t), 200, respond);
  }

  GatewayDeps d_;
  const NodeConfig& node_;
  std::string storage_jurisdiction_;
  const uint64_t generation_ = NextGatewayGeneration();
  std::unique_ptr<log::LogHttpHandler> log_handler_;
  server::CounterFamily* decisions_ = nullptr;
  server::Histogram* append_latency_ = nullptr;
  server::Gauge* log_size_ = nullptr;
  server::Counter* misdirected_ = nullptr;
  // Writes (vault, approvals, privacy budget) wait for an fsync, and exports
  // and aggregates work through many subjects. They run here, not on the I/O
  // threads, so that they never stall the reads sharing an I/O thread, and so
  // that enough writes are in flight at once for RocksDB to commit them in
  // groups, one fsync for many.
  static constexpr int kBlockingThreads = 16;
  boost::asio::thread_pool blocking_{kBlockingThreads};
};

absl::StatusOr<std::unique_ptr<Gateway>> Gateway::Create(GatewayDeps deps) {
  if (deps.deployment == nullptr || !deps.deployment->node.has_value() ||
      deps.clock == nullptr || deps.auth == nullptr || deps.policy == nullptr ||
      deps.log == nullptr || deps.vault == nullptr ||
      deps.approvals == nullptr || deps.state == nullptr ||
      deps.access_index == nullptr || deps.metrics == nullptr) {
    return absl::InvalidArgumentError(
        "gateway: missing dependency or node configuration");
  }
  auto impl = std::make_unique<Impl>(std::move(deps));
  if (absl::Status s = impl->Init(); !s.ok()) return s;
  return std::unique_ptr<Gateway>(new Gateway(std::move(impl)));
}

Gateway::Gateway(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Gateway::~Gateway() = default;

void Gateway::Drain() { impl_->Drain(); }
void Gateway::AddRoutes(server::Router& router) { impl_->AddRoutes(router); }
void Gateway::ExpireApprovals() { impl_->ExpireApprovals(); }

}  // namespace clover::gateway
