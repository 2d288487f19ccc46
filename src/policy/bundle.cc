#include "policy/bundle.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/config_keys.h"
#include "core/countries.h"
#include "core/status_macros.h"
#include "crypto/sha256.h"
#include "policy/yaml_tree.h"

namespace clover::policy {
namespace {

// Every map the parser reads and the keys it accepts (BundleKeys()): a new key
// goes here, never in an ad-hoc list.
constexpr absl::string_view kNotKeysNames[] = {"not"};
constexpr KeySet kNotKeys{"rules[].when.*", kNotKeysNames};
constexpr absl::string_view kApprovalParamKeysNames[] = {"approver_role",
                                                         "max_duration"};
constexpr KeySet kApprovalParamKeys{"rules[].params", kApprovalParamKeysNames};
constexpr absl::string_view kAggregateParamKeysNames[] = {"epsilon"};
constexpr KeySet kAggregateParamKeys{"rules[].params",
                                     kAggregateParamKeysNames};
constexpr absl::string_view kRuleKeysNames[] = {"id", "description", "effect",
                                                "params", "when"};
constexpr KeySet kRuleKeys{"rules[]", kRuleKeysNames};
constexpr absl::string_view kInvariantKeysNames[] = {"id", "description",
                                                     "never", "always", "when"};
constexpr KeySet kInvariantKeys{"invariants[]", kInvariantKeysNames};
constexpr absl::string_view kRootKeysNames[] = {"version", "description",
                                                "rules", "invariants"};
constexpr KeySet kRootKeys{"", kRootKeysNames};
constexpr KeySet kInvariantNotKeys{"invariants[].when.*", kNotKeysNames};
constexpr const KeySet* kBundleKeySets[] = {
    &kNotKeys,       &kApprovalParamKeys, &kAggregateParamKeys, &kRuleKeys,
    &kInvariantKeys, &kRootKeys,          &kInvariantNotKeys};

// Carries the file name and builds "file:line:col: field 'path': message"
// errors.
class Parser {
 public:
  explicit Parser(const std::string& filename) : filename_(filename) {}

  absl::Status Error(const YNode& node, absl::string_view field,
                     absl::string_view message) const {
    return ErrorAt(PosOf(node), field, message);
  }

  absl::Status ErrorAt(SourcePos pos, absl::string_view field,
                       absl::string_view message) const {
    std::string where = filename_;
    if (pos.line > 0) absl::StrAppend(&where, ":", pos.line, ":", pos.column);
    if (field.empty())
      return absl::InvalidArgumentError(absl::StrCat(where, ": ", message));
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": field '", field, "': ", message));
  }

  static SourcePos PosOf(const YNode& node) {
    return {node.line(), node.column()};
  }

  absl::StatusOr<std::string> Scalar(const YNode& node,
                                     absl::string_view field) const {
    if (!node.IsScalar()) return Error(node, field, "expected a single value");
    return node.Scalar();
  }

  absl::StatusOr<std::string> NonEmptyScalar(const YNode& node,
                                             absl::string_view field) const {
    CLOVER_ASSIGN_OR_RETURN(std::string s, Scalar(node, field));
    if (s.empty()) return Error(node, field, "must not be empty");
    return s;
  }

  // Checks that `node` is a map whose keys are all in `allowed` and appear
  // once.
  absl::Status CheckKeys(const YNode& node, absl::string_view field,
                         const KeySet& allowed) const {
    if (!node.IsMap()) return Error(node, field, "expected a map");
    const auto& entries = node.entries();
    for (size_t i = 0; i < entries.size(); ++i) {
      const YNode& k = entries[i].first;
      if (!k.IsScalar()) return Error(k, field, "keys must be plain words");
      const std::string& key = k.Scalar();
      // Paths are built only for errors: this runs for every map of a large
      // bundle.
      auto path = [&] {
        return field.empty() ? key : absl::StrCat(field, ".", key);
      };
      if (!allowed.Allows(key)) {
        std::string list;
        for (absl::string_view a : allowed.keys)
          absl::StrAppend(&list, list.empty() ? "" : ", ", a);
        return Error(k, path(),
                     absl::StrCat("unknown key (expected one of: ", list, ")"));
      }
      for (size_t j = 0; j < i; ++j) {
        if (entries[j].first.Scalar() == key)
          return Error(k, path(), "duplicate key");
      }
    }
    return absl::OkStatus();
  }

  // `base` and `index` (-1 for a single value) name the field in errors.
  absl::StatusOr<std::string> ConditionValue(Attribute attribute,
                                             const YNode& node,
                                             absl::string_view base,
                                             int index) const {
    auto field = [&] {
      return index < 0 ? std::string(base)
                       : absl::StrCat(base, "[", index, "]");
    };
    if (!node.IsScalar())
      return Error(node, field(), "expected a single value");
    std::string v = node.Scalar();
    if (v.empty()) return Error(node, field(), "must not be empty");
    switch (attribute) {
      case Attribute::kAction: {
        auto known = KnownActions();
        if (std::find(known.begin(), known.end(), v) == known.end()) {
          return Error(
              node, field(),
              absl::StrCat("unknown action '", v,
                           "' (expected read, export, detokenize, aggregate, "
                           "write or erase)"));
        }
        break;
      }
      case Attribute::kPrincipalKind: {
        auto known = KnownPrincipalKinds();
        if (std::find(known.begin(), known.end(), v) == known.end()) {
          return Error(
              node, field(),
              absl::StrCat("unknown principal kind '", v,
                           "' (expected service, employee, auditor or admin)"));
        }
        break;
      }
      case Attribute::kPrincipalCountry:
        if (!IsIsoCountryCode(v)) {
          return Error(
              node, field(),
              absl::StrCat("'", v,
                           "' is not an ISO 3166-1 alpha-2 country code "
                           "(upper case, e.g. IE)"));
        }
        break;
      case Attribute::kFieldRestricted: {
        bool b = false;
        if (!ParseYamlBool(node.Scalar(), &b)) {
          return Error(node, field(),
                       absl::StrCat("expected true or false, got '", v, "'"));
        }
        v = b ? "true" : "false";
        break;
      }
      default:
        break;
    }
    return v;
  }

  // `attribute: value`, `attribute: [a, b]`, `attribute: {not: value-or-list}`.
  absl::StatusOr<Condition> ParseCondition(const YNode& key, const YNode& value,
                                           absl::string_view parent) const {
    const std::string name = key.Scalar();
    const std::string field = absl::StrCat(parent, ".", name);
    std::optional<Attribute> attribute = ParseAttribute(name);
    if (!attribute) {
      return Error(
          key, field,
          "unknown attribute (expected principal.id|kind|org|role|country|"
          "jurisdiction, purpose, action, subject.jurisdiction, destination, "
          "approval.justification or field.name|category|restricted)");
    }
    Condition c;
    c.attribute = *attribute;
    c.pos = PosOf(key);
    const YNode* list = &value;
    std::string list_field = field;
    if (value.IsMap()) {
      CLOVER_RETURN_IF_ERROR(CheckKeys(value, field, kNotKeys));
      if (!value["not"])
        return Error(value, field, "expected {not: value-or-list}");
      c.negated = true;
      list = &value["not"];
      list_field = absl::StrCat(field, ".not");
    }
    if (list->IsSequence()) {
      for (size_t i = 0; i < list->size(); ++i) {
        CLOVER_ASSIGN_OR_RETURN(
            std::string v, ConditionValue(c.attribute, (*list)[i], list_field,
                                          static_cast<int>(i)));
        if (std::find(c.values.begin(), c.values.end(), v) == c.values.end()) {
          c.values.push_back(std::move(v));
        }
      }
      if (c.values.empty() && !c.negated) {
        return Error(*list, list_field, "an empty list matches nothing");
      }
    } else if (list->IsScalar()) {
      CLOVER_ASSIGN_OR_RETURN(
          std::string v, ConditionValue(c.attribute, *list, list_field, -1));
      c.values.push_back(std::move(v));
    } else {
      return Error(*list, list_field,
                   "expected a value, a list of values or {not: ...}");
    }
    return c;
  }

  absl::StatusOr<std::vector<Condition>> ParseWhen(
      const YNode& node, absl::string_view field) const {
    std::vector<Condition> out;
    if (!node) return out;
    if (node.IsNull()) return out;
    if (!node.IsMap())
      return Error(node, field, "expected a map of conditions");
    const auto& entries = node.entries();
    for (size_t i = 0; i < entries.size(); ++i) {
      const auto& kv = entries[i];
      if (!kv.first.IsScalar())
        return Error(kv.first, field, "keys must be attribute names");
      bool duplicate = false;
      for (size_t j = 0; j < i; ++j) {
        duplicate |= entries[j].first.Scalar() == kv.first.Scalar();
      }
      if (duplicate) {
        return Error(kv.first, absl::StrCat(field, ".", kv.first.Scalar()),
                     "duplicate condition on the same attribute");
      }
      CLOVER_ASSIGN_OR_RETURN(Condition c,
                              ParseCondition(kv.first, kv.second, field));
      out.push_back(std::move(c));
    }
    return out;
  }

  absl::StatusOr<Effect> ParseEffectNode(const YNode& node,
                                         absl::string_view field) const {
    CLOVER_ASSIGN_OR_RETURN(std::string s, Scalar(node, field));
    std::optional<Effect> e = ParseEffect(s);
    if (!e) {
      return Error(
          node, field,
          absl::StrCat(
              "unknown effect '", s,
              "' (expected allow, generalize, pseudonymize, aggregate, "
              "approval or deny)"));
    }
    return *e;
  }

  absl::Status ParseParams(const YNode& node, absl::string_view field,
                           Rule& rule) const {
    if (!node) return absl::OkStatus();
    if (rule.effect == Effect::kApproval) {
      CLOVER_RETURN_IF_ERROR(CheckKeys(node, field, kApprovalParamKeys));
      if (node["approver_role"]) {
        CLOVER_ASSIGN_OR_RETURN(
            rule.approval.approver_role,
            NonEmptyScalar(node["approver_role"],
                           absl::StrCat(field, ".approver_role")));
      }
      if (const YNode d = node["max_duration"]; d) {
        const std::string f = absl::StrCat(field, ".max_duration");
        CLOVER_ASSIGN_OR_RETURN(std::string s, NonEmptyScalar(d, f));
        absl::Duration dur;
        if (!absl::ParseDuration(s, &dur) || dur <= absl::ZeroDuration() ||
            dur == absl::InfiniteDuration()) {
          return Error(
              d, f,
              absl::StrCat("expected a positive duration like 8h or 30m, got '",
                           s, "'"));
        }
        rule.approval.max_duration = dur;
      }
      return absl::OkStatus();
    }
    if (rule.effect == Effect::kAggregate) {
      CLOVER_RETURN_IF_ERROR(CheckKeys(node, field, kAggregateParamKeys));
      if (const YNode e = node["epsilon"]; e) {
        const std::string f = absl::StrCat(field, ".epsilon");
        CLOVER_ASSIGN_OR_RETURN(std::string s, NonEmptyScalar(e, f));
        double eps = 0;
        if (!absl::SimpleAtod(s, &eps) || !std::isfinite(eps) || eps <= 0) {
          return Error(
              e, f, absl::StrCat("expected a positive number, got '", s, "'"));
        }
        rule.aggregate.epsilon = eps;
      }
      return absl::OkStatus();
    }
    if (node.IsNull() || (node.IsMap() && node.size() == 0))
      return absl::OkStatus();
    return Error(node, field,
                 absl::StrCat("effect '", ToString(rule.effect),
                              "' takes no parameters"));
  }

  static bool ValidId(absl::string_view id) {
    if (id.empty() || id.size() > 128) return false;
    return std::all_of(id.begin(), id.end(), [](char c) {
      return absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' ||
             c == ':';
    });
  }

  absl::StatusOr<std::string> ParseId(
      const YNode& item, absl::string_view field,
      absl::flat_hash_set<std::string>& ids) const {
    if (!item["id"]) return Error(item, field, "missing 'id'");
    const std::string f = absl::StrCat(field, ".id");
    CLOVER_ASSIGN_OR_RETURN(std::string id, Scalar(item["id"], f));
    if (!ValidId(id)) {
      return Error(item["id"], f,
                   "ids are 1-128 characters of letters, digits and - _ . :");
    }
    if (!ids.insert(id).second) {
      return Error(item["id"], f, absl::StrCat("duplicate id '", id, "'"));
    }
    return id;
  }

  absl::StatusOr<Rule> ParseRule(const YNode& node, absl::string_view field,
                                 absl::flat_hash_set<std::string>& ids) const {
    CLOVER_RETURN_IF_ERROR(CheckKeys(node, field, kRuleKeys));
    Rule rule;
    rule.pos = PosOf(node);
    CLOVER_ASSIGN_OR_RETURN(rule.id, ParseId(node, field, ids));
    if (node["description"]) {
      CLOVER_ASSIGN_OR_RETURN(
          rule.description,
          Scalar(node["description"], absl::StrCat(field, ".description")));
    }
    if (!node["effect"]) return Error(node, field, "missing 'effect'");
    CLOVER_ASSIGN_OR_RETURN(
        rule.effect,
        ParseEffectNode(node["effect"], absl::StrCat(field, ".effect")));
    CLOVER_RETURN_IF_ERROR(
        ParseParams(node["params"], absl::StrCat(field, ".params"), rule));
    CLOVER_ASSIGN_OR_RETURN(
        rule.when, ParseWhen(node["when"], absl::StrCat(field, ".when")));
    return rule;
  }

  // An effect, or `raw`: every effect that can reveal a raw value (allow, and
  // approval, which a live grant turns into raw access).
  absl::Status AddInvariantEffect(const YNode& node, absl::string_view field,
                                  EffectSet& effects) const {
    if (node.IsScalar() && node.Scalar() == "raw") {
      effects.Add(Effect::kAllow);
      effects.Add(Effect::kApproval);
      return absl::OkStatus();
    }
    CLOVER_ASSIGN_OR_RETURN(Effect e, ParseEffectNode(node, field));
    effects.Add(e);
    return absl::OkStatus();
  }

  absl::StatusOr<Invariant> ParseInvariant(
      const YNode& node, absl::string_view field,
      absl::flat_hash_set<std::string>& ids) const {
    CLOVER_RETURN_IF_ERROR(CheckKeys(node, field, kInvariantKeys));
    Invariant inv;
    inv.pos = PosOf(node);
    CLOVER_ASSIGN_OR_RETURN(inv.id, ParseId(node, field, ids));
    if (node["description"]) {
      CLOVER_ASSIGN_OR_RETURN(
          inv.description,
          Scalar(node["description"], absl::StrCat(field, ".description")));
    }
    const bool never = static_cast<bool>(node["never"]);
    const bool always = static_cast<bool>(node["always"]);
    if (never == always) {
      return Error(node, field,
                   "an invariant has exactly one of 'never' or 'always'");
    }
    inv.kind = never ? Invariant::Kind::kNever : Invariant::Kind::kAlways;
    const std::string key = never ? "never" : "always";
    const YNode effects = node[key];
    const std::string f = absl::StrCat(field, ".", key);
    if (effects.IsSequence()) {
      for (size_t i = 0; i < effects.size(); ++i) {
        CLOVER_RETURN_IF_ERROR(AddInvariantEffect(
            effects[i], absl::StrCat(f, "[", i, "]"), inv.effects));
      }
      if (inv.effects.empty())
        return Error(effects, f, "needs at least one effect");
    } else {
      CLOVER_RETURN_IF_ERROR(AddInvariantEffect(effects, f, inv.effects));
    }
    CLOVER_ASSIGN_OR_RETURN(
        inv.when, ParseWhen(node["when"], absl::StrCat(field, ".when")));
    return inv;
  }

  absl::StatusOr<Bundle> ParseRoot(const YNode& root) const {
    Bundle bundle;
    bundle.filename = filename_;
    if (!root.IsMap())
      return Error(root, "",
                   "a policy bundle is a map with 'version' and 'rules'");
    CLOVER_RETURN_IF_ERROR(CheckKeys(root, "", kRootKeys));
    if (!root["version"])
      return Error(root, "version", "missing (use 'version: 1')");
    CLOVER_ASSIGN_OR_RETURN(std::string version,
                            Scalar(root["version"], "version"));
    if (version != "1") {
      return Error(root["version"], "version",
                   absl::StrCat("unsupported version '", version,
                                "' (this Clover reads 1)"));
    }
    if (root["description"]) {
      CLOVER_ASSIGN_OR_RETURN(bundle.description,
                              Scalar(root["description"], "description"));
    }
    absl::flat_hash_set<std::string> rule_ids;
    if (const YNode rules = root["rules"]; rules && !rules.IsNull()) {
      if (!rules.IsSequence())
        return Error(rules, "rules", "expected a list of rules");
      bundle.rules.reserve(rules.size());
      for (size_t i = 0; i < rules.size(); ++i) {
        CLOVER_ASSIGN_OR_RETURN(
            Rule r,
            ParseRule(rules[i], absl::StrCat("rules[", i, "]"), rule_ids));
        bundle.rules.push_back(std::move(r));
      }
    }
    absl::flat_hash_set<std::string> invariant_ids;
    if (const YNode invs = root["invariants"]; invs && !invs.IsNull()) {
      if (!invs.IsSequence())
        return Error(invs, "invariants", "expected a list of invariants");
      for (size_t i = 0; i < invs.size(); ++i) {
        CLOVER_ASSIGN_OR_RETURN(
            Invariant inv,
            ParseInvariant(invs[i], absl::StrCat("invariants[", i, "]"),
                           invariant_ids));
        bundle.invariants.push_back(std::move(inv));
      }
    }
    return bundle;
  }

 private:
  const std::string& filename_;
};

}  // namespace

bool Condition::Accepts(absl::string_view value) const {
  const bool in =
      std::find(values.begin(), values.end(), value) != values.end();
  return in != negated;
}

std::string Sha256Hex(absl::string_view data) {
  const crypto::Sha256Digest digest = crypto::Sha256(data);
  std::string out;
  out.reserve(2 * digest.size());
  for (uint8_t b : digest) absl::StrAppendFormat(&out, "%02x", b);
  return out;
}

absl::StatusOr<Bundle> ParseBundle(absl::string_view text,
                                   const std::string& filename) {
  absl::StatusOr<YNode> root = ParseYamlTree(text);
  if (!root.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(filename, ":", root.status().message()));
  }
  absl::StatusOr<Bundle> bundle = Parser(filename).ParseRoot(*root);
  if (!bundle.ok()) return bundle.status();
  bundle->sha256 = Sha256Hex(text);
  return bundle;
}

absl::StatusOr<std::string> ReadFileToString(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot read file"));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return absl::NotFoundError(absl::StrCat(path, ": read error"));
  return std::move(ss).str();
}

absl::StatusOr<Bundle> LoadBundle(const std::string& path) {
  CLOVER_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  return ParseBundle(text, path);
}

std::vector<std::string> BundleKeys() { return ExpandKeySets(kBundleKeySets); }

}  // namespace clover::policy
