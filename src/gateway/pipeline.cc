#include "gateway/pipeline.h"

#include <array>
#include <atomic>
#include <memory>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "boost/asio/execution/outstanding_work.hpp"
#include "boost/asio/post.hpp"
#include "boost/asio/prefer.hpp"
#include "core/canonical_json.h"
#include "crypto/subject_pseudonym.h"
#include "entry/field_groups.h"
#include "gateway/request_util.h"
#include "release/release_protocol.h"
#include "vault/erased.h"
#include "vault/residency.h"

namespace clover::gateway {

using server::HttpRequest;
using server::HttpResponse;
using server::Responder;

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
  if (auto code = release::KeyReleaseCode(status)) {
    // Fail closed: no data key, nothing decrypted; the client may retry.
    // An unreachable service's message may name its host: not passed on.
    return HttpResponse::Error(
        503, *code,
        *code == release::kKeyReleaseRefused
            ? status.message()
            : "the key-release service cannot be reached; the data key is "
              "not released");
  }
  // Lost a race with concurrent writers (e.g. another DC's write to the same
  // subject row): nothing was written; the client may retry.
  if (status.code() == absl::StatusCode::kAborted) {
    return HttpResponse::Error(409, "conflict", status.message());
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

namespace {

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

Pipeline::Pipeline(const GatewayDeps& deps, boost::asio::thread_pool& blocking)
    : d_(deps),
      node_(*d_.deployment->node),
      blocking_(blocking),
      generation_(NextGatewayGeneration()) {
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

absl::Status Pipeline::Init() {
  auto& m = *d_.metrics;
  auto decisions =
      m.AddCounter("clover_gateway_decisions_total",
                   "Field decisions by effect and destination jurisdiction",
                   {"effect", "destination", "action"});
  if (!decisions.ok()) return decisions.status();
  decisions_ = *decisions;
  auto append =
      m.AddHistogram("clover_log_append_seconds",
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

server::Handler Pipeline::Inline(Endpoint fn) {
  return [fn = std::move(fn)](HttpRequest& req, Responder respond) {
    if (auto refused = CheckJsonContentType(req))
      return respond(*std::move(refused));
    fn(req, std::move(respond));
  };
}

server::Handler Pipeline::Blocking(Endpoint fn) {
  return [this, fn = std::move(fn)](HttpRequest& req, Responder respond) {
    if (auto refused = CheckJsonContentType(req))
      return respond(*std::move(refused));
    boost::asio::post(blocking_,
                      [fn, req, respond = std::move(respond)]() mutable {
                        fn(req, std::move(respond));
                      });
  };
}

std::optional<Caller> Pipeline::Open(const HttpRequest& req, Responder& respond,
                                     Purpose purpose,
                                     rapidjson::Document* json_body) {
  absl::StatusOr<const Principal*> principal = d_.auth->Authenticate(req);
  if (!principal.ok()) {
    respond(ErrorResponse(principal.status()));
    return std::nullopt;
  }
  req.NotePrincipal((*principal)->id);
  std::string declared;
  if (purpose == Purpose::kHeader) {
    // The purpose must be one the deployment declares.
    absl::StatusOr<std::string> header = PurposeOf(req);
    absl::Status s = header.status();
    if (s.ok()) s = CheckDeclaredPurpose(*d_.deployment, *header);
    if (!s.ok()) {
      respond(ErrorResponse(s));
      return std::nullopt;
    }
    declared = *std::move(header);
  }
  if (json_body != nullptr) {
    if (absl::Status s = ParseJsonObject(req.body, json_body); !s.ok()) {
      respond(ErrorResponse(s));
      return std::nullopt;
    }
  }
  return Caller{**principal, std::move(declared)};
}

// The subject's pseudonym in decision entries: a keyed HMAC, about 2% of an
// audited read's CPU. Subjects are read again and again (the vault's key
// cache rests on it too), so each I/O thread keeps the pseudonyms of recent
// subjects, under this gateway's generation since the key is per gateway.
// They are what the log publishes; the raw ids are in the requests anyway.
std::string Pipeline::Pseudonym(absl::string_view subject) const {
  thread_local absl::flat_hash_map<std::string, std::string> memo;
  std::string key;
  key.reserve(sizeof generation_ + subject.size());
  AppendRaw(generation_, &key);
  key.append(subject.data(), subject.size());
  if (auto it = memo.find(key); it != memo.end()) return it->second;
  std::string pseudonym = crypto::SubjectPseudonym(d_.log_subject_key, subject);
  // Bounded: a full memo simply starts over.
  if (memo.size() >= 16384) memo.clear();
  memo.emplace(std::move(key), pseudonym);
  return pseudonym;
}

Decision Pipeline::Decide(const Principal& p, absl::string_view purpose,
                          absl::string_view action,
                          absl::string_view subject_jurisdiction,
                          absl::string_view destination,
                          std::vector<const FieldSpec*> fields,
                          absl::string_view justification) {
  Decision dec;
  dec.fields = std::move(fields);
  std::vector<policy::FieldRef> refs;
  refs.reserve(dec.fields.size());
  for (const FieldSpec* f : dec.fields) {
    refs.push_back({f->name, f->category, f->restricted});
  }
  entry::DecideFields(
      *d_.policy,
      entry::RequestOf(p, {purpose, action, subject_jurisdiction, destination,
                           justification}),
      refs, &dec.verdicts);
  dec.granted.assign(refs.size(), false);
  // Counted per effect, not per field: a labelled counter is a locked
  // lookup, and a decision's fields mostly share one or two effects.
  std::array<uint64_t, policy::kEffectCount> per_effect{};
  for (const policy::FieldDecision& fd : dec.verdicts.decisions)
    ++per_effect[static_cast<size_t>(fd.effect)];
  for (size_t e = 0; e < per_effect.size(); ++e) {
    if (per_effect[e] == 0) continue;
    decisions_
        ->WithLabels({policy::ToString(static_cast<policy::Effect>(e)),
                      destination, action})
        .Increment(per_effect[e]);
  }
  return dec;
}

absl::StatusOr<vault::FieldValue> Pipeline::Transform(
    const FieldSpec& f, const vault::FieldValue& raw, policy::Effect effect,
    const vault::TokenKeys& keys, absl::string_view subject,
    absl::string_view destination, absl::string_view purpose,
    const vault::AccessContext& ctx,
    std::shared_ptr<const vault::SubjectTokenKeys>& subject_keys) {
  vault::TransformMode mode = ModeOf(effect);
  if (mode != vault::TransformMode::kRaw && f.method == PseudonymMethod::kSiv &&
      subject_keys == nullptr) {
    auto sk = d_.vault->SubjectKeys(subject, destination, purpose, ctx);
    if (!sk.ok()) return sk.status();
    subject_keys = *sk;
  }
  return d_.vault->pseudonymizer().TransformField(f, raw, mode, keys,
                                                  subject_keys.get());
}

void Pipeline::ApplyGrants(const Principal& p, absl::string_view subject,
                           Decision& dec) {
  absl::Time now = d_.clock->Now();
  for (size_t i = 0; i < dec.verdicts.decisions.size(); ++i) {
    if (dec.verdicts.decisions[i].effect != policy::Effect::kApproval) continue;
    auto grant =
        d_.approvals->FindLiveGrant(p.id, subject, dec.fields[i]->name, now);
    // The deciding rule's max_duration holds at use too (the policy may
    // have been tightened since the grant).
    const int rule = dec.verdicts.decisions[i].deciding_rule;
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

// The decision entry's "field_groups" array. It depends only on the fields,
// their effects and the rules that decided and matched them, which repeat for
// every subject read alike, so each I/O thread keeps the arrays of recent
// decisions (a third of building an entry). Fields and rule ids are
// identified by address: both live as long as this gateway, whose
// generation the key also holds. The view is valid until the next call on
// this thread.
absl::string_view Pipeline::FieldGroupsJson(const Decision& dec) {
  thread_local absl::flat_hash_map<std::string, std::string> memo;
  std::string key;
  key.reserve(16 + 32 * dec.fields.size());
  AppendRaw(generation_, &key);
  for (size_t i = 0; i < dec.fields.size(); ++i) {
    AppendRaw(dec.fields[i], &key);
    AppendRaw(dec.verdicts.decisions[i].effect, &key);
    AppendRaw(dec.verdicts.decisions[i].deciding_rule, &key);
    AppendRaw(dec.verdicts.matched[i].size(), &key);
    for (absl::string_view id : dec.verdicts.matched[i])
      AppendRaw(id.data(), &key);
  }
  if (auto it = memo.find(key); it != memo.end()) return it->second;
  std::vector<entry::FieldOutcome> outcomes;
  outcomes.reserve(dec.fields.size());
  for (size_t i = 0; i < dec.fields.size(); ++i) {
    const FieldSpec& f = *dec.fields[i];
    const policy::FieldDecision& fd = dec.verdicts.decisions[i];
    outcomes.push_back(
        {f.name, f.category, f.restricted, policy::ToString(fd.effect),
         fd.deciding_rule >= 0
             ? absl::string_view(d_.policy->rule(fd.deciding_rule).id)
             : absl::string_view(),
         dec.verdicts.matched[i]});
  }
  std::string json;
  entry::AppendFieldGroupsJson(outcomes, &json);
  // Bounded: principals x purposes x field lists is small in practice,
  // and a full memo simply starts over.
  if (memo.size() >= 4096) memo.clear();
  return memo.emplace(std::move(key), std::move(json)).first->second;
}

// What every entry of this node names: when, where, who, why, what, to
// where, about whom, and under which policy.
entry::DecisionRecord Pipeline::RecordOf(
    const Principal& p, absl::string_view purpose, absl::string_view action,
    absl::string_view destination, absl::string_view subject_pseudonym) const {
  entry::DecisionRecord r;
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

LogEntry Pipeline::DecisionJson(const Principal& p, absl::string_view purpose,
                                absl::string_view action,
                                absl::string_view destination,
                                absl::string_view subject_pseudonym,
                                absl::string_view subject_jurisdiction,
                                const Decision& dec, int64_t records,
                                int64_t bytes, int64_t subjects) {
  entry::DecisionRecord r =
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
  entry::AppendDecisionJson(r, &entry.json);
  entry.subject = std::string(subject_pseudonym);
  return entry;
}

// Appends `entry`; once durable, calls `then` with its index (on the log's
// thread: `then` must only build and send a response).
void Pipeline::LogThen(LogEntry entry, Responder respond,
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
        RecordAppend(index.status());
        if (!index.ok()) {
          // Nothing is returned without a durable decision.
          respond(HttpResponse::Error(
              503, "log_unavailable",
              "the decision could not be logged; no data was returned"));
          return;
        }
        HttpResponse response = then(*index);
        response.log_index = static_cast<int64_t>(*index);
        respond(std::move(response));
      });
}

void Pipeline::RecordAppend(const absl::Status& status) {
  if (status.ok()) return log_health_.Succeeded();
  // An oversized entry is this request's problem, not the log's.
  if (status.code() == absl::StatusCode::kInvalidArgument) return;
  log_health_.Failed({"log_unavailable",
                      "the decision log cannot append (its storage failed)"},
                     status);
}

HttpResponse Pipeline::WithIndex(int status, const std::string& prefix,
                                 uint64_t index, const std::string& suffix) {
  return HttpResponse::Json(status, absl::StrCat(prefix, index, suffix));
}

void Pipeline::WithFetchedRow(
    const std::string& subject,
    std::function<void(vault::Vault::FetchedRow)> fn) {
  auto pool =
      boost::asio::prefer(blocking_.get_executor(),
                          boost::asio::execution::outstanding_work.tracked);
  // `fn` runs on the storage thread that delivered the row, not posted to
  // the blocking pool: a hand-off to one of its 32 threads per read (a
  // futex wake and two context switches) cost a third of a region read's
  // gateway CPU. Measured, alternating on one region (c=64, loaded box):
  // posted 67-69 us gateway CPU per read, 3,224-3,690 reads/s; inline
  // 44-46 us, 4,338-4,447 reads/s. `pool` (tracked work) still keeps the
  // blocking pool's drain waiting for the read until `fn` returns. A read
  // that looks up a grant (approval effects) waits for it on that thread;
  // the batcher's other thread keeps fetching meanwhile.
  d_.vault->FetchRow(subject, [pool, fn = std::move(fn)](
                                  vault::Vault::FetchedRow row) mutable {
    fn(std::move(row));
    (void)pool;
  });
}

void Pipeline::LogThenAnswer(LogEntry entry, Responder respond,
                             std::string prefix, std::string suffix) {
  LogThen(
      std::move(entry), std::move(respond),
      [prefix = std::move(prefix), suffix = std::move(suffix)](uint64_t index) {
        return WithIndex(200, prefix, index, suffix);
      });
}

// Logs a refusal and answers 403 with the log index.
void Pipeline::RefuseLogged(LogEntry entry, absl::string_view message,
                            Responder respond) {
  std::string msg(message);
  LogThen(std::move(entry), std::move(respond), [msg](uint64_t index) {
    return ErrorWith(403, "permission_denied", msg,
                     absl::StrCat("\"log_index\":", index));
  });
}

// Appends `entry`; once it is durable, runs `effect` (a vault write or
// erasure) with the entry's index on the blocking pool, and responds with
// what it returns. So an effect becomes visible only after its decision is
// durable: a crash in between leaves a logged decision without its effect,
// never an effect without its decision. The log's thread only hands the
// effect over (it must not wait for the vault's fsync). The executor tracks
// outstanding work from the append until the effect has run, so Drain waits
// for effects still behind the log. If the vault then refuses, `effect`
// answers the mapped error and the entry stands as the decision made.
void Pipeline::LogThenEffect(
    LogEntry entry, Responder respond,
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
        RecordAppend(index.status());
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
          HttpResponse response = effect(i);
          response.log_index = static_cast<int64_t>(i);
          respond(std::move(response));
        });
      });
}

void Pipeline::LogAllThenEffect(
    std::vector<LogEntry> entries,
    std::function<void(std::vector<absl::StatusOr<uint64_t>>)> effect) {
  struct State {
    std::vector<absl::StatusOr<uint64_t>> indexes;
    std::atomic<size_t> pending;
    std::function<void(std::vector<absl::StatusOr<uint64_t>>)> effect;
  };
  auto pool =
      boost::asio::prefer(blocking_.get_executor(),
                          boost::asio::execution::outstanding_work.tracked);
  auto state = std::make_shared<State>();
  state->indexes.resize(entries.size(), absl::UnknownError("not appended"));
  state->pending = entries.size();
  state->effect = std::move(effect);
  if (entries.empty()) {
    boost::asio::post(pool, [state] { state->effect({}); });
    return;
  }
  const absl::Time start = absl::Now();
  for (size_t i = 0; i < entries.size(); ++i) {
    d_.log->Append(
        std::move(entries[i].json),
        [this, start, pool, state, i, subject = std::move(entries[i].subject)](
            absl::StatusOr<uint64_t> index) mutable {
          append_latency_->Observe(absl::ToDoubleSeconds(absl::Now() - start));
          RecordAppend(index.status());
          if (index.ok() && subject.has_value()) {
            d_.access_index->Note(*index, std::move(*subject));
          }
          state->indexes[i] = std::move(index);
          if (state->pending.fetch_sub(1) != 1) return;
          boost::asio::post(
              pool, [state] { state->effect(std::move(state->indexes)); });
        });
  }
}

LogEntry Pipeline::LookupJson(const Principal& p, absl::string_view purpose,
                              absl::string_view action,
                              absl::string_view destination,
                              absl::string_view subject_pseudonym,
                              absl::string_view outcome, int64_t records,
                              int64_t bytes) {
  entry::DecisionRecord r =
      RecordOf(p, purpose, action, destination, subject_pseudonym);
  r.records = records;
  r.bytes = bytes;
  r.outcome = outcome;
  LogEntry entry;
  entry::AppendDecisionJson(r, &entry.json);
  entry.subject = std::string(subject_pseudonym);
  return entry;
}

void Pipeline::RespondAbsent(const Principal& p, absl::string_view purpose,
                             absl::string_view action,
                             absl::string_view destination,
                             const std::string& subject,
                             const absl::Status& status, Responder respond) {
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

}  // namespace clover::gateway
