// POST /v1/aggregates: noisy counts over generalised values, within a
// privacy budget and a minimum cohort.
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

namespace clover::gateway {
namespace {

using server::HttpRequest;
using server::HttpResponse;
using server::Responder;

constexpr size_t kMaxAggregateSubjects = 100000;

class AggregateEndpoints : public EndpointFamily {
 public:
  using EndpointFamily::EndpointFamily;

  // Who an aggregate's privacy budget belongs to: the principal's org (so
  // that an org's services and staff share one budget), else the principal.
  // Never anything the request chooses.
  static std::string BudgetHolder(const Principal& p) {
    return p.org.empty() ? absl::StrCat("principal:", p.id)
                         : absl::StrCat("org:", p.org);
  }

  void Aggregate(HttpRequest& req, Responder respond) {
    rapidjson::Document body;
    auto caller = pipe_.Open(req, respond, Pipeline::Purpose::kHeader, &body);
    if (!caller) return;
    const Principal& p = caller->principal;
    const std::string& purpose = caller->purpose;
    auto field_name = StringMember(body, "field", true);
    auto destination_member = StringMember(body, "destination", false);
    auto subjects =
        StringArrayMember(body, "subjects", false, kMaxAggregateSubjects);
    for (const absl::Status& s :
         {field_name.status(), destination_member.status(),
          subjects.status()}) {
      if (!s.ok()) return respond(ErrorResponse(s));
    }
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
          [&ids](absl::string_view id) { ids.emplace_back(id); });
      if (!scan.ok()) return respond(ErrorResponse(scan));
    }
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    // Decide per home jurisdiction; keep the subjects the policy lets in.
    std::map<std::string, Decision> by_jurisdiction;
    std::vector<const std::string*> permitted;
    for (const std::string& subject : ids) {
      auto jurisdiction = d_.vault->HomeJurisdiction(subject);
      if (!jurisdiction.ok()) continue;
      auto it = by_jurisdiction.find(*jurisdiction);
      if (it == by_jurisdiction.end()) {
        it = by_jurisdiction
                 .emplace(*jurisdiction,
                          pipe_.Decide(p, purpose, "aggregate", *jurisdiction,
                                       destination, *fields))
                 .first;
      }
      if (it->second.verdicts.decisions[0].effect > policy::Effect::kAggregate)
        continue;  // approval or deny: excluded
      permitted.push_back(&subject);
    }
    Decision logged;
    std::string subject_jurisdiction;
    if (by_jurisdiction.empty()) {
      logged = pipe_.Decide(p, purpose, "aggregate", "", destination, *fields);
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
      const policy::FieldDecision& fd = dec.verdicts.decisions[0];
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
      return pipe_.RefuseLogged(
          pipe_.DecisionJson(p, purpose, "aggregate", destination, "",
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
        BudgetHolder(p), purpose, epsilon,
        d_.deployment->privacy.daily_epsilon_budget, d_.clock->Now());
    if (!left.ok()) return respond(ErrorResponse(left.status()));
    // The release layer's justification: why, and the log's size at the
    // decision (its entry is appended at or after that index).
    vault::AccessContext ctx{p.id, purpose, "aggregate", d_.log->Size()};
    auto keys = d_.vault->TokenKeysFor(destination, purpose);
    if (!keys.ok()) return respond(ErrorResponse(keys.status()));
    std::map<std::string, double> counts;
    int64_t included = 0;
    for (const std::string* subject : permitted) {
      auto record = d_.vault->Get(*subject, {field.name}, ctx);
      if (!record.ok()) continue;
      const vault::FieldValue* raw = record->Find(field.name);
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
      return pipe_.LogThen(
          pipe_.DecisionJson(p, purpose, "aggregate", destination, "",
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
    pipe_.LogThenAnswer(
        pipe_.DecisionJson(p, purpose, "aggregate", destination, "",
                           subject_jurisdiction, logged, listed,
                           static_cast<int64_t>(buckets.size()), included),
        std::move(respond), std::move(prefix), std::move(suffix));
  }
};

}  // namespace

void AddAggregateRoutes(Pipeline& pipe, server::Router& router) {
  auto e = std::make_shared<AggregateEndpoints>(pipe);
  using E = AggregateEndpoints;
  router.Handle("POST", "/v1/aggregates",
                pipe.Blocking(Bind(e, &E::Aggregate)));
}

}  // namespace clover::gateway
