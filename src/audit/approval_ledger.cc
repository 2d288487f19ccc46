#include "audit/approval_ledger.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "approvals/approvals.h"
#include "core/json_fields.h"
#include "core/rfc3339.h"
#include "core/status_macros.h"
#include "rapidjson/document.h"

namespace clover::audit {
namespace {

constexpr absl::string_view kPrefix = "ledger/";

bool Contains(const std::vector<std::string>& v, absl::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// Optional RFC 3339 member; absent leaves `out` untouched.
absl::Status GetTime(const rapidjson::Value& d, const char* name,
                     absl::Time* out) {
  std::string text;
  CLOVER_RETURN_IF_ERROR(GetString(d, name, false, &text));
  if (text.empty()) return absl::OkStatus();
  absl::StatusOr<absl::Time> t = ParseRfc3339(text);
  if (!t.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("field '", name, "': ", t.status().message()));
  }
  *out = *t;
  return absl::OkStatus();
}

std::string Serialize(const LedgerApproval& a) {
  rapidjson::Document d(rapidjson::kObjectType);
  auto& al = d.GetAllocator();
  d.AddMember("principal", JsonString(a.principal, d), al);
  d.AddMember("fields", JsonStringArray(a.fields, d), al);
  if (a.subjects_listed)
    d.AddMember("subjects", JsonStringArray(a.subjects, d), al);
  if (!a.approved_by.empty())
    d.AddMember("approved_by", JsonString(a.approved_by, d), al);
  if (a.approved != absl::InfinitePast()) {
    d.AddMember("approved", JsonString(FormatRfc3339Millis(a.approved), d), al);
    d.AddMember("expires", JsonString(FormatRfc3339Millis(a.expires), d), al);
  }
  if (a.ended != absl::InfiniteFuture()) {
    d.AddMember("ended", JsonString(FormatRfc3339Millis(a.ended), d), al);
    d.AddMember("ended_state", JsonString(a.ended_state, d), al);
  }
  if (!a.inconsistent.empty())
    d.AddMember("inconsistent", JsonString(a.inconsistent, d), al);
  if (!a.request_sha256.empty())
    d.AddMember("request_sha256", JsonString(a.request_sha256, d), al);
  if (!a.attestation.empty())
    d.AddMember("attestation", JsonString(a.attestation, d), al);
  return ToCanonical(d).value_or("{}");
}

absl::Status Deserialize(absl::string_view json, LedgerApproval* a) {
  rapidjson::Document d;
  CLOVER_RETURN_IF_ERROR(ParseJsonObject(json, d, "ledger record"));
  CLOVER_RETURN_IF_ERROR(GetString(d, "principal", true, &a->principal));
  CLOVER_RETURN_IF_ERROR(GetStringArray(d, "fields", true, &a->fields));
  a->subjects_listed = d.HasMember("subjects");
  CLOVER_RETURN_IF_ERROR(GetStringArray(d, "subjects", false, &a->subjects));
  CLOVER_RETURN_IF_ERROR(GetString(d, "approved_by", false, &a->approved_by));
  CLOVER_RETURN_IF_ERROR(GetTime(d, "approved", &a->approved));
  CLOVER_RETURN_IF_ERROR(GetTime(d, "expires", &a->expires));
  CLOVER_RETURN_IF_ERROR(GetTime(d, "ended", &a->ended));
  CLOVER_RETURN_IF_ERROR(GetString(d, "ended_state", false, &a->ended_state));
  CLOVER_RETURN_IF_ERROR(
      GetString(d, "request_sha256", false, &a->request_sha256));
  CLOVER_RETURN_IF_ERROR(GetString(d, "attestation", false, &a->attestation));
  return GetString(d, "inconsistent", false, &a->inconsistent);
}

}  // namespace

std::string ApprovalLedger::Key(absl::string_view origin,
                                absl::string_view id) {
  // A checkpoint origin is one line: '\n' cannot occur in it.
  return absl::StrCat(kPrefix, origin, "\n", id);
}

void ApprovalLedger::Attest(absl::string_view id, LedgerApproval& a) const {
  a.unattested.clear();
  a.attested_from = absl::InfinitePast();
  a.attested_until = absl::InfiniteFuture();
  if (attestations_.empty() || a.approved == absl::InfinitePast()) return;
  if (a.attestation.empty()) {
    a.unattested = "its approval carries no attestation";
    return;
  }
  absl::StatusOr<approvals::Attestation> att =
      attestations_.Open(a.attestation);
  if (!att.ok()) {
    a.unattested = std::string(att.status().message());
    return;
  }
  if (a.request_sha256.empty()) {
    a.unattested = "its creation was not observed in this log";
    return;
  }
  // The attested time is the approver's clock: the node's may differ by up
  // to the skew it accepts.
  if (absl::Status s = approvals::CheckAttestationFor(
          *att, id, a.request_sha256, a.principal, a.approved_by,
          absl::InfinitePast());
      !s.ok()) {
    a.unattested = std::string(s.message());
    return;
  }
  a.attested_from = att->approved - approvals::kMaxAttestationSkew;
  a.attested_until = att->expires;
}

absl::StatusOr<std::unique_ptr<ApprovalLedger>> ApprovalLedger::Open(
    const kv::KvStore& kv, approvals::AttestationVerifier attestations) {
  auto l = std::make_unique<ApprovalLedger>(std::move(attestations));
  absl::Status bad = absl::OkStatus();
  CLOVER_RETURN_IF_ERROR(
      kv.Scan(kPrefix, [&](absl::string_view k, absl::string_view v) {
        LedgerApproval a;
        absl::Status s = Deserialize(v, &a);
        if (!s.ok()) {
          bad = absl::DataLossError(
              absl::StrCat("approval ledger record is corrupt: ", s.message()));
          return false;
        }
        const absl::string_view id = k.substr(k.find('\n') + 1);
        l->Attest(id, a);
        l->approvals_[std::string(k)] = std::move(a);
        return true;
      }));
  CLOVER_RETURN_IF_ERROR(bad);
  return l;
}

absl::Status ApprovalLedger::Observe(absl::string_view origin,
                                     absl::string_view json,
                                     kv::KvBatch& batch) {
  CLOVER_ASSIGN_OR_RETURN(approvals::TransitionRecord r,
                          approvals::ParseTransitionRecord(json));
  const std::string& state = r.state;
  const bool listed = r.subjects_listed;
  const absl::Time time = r.time;
  const std::string key = Key(origin, r.id);
  auto [it, fresh] = approvals_.try_emplace(key);
  LedgerApproval& a = it->second;
  // Every transition restates the request; a later one that says otherwise
  // contradicts the log's own history, and the approval is never trusted.
  if (fresh) {
    a.principal = r.principal;
    a.fields = r.fields;
    a.subjects = r.subjects;
    a.subjects_listed = listed;
  } else if (a.inconsistent.empty() &&
             (a.principal != r.principal || a.fields != r.fields ||
              a.subjects_listed != listed || a.subjects != r.subjects)) {
    a.inconsistent = absl::StrCat("its '", state,
                                  "' transition names another principal, "
                                  "subjects or fields than the earlier ones");
  }
  if (state == "pending") {
    if (!fresh && a.inconsistent.empty())
      a.inconsistent = "it was created twice";
    // What an attestation of this request names: the bytes as logged.
    if (fresh) a.request_sha256 = approvals::RequestSha256(json);
  } else if (state == "approved") {
    if (a.approved != absl::InfinitePast() && a.inconsistent.empty())
      a.inconsistent = "it was approved twice";
    if (a.ended != absl::InfiniteFuture() && a.inconsistent.empty())
      a.inconsistent =
          absl::StrCat("it was approved after being ", a.ended_state);
    a.approved = time;
    a.expires = r.expires;
    a.approved_by = r.by;
    a.attestation = r.attestation;
    Attest(r.id, a);
  } else if (state == "denied" || state == "revoked" || state == "expired") {
    // The earliest end counts.
    if (time < a.ended) {
      a.ended = time;
      a.ended_state = state;
    }
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("field 'state': unknown approval state '", state, "'"));
  }
  batch.Put(key, Serialize(a));
  return absl::OkStatus();
}

std::string ApprovalLedger::Check(
    absl::string_view origin, const entry::DecisionEntry& e,
    std::span<const GrantedField> fields, const PrincipalDirectory* directory,
    std::span<const std::string> approvers) const {
  auto it = approvals_.find(Key(origin, e.approval));
  if (it == approvals_.end()) {
    return absl::StrCat("approval '", e.approval,
                        "' was never logged on this log");
  }
  const LedgerApproval& a = it->second;
  const std::string name = absl::StrCat("approval '", e.approval, "'");
  if (!a.inconsistent.empty())
    return absl::StrCat(name, " is inconsistent in the log: ", a.inconsistent);
  if (a.approved == absl::InfinitePast())
    return absl::StrCat(name, " was never approved");
  if (a.principal != e.principal_id) {
    return absl::StrCat(name, " is for '", a.principal, "', not '",
                        e.principal_id, "'");
  }
  if (a.approved_by.empty() || a.approved_by == a.principal) {
    return absl::StrCat(name, " was approved by its own principal or nobody");
  }
  if (directory != nullptr && directory->Find(a.approved_by) == nullptr) {
    return absl::StrCat(name, " was approved by '", a.approved_by,
                        "', whom the principal directory does not know");
  }
  if (!approvers.empty() && std::find(approvers.begin(), approvers.end(),
                                      a.approved_by) == approvers.end()) {
    return absl::StrCat(name, " was approved by '", a.approved_by,
                        "', not by the auditor's approvals desk");
  }
  if (!a.unattested.empty()) {
    return absl::StrCat(
        name, " is not attested by an approver's key: ", a.unattested);
  }
  if (e.time < a.approved || e.time < a.attested_from) {
    return absl::StrCat(
        name, " was approved at ",
        FormatRfc3339Millis(std::max(a.approved, a.attested_from)),
        ", after the decision (", FormatRfc3339Millis(e.time), ")");
  }
  const absl::Time until = std::min(a.expires, a.attested_until);
  if (e.time >= until) {
    return absl::StrCat(name, "'s grant expired at ",
                        FormatRfc3339Millis(until), ", before the decision (",
                        FormatRfc3339Millis(e.time), ")");
  }
  if (e.time >= a.ended) {
    return absl::StrCat(name, " was ", a.ended_state, " at ",
                        FormatRfc3339Millis(a.ended), ", before the decision (",
                        FormatRfc3339Millis(e.time), ")");
  }
  // Grants apply to reads of one subject (the gateway's ApplyGrants).
  if (e.subject.empty()) {
    return absl::StrCat(name, " is named by a decision without one subject");
  }
  if (a.subjects_listed && !Contains(a.subjects, e.subject)) {
    return absl::StrCat(name, " does not cover subject ", e.subject);
  }
  std::string names, too_old;
  for (const GrantedField& g : fields) {
    const std::string& field = e.fields[g.index].name;
    if (Contains(a.fields, field)) {
      if (e.time - a.approved < g.max_grant) return "";
      too_old = absl::StrCat(
          name, " is older than the ", absl::FormatDuration(g.max_grant),
          " its deciding rule allows for field '", field, "'");
    }
    absl::StrAppend(&names, names.empty() ? "'" : ", '", field, "'");
  }
  if (!too_old.empty()) return too_old;
  return absl::StrCat(name, " covers none of the fields left to an approval (",
                      names, ")");
}

}  // namespace clover::audit
