#include "approvals/approvals.h"

#include <algorithm>
#include <array>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "approvals/attestation.h"
#include "core/countries.h"
#include "core/json_fields.h"
#include "core/json_parse.h"
#include "core/rfc3339.h"
#include "core/status_macros.h"
#include "crypto/random.h"
#include "rapidjson/document.h"

namespace clover::approvals {
namespace {

constexpr absl::string_view kPrefix = "approval/";
// Shared mode only (see the header).
constexpr absl::string_view kHoldPrefix = "approval-hold/";
constexpr absl::string_view kGrantPrefix = "grant/";
constexpr size_t kMaxDetail = 1000;
constexpr size_t kMaxSubjects = 1000;
constexpr size_t kMaxFields = 100;

constexpr std::array<std::pair<Justification, absl::string_view>, 6>
    kJustifications = {{
        {Justification::kCustomerInitiatedSupport,
         "CUSTOMER_INITIATED_SUPPORT"},
        {Justification::kLegalRequest, "LEGAL_REQUEST"},
        {Justification::kSecurityIncident, "SECURITY_INCIDENT"},
        {Justification::kServiceOperation, "SERVICE_OPERATION"},
        {Justification::kFraudInvestigation, "FRAUD_INVESTIGATION"},
        {Justification::kThirdPartyDataRequest, "THIRD_PARTY_DATA_REQUEST"},
    }};

constexpr std::array<std::pair<ApprovalState, absl::string_view>, 5> kStates = {
    {
        {ApprovalState::kPending, "pending"},
        {ApprovalState::kApproved, "approved"},
        {ApprovalState::kDenied, "denied"},
        {ApprovalState::kExpired, "expired"},
        {ApprovalState::kRevoked, "revoked"},
    }};

std::string TimeOrEmpty(absl::Time t) {
  return t == absl::InfinitePast() ? "" : FormatRfc3339Millis(t);
}

absl::Status ParseTimeField(const rapidjson::Value& obj, const char* name,
                            absl::Time* out) {
  std::string s;
  CLOVER_RETURN_IF_ERROR(GetString(obj, name, false, &s));
  if (s.empty()) {
    *out = absl::InfinitePast();
    return absl::OkStatus();
  }
  absl::StatusOr<absl::Time> t = ParseRfc3339(s);
  if (!t.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("field '", name, "': ", t.status().message()));
  }
  *out = *t;
  return absl::OkStatus();
}

absl::Status ParseDurationField(const rapidjson::Value& obj, const char* name,
                                absl::Duration* out) {
  std::string s;
  CLOVER_RETURN_IF_ERROR(GetString(obj, name, false, &s));
  if (s.empty()) return absl::OkStatus();
  if (!absl::ParseDuration(s, out) || *out <= absl::ZeroDuration() ||
      *out == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("field '", name,
                     "': not a positive duration such as \"4h\" or \"30m\""));
  }
  return absl::OkStatus();
}

bool Contains(const std::vector<std::string>& v, absl::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::string HoldKey(absl::string_view id) {
  return absl::StrCat(kHoldPrefix, id);
}

std::string GrantPrefix(absl::string_view principal) {
  return absl::StrCat(kGrantPrefix, absl::BytesToHexString(principal), "/");
}

// A hold's value is "<random hex> <deadline, Unix milliseconds>"; one that
// does not parse has lapsed.
bool HoldLapsed(absl::string_view hold, absl::Time now) {
  const size_t space = hold.find(' ');
  int64_t ms = 0;
  if (space == absl::string_view::npos ||
      !absl::SimpleAtoi(hold.substr(space + 1), &ms)) {
    return true;
  }
  return now >= absl::FromUnixMillis(ms);
}

bool HasDuplicates(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return std::adjacent_find(v.begin(), v.end()) != v.end();
}

}  // namespace

absl::string_view ToString(Justification j) {
  for (const auto& [k, v] : kJustifications) {
    if (k == j) return v;
  }
  return "UNKNOWN";
}

std::optional<Justification> ParseJustification(absl::string_view s) {
  for (const auto& [k, v] : kJustifications) {
    if (v == s) return k;
  }
  return std::nullopt;
}

absl::string_view ToString(ApprovalState s) {
  for (const auto& [k, v] : kStates) {
    if (k == s) return v;
  }
  return "unknown";
}

std::optional<ApprovalState> ParseApprovalState(absl::string_view s) {
  for (const auto& [k, v] : kStates) {
    if (v == s) return k;
  }
  return std::nullopt;
}

std::string ApprovalToJson(const Approval& a) {
  rapidjson::Document d(rapidjson::kObjectType);
  auto& al = d.GetAllocator();
  d.AddMember("id", JsonString(a.id, d), al);
  d.AddMember("state", JsonString(ToString(a.state), d), al);
  d.AddMember("principal", JsonString(a.request.principal, d), al);
  d.AddMember("requested_by", JsonString(a.request.requested_by, d), al);
  d.AddMember("justification", JsonString(ToString(a.request.justification), d),
              al);
  d.AddMember("detail", JsonString(a.request.detail, d), al);
  d.AddMember("subjects", JsonStringArray(a.request.subjects, d), al);
  d.AddMember("fields", JsonStringArray(a.request.fields, d), al);
  d.AddMember("duration",
              JsonString(absl::FormatDuration(a.request.duration), d), al);
  d.AddMember("requester_country", JsonString(a.request.requester_country, d),
              al);
  d.AddMember("created", JsonString(FormatRfc3339Millis(a.created), d), al);
  d.AddMember("request_expires",
              JsonString(FormatRfc3339Millis(a.request_expires), d), al);
  d.AddMember("decided_by", JsonString(a.decided_by, d), al);
  d.AddMember("decided", JsonString(TimeOrEmpty(a.decided), d), al);
  d.AddMember("reason", JsonString(a.reason, d), al);
  d.AddMember("grant_expires", JsonString(TimeOrEmpty(a.grant_expires), d), al);
  if (!a.request_sha256.empty())
    d.AddMember("request_sha256", JsonString(a.request_sha256, d), al);
  if (!a.attestation.empty())
    d.AddMember("attestation", JsonString(a.attestation, d), al);
  if (a.state == ApprovalState::kRevoked) {
    d.AddMember("revoked_by", JsonString(a.revoked_by, d), al);
    d.AddMember("revoked", JsonString(TimeOrEmpty(a.revoked), d), al);
    d.AddMember("revoke_reason", JsonString(a.revoke_reason, d), al);
  }
  // Values built above are always valid UTF-8 strings we produced or validated.
  return ToCanonical(d).value_or("{}");
}

absl::StatusOr<Approval> ApprovalFromJson(absl::string_view json) {
  rapidjson::Document d;
  CLOVER_RETURN_IF_ERROR(ParseJsonObject(json, d, "approval record"));
  Approval a;
  std::string s;
  CLOVER_RETURN_IF_ERROR(GetString(d, "id", true, &a.id));
  CLOVER_RETURN_IF_ERROR(GetString(d, "state", true, &s));
  auto state = ParseApprovalState(s);
  if (!state) return absl::InvalidArgumentError("field 'state': unknown state");
  a.state = *state;
  CLOVER_RETURN_IF_ERROR(GetString(d, "principal", true, &a.request.principal));
  CLOVER_RETURN_IF_ERROR(
      GetString(d, "requested_by", false, &a.request.requested_by));
  CLOVER_RETURN_IF_ERROR(GetString(d, "justification", true, &s));
  auto j = ParseJustification(s);
  if (!j)
    return absl::InvalidArgumentError("field 'justification': unknown code");
  a.request.justification = *j;
  CLOVER_RETURN_IF_ERROR(GetString(d, "detail", false, &a.request.detail));
  CLOVER_RETURN_IF_ERROR(
      GetStringArray(d, "subjects", true, &a.request.subjects));
  CLOVER_RETURN_IF_ERROR(GetStringArray(d, "fields", true, &a.request.fields));
  CLOVER_RETURN_IF_ERROR(
      ParseDurationField(d, "duration", &a.request.duration));
  CLOVER_RETURN_IF_ERROR(
      GetString(d, "requester_country", false, &a.request.requester_country));
  CLOVER_RETURN_IF_ERROR(ParseTimeField(d, "created", &a.created));
  CLOVER_RETURN_IF_ERROR(
      ParseTimeField(d, "request_expires", &a.request_expires));
  CLOVER_RETURN_IF_ERROR(GetString(d, "decided_by", false, &a.decided_by));
  CLOVER_RETURN_IF_ERROR(ParseTimeField(d, "decided", &a.decided));
  CLOVER_RETURN_IF_ERROR(GetString(d, "reason", false, &a.reason));
  CLOVER_RETURN_IF_ERROR(ParseTimeField(d, "grant_expires", &a.grant_expires));
  CLOVER_RETURN_IF_ERROR(GetString(d, "revoked_by", false, &a.revoked_by));
  CLOVER_RETURN_IF_ERROR(ParseTimeField(d, "revoked", &a.revoked));
  CLOVER_RETURN_IF_ERROR(
      GetString(d, "revoke_reason", false, &a.revoke_reason));
  CLOVER_RETURN_IF_ERROR(
      GetString(d, "request_sha256", false, &a.request_sha256));
  CLOVER_RETURN_IF_ERROR(GetString(d, "attestation", false, &a.attestation));
  return a;
}

std::string ApprovalListToJson(const std::vector<Approval>& list) {
  std::string out = "{\"approvals\":[";
  for (size_t i = 0; i < list.size(); ++i) {
    if (i > 0) out += ',';
    out += ApprovalToJson(list[i]);
  }
  out += "]}";
  return out;
}

absl::StatusOr<ApprovalRequestSpec> ParseApprovalCreateBody(
    absl::string_view body, absl::string_view caller,
    absl::string_view caller_country) {
  if (body.size() > kMaxApprovalBodyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("approval request: body larger than ",
                     kMaxApprovalBodyBytes, " bytes"));
  }
  rapidjson::Document d;
  CLOVER_RETURN_IF_ERROR(ParseJsonObject(body, d, "approval request"));
  CLOVER_RETURN_IF_ERROR(RejectDuplicateKeys(d));
  static constexpr std::array<absl::string_view, 6> kKnown = {
      "justification", "detail", "subjects", "fields", "duration", "principal"};
  for (const auto& m : d.GetObject()) {
    absl::string_view name(m.name.GetString(), m.name.GetStringLength());
    if (std::find(kKnown.begin(), kKnown.end(), name) == kKnown.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("field '", name, "': unknown field"));
    }
  }
  ApprovalRequestSpec spec;
  std::string s;
  CLOVER_RETURN_IF_ERROR(GetString(d, "justification", true, &s));
  auto j = ParseJustification(s);
  if (!j) {
    return absl::InvalidArgumentError(
        "field 'justification': must be one of CUSTOMER_INITIATED_SUPPORT, "
        "LEGAL_REQUEST, "
        "SECURITY_INCIDENT, SERVICE_OPERATION, FRAUD_INVESTIGATION, "
        "THIRD_PARTY_DATA_REQUEST");
  }
  spec.justification = *j;
  CLOVER_RETURN_IF_ERROR(GetString(d, "detail", true, &spec.detail));
  CLOVER_RETURN_IF_ERROR(GetStringArray(d, "subjects", true, &spec.subjects));
  CLOVER_RETURN_IF_ERROR(GetStringArray(d, "fields", true, &spec.fields));
  spec.duration = absl::ZeroDuration();
  CLOVER_RETURN_IF_ERROR(ParseDurationField(d, "duration", &spec.duration));
  spec.principal = std::string(caller);
  CLOVER_RETURN_IF_ERROR(GetString(d, "principal", false, &spec.principal));
  spec.requested_by = std::string(caller);
  spec.requester_country = std::string(caller_country);
  return spec;
}

absl::StatusOr<ApprovalDecisionBody> ParseApprovalDecisionBody(
    absl::string_view body) {
  ApprovalDecisionBody out;
  out.duration = absl::ZeroDuration();
  if (body.find_first_not_of(" \t\r\n") == absl::string_view::npos) return out;
  if (body.size() > kMaxApprovalBodyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("approval decision: body larger than ",
                     kMaxApprovalBodyBytes, " bytes"));
  }
  rapidjson::Document d;
  CLOVER_RETURN_IF_ERROR(ParseJsonObject(body, d, "approval decision"));
  CLOVER_RETURN_IF_ERROR(RejectDuplicateKeys(d));
  for (const auto& m : d.GetObject()) {
    absl::string_view name(m.name.GetString(), m.name.GetStringLength());
    if (name != "reason" && name != "duration" && name != "attestation") {
      return absl::InvalidArgumentError(
          absl::StrCat("field '", name, "': unknown field"));
    }
  }
  CLOVER_RETURN_IF_ERROR(GetString(d, "reason", false, &out.reason));
  CLOVER_RETURN_IF_ERROR(ParseDurationField(d, "duration", &out.duration));
  CLOVER_RETURN_IF_ERROR(GetString(d, "attestation", false, &out.attestation));
  if (out.attestation.size() > kMaxAttestationBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "field 'attestation': longer than ", kMaxAttestationBytes, " bytes"));
  }
  if (out.reason.size() > kMaxDetail) {
    return absl::InvalidArgumentError("field 'reason': longer than 1000 bytes");
  }
  return out;
}

absl::StatusOr<std::string> TransitionRecordToJson(const TransitionRecord& r) {
  rapidjson::Document d(rapidjson::kObjectType);
  auto& al = d.GetAllocator();
  d.AddMember("v", 1, al);
  d.AddMember("type", "approval", al);
  d.AddMember("id", JsonString(r.id, d), al);
  d.AddMember("state", JsonString(r.state, d), al);
  d.AddMember("principal", JsonString(r.principal, d), al);
  d.AddMember("justification", JsonString(r.justification, d), al);
  d.AddMember("fields", JsonStringArray(r.fields, d), al);
  if (r.subjects_listed) {
    d.AddMember("subjects", JsonStringArray(r.subjects, d), al);
  } else {
    d.AddMember("subject_count", r.subject_count, al);
  }
  d.AddMember("requester_country", JsonString(r.requester_country, d), al);
  if (!r.by.empty()) d.AddMember("by", JsonString(r.by, d), al);
  d.AddMember("time", JsonString(FormatRfc3339Millis(r.time), d), al);
  if (r.expires != absl::InfinitePast())
    d.AddMember("expires", JsonString(FormatRfc3339Millis(r.expires), d), al);
  if (!r.attestation.empty())
    d.AddMember("attestation", JsonString(r.attestation, d), al);
  return ToCanonical(d);
}

absl::StatusOr<TransitionRecord> ParseTransitionRecord(absl::string_view json) {
  rapidjson::Document d;
  CLOVER_RETURN_IF_ERROR(ParseJsonObject(json, d, "approval entry"));
  TransitionRecord r;
  CLOVER_RETURN_IF_ERROR(GetString(d, "id", true, &r.id));
  CLOVER_RETURN_IF_ERROR(GetString(d, "state", true, &r.state));
  CLOVER_RETURN_IF_ERROR(GetString(d, "principal", true, &r.principal));
  CLOVER_RETURN_IF_ERROR(GetString(d, "by", false, &r.by));
  CLOVER_RETURN_IF_ERROR(GetStringArray(d, "fields", true, &r.fields));
  r.subjects_listed = d.HasMember("subjects");
  CLOVER_RETURN_IF_ERROR(GetStringArray(d, "subjects", false, &r.subjects));
  CLOVER_RETURN_IF_ERROR(ParseTimeField(d, "time", &r.time));
  CLOVER_RETURN_IF_ERROR(ParseTimeField(d, "expires", &r.expires));
  CLOVER_RETURN_IF_ERROR(GetString(d, "attestation", false, &r.attestation));
  if (r.id.empty()) return absl::InvalidArgumentError("field 'id': empty");
  if (r.time == absl::InfinitePast())
    return absl::InvalidArgumentError("field 'time': missing");
  return r;
}

absl::StatusOr<std::unique_ptr<ApprovalStore>> ApprovalStore::Open(
    kv::KvStore* kv, ApprovalOptions options, const Clock& clock) {
  if (options.request_ttl <= absl::ZeroDuration() ||
      options.max_grant <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "approval request_ttl and max_grant must be positive");
  }
  std::unique_ptr<ApprovalStore> store(
      new ApprovalStore(kv, std::move(options), clock));
  absl::MutexLock lock(&store->mu_);
  CLOVER_RETURN_IF_ERROR(store->ReloadLocked());
  return store;
}

absl::Status ApprovalStore::BackfillRequestSha(Approval& a) const {
  if (!a.request_sha256.empty()) return absl::OkStatus();
  // Stored before approvals kept their request hash: the created record is a
  // function of the stored approval, so it is rebuilt exactly.
  Approval created = a;
  created.state = ApprovalState::kPending;
  CLOVER_ASSIGN_OR_RETURN(std::string record,
                          RecordOf(created, created.request.requested_by));
  a.request_sha256 = RequestSha256(record);
  return absl::OkStatus();
}

absl::Status ApprovalStore::ReloadLocked() {
  absl::flat_hash_map<std::string, Approval> loaded;
  absl::Status parse_error;
  CLOVER_RETURN_IF_ERROR(
      kv_->Scan(kPrefix, [&](absl::string_view key, absl::string_view value) {
        absl::StatusOr<Approval> a = ApprovalFromJson(value);
        if (!a.ok()) {
          parse_error = absl::DataLossError(
              absl::StrCat("stored approval '", key.substr(kPrefix.size()),
                           "': ", a.status().message()));
          return false;
        }
        loaded[a->id] = *std::move(a);
        return true;
      }));
  CLOVER_RETURN_IF_ERROR(parse_error);
  for (auto& [id, a] : loaded) {
    CLOVER_RETURN_IF_ERROR(BackfillRequestSha(a));
  }
  approvals_ = std::move(loaded);
  return absl::OkStatus();
}

absl::Status ApprovalStore::RefreshLocked(absl::string_view id) {
  absl::StatusOr<std::string> value = kv_->Get(absl::StrCat(kPrefix, id));
  if (absl::IsNotFound(value.status())) {
    approvals_.erase(id);
    return absl::NotFoundError(absl::StrCat("approval '", id, "' not found"));
  }
  if (!value.ok()) return value.status();
  absl::StatusOr<Approval> a = ApprovalFromJson(*value);
  if (!a.ok()) {
    return absl::DataLossError(
        absl::StrCat("stored approval '", id, "': ", a.status().message()));
  }
  CLOVER_RETURN_IF_ERROR(BackfillRequestSha(*a));
  approvals_[std::string(id)] = *std::move(a);
  return absl::OkStatus();
}

absl::StatusOr<std::string> ApprovalStore::Claim(absl::string_view id) {
  CLOVER_ASSIGN_OR_RETURN(std::string rnd, crypto::RandomString(16));
  const absl::Time now = clock_.Now();
  const std::string key = HoldKey(id);
  std::string hold = absl::StrCat(absl::BytesToHexString(rnd), " ",
                                  absl::ToUnixMillis(now + options_.hold_ttl));
  kv::KvBatch batch;
  batch.Put(key, hold);
  absl::Status s = kv_->WriteIf(key, std::nullopt, batch);
  if (absl::IsFailedPrecondition(s)) {
    // Held elsewhere: taken over only once lapsed (its node died between
    // prepare and commit).
    absl::StatusOr<std::string> current = kv_->Get(key);
    if (current.ok() && HoldLapsed(*current, now)) {
      s = kv_->WriteIf(key, *current, batch);
    } else if (!current.ok() && !absl::IsNotFound(current.status())) {
      return current.status();
    }
  }
  if (absl::IsFailedPrecondition(s)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "approval '", id, "' is being decided at another node; retry"));
  }
  CLOVER_RETURN_IF_ERROR(s);
  return hold;
}

void ApprovalStore::ReleaseClaim(absl::string_view id,
                                 const std::string& claim) {
  const std::string key = HoldKey(id);
  kv::KvBatch batch;
  batch.Delete(key);
  // Best effort: a hold left behind lapses after hold_ttl.
  (void)kv_->WriteIf(key, claim, batch);
}

ApprovalState ApprovalStore::EffectiveState(const Approval& a,
                                            absl::Time now) const {
  if (a.state == ApprovalState::kPending && now >= a.request_expires)
    return ApprovalState::kExpired;
  if (a.state == ApprovalState::kApproved && now >= a.grant_expires)
    return ApprovalState::kExpired;
  return a.state;
}

absl::Status ApprovalStore::CheckApprover(const Approver& approver,
                                          const GrantLimits& limits,
                                          bool revoke) const {
  if (approver.id.empty())
    return absl::PermissionDeniedError("no approver named");
  // Ending a grant is always open to the auditor and administrators.
  if (revoke && (approver.kind == "auditor" || approver.kind == "admin"))
    return absl::OkStatus();
  if (limits.approver_roles.empty()) {
    if (approver.kind == "auditor" ||
        Contains(approver.roles, options_.approver_role)) {
      return absl::OkStatus();
    }
    return absl::PermissionDeniedError(
        absl::StrCat("principal '", approver.id, "' lacks the '",
                     options_.approver_role, "' role"));
  }
  // The policy names the roles: they are required as written.
  for (const std::string& role : limits.approver_roles) {
    if (!Contains(approver.roles, role)) {
      return absl::PermissionDeniedError(
          absl::StrCat("principal '", approver.id, "' lacks the '", role,
                       "' role the policy requires to decide this request"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ApprovalStore::RecordOf(
    const Approval& a, absl::string_view by) const {
  TransitionRecord r;
  r.id = a.id;
  r.state = std::string(ToString(a.state));
  r.principal = a.request.principal;
  r.justification = std::string(ToString(a.request.justification));
  r.fields = a.request.fields;
  r.subject_count = a.request.subjects.size();
  if (options_.pseudonymize) {
    r.subjects_listed = true;
    r.subjects.reserve(a.request.subjects.size());
    for (const std::string& s : a.request.subjects)
      r.subjects.push_back(options_.pseudonymize(s));
  }
  r.requester_country = a.request.requester_country;
  r.by = std::string(by);
  switch (a.state) {
    case ApprovalState::kPending:
      r.time = a.created;
      r.expires = a.request_expires;
      break;
    case ApprovalState::kApproved:
      r.time = a.decided;
      r.expires = a.grant_expires;
      r.attestation = a.attestation;
      break;
    case ApprovalState::kDenied:
      r.time = a.decided;
      break;
    case ApprovalState::kExpired:
      r.time = clock_.Now();
      break;
    case ApprovalState::kRevoked:
      r.time = a.revoked;
      break;
  }
  return TransitionRecordToJson(r);
}

absl::StatusOr<ApprovalTransition> ApprovalStore::Hold(const Approval& a,
                                                       absl::string_view by) {
  CLOVER_ASSIGN_OR_RETURN(std::string record, RecordOf(a, by));
  Approval held = a;
  if (held.state == ApprovalState::kPending && held.request_sha256.empty())
    held.request_sha256 = RequestSha256(record);
  held_[held.id] = held;
  return ApprovalTransition{std::move(held), std::move(record)};
}

absl::Status ApprovalStore::Commit(const ApprovalTransition& t) {
  absl::MutexLock lock(&mu_);
  auto it = held_.find(t.approval.id);
  if (it == held_.end()) {
    return absl::FailedPreconditionError(
        absl::StrCat("approval '", t.approval.id, "' is not held"));
  }
  Approval a = std::move(it->second);
  held_.erase(it);
  std::optional<std::string> claim;
  if (auto c = claims_.find(a.id); c != claims_.end()) {
    claim = std::move(c->second);
    claims_.erase(c);
  }
  const std::string json = ApprovalToJson(a);
  kv::KvBatch batch;
  batch.Put(absl::StrCat(kPrefix, a.id), json);
  if (options_.shared) {
    const std::string grant = GrantPrefix(a.request.principal) + a.id;
    if (a.state == ApprovalState::kApproved) {
      batch.Put(grant, json);
    } else if (a.state != ApprovalState::kPending) {
      batch.Delete(grant);
    }
  }
  absl::Status stored;
  if (claim.has_value()) {
    batch.Delete(HoldKey(a.id));
    stored = kv_->WriteIf(HoldKey(a.id), *claim, batch);
    if (absl::IsFailedPrecondition(stored)) {
      // Our hold is gone: either this very write committed while the
      // connection broke (and a retry found its own hold deleted), or the
      // hold lapsed and another node took the approval over.
      absl::StatusOr<std::string> now_stored =
          kv_->Get(absl::StrCat(kPrefix, a.id));
      stored = now_stored.ok() && *now_stored == json
                   ? absl::OkStatus()
                   : absl::AbortedError(absl::StrCat(
                         "approval '", a.id,
                         "': its hold lapsed and another node took it over; "
                         "this transition was not applied"));
    }
  } else {
    stored = kv_->Write(batch);
  }
  // A logged end of access (deny, revoke, expiry) holds in memory even when it
  // could not be stored: fail closed. A logged grant or request that could not
  // be stored is not applied.
  const bool ends_access = a.state == ApprovalState::kDenied ||
                           a.state == ApprovalState::kRevoked ||
                           a.state == ApprovalState::kExpired;
  if (stored.ok() || (ends_access && approvals_.contains(a.id))) {
    approvals_[a.id] = std::move(a);
  }
  return stored;
}

void ApprovalStore::Abort(const ApprovalTransition& t) {
  absl::MutexLock lock(&mu_);
  held_.erase(t.approval.id);
  if (auto c = claims_.find(t.approval.id); c != claims_.end()) {
    ReleaseClaim(t.approval.id, c->second);
    claims_.erase(c);
  }
}

absl::StatusOr<ApprovalTransition> ApprovalStore::OneShot(
    absl::StatusOr<ApprovalTransition> t) {
  if (!t.ok()) return t;
  CLOVER_RETURN_IF_ERROR(Commit(*t));
  return t;
}

absl::StatusOr<ApprovalTransition> ApprovalStore::PrepareCreate(
    ApprovalRequestSpec spec, const GrantLimits& limits) {
  if (spec.principal.empty())
    return absl::InvalidArgumentError("field 'principal': empty");
  if (spec.requested_by.empty()) spec.requested_by = spec.principal;
  if (spec.detail.empty() || spec.detail.size() > kMaxDetail) {
    return absl::InvalidArgumentError(
        "field 'detail': must be 1..1000 bytes (a ticket reference)");
  }
  if (spec.subjects.empty() || spec.subjects.size() > kMaxSubjects) {
    return absl::InvalidArgumentError(
        "field 'subjects': must list 1..1000 subject ids");
  }
  if (spec.fields.empty() || spec.fields.size() > kMaxFields) {
    return absl::InvalidArgumentError(
        "field 'fields': must list 1..100 field names");
  }
  for (const auto& v : {spec.subjects, spec.fields}) {
    for (const std::string& s : v) {
      if (s.empty() || s.size() > 256) {
        return absl::InvalidArgumentError(
            "field 'subjects'/'fields': empty or overlong entry");
      }
    }
  }
  if (HasDuplicates(spec.subjects))
    return absl::InvalidArgumentError(
        "field 'subjects': lists a subject twice");
  if (HasDuplicates(spec.fields))
    return absl::InvalidArgumentError("field 'fields': lists a field twice");
  const absl::Duration limit =
      std::min(options_.max_grant, limits.max_duration);
  if (spec.duration == absl::ZeroDuration()) spec.duration = limit;
  if (spec.duration <= absl::ZeroDuration() ||
      spec.duration > options_.max_grant) {
    return absl::InvalidArgumentError(
        absl::StrCat("field 'duration': must be positive and at most ",
                     absl::FormatDuration(options_.max_grant)));
  }
  if (spec.duration > limits.max_duration) {
    return absl::InvalidArgumentError(absl::StrCat(
        "field 'duration': at most ", absl::FormatDuration(limits.max_duration),
        limits.max_duration_source.empty()
            ? std::string()
            : absl::StrCat(" (", limits.max_duration_source, ")")));
  }
  if (!spec.requester_country.empty() &&
      !IsIsoCountryCode(spec.requester_country)) {
    return absl::InvalidArgumentError(
        "field 'requester_country': not an ISO 3166-1 alpha-2 code");
  }
  CLOVER_ASSIGN_OR_RETURN(std::string rnd, crypto::RandomString(12));
  Approval a;
  a.id = absl::StrCat("apr-", absl::BytesToHexString(rnd));
  a.request = std::move(spec);
  a.state = ApprovalState::kPending;
  a.created = clock_.Now();
  a.request_expires = a.created + options_.request_ttl;
  a.decided = absl::InfinitePast();
  a.grant_expires = absl::InfinitePast();
  a.revoked = absl::InfinitePast();
  absl::MutexLock lock(&mu_);
  // Shared: requests filed at other nodes count too.
  if (options_.shared) CLOVER_RETURN_IF_ERROR(ReloadLocked());
  // Open requests per filer are bounded: each is kept, listed and logged.
  size_t open = 0;
  for (const auto& [id, other] : approvals_) {
    if (other.request.requested_by == a.request.requested_by &&
        EffectiveState(other, a.created) == ApprovalState::kPending) {
      ++open;
    }
  }
  for (const auto& [id, other] : held_) {
    if (other.request.requested_by == a.request.requested_by &&
        other.state == ApprovalState::kPending && !approvals_.contains(id)) {
      ++open;
    }
  }
  if (open >= options_.max_open_per_requester) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "too many open requests: '", a.request.requested_by, "' has ", open,
        " pending (at most ", options_.max_open_per_requester,
        "); wait for a decision or expiry"));
  }
  return Hold(a, a.request.requested_by);
}

absl::StatusOr<ApprovalTransition> ApprovalStore::PrepareApprove(
    absl::string_view id, const Approver& approver, absl::string_view reason,
    absl::Duration duration, const GrantLimits& limits,
    const AttestedGrant& attested) {
  return Decide(id, approver, reason, ApprovalState::kApproved, duration,
                limits, attested);
}

absl::StatusOr<ApprovalTransition> ApprovalStore::PrepareDeny(
    absl::string_view id, const Approver& approver, absl::string_view reason,
    const GrantLimits& limits) {
  return Decide(id, approver, reason, ApprovalState::kDenied,
                absl::ZeroDuration(), limits);
}

absl::StatusOr<ApprovalTransition> ApprovalStore::PrepareRevoke(
    absl::string_view id, const Approver& approver, absl::string_view reason,
    const GrantLimits& limits) {
  return Decide(id, approver, reason, ApprovalState::kRevoked,
                absl::ZeroDuration(), limits);
}

absl::StatusOr<ApprovalTransition> ApprovalStore::Create(
    ApprovalRequestSpec spec, const GrantLimits& limits) {
  return OneShot(PrepareCreate(std::move(spec), limits));
}

absl::StatusOr<ApprovalTransition> ApprovalStore::Approve(
    absl::string_view id, const Approver& approver, absl::string_view reason,
    absl::Duration duration, const GrantLimits& limits,
    const AttestedGrant& attested) {
  return OneShot(
      PrepareApprove(id, approver, reason, duration, limits, attested));
}

absl::StatusOr<ApprovalTransition> ApprovalStore::Deny(
    absl::string_view id, const Approver& approver, absl::string_view reason,
    const GrantLimits& limits) {
  return OneShot(PrepareDeny(id, approver, reason, limits));
}

absl::StatusOr<ApprovalTransition> ApprovalStore::Revoke(
    absl::string_view id, const Approver& approver, absl::string_view reason,
    const GrantLimits& limits) {
  return OneShot(PrepareRevoke(id, approver, reason, limits));
}

absl::StatusOr<ApprovalTransition> ApprovalStore::Decide(
    absl::string_view id, const Approver& approver, absl::string_view reason,
    ApprovalState to, absl::Duration duration, const GrantLimits& limits,
    const AttestedGrant& attested) {
  const bool revoke = to == ApprovalState::kRevoked;
  absl::MutexLock lock(&mu_);
  if (options_.shared) CLOVER_RETURN_IF_ERROR(RefreshLocked(id));
  auto it = approvals_.find(id);
  if (it == approvals_.end()) {
    return absl::NotFoundError(absl::StrCat("approval '", id, "' not found"));
  }
  CLOVER_RETURN_IF_ERROR(CheckApprover(approver, limits, revoke));
  const Approval& current = it->second;
  if (!revoke && (approver.id == current.request.principal ||
                  approver.id == current.request.requested_by)) {
    return absl::PermissionDeniedError(
        "a requester may not decide its own request");
  }
  if (held_.contains(id)) {
    return absl::FailedPreconditionError(
        absl::StrCat("approval '", id, "' is being decided; retry"));
  }
  const absl::Time now = clock_.Now();
  const ApprovalState state = EffectiveState(current, now);
  const ApprovalState from =
      revoke ? ApprovalState::kApproved : ApprovalState::kPending;
  if (state != from) {
    return absl::FailedPreconditionError(absl::StrCat(
        "approval '", id, "' is ", ToString(state), ", not ", ToString(from)));
  }
  Approval a = current;
  std::string claim;
  if (options_.shared) {
    CLOVER_ASSIGN_OR_RETURN(claim, Claim(id));
    // Decided at another node between the read above and the claim?
    absl::Status fresh = RefreshLocked(id);
    if (fresh.ok()) {
      const Approval& stored = approvals_.find(id)->second;
      if (stored.state != a.state) {
        fresh = absl::FailedPreconditionError(absl::StrCat(
            "approval '", id, "' is ", ToString(EffectiveState(stored, now)),
            ", not ", ToString(from)));
      }
    }
    if (!fresh.ok()) {
      ReleaseClaim(id, claim);
      return fresh;
    }
  }
  absl::StatusOr<ApprovalTransition> t =
      DecideHeld(a, approver, reason, to, duration, limits, attested, now);
  if (!claim.empty()) {
    if (t.ok()) {
      claims_[std::string(id)] = claim;
    } else {
      ReleaseClaim(id, claim);
    }
  }
  return t;
}

absl::StatusOr<ApprovalTransition> ApprovalStore::DecideHeld(
    Approval a, const Approver& approver, absl::string_view reason,
    ApprovalState to, absl::Duration duration, const GrantLimits& limits,
    const AttestedGrant& attested, absl::Time now) {
  const bool revoke = to == ApprovalState::kRevoked;
  a.state = to;
  if (revoke) {
    a.revoked_by = approver.id;
    a.revoked = now;
    a.revoke_reason = std::string(reason);
    return Hold(a, approver.id);
  }
  a.decided_by = approver.id;
  a.decided = now;
  a.reason = std::string(reason);
  if (to == ApprovalState::kApproved) {
    if (duration > limits.max_duration) {
      return absl::InvalidArgumentError(absl::StrCat(
          "field 'duration': at most ",
          absl::FormatDuration(limits.max_duration),
          limits.max_duration_source.empty()
              ? std::string()
              : absl::StrCat(" (", limits.max_duration_source, ")")));
    }
    absl::Duration d =
        std::min({a.request.duration, options_.max_grant, limits.max_duration});
    if (duration > absl::ZeroDuration()) d = std::min(d, duration);
    a.grant_expires = std::min(now + d, attested.not_after);
    if (a.grant_expires <= now) {
      return absl::InvalidArgumentError(
          "field 'attestation': the attested grant has already ended");
    }
    a.attestation = attested.note;
  }
  return Hold(a, approver.id);
}

absl::StatusOr<Approval> ApprovalStore::Get(absl::string_view id) const {
  absl::MutexLock lock(&mu_);
  if (options_.shared) {
    CLOVER_RETURN_IF_ERROR(const_cast<ApprovalStore*>(this)->RefreshLocked(id));
  }
  auto it = approvals_.find(id);
  if (it == approvals_.end()) {
    return absl::NotFoundError(absl::StrCat("approval '", id, "' not found"));
  }
  Approval a = it->second;
  a.state = EffectiveState(a, clock_.Now());
  return a;
}

std::vector<Approval> ApprovalStore::List(
    std::optional<ApprovalState> state) const {
  std::vector<Approval> out;
  const absl::Time now = clock_.Now();
  {
    absl::MutexLock lock(&mu_);
    // On a read failure the cache is listed (the call cannot fail).
    if (options_.shared) {
      (void)const_cast<ApprovalStore*>(this)->ReloadLocked();
    }
    for (const auto& [id, a] : approvals_) {
      ApprovalState s = EffectiveState(a, now);
      if (state && s != *state) continue;
      out.push_back(a);
      out.back().state = s;
    }
  }
  std::sort(out.begin(), out.end(), [](const Approval& x, const Approval& y) {
    return x.created != y.created ? x.created > y.created : x.id < y.id;
  });
  return out;
}

std::optional<Approval> ApprovalStore::FindLiveGrant(
    absl::string_view principal, absl::string_view subject,
    absl::string_view field, absl::Time now) const {
  if (options_.shared)
    return FindSharedLiveGrant(principal, subject, field, now);
  absl::MutexLock lock(&mu_);
  const Approval* best = nullptr;
  for (const auto& [id, a] : approvals_) {
    if (a.state != ApprovalState::kApproved || a.request.principal != principal)
      continue;
    if (now < a.decided || now >= a.grant_expires) continue;
    if (!Contains(a.request.subjects, subject) ||
        !Contains(a.request.fields, field))
      continue;
    // A revocation takes effect when it is prepared, before it is logged.
    if (auto h = held_.find(id);
        h != held_.end() && h->second.state == ApprovalState::kRevoked) {
      continue;
    }
    if (best == nullptr || a.grant_expires > best->grant_expires) best = &a;
  }
  if (best == nullptr) return std::nullopt;
  return *best;
}

std::optional<Approval> ApprovalStore::FindSharedLiveGrant(
    absl::string_view principal, absl::string_view subject,
    absl::string_view field, absl::Time now) const {
  std::vector<Approval> live;
  absl::Status s = kv_->Scan(
      GrantPrefix(principal), [&](absl::string_view, absl::string_view value) {
        absl::StatusOr<Approval> a = ApprovalFromJson(value);
        if (a.ok() && a->state == ApprovalState::kApproved &&
            a->request.principal == principal && now >= a->decided &&
            now < a->grant_expires && Contains(a->request.subjects, subject) &&
            Contains(a->request.fields, field)) {
          live.push_back(*std::move(a));
        }
        return true;
      });
  // Fail closed: no grant is found when the store cannot be read.
  if (!s.ok()) return std::nullopt;
  std::sort(live.begin(), live.end(), [](const Approval& x, const Approval& y) {
    return x.grant_expires > y.grant_expires;
  });
  for (Approval& a : live) {
    {
      absl::MutexLock lock(&mu_);
      if (held_.contains(a.id)) continue;  // held here: being ended
    }
    // Held at another node: a revocation or expiry is under way there.
    absl::StatusOr<std::string> hold = kv_->Get(HoldKey(a.id));
    if (!absl::IsNotFound(hold.status())) continue;
    return std::move(a);
  }
  return std::nullopt;
}

std::vector<ApprovalTransition> ApprovalStore::PrepareExpireDue() {
  std::vector<ApprovalTransition> out;
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_.Now();
  if (options_.shared && !ReloadLocked().ok()) return out;
  std::vector<std::string> due;
  for (const auto& [id, a] : approvals_) {
    if (a.state != ApprovalState::kExpired && !held_.contains(id) &&
        EffectiveState(a, now) == ApprovalState::kExpired) {
      due.push_back(id);
    }
  }
  std::sort(due.begin(), due.end());
  for (const std::string& id : due) {
    std::string claim;
    if (options_.shared) {
      // Another node may be expiring (or deciding) it: one of them logs it.
      absl::StatusOr<std::string> c = Claim(id);
      if (!c.ok()) continue;
      claim = *std::move(c);
      if (!RefreshLocked(id).ok() ||
          approvals_[id].state == ApprovalState::kExpired ||
          EffectiveState(approvals_[id], now) != ApprovalState::kExpired) {
        ReleaseClaim(id, claim);
        continue;
      }
    }
    Approval a = approvals_[id];
    a.state = ApprovalState::kExpired;
    absl::StatusOr<ApprovalTransition> t = Hold(a, "");
    if (t.ok()) {
      if (!claim.empty()) claims_[id] = claim;
      out.push_back(*std::move(t));
    } else if (!claim.empty()) {
      ReleaseClaim(id, claim);
    }
  }
  return out;
}

absl::StatusOr<std::vector<ApprovalTransition>> ApprovalStore::ExpireDue() {
  std::vector<ApprovalTransition> out = PrepareExpireDue();
  absl::Status status;
  for (const ApprovalTransition& t : out) {
    if (!status.ok()) {
      Abort(t);
      continue;
    }
    status = Commit(t);
  }
  CLOVER_RETURN_IF_ERROR(status);
  return out;
}

}  // namespace clover::approvals
