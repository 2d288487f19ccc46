#include "policy/request_spec.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/config_keys.h"
#include "core/status_macros.h"
#include "core/yaml_error.h"
#include "policy/attribute.h"

namespace clover::policy {
namespace {

// Every map the parser reads and the keys it accepts (RequestSpecKeys()): a new
// key goes here, never in an ad-hoc list.
constexpr absl::string_view kPrincipalKeysNames[] = {
    "id", "kind", "org", "roles", "country", "jurisdiction"};
constexpr KeySet kPrincipalKeys{"principal", kPrincipalKeysNames};
constexpr absl::string_view kFieldKeysNames[] = {"name", "category",
                                                 "restricted"};
constexpr KeySet kFieldKeys{"fields[]", kFieldKeysNames};
constexpr absl::string_view kRootKeysNames[] = {
    "principal",   "purpose",       "action", "subject",
    "destination", "justification", "fields"};
constexpr KeySet kRootKeys{"", kRootKeysNames};
constexpr absl::string_view kSubjectKeysNames[] = {"jurisdiction", "country"};
constexpr KeySet kSubjectKeys{"subject", kSubjectKeysNames};
constexpr const KeySet* kRequestKeySets[] = {&kPrincipalKeys, &kFieldKeys,
                                             &kRootKeys, &kSubjectKeys};

class SpecParser {
 public:
  SpecParser(const std::string& filename, const Deployment* deployment)
      : filename_(filename), deployment_(deployment) {}

  absl::Status Error(const YAML::Node& node, absl::string_view field,
                     absl::string_view message) const {
    return YamlError(filename_, node, field, message);
  }

  absl::StatusOr<std::string> Str(const YAML::Node& node,
                                  absl::string_view field) const {
    if (!node.IsScalar()) return Error(node, field, "expected a single value");
    return node.Scalar();
  }

  absl::Status CheckKeys(const YAML::Node& node, absl::string_view field,
                         const KeySet& allowed) const {
    if (!node.IsMap()) return Error(node, field, "expected a map");
    for (const auto& kv : node) {
      const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "";
      if (!allowed.Allows(key)) {
        return Error(kv.first,
                     field.empty() ? key : absl::StrCat(field, ".", key),
                     "unknown key");
      }
    }
    return absl::OkStatus();
  }

  std::string JurisdictionOf(absl::string_view country) const {
    if (deployment_ == nullptr) return "";
    for (const Jurisdiction& j : deployment_->jurisdictions) {
      if (std::find(j.countries.begin(), j.countries.end(), country) !=
          j.countries.end()) {
        return j.id;
      }
    }
    return "";
  }

  absl::Status Principal(const YAML::Node& node, RequestData& r) const {
    if (!node) return Error(node, "principal", "missing");
    if (node.IsScalar()) {
      if (deployment_ == nullptr) {
        return Error(node, "principal",
                     "a principal id needs --config; or write {id, kind, org, "
                     "roles, country}");
      }
      const std::string id = node.Scalar();
      for (const clover::Principal& p : deployment_->principals) {
        if (p.id != id) continue;
        r.principal_id = p.id;
        r.principal_kind = std::string(ToString(p.kind));
        r.principal_org = p.org;
        r.principal_roles = p.roles;
        r.principal_country = p.country;
        r.principal_jurisdiction = p.jurisdiction;
        return absl::OkStatus();
      }
      return Error(node, "principal",
                   absl::StrCat("no principal '", id, "' in the deployment"));
    }
    CLOVER_RETURN_IF_ERROR(CheckKeys(node, "principal", kPrincipalKeys));
    auto get = [&](const char* key, std::string& out) -> absl::Status {
      if (!node[key]) return absl::OkStatus();
      CLOVER_ASSIGN_OR_RETURN(out,
                              Str(node[key], absl::StrCat("principal.", key)));
      return absl::OkStatus();
    };
    CLOVER_RETURN_IF_ERROR(get("id", r.principal_id));
    CLOVER_RETURN_IF_ERROR(get("kind", r.principal_kind));
    CLOVER_RETURN_IF_ERROR(get("org", r.principal_org));
    CLOVER_RETURN_IF_ERROR(get("country", r.principal_country));
    CLOVER_RETURN_IF_ERROR(get("jurisdiction", r.principal_jurisdiction));
    if (const YAML::Node roles = node["roles"]; roles) {
      if (roles.IsScalar()) {
        r.principal_roles.push_back(roles.Scalar());
      } else if (roles.IsSequence()) {
        for (size_t i = 0; i < roles.size(); ++i) {
          CLOVER_ASSIGN_OR_RETURN(
              std::string role,
              Str(roles[i], absl::StrCat("principal.roles[", i, "]")));
          r.principal_roles.push_back(std::move(role));
        }
      } else {
        return Error(roles, "principal.roles", "expected a list of roles");
      }
    }
    if (r.principal_jurisdiction.empty()) {
      r.principal_jurisdiction = JurisdictionOf(r.principal_country);
    }
    return absl::OkStatus();
  }

  absl::StatusOr<FieldData> Field(const YAML::Node& node,
                                  absl::string_view field) const {
    if (node.IsScalar()) {
      if (deployment_ == nullptr) {
        return Error(node, field,
                     "a field name needs --config; or write {name, category, "
                     "restricted}");
      }
      absl::StatusOr<FieldData> f = ResolveField(node.Scalar(), *deployment_);
      if (!f.ok()) return Error(node, field, f.status().message());
      return f;
    }
    CLOVER_RETURN_IF_ERROR(CheckKeys(node, field, kFieldKeys));
    FieldData f;
    if (!node["name"]) return Error(node, field, "missing 'name'");
    CLOVER_ASSIGN_OR_RETURN(f.name,
                            Str(node["name"], absl::StrCat(field, ".name")));
    if (node["category"]) {
      CLOVER_ASSIGN_OR_RETURN(
          f.category, Str(node["category"], absl::StrCat(field, ".category")));
    }
    if (node["restricted"]) {
      bool b = false;
      if (!node["restricted"].IsScalar() ||
          !YAML::convert<bool>::decode(node["restricted"], b)) {
        return Error(node["restricted"], absl::StrCat(field, ".restricted"),
                     "expected true or false");
      }
      f.restricted = b;
    }
    return f;
  }

  absl::StatusOr<RequestSpec> Parse(const YAML::Node& node,
                                    bool fields_required) const {
    CLOVER_RETURN_IF_ERROR(CheckKeys(node, "", kRootKeys));
    RequestSpec spec;
    RequestData& r = spec.request;
    CLOVER_RETURN_IF_ERROR(Principal(node["principal"], r));
    if (!node["purpose"]) return Error(node, "purpose", "missing");
    CLOVER_ASSIGN_OR_RETURN(r.purpose, Str(node["purpose"], "purpose"));
    if (!node["action"]) return Error(node, "action", "missing");
    CLOVER_ASSIGN_OR_RETURN(r.action, Str(node["action"], "action"));
    auto actions = KnownActions();
    if (std::find(actions.begin(), actions.end(), r.action) == actions.end()) {
      return Error(node["action"], "action",
                   absl::StrCat("unknown action '", r.action, "'"));
    }
    if (const YAML::Node subject = node["subject"]; subject) {
      CLOVER_RETURN_IF_ERROR(CheckKeys(subject, "subject", kSubjectKeys));
      if (subject["jurisdiction"]) {
        CLOVER_ASSIGN_OR_RETURN(
            r.subject_jurisdiction,
            Str(subject["jurisdiction"], "subject.jurisdiction"));
      } else if (subject["country"]) {
        CLOVER_ASSIGN_OR_RETURN(std::string country,
                                Str(subject["country"], "subject.country"));
        r.subject_jurisdiction = JurisdictionOf(country);
        if (r.subject_jurisdiction.empty()) {
          return Error(subject["country"], "subject.country",
                       absl::StrCat("country '", country,
                                    "' is in no jurisdiction of the deployment "
                                    "(or no --config)"));
        }
      }
    }
    if (r.subject_jurisdiction.empty()) {
      return Error(node, "subject",
                   "missing (write subject: {jurisdiction: eu})");
    }
    if (node["destination"]) {
      CLOVER_ASSIGN_OR_RETURN(r.destination,
                              Str(node["destination"], "destination"));
    } else {
      r.destination =
          r.principal_jurisdiction;  // an interactive read goes where staff sit
    }
    if (r.destination.empty()) {
      return Error(node, "destination",
                   "missing, and the principal has no jurisdiction");
    }
    if (node["justification"]) {
      CLOVER_ASSIGN_OR_RETURN(r.approval_justification,
                              Str(node["justification"], "justification"));
    }
    if (const YAML::Node fields = node["fields"]; fields) {
      if (fields.IsSequence()) {
        for (size_t i = 0; i < fields.size(); ++i) {
          CLOVER_ASSIGN_OR_RETURN(
              FieldData f, Field(fields[i], absl::StrCat("fields[", i, "]")));
          spec.fields.push_back(std::move(f));
        }
      } else {
        CLOVER_ASSIGN_OR_RETURN(FieldData f, Field(fields, "fields"));
        spec.fields.push_back(std::move(f));
      }
    } else if (fields_required) {
      if (deployment_ == nullptr) return Error(node, "fields", "missing");
      for (const FieldSpec& f : deployment_->schema.fields) {
        spec.fields.push_back({f.name, f.category, f.restricted});
      }
    }
    return spec;
  }

 private:
  const std::string& filename_;
  const Deployment* deployment_;
};

}  // namespace

absl::StatusOr<FieldData> ResolveField(absl::string_view name,
                                       const Deployment& deployment) {
  for (const FieldSpec& f : deployment.schema.fields) {
    if (f.name == name) return FieldData{f.name, f.category, f.restricted};
  }
  return absl::InvalidArgumentError(
      absl::StrCat("no field '", name, "' in the schema"));
}

absl::StatusOr<RequestSpec> ParseRequestSpec(const YAML::Node& node,
                                             const std::string& filename,
                                             const Deployment* deployment,
                                             bool fields_required) {
  try {
    return SpecParser(filename, deployment).Parse(node, fields_required);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(filename, ": ", e.what()));
  }
}

absl::StatusOr<RequestSpec> ParseRequestText(absl::string_view text,
                                             const std::string& filename,
                                             const Deployment* deployment) {
  YAML::Node node;
  try {
    node = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return YamlSyntaxError(filename, e, "invalid JSON/YAML: ");
  }
  return ParseRequestSpec(node, filename, deployment, /*fields_required=*/true);
}

std::vector<std::string> RequestSpecKeys() {
  return ExpandKeySets(kRequestKeySets);
}

}  // namespace clover::policy
