// POST /v1/detokenize: reversing a siv token, decided and logged like a read.
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
#include "vault/pseudonym_ring.h"

namespace clover::gateway {
namespace {

using server::HttpRequest;
using server::HttpResponse;
using server::Responder;

class TokenEndpoints : public EndpointFamily {
 public:
  using EndpointFamily::EndpointFamily;

  void Detokenize(HttpRequest& req, Responder respond) {
    rapidjson::Document body;
    auto caller = pipe_.Open(req, respond, Pipeline::Purpose::kHeader, &body);
    if (!caller) return;
    const Principal& p = caller->principal;
    const std::string& purpose = caller->purpose;
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
    std::string token_destination =
        issued_destination->empty() ? p.jurisdiction : *issued_destination;
    std::string token_purpose =
        issued_purpose->empty() ? purpose : *issued_purpose;
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
    // The release layer's justification: why, and the log's size at the
    // decision (its entry is appended at or after that index).
    vault::AccessContext ctx{p.id, purpose, "detokenize", d_.log->Size()};
    // The token opens only as the field it was issued for (its associated
    // data), so the field logged below is the field revealed.
    auto found = d_.vault->Detokenize(*token, field.name, token_destination,
                                      token_purpose, ctx);
    if (!found.ok()) {
      if (vault::IsFieldMismatch(found.status())) {
        return respond(HttpResponse::Error(
            400, "field_mismatch",
            absl::StrCat("the token was not issued for field '", field.name,
                         "'; nothing was revealed")));
      }
      if (vault::IsTokenExpired(found.status())) {
        return respond(HttpResponse::Error(410, "token_expired",
                                           found.status().message()));
      }
      return respond(ErrorResponse(found.status()));
    }
    auto jurisdiction = d_.vault->HomeJurisdiction(found->subject);
    if (!jurisdiction.ok())
      return respond(ErrorResponse(jurisdiction.status()));
    Decision dec = pipe_.Decide(p, purpose, "detokenize", *jurisdiction,
                                p.jurisdiction, *fields);
    pipe_.ApplyGrants(p, found->subject, dec);
    std::string pseudonym = pipe_.Pseudonym(found->subject);
    bool allowed = dec.verdicts.decisions[0].effect == policy::Effect::kAllow ||
                   dec.granted[0];
    if (!allowed) {
      return pipe_.RefuseLogged(
          pipe_.DecisionJson(p, purpose, "detokenize", p.jurisdiction,
                             pseudonym, *jurisdiction, dec, 0, 0),
          "the policy does not allow this principal to reverse this token",
          std::move(respond));
    }
    std::string prefix = "{\"field\":";
    AppendJsonString(field.name, &prefix);
    prefix.append(",\"log_index\":");
    std::string suffix = ",\"value\":";
    AppendJsonString(found->value, &suffix);
    suffix.push_back('}');
    pipe_.LogThenAnswer(
        pipe_.DecisionJson(p, purpose, "detokenize", p.jurisdiction, pseudonym,
                           *jurisdiction, dec, 1,
                           static_cast<int64_t>(found->value.size())),
        std::move(respond), std::move(prefix), std::move(suffix));
  }
};

}  // namespace

void AddTokenRoutes(Pipeline& pipe, server::Router& router) {
  auto e = std::make_shared<TokenEndpoints>(pipe);
  using E = TokenEndpoints;
  router.Handle("POST", "/v1/detokenize", pipe.Inline(Bind(e, &E::Detokenize)));
}

}  // namespace clover::gateway
