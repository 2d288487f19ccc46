// The approvals desk: /v1/approvals (file, list, look up, approve, deny,
// revoke). Every transition is logged before it is stored.
#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "approvals/attestation.h"
#include "core/canonical_json.h"
#include "gateway/endpoints.h"
#include "gateway/pipeline.h"
#include "gateway/request_util.h"
#include "policy/approval_limits.h"
#include "server/page_token.h"

namespace clover::gateway {
namespace {

using server::HttpRequest;
using server::HttpResponse;
using server::Responder;

class ApprovalEndpoints : public EndpointFamily {
 public:
  using EndpointFamily::EndpointFamily;

  void CreateApproval(HttpRequest& req, Responder respond) {
    auto caller = pipe_.Open(req, respond, Pipeline::Purpose::kNone);
    if (!caller) return;
    const Principal& p = caller->principal;
    // Every request is kept, listed and logged: its size is bounded first.
    if (req.body.size() > approvals::kMaxApprovalBodyBytes) {
      return respond(HttpResponse::Error(
          413, "payload_too_large",
          absl::StrCat("an approval request body is at most ",
                       approvals::kMaxApprovalBodyBytes, " bytes")));
    }
    auto spec = approvals::ParseApprovalCreateBody(req.body, p.id, p.country);
    if (!spec.ok()) return respond(ErrorResponse(spec.status()));
    if (spec->principal != p.id && p.kind != PrincipalKind::kAdmin) {
      return respond(HttpResponse::Error(
          403, "permission_denied",
          "only an administrator may file for someone else"));
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
  approvals::GrantLimits GrantLimitsOf(
      const approvals::ApprovalRequestSpec& spec) {
    approvals::GrantLimits out;
    const Principal* target = d_.deployment->FindPrincipal(spec.principal);
    if (target == nullptr) return out;
    std::vector<policy::FieldRef> refs;
    for (const std::string& name : spec.fields) {
      if (const FieldSpec* f = d_.deployment->schema.Find(name))
        refs.push_back({f->name, f->category, f->restricted});
    }
    std::set<std::string> jurisdictions;
    for (const std::string& subject : spec.subjects) {
      auto j = d_.vault->HomeJurisdiction(subject);
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
      out.max_duration_source = absl::StrCat("max_duration of policy rule '",
                                             limits.max_duration_rule, "'");
    }
    return out;
  }

  // Log before effect: the transition's record is durable in the log before
  // the store applies it; a record that cannot be logged is dropped and
  // nothing changes. Runs on the blocking pool (it waits for the log).
  void LogCommitRespond(approvals::ApprovalTransition t, int status,
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
      return respond(
          ErrorWith(503, "approval_not_applied",
                    "the approval was logged but could not be stored; retry",
                    absl::StrCat("\"log_index\":", *index)));
    }
    respond(HttpResponse::Json(
        status,
        absl::StrCat("{\"approval\":", approvals::ApprovalToJson(t.approval),
                     ",\"log_index\":", *index, "}")));
  }

  static approvals::Approver ApproverOf(const Principal& p) {
    return approvals::Approver{p.id, std::string(ToString(p.kind)), p.roles};
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
    pipe_.LogThen({std::move(json), std::nullopt}, std::move(respond),
                  std::move(then));
  }

  // An approval as the auditor's desk and administrators see it: with its
  // subjects' log pseudonyms (as its logged transitions name them) and, while
  // pending, the policy's max_duration for it now (absent: no limit).
  std::string DeskJson(const approvals::Approval& a) {
    std::string json = approvals::ApprovalToJson(a);
    std::string extra;
    if (a.state == approvals::ApprovalState::kPending) {
      const approvals::GrantLimits limits = GrantLimitsOf(a.request);
      if (limits.max_duration != absl::InfiniteDuration()) {
        extra.append(",\"max_duration\":");
        AppendJsonString(absl::FormatDuration(limits.max_duration), &extra);
      }
    }
    extra.append(",\"subject_pseudonyms\":[");
    for (size_t i = 0; i < a.request.subjects.size(); ++i) {
      if (i > 0) extra.push_back(',');
      AppendJsonString(pipe_.Pseudonym(a.request.subjects[i]), &extra);
    }
    extra.push_back(']');
    json.insert(json.size() - 1, extra);
    return json;
  }

  void ListApprovals(HttpRequest& req, Responder respond) {
    auto caller = pipe_.Open(req, respond, Pipeline::Purpose::kNone);
    if (!caller) return;
    const Principal& p = caller->principal;
    std::optional<approvals::ApprovalState> state;
    if (req.HasQueryParam("state")) {
      std::string s = req.QueryParam("state");
      state = approvals::ParseApprovalState(s);
      if (!state.has_value()) {
        return respond(HttpResponse::Error(
            400, "invalid_argument",
            "'state' must be pending, approved, denied, expired or revoked"));
      }
    }
    // A token is bound to the filter and the caller (who may see only
    // their own approvals).
    const std::string filter = absl::StrCat(
        "state=", state ? approvals::ToString(*state) : "", "&caller=", p.id);
    absl::StatusOr<server::PageRequest> page =
        server::ParsePageRequest(req, "approvals", filter);
    if (!page.ok()) return respond(ErrorResponse(page.status()));
    std::vector<approvals::Approval> list = d_.approvals->List(state);
    bool sees_all =
        p.kind == PrincipalKind::kAuditor || p.kind == PrincipalKind::kAdmin;
    if (!sees_all) {
      std::erase_if(list, [&p](const approvals::Approval& a) {
        return a.request.principal != p.id && a.request.requested_by != p.id;
      });
    }
    // Newest first: the cursor is (created, id), fixed per approval.
    server::PageSlice slice = server::SlicePage(
        list,
        [](const approvals::Approval& a) {
          return absl::StrCat(
              server::DescendingKey(absl::ToUnixNanos(a.created)), a.id);
        },
        *page);
    list = std::vector<approvals::Approval>(list.begin() + slice.begin,
                                            list.begin() + slice.end);
    std::string json = approvals::ApprovalListToJson(list);
    if (sees_all) {
      json = "{\"approvals\":[";
      for (size_t i = 0; i < list.size(); ++i) {
        if (i > 0) json.push_back(',');
        json.append(DeskJson(list[i]));
      }
      json.append("]}");
    }
    if (!slice.next_cursor.empty()) {
      server::AddNextPageToken(
          json, server::PageTokens::ForProcess().Issue("approvals", filter,
                                                       slice.next_cursor));
    }
    if (!sees_all) return respond(HttpResponse::Json(200, std::move(json)));
    auto body = std::make_shared<std::string>(std::move(json));
    LogLookupThen(p, "list_approvals", "", static_cast<int64_t>(list.size()),
                  state.has_value() ? approvals::ToString(*state) : "",
                  std::move(respond), [body](uint64_t) {
                    return HttpResponse::Json(200, std::move(*body));
                  });
  }

  void GetApproval(HttpRequest& req, Responder respond) {
    auto caller = pipe_.Open(req, respond, Pipeline::Purpose::kNone);
    if (!caller) return;
    const Principal& p = caller->principal;
    auto a = d_.approvals->Get(req.path_params["id"]);
    if (!a.ok()) return respond(ErrorResponse(a.status()));
    bool sees_all =
        p.kind == PrincipalKind::kAuditor || p.kind == PrincipalKind::kAdmin;
    if (!sees_all && a->request.principal != p.id &&
        a->request.requested_by != p.id) {
      return respond(HttpResponse::Error(404, "not_found", "no such approval"));
    }
    if (!sees_all) {
      return respond(HttpResponse::Json(200, approvals::ApprovalToJson(*a)));
    }
    auto body = std::make_shared<std::string>(DeskJson(*a));
    LogLookupThen(
        p, "get_approval", a->id, -1, "", std::move(respond),
        [body](uint64_t) { return HttpResponse::Json(200, std::move(*body)); });
  }

  void ApproveApproval(HttpRequest& req, Responder respond) {
    DecideApproval(req, respond, approvals::ApprovalState::kApproved);
  }

  void DenyApproval(HttpRequest& req, Responder respond) {
    DecideApproval(req, respond, approvals::ApprovalState::kDenied);
  }

  void RevokeApproval(HttpRequest& req, Responder respond) {
    DecideApproval(req, respond, approvals::ApprovalState::kRevoked);
  }

  // With approvals.attestation_keys, an approval needs the approver's
  // attestation of exactly this request (approvals/attestation.h): its id,
  // created record's hash and grantee, by the caller, decided about now. A
  // refusal to answer, or nullopt with `attested` filled in.
  std::optional<HttpResponse> CheckAttestation(
      const approvals::Approval& a, const Principal& p, const std::string& note,
      approvals::AttestedGrant* attested) {
    const approvals::AttestationVerifier* keys = d_.attestations;
    if (keys == nullptr || keys->empty()) {
      if (note.empty()) return std::nullopt;
      return HttpResponse::Error(
          400, "invalid_argument",
          "field 'attestation': this node verifies no attestations "
          "(approvals.attestation_keys is not set)");
    }
    if (note.empty()) {
      return HttpResponse::Error(
          403, "attestation_required",
          "this node approves only with the approver's signed attestation "
          "(field 'attestation'; see `clover approval attest`)");
    }
    auto bad = [](absl::string_view why) {
      return HttpResponse::Error(
          422, "bad_attestation",
          absl::StrCat("the attestation does not approve this request: ", why));
    };
    absl::StatusOr<approvals::Attestation> att = keys->Open(note);
    if (!att.ok()) return bad(att.status().message());
    const absl::Time now = d_.clock->Now();
    if (absl::Status s = approvals::CheckAttestationFor(
            *att, a.id, a.request_sha256, a.request.principal, p.id, now);
        !s.ok()) {
      return bad(s.message());
    }
    if (att->expires <= now) return bad("its grant has already ended");
    attested->note = note;
    attested->not_after = att->expires;
    return std::nullopt;
  }

  void DecideApproval(HttpRequest& req, Responder& respond,
                      approvals::ApprovalState to) {
    auto caller = pipe_.Open(req, respond, Pipeline::Purpose::kNone);
    if (!caller) return;
    const Principal& p = caller->principal;
    auto body = approvals::ParseApprovalDecisionBody(req.body);
    if (!body.ok()) return respond(ErrorResponse(body.status()));
    const std::string& id = req.path_params["id"];
    if (to != approvals::ApprovalState::kApproved &&
        body->duration != absl::ZeroDuration()) {
      return respond(HttpResponse::Error(
          400, "invalid_argument",
          "field 'duration': only an approval takes a duration"));
    }
    if (to != approvals::ApprovalState::kApproved &&
        !body->attestation.empty()) {
      return respond(HttpResponse::Error(
          400, "invalid_argument",
          "field 'attestation': only an approval takes an attestation"));
    }
    auto current = d_.approvals->Get(id);
    if (!current.ok()) return respond(ErrorResponse(current.status()));
    // The policy's approver_role and max_duration, as of this decision.
    const approvals::GrantLimits limits = GrantLimitsOf(current->request);
    const approvals::Approver approver = ApproverOf(p);
    absl::StatusOr<approvals::ApprovalTransition> t;
    switch (to) {
      case approvals::ApprovalState::kApproved: {
        approvals::AttestedGrant attested;
        if (std::optional<HttpResponse> refused =
                CheckAttestation(*current, p, body->attestation, &attested)) {
          return respond(*std::move(refused));
        }
        t = d_.approvals->PrepareApprove(id, approver, body->reason,
                                         body->duration, limits, attested);
        break;
      }
      case approvals::ApprovalState::kRevoked:
        t = d_.approvals->PrepareRevoke(id, approver, body->reason, limits);
        break;
      default:
        t = d_.approvals->PrepareDeny(id, approver, body->reason, limits);
        break;
    }
    if (!t.ok()) return respond(ErrorResponse(t.status()));
    LogCommitRespond(*std::move(t), 200, respond);
  }
};

}  // namespace

void AddApprovalRoutes(Pipeline& pipe, server::Router& router) {
  auto e = std::make_shared<ApprovalEndpoints>(pipe);
  using E = ApprovalEndpoints;
  router.Handle("POST", "/v1/approvals",
                pipe.Blocking(Bind(e, &E::CreateApproval)));
  // Blocking: for the auditor and admins each pending approval's limit is
  // worked out from its subjects' home jurisdictions (the vault).
  router.Handle("GET", "/v1/approvals",
                pipe.Blocking(Bind(e, &E::ListApprovals)));
  router.Handle("GET", "/v1/approvals/{id}",
                pipe.Blocking(Bind(e, &E::GetApproval)));
  router.Handle("POST", "/v1/approvals/{id}/approve",
                pipe.Blocking(Bind(e, &E::ApproveApproval)));
  router.Handle("POST", "/v1/approvals/{id}/deny",
                pipe.Blocking(Bind(e, &E::DenyApproval)));
  router.Handle("POST", "/v1/approvals/{id}/revoke",
                pipe.Blocking(Bind(e, &E::RevokeApproval)));
}

// Expiry is in force by time alone (a grant past its end is never found);
// the transitions are logged, then stored.
void ExpireApprovals(Pipeline& pipe) {
  for (approvals::ApprovalTransition& t :
       pipe.deps().approvals->PrepareExpireDue()) {
    absl::StatusOr<uint64_t> index = pipe.deps().log->Append(t.record).get();
    if (!index.ok() || !pipe.deps().approvals->Commit(t).ok())
      pipe.deps().approvals->Abort(t);
  }
}

}  // namespace clover::gateway
