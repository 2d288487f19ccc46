#include "audit/incident_store.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "audit/tlog_proof.h"
#include "core/json_fields.h"
#include "core/rfc3339.h"
#include "core/status_macros.h"
#include "crypto/random.h"
#include "log/checkpoint.h"
#include "rapidjson/document.h"

namespace clover::audit {
namespace {

constexpr absl::string_view kIncidentPrefix = "incident/";
constexpr absl::string_view kEventPrefix = "event/";

std::string EventJson(absl::string_view event, uint64_t seq, absl::Time now,
                      const Incident& incident) {
  // The incident is already canonical JSON; splice it in so the event stays
  // canonical (members sorted: event, incident, seq, time, type, v).
  return absl::StrCat(
      "{\"event\":\"", event, "\",\"incident\":", IncidentToJson(incident),
      ",\"seq\":", seq, ",\"time\":\"", FormatRfc3339Millis(now),
      "\",\"type\":\"incident\",\"v\":1}");
}

}  // namespace

absl::StatusOr<std::unique_ptr<IncidentStore>> IncidentStore::Open(
    kv::KvStore* kv, IncidentStoreOptions options, const Clock& clock) {
  std::unique_ptr<IncidentStore> s(
      new IncidentStore(kv, std::move(options), clock));
  absl::MutexLock lock(&s->mu_);
  absl::Status bad;
  CLOVER_RETURN_IF_ERROR(
      kv->Scan(kIncidentPrefix, [&](absl::string_view, absl::string_view v) {
        absl::StatusOr<Incident> i = IncidentFromJson(v);
        if (!i.ok()) {
          bad = absl::DataLossError(
              absl::StrCat("stored incident: ", i.status().message()));
          return false;
        }
        if (i->status != IncidentStatus::kResolved)
          s->open_by_key_[i->key] = i->id;
        s->incidents_[i->id] = *std::move(i);
        return true;
      }));
  CLOVER_RETURN_IF_ERROR(bad);
  uint64_t expect = 0;
  CLOVER_RETURN_IF_ERROR(
      kv->Scan(kEventPrefix, [&](absl::string_view k, absl::string_view v) {
        uint64_t seq;
        if (!kv::DecodeKeyU64(k.substr(kEventPrefix.size()), &seq) ||
            seq != expect) {
          bad = absl::DataLossError("incident journal has a gap or a bad key");
          return false;
        }
        ++expect;
        s->journal_.Append(log::LeafHash(v));
        return true;
      }));
  CLOVER_RETURN_IF_ERROR(bad);
  return s;
}

absl::Status IncidentStore::Commit(const Incident& incident,
                                   absl::string_view event, bool drop_key) {
  kv::KvBatch batch;
  batch.Put(absl::StrCat(kIncidentPrefix, incident.id),
            IncidentToJson(incident));
  std::string ev;
  if (!event.empty()) {
    ev = EventJson(event, journal_.size(), clock_.Now(), incident);
    batch.Put(absl::StrCat(kEventPrefix, kv::EncodeKeyU64(journal_.size())),
              ev);
  }
  CLOVER_RETURN_IF_ERROR(kv_->Write(batch));
  incidents_[incident.id] = incident;
  if (drop_key) {
    open_by_key_.erase(incident.key);
  } else {
    open_by_key_[incident.key] = incident.id;
  }
  if (!event.empty()) journal_.Append(log::LeafHash(ev));
  return absl::OkStatus();
}

absl::StatusOr<IncidentStore::Update> IncidentStore::Report(
    const Finding& finding, std::vector<Evidence> evidence) {
  absl::MutexLock lock(&mu_);
  auto it = open_by_key_.find(finding.key);
  if (it != open_by_key_.end()) {
    Incident inc = incidents_[it->second];
    inc.last_seen = std::max(inc.last_seen, finding.time);
    inc.occurrences += std::max<uint64_t>(finding.occurrences, 1);
    if (finding.severity > inc.severity) inc.severity = finding.severity;
    inc.summary = finding.summary;
    for (Evidence& e : evidence) {
      if (inc.evidence.size() >= kMaxEvidence) break;
      bool dup =
          e.index && std::any_of(inc.evidence.begin(), inc.evidence.end(),
                                 [&](const Evidence& x) {
                                   return x.index == e.index &&
                                          x.origin == e.origin;
                                 });
      if (!dup) inc.evidence.push_back(std::move(e));
    }
    CLOVER_RETURN_IF_ERROR(Commit(inc, "", false));
    return Update{std::move(inc), false};
  }
  Incident inc;
  CLOVER_ASSIGN_OR_RETURN(std::string rnd, crypto::RandomString(8));
  const absl::Time now = clock_.Now();
  inc.id = absl::StrCat("inc-", absl::ToUnixSeconds(now), "-",
                        absl::BytesToHexString(rnd));
  inc.detector = finding.detector;
  inc.severity = finding.severity;
  inc.key = finding.key;
  inc.summary = finding.summary;
  for (Evidence& e : evidence) {
    if (inc.evidence.size() >= kMaxEvidence) break;
    inc.evidence.push_back(std::move(e));
  }
  inc.first_seen = finding.time == absl::Time() ? now : finding.time;
  inc.last_seen = inc.first_seen;
  inc.occurrences = std::max<uint64_t>(finding.occurrences, 1);
  inc.status = IncidentStatus::kOpen;
  // The controller becomes aware when the auditor detects it, not when the
  // entry was made.
  inc.notification_deadline = now + options_.notification_window;
  CLOVER_RETURN_IF_ERROR(Commit(inc, "opened", false));
  return Update{std::move(inc), true};
}

absl::StatusOr<Incident> IncidentStore::Transition(absl::string_view id,
                                                   absl::string_view by,
                                                   IncidentStatus to,
                                                   absl::string_view note) {
  absl::MutexLock lock(&mu_);
  auto it = incidents_.find(id);
  if (it == incidents_.end()) {
    return absl::NotFoundError(absl::StrCat("incident '", id, "' not found"));
  }
  Incident inc = it->second;
  if (inc.status == IncidentStatus::kResolved ||
      (to == IncidentStatus::kAcknowledged &&
       inc.status == IncidentStatus::kAcknowledged)) {
    return absl::FailedPreconditionError(
        absl::StrCat("incident '", id, "' is already ", ToString(inc.status)));
  }
  inc.status = to;
  if (to == IncidentStatus::kAcknowledged) {
    inc.acknowledged_by = std::string(by);
    inc.acknowledged_at = clock_.Now();
    inc.acknowledge_note = std::string(note);
  } else {
    inc.resolved_by = std::string(by);
    inc.resolved_at = clock_.Now();
    inc.resolve_note = std::string(note);
  }
  CLOVER_RETURN_IF_ERROR(Commit(
      inc, to == IncidentStatus::kAcknowledged ? "acknowledged" : "resolved",
      to == IncidentStatus::kResolved));
  return inc;
}

absl::StatusOr<Incident> IncidentStore::Acknowledge(absl::string_view id,
                                                    absl::string_view by,
                                                    absl::string_view note) {
  return Transition(id, by, IncidentStatus::kAcknowledged, note);
}

absl::StatusOr<Incident> IncidentStore::Resolve(absl::string_view id,
                                                absl::string_view by,
                                                absl::string_view note) {
  return Transition(id, by, IncidentStatus::kResolved, note);
}

absl::StatusOr<Incident> IncidentStore::Get(absl::string_view id) const {
  absl::MutexLock lock(&mu_);
  auto it = incidents_.find(id);
  if (it == incidents_.end()) {
    return absl::NotFoundError(absl::StrCat("incident '", id, "' not found"));
  }
  return it->second;
}

std::vector<Incident> IncidentStore::List(
    std::optional<IncidentStatus> status) const {
  std::vector<Incident> out;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, i] : incidents_) {
      if (!status || i.status == *status) out.push_back(i);
    }
  }
  std::sort(out.begin(), out.end(), [](const Incident& a, const Incident& b) {
    return a.first_seen != b.first_seen ? a.first_seen > b.first_seen
                                        : a.id < b.id;
  });
  return out;
}

uint64_t IncidentStore::EventCount() const {
  absl::MutexLock lock(&mu_);
  return journal_.size();
}

absl::StatusOr<std::vector<std::pair<uint64_t, std::string>>>
IncidentStore::ReadEvents(uint64_t from, size_t limit) const {
  std::vector<std::pair<uint64_t, std::string>> out;
  absl::Status bad;
  const std::string start = absl::StrCat(kEventPrefix, kv::EncodeKeyU64(from));
  CLOVER_RETURN_IF_ERROR(kv_->Scan(
      kEventPrefix, start, [&](absl::string_view k, absl::string_view v) {
        uint64_t seq;
        if (!kv::DecodeKeyU64(k.substr(kEventPrefix.size()), &seq)) {
          bad = absl::DataLossError("bad incident journal key");
          return false;
        }
        out.emplace_back(seq, std::string(v));
        return out.size() < limit;
      }));
  CLOVER_RETURN_IF_ERROR(bad);
  return out;
}

uint64_t IncidentStore::WaitForEvents(uint64_t seq,
                                      absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto more = [this, seq]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return journal_.size() > seq;
  };
  mu_.AwaitWithTimeout(absl::Condition(&more), timeout);
  return journal_.size();
}

absl::StatusOr<std::string> IncidentStore::SignLocked() const {
  if (options_.journal_signer == nullptr) {
    return absl::FailedPreconditionError(
        "the incident journal has no signing key");
  }
  CLOVER_ASSIGN_OR_RETURN(log::Hash root, journal_.Root(journal_.size()));
  log::Checkpoint cp{options_.journal_origin, journal_.size(), root, {}};
  const log::NoteSigner* signers[] = {options_.journal_signer};
  return log::SignNote(log::FormatCheckpoint(cp), signers);
}

absl::StatusOr<std::string> IncidentStore::SignedCheckpoint() const {
  absl::MutexLock lock(&mu_);
  return SignLocked();
}

absl::StatusOr<std::string> IncidentStore::EventProof(uint64_t seq) const {
  absl::MutexLock lock(&mu_);
  if (seq >= journal_.size())
    return absl::NotFoundError("no such incident event");
  CLOVER_ASSIGN_OR_RETURN(std::string note, SignLocked());
  TlogProof p;
  p.index = seq;
  CLOVER_ASSIGN_OR_RETURN(p.proof,
                          journal_.InclusionProof(seq, journal_.size()));
  p.checkpoint = std::move(note);
  return FormatTlogProof(p);
}

}  // namespace clover::audit
