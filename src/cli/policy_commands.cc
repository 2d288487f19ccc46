// `clover policy check|test|explain|sign`: lint and prove a bundle, run its
// test cases, explain a decision, sign a bundle with the auditor's note key.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/command.h"
#include "config/deployment.h"
#include "policy/analyzer.h"
#include "policy/bundle.h"
#include "policy/compiled_policy.h"
#include "policy/reference_evaluator.h"
#include "policy/request_spec.h"
#include "policy/signature.h"
#include "policy/test_cases.h"

namespace clover::cli {
namespace {

using policy::Bundle;

// Loads the deployment when `path` is set; nullopt otherwise.
absl::StatusOr<std::optional<Deployment>> MaybeLoadDeployment(
    const std::string& path) {
  if (path.empty()) return std::optional<Deployment>();
  absl::StatusOr<Deployment> d = LoadDeployment(path);
  if (!d.ok()) return d.status();
  return std::optional<Deployment>(*std::move(d));
}

const Deployment* Ptr(const std::optional<Deployment>& d) {
  return d ? &*d : nullptr;
}

std::string Where(const Bundle& bundle, policy::SourcePos pos) {
  return absl::StrCat(bundle.filename, ":", pos.line);
}

int Check(const std::string& file, const std::string& config,
          uint64_t max_states, bool quiet) {
  absl::StatusOr<Bundle> bundle = policy::LoadBundle(file);
  if (!bundle.ok()) return ReportError(bundle.status());
  absl::StatusOr<std::optional<Deployment>> deployment =
      MaybeLoadDeployment(config);
  if (!deployment.ok()) return ReportError(deployment.status());
  policy::AnalysisOptions options;
  options.deployment = Ptr(*deployment);
  options.max_states = max_states;
  const policy::AnalysisReport report = policy::Analyze(*bundle, options);
  std::cerr << report.Format(*bundle);
  if (!report.ok()) {
    std::cerr << "clover: " << file << ": policy check failed\n";
    return kExitBadInput;
  }
  if (options.deployment != nullptr &&
      options.deployment->policy.require_signed_policy) {
    absl::StatusOr<std::string> note =
        policy::ReadFileToString(policy::SignaturePath(file));
    absl::Status verified = note.ok()
                                ? policy::VerifyPolicySignature(
                                      bundle->sha256, *note,
                                      options.deployment->policy.auditor_keys)
                                : note.status();
    if (!verified.ok()) {
      std::cerr << "clover: " << policy::SignaturePath(file)
                << ": the deployment requires a signed policy: "
                << verified.message() << "\n";
      return kExitBadInput;
    }
  }
  if (!quiet) {
    std::cout << file << ": ok: " << bundle->rules.size() << " rules, "
              << bundle->invariants.size() << " invariants proven"
              << (options.deployment ? " over the deployment" : "") << " ("
              << report.states_visited << " states), sha256 " << bundle->sha256
              << "\n";
  }
  return kExitOk;
}

int Test(const std::string& file, const std::string& cases_file,
         std::string config) {
  absl::StatusOr<Bundle> bundle = policy::LoadBundle(file);
  if (!bundle.ok()) return ReportError(bundle.status());
  absl::StatusOr<std::string> text = policy::ReadFileToString(cases_file);
  if (!text.ok()) return ReportError(text.status());
  if (config.empty()) {
    absl::StatusOr<std::string> named =
        policy::CasesDeploymentPath(*text, cases_file);
    if (!named.ok()) return ReportError(named.status());
    config = *named;
  }
  absl::StatusOr<std::optional<Deployment>> deployment =
      MaybeLoadDeployment(config);
  if (!deployment.ok()) return ReportError(deployment.status());
  absl::StatusOr<std::vector<policy::PolicyCase>> cases =
      policy::ParseCases(*text, cases_file, Ptr(*deployment));
  if (!cases.ok()) return ReportError(cases.status());
  absl::StatusOr<std::shared_ptr<const policy::CompiledPolicy>> compiled =
      policy::CompiledPolicy::Compile(*bundle);
  if (!compiled.ok()) return ReportError(compiled.status());
  const policy::CaseReport report =
      policy::RunCases(**compiled, *cases, cases_file);
  std::cout << report.output;
  return report.failed == 0 ? kExitOk : kExitRuntime;
}

std::string DescribeCondition(const policy::Condition& c) {
  std::string values = absl::StrCat("[", absl::StrJoin(c.values, ", "), "]");
  return c.negated ? absl::StrCat("not in ", values)
                   : absl::StrCat("in ", values);
}

int Explain(const std::string& file, const std::string& request_arg,
            const std::string& config, bool verbose) {
  absl::StatusOr<Bundle> bundle = policy::LoadBundle(file);
  if (!bundle.ok()) return ReportError(bundle.status());
  absl::StatusOr<std::optional<Deployment>> deployment =
      MaybeLoadDeployment(config);
  if (!deployment.ok()) return ReportError(deployment.status());
  std::string text = request_arg;
  std::string source = "--request";
  if (!absl::StartsWith(absl::StripLeadingAsciiWhitespace(request_arg), "{")) {
    absl::StatusOr<std::string> contents =
        policy::ReadFileToString(request_arg);
    if (!contents.ok()) return ReportError(contents.status());
    text = *std::move(contents);
    source = request_arg;
  }
  absl::StatusOr<policy::RequestSpec> spec =
      policy::ParseRequestText(text, source, Ptr(*deployment));
  if (!spec.ok()) return ReportError(spec.status());
  absl::StatusOr<std::shared_ptr<const policy::CompiledPolicy>> compiled =
      policy::CompiledPolicy::Compile(*bundle);
  if (!compiled.ok()) return ReportError(compiled.status());

  const policy::RequestData& r = spec->request;
  std::cout << "policy " << file << " (sha256 " << bundle->sha256 << ")\n"
            << "request: principal " << r.principal_id << " (kind "
            << r.principal_kind << ", org " << r.principal_org << ", roles ["
            << absl::StrJoin(r.principal_roles, ", ") << "], country "
            << r.principal_country << ", jurisdiction "
            << r.principal_jurisdiction << "), purpose " << r.purpose
            << ", action " << r.action << ", subject.jurisdiction "
            << r.subject_jurisdiction << ", destination " << r.destination;
  if (!r.approval_justification.empty()) {
    std::cout << ", justification " << r.approval_justification;
  }
  std::cout << "\n";

  const policy::Request request = r.View();
  std::vector<policy::FieldRef> refs;
  for (const policy::FieldData& f : spec->fields) refs.push_back(f.View());
  std::vector<policy::FieldDecision> decisions(refs.size());
  (*compiled)->Decide(request, refs, decisions);
  for (size_t i = 0; i < refs.size(); ++i) {
    const policy::FieldDecision& d = decisions[i];
    const policy::ReferenceDecision ref =
        policy::EvaluateReference(*bundle, request, refs[i]);
    if (ref.effect != d.effect || ref.deciding_rule != d.deciding_rule) {
      return ReportError(absl::InternalError(absl::StrCat(
          "field ", refs[i].name,
          ": compiled and reference evaluators disagree (please report)")));
    }
    std::cout << "\n"
              << refs[i].name << " (" << refs[i].category
              << (refs[i].restricted ? ", restricted" : "")
              << "): " << ToString(d.effect);
    if (d.deciding_rule == policy::kDefaultDeny) {
      std::cout << ": no rule matched, so the default deny decides\n";
    } else {
      const policy::Rule& rule = bundle->rules[d.deciding_rule];
      std::cout << ": decided by rule '" << rule.id << "' ("
                << Where(*bundle, rule.pos) << ")";
      if (rule.effect == policy::Effect::kApproval) {
        std::cout << " [approver role " << rule.approval.approver_role
                  << ", grant at most "
                  << absl::FormatDuration(rule.approval.max_duration) << "]";
      } else if (rule.effect == policy::Effect::kAggregate) {
        std::cout << " [epsilon " << rule.aggregate.epsilon << " per query]";
      }
      std::cout << "\n";
    }
    for (size_t k = 0; k < bundle->rules.size(); ++k) {
      const policy::Rule& rule = bundle->rules[k];
      const bool matched = std::find(ref.matched.begin(), ref.matched.end(),
                                     static_cast<int>(k)) != ref.matched.end();
      if (!matched && !verbose) continue;
      std::cout << "  " << (matched ? "matched " : "no      ") << rule.id
                << " (" << ToString(rule.effect) << ", "
                << Where(*bundle, rule.pos) << ")";
      if (rule.when.empty()) std::cout << ": no conditions";
      for (const policy::Condition& c : rule.when) {
        const bool holds = policy::ConditionHolds(c, request, refs[i]);
        if (!matched && holds) continue;  // for a miss, show only what failed
        std::cout << (holds ? "\n      " : "\n      FAILS ")
                  << ToString(c.attribute) << " = "
                  << policy::DescribeValue(c.attribute, request, refs[i]) << " "
                  << DescribeCondition(c);
      }
      std::cout << "\n";
    }
  }
  return kExitOk;
}

// Writes `contents` to `path` through a temporary file and a rename, so that a
// reader never sees a half-written signature.
absl::Status WriteFileAtomically(const std::string& path,
                                 const std::string& contents) {
  const std::string tmp = absl::StrCat(path, ".tmp");
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return absl::InternalError(absl::StrCat(tmp, ": cannot write"));
    out << contents;
    out.flush();
    if (!out) return absl::InternalError(absl::StrCat(tmp, ": write failed"));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return absl::InternalError(absl::StrCat(path, ": ", ec.message()));
  return absl::OkStatus();
}

// Signs a principal directory: the auditor's source of truth for principals'
// attributes (policy/signature.h). With a deployment, the file is first loaded
// with that deployment's jurisdictions, so that a broken directory is not
// signed.
int SignPrincipals(const std::string& file, const std::string& key_file,
                   std::string out, const std::string& config) {
  absl::StatusOr<std::string> text = policy::ReadFileToString(file);
  if (!text.ok()) return ReportError(text.status());
  absl::StatusOr<std::optional<Deployment>> deployment =
      MaybeLoadDeployment(config);
  if (!deployment.ok()) return ReportError(deployment.status());
  if (deployment->has_value()) {
    // The directory must parse against the deployment's jurisdictions.
    absl::StatusOr<std::vector<Principal>> loaded =
        LoadPrincipalDirectory(file, (*deployment)->jurisdictions);
    if (!loaded.ok()) return ReportError(loaded.status());
  }
  absl::StatusOr<std::string> key = policy::ReadFileToString(key_file);
  if (!key.ok()) return ReportError(key.status());
  const std::string sha = policy::Sha256Hex(*text);
  absl::StatusOr<std::string> note =
      policy::SignPrincipals(sha, absl::StripAsciiWhitespace(*key));
  if (!note.ok()) {
    return ReportError(absl::InvalidArgumentError(
        absl::StrCat(key_file, ": ", note.status().message())));
  }
  if (out.empty()) out = policy::SignaturePath(file);
  if (absl::Status written = WriteFileAtomically(out, *note); !written.ok()) {
    return ReportError(written);
  }
  std::cout << "signed principal directory " << file << " (sha256 " << sha
            << ") -> " << out << "\n";
  return kExitOk;
}

int Sign(const std::string& file, const std::string& key_file, std::string out,
         const std::string& config) {
  absl::StatusOr<Bundle> bundle = policy::LoadBundle(file);
  if (!bundle.ok()) return ReportError(bundle.status());
  absl::StatusOr<std::optional<Deployment>> deployment =
      MaybeLoadDeployment(config);
  if (!deployment.ok()) return ReportError(deployment.status());
  // The auditor vouches for what it signs: a bundle that breaks an invariant is
  // not signed.
  if (absl::Status proven = policy::ProveInvariants(*bundle, Ptr(*deployment));
      !proven.ok()) {
    return ReportError(proven);
  }
  absl::StatusOr<std::string> key = policy::ReadFileToString(key_file);
  if (!key.ok()) return ReportError(key.status());
  absl::StatusOr<std::string> note =
      policy::SignPolicy(bundle->sha256, absl::StripAsciiWhitespace(*key));
  if (!note.ok()) {
    return ReportError(absl::InvalidArgumentError(
        absl::StrCat(key_file, ": ", note.status().message())));
  }
  if (out.empty()) out = policy::SignaturePath(file);
  if (absl::Status written = WriteFileAtomically(out, *note); !written.ok()) {
    return ReportError(written);
  }
  std::cout << "signed " << file << " (sha256 " << bundle->sha256 << ") -> "
            << out << "\n";
  return kExitOk;
}

}  // namespace

void RegisterPolicyCommands(CLI::App& app) {
  auto* group = app.add_subcommand("policy", "Policy bundle tools");
  group->require_subcommand(1);

  {
    auto* cmd = group->add_subcommand("check",
                                      "Parse a bundle, check its names, report "
                                      "shadowed rules, prove invariants");
    auto file = std::make_shared<std::string>();
    auto config = std::make_shared<std::string>();
    auto max_states =
        std::make_shared<uint64_t>(policy::AnalysisOptions().max_states);
    auto quiet = std::make_shared<bool>(false);
    cmd->add_option("file", *file, "Policy bundle (YAML)")->required();
    cmd->add_option("--config", *config,
                    "Deployment configuration to check names against");
    cmd->add_option("--max-states", *max_states, "Search budget per proof");
    cmd->add_flag("--quiet,-q", *quiet, "Print nothing on success");
    SetAction(cmd, [=] { return Check(*file, *config, *max_states, *quiet); });
  }
  {
    auto* cmd = group->add_subcommand("test", "Run policy test cases");
    auto file = std::make_shared<std::string>();
    auto cases = std::make_shared<std::string>();
    auto config = std::make_shared<std::string>();
    cmd->add_option("file", *file, "Policy bundle (YAML)")->required();
    cmd->add_option("--cases", *cases, "Test cases (YAML)")->required();
    cmd->add_option(
        "--config", *config,
        "Deployment configuration (default: the cases file's 'deployment')");
    SetAction(cmd, [=] { return Test(*file, *cases, *config); });
  }
  {
    auto* cmd = group->add_subcommand(
        "explain", "Show which rules decide a request and why");
    auto file = std::make_shared<std::string>();
    auto request = std::make_shared<std::string>();
    auto config = std::make_shared<std::string>();
    auto verbose = std::make_shared<bool>(false);
    cmd->add_option("file", *file, "Policy bundle (YAML)")->required();
    cmd->add_option("--request", *request,
                    "The request as JSON, or a JSON/YAML file")
        ->required();
    cmd->add_option("--config", *config,
                    "Deployment (resolves principal and field names)");
    cmd->add_flag("--verbose,-v", *verbose,
                  "Also show why each other rule did not match");
    SetAction(cmd, [=] { return Explain(*file, *request, *config, *verbose); });
  }
  {
    auto* cmd = group->add_subcommand(
        "sign",
        "Sign a bundle (or, with --principals, the principal directory) with "
        "the auditor's note key");
    auto file = std::make_shared<std::string>();
    auto key = std::make_shared<std::string>();
    auto out = std::make_shared<std::string>();
    auto config = std::make_shared<std::string>();
    auto principals = std::make_shared<bool>(false);
    cmd->add_option("file", *file, "Policy bundle (YAML)")->required();
    cmd->add_flag("--principals", *principals,
                  "FILE is the principal directory (principals.yaml), not a "
                  "bundle");
    cmd->add_option("--key", *key,
                    "Auditor note signing key file (PRIVATE+KEY+...)")
        ->required();
    cmd->add_option("--out", *out, "Signature file (default: FILE.sig)");
    cmd->add_option("--config", *config,
                    "Deployment to prove the invariants over first");
    SetAction(cmd, [=] {
      return *principals ? SignPrincipals(*file, *key, *out, *config)
                         : Sign(*file, *key, *out, *config);
    });
  }
}

}  // namespace clover::cli
