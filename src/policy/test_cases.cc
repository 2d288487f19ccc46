#include "policy/test_cases.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/config_keys.h"
#include "core/status_macros.h"
#include "core/yaml_error.h"
#include "policy/reference_evaluator.h"
#include "policy/request_spec.h"
#include "yaml-cpp/yaml.h"

namespace clover::policy {
namespace {

// The keys a cases file accepts (PolicyCaseKeys()); `request` holds a
// request spec (RequestSpecKeys()) and `expect` maps field names to effects.
constexpr absl::string_view kRootKeysNames[] = {"deployment", "cases"};
constexpr KeySet kRootKeys{"", kRootKeysNames};
constexpr absl::string_view kCaseKeysNames[] = {"name", "request", "expect"};
constexpr KeySet kCaseKeys{"cases[]", kCaseKeysNames};
constexpr const KeySet* kCaseKeySets[] = {&kRootKeys, &kCaseKeys};

absl::Status ErrorAt(const std::string& filename, const YAML::Node& node,
                     absl::string_view field, absl::string_view message) {
  return YamlError(filename, node, field, message);
}

absl::StatusOr<YAML::Node> Load(absl::string_view text,
                                const std::string& filename) {
  try {
    return YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return YamlSyntaxError(filename, e, "invalid YAML: ");
  }
}

absl::StatusOr<std::vector<PolicyCase>> ParseCasesNode(
    const YAML::Node& root, const std::string& filename,
    const Deployment* deployment) {
  if (!root.IsMap())
    return ErrorAt(filename, root, "", "expected a map with 'cases'");
  for (const auto& kv : root) {
    const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "";
    if (!kRootKeys.Allows(key)) {
      return ErrorAt(filename, kv.first, key,
                     "unknown key (expected deployment, cases)");
    }
  }
  const YAML::Node cases = root["cases"];
  if (!cases || !cases.IsSequence() || cases.size() == 0) {
    return ErrorAt(filename, root, "cases",
                   "expected a non-empty list of cases");
  }
  std::vector<PolicyCase> out;
  for (size_t i = 0; i < cases.size(); ++i) {
    const YAML::Node c = cases[i];
    const std::string field = absl::StrCat("cases[", i, "]");
    if (!c.IsMap()) return ErrorAt(filename, c, field, "expected a map");
    for (const auto& kv : c) {
      const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "";
      if (!kCaseKeys.Allows(key)) {
        return ErrorAt(filename, kv.first, absl::StrCat(field, ".", key),
                       "unknown key (expected name, request, expect)");
      }
    }
    PolicyCase pc;
    pc.pos = {c.Mark().line + 1, c.Mark().column + 1};
    pc.name = c["name"] && c["name"].IsScalar() ? c["name"].Scalar() : field;
    if (!c["request"])
      return ErrorAt(filename, c, absl::StrCat(field, ".request"), "missing");
    const YAML::Node expect = c["expect"];
    if (!expect || !expect.IsMap() || expect.size() == 0) {
      return ErrorAt(filename, c, absl::StrCat(field, ".expect"),
                     "expected a map of field: effect");
    }
    CLOVER_ASSIGN_OR_RETURN(pc.spec,
                            ParseRequestSpec(c["request"], filename, deployment,
                                             /*fields_required=*/false));
    const bool explicit_fields = !pc.spec.fields.empty();
    for (const auto& kv : expect) {
      const std::string name = kv.first.IsScalar() ? kv.first.Scalar() : "";
      const std::string f = absl::StrCat(field, ".expect.", name);
      std::optional<Effect> e =
          kv.second.IsScalar() ? ParseEffect(kv.second.Scalar()) : std::nullopt;
      if (!e)
        return ErrorAt(filename, kv.second, f,
                       "expected an effect (allow ... deny)");
      if (explicit_fields) {
        auto it =
            std::find_if(pc.spec.fields.begin(), pc.spec.fields.end(),
                         [&](const FieldData& fd) { return fd.name == name; });
        if (it == pc.spec.fields.end()) {
          return ErrorAt(filename, kv.first, f,
                         "not among the request's fields");
        }
        continue;
      }
      if (deployment == nullptr) {
        return ErrorAt(
            filename, kv.first, f,
            "field names need a deployment (--config or 'deployment:')");
      }
      absl::StatusOr<FieldData> fd = ResolveField(name, *deployment);
      if (!fd.ok())
        return ErrorAt(filename, kv.first, f, fd.status().message());
      pc.spec.fields.push_back(*std::move(fd));
      pc.expected.push_back(*e);
    }
    if (explicit_fields) {
      // Expectations follow the request's field order; every field needs one.
      for (const FieldData& fd : pc.spec.fields) {
        const YAML::Node v = expect[fd.name];
        if (!v) {
          return ErrorAt(
              filename, expect, absl::StrCat(field, ".expect"),
              absl::StrCat("no expected effect for field '", fd.name, "'"));
        }
        pc.expected.push_back(*ParseEffect(v.Scalar()));
      }
    }
    out.push_back(std::move(pc));
  }
  return out;
}

}  // namespace

absl::StatusOr<std::string> CasesDeploymentPath(absl::string_view text,
                                                const std::string& filename) {
  CLOVER_ASSIGN_OR_RETURN(YAML::Node root, Load(text, filename));
  if (!root.IsMap() || !root["deployment"]) return std::string();
  if (!root["deployment"].IsScalar()) {
    return ErrorAt(filename, root["deployment"], "deployment",
                   "expected a file name");
  }
  std::filesystem::path p(root["deployment"].Scalar());
  if (p.is_relative()) p = std::filesystem::path(filename).parent_path() / p;
  return p.lexically_normal().string();
}

absl::StatusOr<std::vector<PolicyCase>> ParseCases(
    absl::string_view text, const std::string& filename,
    const Deployment* deployment) {
  CLOVER_ASSIGN_OR_RETURN(YAML::Node root, Load(text, filename));
  try {
    return ParseCasesNode(root, filename, deployment);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(filename, ": ", e.what()));
  }
}

CaseReport RunCases(const CompiledPolicy& policy,
                    const std::vector<PolicyCase>& cases,
                    const std::string& cases_filename) {
  CaseReport report;
  std::vector<FieldRef> refs;
  std::vector<FieldDecision> decisions;
  auto rule_name = [&](int index) {
    return index == kDefaultDeny
               ? std::string("default deny")
               : absl::StrCat("rule '", policy.rule(index).id, "'");
  };
  for (const PolicyCase& c : cases) {
    const Request request = c.spec.request.View();
    refs.clear();
    for (const FieldData& f : c.spec.fields) refs.push_back(f.View());
    decisions.assign(refs.size(), FieldDecision{});
    policy.Decide(request, refs, decisions);
    std::string diff;
    for (size_t i = 0; i < refs.size(); ++i) {
      const ReferenceDecision ref =
          EvaluateReference(policy.bundle(), request, refs[i]);
      if (ref.effect != decisions[i].effect ||
          ref.deciding_rule != decisions[i].deciding_rule) {
        absl::StrAppend(
            &diff, "    ", refs[i].name,
            ": INTERNAL ERROR: compiled and reference evaluators disagree\n");
      }
      if (decisions[i].effect == c.expected[i]) continue;
      absl::StrAppendFormat(
          &diff, "    %-18s expected %-13s got %-13s (decided by %s)\n",
          std::string(refs[i].name), std::string(ToString(c.expected[i])),
          std::string(ToString(decisions[i].effect)),
          rule_name(decisions[i].deciding_rule));
    }
    if (diff.empty()) {
      ++report.passed;
      absl::StrAppend(&report.output, "ok    ", c.name, "\n");
    } else {
      ++report.failed;
      absl::StrAppend(&report.output, "FAIL  ", c.name, " (", cases_filename,
                      ":", c.pos.line, ")\n", diff);
    }
  }
  absl::StrAppend(&report.output, report.passed, " passed, ", report.failed,
                  " failed\n");
  return report;
}

std::vector<std::string> PolicyCaseKeys() {
  std::vector<std::string> keys = ExpandKeySets(kCaseKeySets);
  for (const std::string& k : RequestSpecKeys())
    keys.push_back(absl::StrCat("cases[].request.", k));
  return keys;
}

}  // namespace clover::policy
