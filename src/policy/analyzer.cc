#include "policy/analyzer.h"

#include <algorithm>
#include <array>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "policy/reference_evaluator.h"

namespace clover::policy {
namespace {

constexpr absl::string_view kOther = "<other>";
constexpr int kRoleSlotBase =
    kAttributeCount;  // slots past the attributes: one per role
constexpr int kUnassigned = -1;

enum class Tri : uint8_t { kFalse, kTrue, kUnknown };

int Slot(Attribute a) { return static_cast<int>(a); }

struct Domain {
  std::vector<std::string> values;
  absl::flat_hash_map<std::string, int> index;
  int Add(absl::string_view v) {
    auto [it, inserted] =
        index.try_emplace(std::string(v), static_cast<int>(values.size()));
    if (inserted) values.emplace_back(v);
    return it->second;
  }
  int Find(absl::string_view v) const {
    auto it = index.find(v);
    return it == index.end() ? -1 : it->second;
  }
};

// A condition over slot values.
struct SlotCondition {
  int slot = 0;       // single-valued attribute slot
  bool role = false;  // principal.role: uses role_slots
  bool negated = false;
  std::vector<char> accept;  // per domain value index
  std::vector<int> role_slots;
};

struct SlotRule {
  Effect effect = Effect::kDeny;
  std::vector<SlotCondition> when;
};

struct Assignment {
  int slot;
  int value;
};
struct Choice {
  std::vector<Assignment> sets;
};
struct Variable {
  int primary_slot = 0;
  std::vector<Choice> choices;
  std::vector<int> slots;  // every slot it may set, for ordering
};
struct Group {
  std::vector<Variable> variables;
  int score = 0;
};

// The finite model of all requests a bundle can be asked about.
class Model {
 public:
  Model(const Bundle& bundle, const Deployment* deployment)
      : bundle_(bundle), deployment_(deployment) {
    CollectNamedValues();
    BuildGroups();
    for (const Rule& r : bundle.rules) {
      SlotRule sr;
      sr.effect = r.effect;
      for (const Condition& c : r.when) sr.when.push_back(Compile(c));
      rules_.push_back(std::move(sr));
    }
  }

  int slot_count() const {
    return kRoleSlotBase + static_cast<int>(roles_.size());
  }
  const std::vector<SlotRule>& rules() const { return rules_; }

  std::vector<SlotCondition> CompileAll(
      const std::vector<Condition>& when) const {
    std::vector<SlotCondition> out;
    for (const Condition& c : when) out.push_back(Compile(c));
    return out;
  }

  // The variables in search order: groups touching `focus` (the invariant's or
  // rule's own conditions) first, then by how many rule conditions they feed.
  std::vector<const Variable*> Order(
      const std::vector<Condition>& focus) const {
    std::vector<std::pair<int, const Group*>> scored;
    for (const Group& g : groups_) {
      int score = g.score;
      for (const Condition& c : focus) {
        for (const Variable& v : g.variables) {
          if (std::find(v.slots.begin(), v.slots.end(), Slot(c.attribute)) !=
                  v.slots.end() ||
              (c.attribute == Attribute::kPrincipalRole &&
               std::any_of(v.slots.begin(), v.slots.end(),
                           [](int s) { return s >= kRoleSlotBase; }))) {
            score += 1000;
            break;
          }
        }
      }
      scored.emplace_back(score, &g);
    }
    std::stable_sort(
        scored.begin(), scored.end(),
        [](const auto& a, const auto& b) { return a.first > b.first; });
    std::vector<const Variable*> out;
    for (const auto& [score, g] : scored) {
      for (const Variable& v : g->variables) out.push_back(&v);
    }
    return out;
  }

  Tri Eval(const SlotCondition& c, const std::vector<int>& state) const {
    if (c.role) {
      bool all_no = true;
      for (int s : c.role_slots) {
        if (state[s] == 1) return c.negated ? Tri::kFalse : Tri::kTrue;
        if (state[s] != 0) all_no = false;
      }
      if (all_no) return c.negated ? Tri::kTrue : Tri::kFalse;
      return Tri::kUnknown;
    }
    const int v = state[c.slot];
    if (v == kUnassigned) return Tri::kUnknown;
    return c.accept[v] ? Tri::kTrue : Tri::kFalse;
  }

  Tri EvalAll(const std::vector<SlotCondition>& when,
              const std::vector<int>& state) const {
    Tri result = Tri::kTrue;
    for (const SlotCondition& c : when) {
      const Tri t = Eval(c, state);
      if (t == Tri::kFalse) return Tri::kFalse;
      if (t == Tri::kUnknown) result = Tri::kUnknown;
    }
    return result;
  }

  void ToRequest(const std::vector<int>& state, RequestData& r,
                 FieldData& f) const {
    auto value = [&](Attribute a) -> std::string {
      const int v = state[Slot(a)];
      return v == kUnassigned ? std::string(kOther)
                              : domains_[Slot(a)].values[v];
    };
    r.principal_id = value(Attribute::kPrincipalId);
    r.principal_kind = value(Attribute::kPrincipalKind);
    r.principal_org = value(Attribute::kPrincipalOrg);
    r.principal_roles.clear();
    if (state[Slot(Attribute::kPrincipalId)] != kUnassigned &&
        fixed_roles_of_.count(r.principal_id)) {
      r.principal_roles = fixed_roles_of_.at(r.principal_id);
    } else {
      for (size_t i = 0; i < roles_.size(); ++i) {
        if (state[kRoleSlotBase + i] == 1)
          r.principal_roles.push_back(roles_[i]);
      }
    }
    r.principal_country = value(Attribute::kPrincipalCountry);
    r.principal_jurisdiction = value(Attribute::kPrincipalJurisdiction);
    r.purpose = value(Attribute::kPurpose);
    r.action = value(Attribute::kAction);
    r.subject_jurisdiction = value(Attribute::kSubjectJurisdiction);
    r.destination = value(Attribute::kDestination);
    r.approval_justification = value(Attribute::kApprovalJustification);
    f.name = value(Attribute::kFieldName);
    f.category = value(Attribute::kFieldCategory);
    f.restricted = value(Attribute::kFieldRestricted) == "true";
  }

 private:
  void CollectNamedValues() {
    auto collect = [&](const std::vector<Condition>& when) {
      for (const Condition& c : when) {
        if (c.attribute == Attribute::kPrincipalRole) {
          for (const std::string& v : c.values) {
            if (role_index_.try_emplace(v, roles_.size()).second)
              roles_.push_back(v);
          }
          continue;
        }
        for (const std::string& v : c.values)
          named_[Slot(c.attribute)].insert(v);
      }
    };
    for (const Rule& r : bundle_.rules) collect(r.when);
    for (const Invariant& inv : bundle_.invariants) collect(inv.when);
    for (const Rule& r : bundle_.rules) {
      for (const Condition& c : r.when) ++condition_count_[Slot(c.attribute)];
    }
  }

  // Named values in a stable order (the order they were first written would
  // need more bookkeeping; sorted is deterministic and reads well in
  // counterexamples).
  std::vector<std::string> Named(Attribute a) const {
    std::vector<std::string> v(named_[Slot(a)].begin(), named_[Slot(a)].end());
    std::sort(v.begin(), v.end());
    return v;
  }

  // A free attribute: every named value, plus one value nobody names (a real
  // one from `candidates` when there is one, else "<other>").
  Variable FreeVariable(Attribute a, const std::vector<std::string>& candidates,
                        bool closed = false) {
    Variable var;
    var.primary_slot = Slot(a);
    var.slots = {Slot(a)};
    Domain& d = domains_[Slot(a)];
    for (const std::string& v : Named(a))
      var.choices.push_back({{{Slot(a), d.Add(v)}}});
    std::string other(kOther);
    bool have_other = false;
    for (const std::string& c : candidates) {
      if (!named_[Slot(a)].contains(c)) {
        other = c;
        have_other = true;
        break;
      }
    }
    if (have_other || !closed)
      var.choices.push_back({{{Slot(a), d.Add(other)}}});
    return var;
  }

  std::vector<std::string> Jurisdictions() const {
    std::vector<std::string> out;
    if (deployment_) {
      for (const Jurisdiction& j : deployment_->jurisdictions)
        out.push_back(j.id);
    }
    return out;
  }

  void BuildGroups() {
    const std::vector<std::string> none;
    // Principal.
    {
      Group g;
      Variable who;
      who.primary_slot = Slot(Attribute::kPrincipalId);
      who.slots = {
          Slot(Attribute::kPrincipalId), Slot(Attribute::kPrincipalKind),
          Slot(Attribute::kPrincipalOrg), Slot(Attribute::kPrincipalCountry),
          Slot(Attribute::kPrincipalJurisdiction)};
      for (size_t i = 0; i < roles_.size(); ++i)
        who.slots.push_back(kRoleSlotBase + i);
      absl::flat_hash_set<std::string> configured;
      if (deployment_) {
        for (const Principal& p : deployment_->principals) {
          configured.insert(p.id);
          fixed_roles_of_[p.id] = p.roles;
          Choice c;
          c.sets.push_back({Slot(Attribute::kPrincipalId),
                            domains_[Slot(Attribute::kPrincipalId)].Add(p.id)});
          c.sets.push_back({Slot(Attribute::kPrincipalKind),
                            domains_[Slot(Attribute::kPrincipalKind)].Add(
                                ToString(p.kind))});
          c.sets.push_back(
              {Slot(Attribute::kPrincipalOrg),
               domains_[Slot(Attribute::kPrincipalOrg)].Add(p.org)});
          c.sets.push_back(
              {Slot(Attribute::kPrincipalCountry),
               domains_[Slot(Attribute::kPrincipalCountry)].Add(p.country)});
          c.sets.push_back(
              {Slot(Attribute::kPrincipalJurisdiction),
               domains_[Slot(Attribute::kPrincipalJurisdiction)].Add(
                   p.jurisdiction.empty() ? std::string(kOther)
                                          : p.jurisdiction)});
          for (size_t i = 0; i < roles_.size(); ++i) {
            const bool has = std::find(p.roles.begin(), p.roles.end(),
                                       roles_[i]) != p.roles.end();
            c.sets.push_back(
                {kRoleSlotBase + static_cast<int>(i), has ? 1 : 0});
          }
          who.choices.push_back(std::move(c));
        }
      }
      who.choices.push_back({});  // any other principal: its attributes follow
      g.variables.push_back(std::move(who));

      // Other principal: ids the bundle names but the deployment lacks, or a
      // fresh one.
      Variable id;
      id.primary_slot = Slot(Attribute::kPrincipalId);
      id.slots = {id.primary_slot};
      for (const std::string& v : Named(Attribute::kPrincipalId)) {
        if (!configured.contains(v)) {
          id.choices.push_back(
              {{{id.primary_slot, domains_[id.primary_slot].Add(v)}}});
        }
      }
      id.choices.push_back(
          {{{id.primary_slot, domains_[id.primary_slot].Add(kOther)}}});
      g.variables.push_back(std::move(id));

      std::vector<std::string> kinds(KnownPrincipalKinds().begin(),
                                     KnownPrincipalKinds().end());
      g.variables.push_back(
          FreeVariable(Attribute::kPrincipalKind, kinds, /*closed=*/true));
      std::vector<std::string> orgs;
      if (deployment_) {
        for (const Principal& p : deployment_->principals)
          orgs.push_back(p.org);
      }
      g.variables.push_back(FreeVariable(Attribute::kPrincipalOrg, orgs));
      if (deployment_) {
        // The jurisdiction follows from the country: named countries, one
        // unnamed country per jurisdiction, and a country in no jurisdiction.
        Variable country;
        const int cs = Slot(Attribute::kPrincipalCountry);
        const int js = Slot(Attribute::kPrincipalJurisdiction);
        country.primary_slot = cs;
        country.slots = {cs, js};
        auto jurisdiction_of = [&](absl::string_view code) -> std::string {
          for (const Jurisdiction& j : deployment_->jurisdictions) {
            if (std::find(j.countries.begin(), j.countries.end(), code) !=
                j.countries.end()) {
              return j.id;
            }
          }
          return std::string(kOther);
        };
        for (const std::string& v : Named(Attribute::kPrincipalCountry)) {
          country.choices.push_back(
              {{{cs, domains_[cs].Add(v)},
                {js, domains_[js].Add(jurisdiction_of(v))}}});
        }
        for (const Jurisdiction& j : deployment_->jurisdictions) {
          for (const std::string& code : j.countries) {
            if (named_[cs].contains(code)) continue;
            country.choices.push_back(
                {{{cs, domains_[cs].Add(code)}, {js, domains_[js].Add(j.id)}}});
            break;
          }
        }
        country.choices.push_back(
            {{{cs, domains_[cs].Add(kOther)}, {js, domains_[js].Add(kOther)}}});
        g.variables.push_back(std::move(country));
      } else {
        g.variables.push_back(FreeVariable(Attribute::kPrincipalCountry, none));
        g.variables.push_back(
            FreeVariable(Attribute::kPrincipalJurisdiction, none));
      }
      for (size_t i = 0; i < roles_.size(); ++i) {
        Variable role;
        role.primary_slot = kRoleSlotBase + i;
        role.slots = {role.primary_slot};
        // "Lacks the role" first, so counterexamples carry as few roles as
        // possible.
        role.choices = {{{{role.primary_slot, 0}}}, {{{role.primary_slot, 1}}}};
        g.variables.push_back(std::move(role));
      }
      for (Attribute a :
           {Attribute::kPrincipalId, Attribute::kPrincipalKind,
            Attribute::kPrincipalOrg, Attribute::kPrincipalRole,
            Attribute::kPrincipalCountry, Attribute::kPrincipalJurisdiction}) {
        g.score += condition_count_[Slot(a)];
      }
      groups_.push_back(std::move(g));
    }
    // Field.
    {
      Group g;
      Variable which;
      const int ns = Slot(Attribute::kFieldName);
      const int cs = Slot(Attribute::kFieldCategory);
      const int rs = Slot(Attribute::kFieldRestricted);
      which.primary_slot = ns;
      which.slots = {ns, cs, rs};
      absl::flat_hash_set<std::string> configured;
      std::vector<std::string> categories;
      if (deployment_) {
        for (const FieldSpec& f : deployment_->schema.fields) {
          configured.insert(f.name);
          categories.push_back(f.category);
          which.choices.push_back(
              {{{ns, domains_[ns].Add(f.name)},
                {cs, domains_[cs].Add(f.category)},
                {rs, domains_[rs].Add(f.restricted ? "true" : "false")}}});
        }
      }
      which.choices.push_back({});
      g.variables.push_back(std::move(which));
      Variable name;
      name.primary_slot = ns;
      name.slots = {ns};
      for (const std::string& v : Named(Attribute::kFieldName)) {
        if (!configured.contains(v))
          name.choices.push_back({{{ns, domains_[ns].Add(v)}}});
      }
      name.choices.push_back({{{ns, domains_[ns].Add(kOther)}}});
      g.variables.push_back(std::move(name));
      g.variables.push_back(
          FreeVariable(Attribute::kFieldCategory, categories));
      Variable restricted;
      restricted.primary_slot = rs;
      restricted.slots = {rs};
      restricted.choices = {{{{rs, domains_[rs].Add("true")}}},
                            {{{rs, domains_[rs].Add("false")}}}};
      g.variables.push_back(std::move(restricted));
      g.score =
          condition_count_[ns] + condition_count_[cs] + condition_count_[rs];
      groups_.push_back(std::move(g));
    }
    // Request-level singles.
    std::vector<std::string> actions(KnownActions().begin(),
                                     KnownActions().end());
    const std::vector<std::string> jurisdictions = Jurisdictions();
    auto single = [&](Attribute a, const std::vector<std::string>& candidates,
                      bool closed) {
      Group g;
      g.variables.push_back(FreeVariable(a, candidates, closed));
      g.score = condition_count_[Slot(a)];
      groups_.push_back(std::move(g));
    };
    single(Attribute::kPurpose, none, false);
    single(Attribute::kAction, actions, true);
    single(Attribute::kSubjectJurisdiction, jurisdictions, false);
    single(Attribute::kDestination, jurisdictions, false);
    // The unnamed justification is the absent one: a request that gives none.
    single(Attribute::kApprovalJustification, {""}, true);
  }

  SlotCondition Compile(const Condition& c) const {
    SlotCondition sc;
    sc.negated = c.negated;
    if (c.attribute == Attribute::kPrincipalRole) {
      sc.role = true;
      for (const std::string& v : c.values)
        sc.role_slots.push_back(kRoleSlotBase + role_index_.at(v));
      return sc;
    }
    sc.slot = Slot(c.attribute);
    const Domain& d = domains_[sc.slot];
    sc.accept.resize(d.values.size());
    for (size_t i = 0; i < d.values.size(); ++i) {
      // "<other>" stands for a value no condition names.
      sc.accept[i] = d.values[i] == kOther ? c.negated : c.Accepts(d.values[i]);
    }
    return sc;
  }

  const Bundle& bundle_;
  const Deployment* deployment_;
  std::array<absl::flat_hash_set<std::string>, kAttributeCount> named_;
  std::array<int, kAttributeCount> condition_count_{};
  std::vector<std::string> roles_;
  absl::flat_hash_map<std::string, size_t> role_index_;
  absl::flat_hash_map<std::string, std::vector<std::string>> fixed_roles_of_;
  std::array<Domain, kAttributeCount> domains_;
  std::vector<Group> groups_;
  std::vector<SlotRule> rules_;
};

// Depth-first search for a request satisfying `constraint` whose decision is in
// `bad` (invariant mode) or is decided by `target_rule` (shadow mode).
class Search {
 public:
  Search(const Model& model, std::vector<const Variable*> order,
         std::vector<SlotCondition> constraint, uint64_t max_states)
      : model_(model),
        order_(std::move(order)),
        constraint_(std::move(constraint)),
        max_states_(max_states),
        state_(model.slot_count(), kUnassigned) {}

  bool FindEffect(EffectSet bad) {
    bad_ = bad;
    target_rule_ = -1;
    return Dfs(0);
  }
  bool FindDecidedBy(int rule) {
    target_rule_ = rule;
    return Dfs(0);
  }
  bool limit_hit() const { return limit_hit_; }
  uint64_t states() const { return states_; }
  const std::vector<int>& witness() const { return witness_; }

 private:
  bool Viable() {
    for (const SlotCondition& c : constraint_) {
      if (model_.Eval(c, state_) == Tri::kFalse) return false;
    }
    const std::vector<SlotRule>& rules = model_.rules();
    if (target_rule_ >= 0) {
      const SlotRule& target = rules[target_rule_];
      if (model_.EvalAll(target.when, state_) == Tri::kFalse) return false;
      for (int i = 0; i < static_cast<int>(rules.size()); ++i) {
        if (i == target_rule_) continue;
        const bool beats =
            rules[i].effect > target.effect ||
            (rules[i].effect == target.effect && i < target_rule_);
        if (beats && model_.EvalAll(rules[i].when, state_) == Tri::kTrue)
          return false;
      }
      return true;
    }
    int lowest = -1;  // most restrictive effect among rules that surely match
    uint8_t possible = 0;
    for (const SlotRule& r : rules) {
      const Tri t = model_.EvalAll(r.when, state_);
      if (t == Tri::kFalse) continue;
      possible |= uint8_t{1} << static_cast<int>(r.effect);
      if (t == Tri::kTrue)
        lowest = std::max(lowest, static_cast<int>(r.effect));
    }
    if (lowest >= 0) {
      possible &= static_cast<uint8_t>(0x3f << lowest);
    } else {
      possible |= uint8_t{1}
                  << static_cast<int>(Effect::kDeny);  // nothing may match
    }
    return (possible & bad_.bits()) != 0;
  }

  bool Dfs(size_t next) {
    if (++states_ > max_states_) {
      limit_hit_ = true;
      return false;
    }
    if (!Viable()) return false;
    while (next < order_.size() &&
           state_[order_[next]->primary_slot] != kUnassigned)
      ++next;
    if (next == order_.size()) {
      witness_ = state_;
      return true;  // every slot is set, so Viable() was exact
    }
    const Variable& var = *order_[next];
    for (const Choice& choice : var.choices) {
      for (const Assignment& a : choice.sets) state_[a.slot] = a.value;
      const bool found = Dfs(next + 1);
      for (const Assignment& a : choice.sets) state_[a.slot] = kUnassigned;
      if (found) return true;
      if (limit_hit_) return false;
    }
    return false;
  }

  const Model& model_;
  std::vector<const Variable*> order_;
  std::vector<SlotCondition> constraint_;
  uint64_t max_states_;
  std::vector<int> state_;
  EffectSet bad_;
  int target_rule_ = -1;
  uint64_t states_ = 0;
  bool limit_hit_ = false;
  std::vector<int> witness_;
};

Counterexample MakeCounterexample(const Model& model, const Bundle& bundle,
                                  const std::vector<int>& state) {
  Counterexample cx;
  model.ToRequest(state, cx.request, cx.field);
  const ReferenceDecision d =
      EvaluateReference(bundle, cx.request.View(), cx.field.View());
  cx.effect = d.effect;
  cx.deciding_rule = d.deciding_rule;
  cx.matched = d.matched;
  return cx;
}

std::string Position(const std::string& file, SourcePos pos) {
  if (pos.line <= 0) return file;
  return absl::StrCat(file, ":", pos.line, ":", pos.column);
}

void CheckUnknownNames(const Bundle& bundle, const Deployment& dep,
                       std::vector<Finding>& findings) {
  absl::flat_hash_set<std::string> principals, orgs, roles, countries,
      jurisdictions, fields, categories;
  for (const Principal& p : dep.principals) {
    principals.insert(p.id);
    orgs.insert(p.org);
    for (const std::string& r : p.roles) roles.insert(r);
  }
  for (const Jurisdiction& j : dep.jurisdictions) {
    jurisdictions.insert(j.id);
    for (const std::string& c : j.countries) countries.insert(c);
  }
  for (const FieldSpec& f : dep.schema.fields) {
    fields.insert(f.name);
    categories.insert(f.category);
  }
  auto check = [&](const std::vector<Condition>& when,
                   absl::string_view owner) {
    for (const Condition& c : when) {
      const absl::flat_hash_set<std::string>* known = nullptr;
      absl::string_view what;
      switch (c.attribute) {
        case Attribute::kPrincipalId:
          known = &principals, what = "principal";
          break;
        case Attribute::kPrincipalOrg:
          known = &orgs, what = "org (no principal has it)";
          break;
        case Attribute::kPrincipalRole:
          known = &roles, what = "role (no principal has it)";
          break;
        case Attribute::kPrincipalCountry:
          known = &countries,
          what = "country (in no jurisdiction of the deployment)";
          break;
        case Attribute::kPrincipalJurisdiction:
        case Attribute::kSubjectJurisdiction:
        case Attribute::kDestination:
          known = &jurisdictions, what = "jurisdiction";
          break;
        case Attribute::kFieldName:
          known = &fields, what = "field (not in the schema)";
          break;
        case Attribute::kFieldCategory:
          known = &categories, what = "category (no schema field has it)";
          break;
        default:
          break;
      }
      if (known == nullptr) continue;
      for (const std::string& v : c.values) {
        if (known->contains(v)) continue;
        Finding f;
        f.kind = Finding::Kind::kUnknownName;
        f.pos = c.pos;
        f.message = absl::StrCat(owner, ": ", ToString(c.attribute),
                                 ": unknown ", what, " '", v, "'");
        findings.push_back(std::move(f));
      }
    }
  };
  for (const Rule& r : bundle.rules)
    check(r.when, absl::StrCat("rule '", r.id, "'"));
  for (const Invariant& i : bundle.invariants) {
    check(i.when, absl::StrCat("invariant '", i.id, "'"));
  }
}

Finding LimitFinding(SourcePos pos, absl::string_view what, uint64_t limit) {
  Finding f;
  f.kind = Finding::Kind::kSearchLimit;
  f.pos = pos;
  f.message =
      absl::StrCat(what, ": analysis gave up after ", limit,
                   " states; simplify the conditions or split the bundle");
  return f;
}

void ProveAll(const Bundle& bundle, const Model& model,
              const AnalysisOptions& options, AnalysisReport& report) {
  for (const Invariant& inv : bundle.invariants) {
    Search search(model, model.Order(inv.when), model.CompileAll(inv.when),
                  options.max_states);
    const bool found = search.FindEffect(inv.Forbidden());
    report.states_visited += search.states();
    const std::string what = absl::StrCat("invariant '", inv.id, "'");
    if (search.limit_hit()) {
      report.findings.push_back(
          LimitFinding(inv.pos, what, options.max_states));
      continue;
    }
    if (!found) continue;
    Finding f;
    f.kind = Finding::Kind::kInvariantViolated;
    f.pos = inv.pos;
    f.counterexample = MakeCounterexample(model, bundle, search.witness());
    f.message =
        absl::StrCat(what, " is violated: ",
                     inv.kind == Invariant::Kind::kNever ? "never " : "always ",
                     inv.effects.ToString(), ", but this request gets ",
                     ToString(f.counterexample->effect));
    report.findings.push_back(std::move(f));
  }
}

}  // namespace

std::string Counterexample::Describe(const Bundle& bundle) const {
  std::string out;
  absl::StrAppend(&out, "  counterexample:\n");
  absl::StrAppend(&out, "    principal: {id: ", request.principal_id,
                  ", kind: ", request.principal_kind,
                  ", org: ", request.principal_org, ", roles: [",
                  absl::StrJoin(request.principal_roles, ", "),
                  "], country: ", request.principal_country,
                  ", jurisdiction: ", request.principal_jurisdiction, "}\n");
  absl::StrAppend(
      &out, "    purpose: ", request.purpose, "\n    action: ", request.action,
      "\n    subject.jurisdiction: ", request.subject_jurisdiction,
      "\n    destination: ", request.destination,
      "\n    approval.justification: ",
      request.approval_justification.empty() ? "(none)"
                                             : request.approval_justification,
      "\n");
  absl::StrAppend(&out, "    field: {name: ", field.name,
                  ", category: ", field.category,
                  ", restricted: ", field.restricted ? "true" : "false", "}\n");
  std::vector<std::string> ids;
  for (int i : matched) ids.push_back(bundle.rules[i].id);
  absl::StrAppend(
      &out, "    decision: ", ToString(effect), " by ",
      deciding_rule < 0
          ? std::string("the default deny (no rule matched)")
          : absl::StrCat("rule '", bundle.rules[deciding_rule].id, "'"),
      "; matched: [", absl::StrJoin(ids, ", "), "]\n");
  return out;
}

bool AnalysisReport::ok() const {
  return std::none_of(findings.begin(), findings.end(), [](const Finding& f) {
    return f.severity == Finding::Severity::kError;
  });
}

std::string AnalysisReport::Format(const Bundle& bundle) const {
  std::string out;
  for (const Finding& f : findings) {
    absl::StrAppend(
        &out, Position(bundle.filename, f.pos), ": ",
        f.severity == Finding::Severity::kError ? "error" : "warning", ": ",
        f.message, "\n");
    if (f.counterexample)
      absl::StrAppend(&out, f.counterexample->Describe(bundle));
  }
  return out;
}

AnalysisReport Analyze(const Bundle& bundle, const AnalysisOptions& options) {
  AnalysisReport report;
  if (options.deployment != nullptr) {
    CheckUnknownNames(bundle, *options.deployment, report.findings);
  }
  const Model model(bundle, options.deployment);
  ProveAll(bundle, model, options, report);
  if (options.check_shadowed) {
    for (size_t i = 0; i < bundle.rules.size(); ++i) {
      const Rule& rule = bundle.rules[i];
      Search search(model, model.Order(rule.when), {}, options.max_states);
      const bool found = search.FindDecidedBy(static_cast<int>(i));
      report.states_visited += search.states();
      const std::string what = absl::StrCat("rule '", rule.id, "'");
      if (search.limit_hit()) {
        Finding f = LimitFinding(rule.pos, what, options.max_states);
        f.severity = Finding::Severity::kWarning;
        report.findings.push_back(std::move(f));
        continue;
      }
      if (found) continue;
      Finding f;
      f.severity = Finding::Severity::kWarning;
      f.kind = Finding::Kind::kShadowedRule;
      f.pos = rule.pos;
      f.message = absl::StrCat(what,
                               " can never decide anything: whenever it "
                               "matches, a more restrictive rule (or an "
                               "earlier one with the same effect) decides, or "
                               "its conditions cannot all hold");
      report.findings.push_back(std::move(f));
    }
  }
  return report;
}

absl::Status ProveInvariants(const Bundle& bundle,
                             const Deployment* deployment) {
  AnalysisOptions options;
  options.deployment = deployment;
  options.check_shadowed = false;
  AnalysisReport report;
  const Model model(bundle, deployment);
  ProveAll(bundle, model, options, report);
  if (report.findings.empty()) return absl::OkStatus();
  const Finding& f = report.findings.front();
  std::string message =
      absl::StrCat(Position(bundle.filename, f.pos), ": ", f.message);
  if (f.counterexample)
    absl::StrAppend(&message, "\n", f.counterexample->Describe(bundle));
  return absl::FailedPreconditionError(message);
}

}  // namespace clover::policy
