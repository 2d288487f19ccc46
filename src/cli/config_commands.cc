// `clover config check FILE`: validate any configuration file Clover reads
// (docs/configuration.md), recognised by its top-level keys.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "audit/audit_config.h"
#include "cli/command.h"
#include "config/deployment.h"
#include "core/yaml_error.h"
#include "policy/bundle.h"
#include "policy/test_cases.h"
#include "release/release_service.h"
#include "yaml-cpp/yaml.h"

namespace clover::cli {
namespace {

namespace fs = std::filesystem;

// The deployment sections a file of their own may hold (a deployment names
// it, e.g. `regions: regions.yaml`).
constexpr const char* kSections[] = {
    "jurisdictions", "regions", "schema", "principals", "purposes", "storage",
    "log",           "keys",    "policy", "privacy",    "approvals"};

bool Has(const YAML::Node& root, const char* key) {
  return root.IsMap() && root[key];
}

// The deployments in `file`'s directory that include `file` as a section:
// {deployment path, section name} each, in name order; empty when none does.
std::vector<std::pair<std::string, std::string>> IncludingDeployments(
    const std::string& file) {
  std::vector<std::pair<std::string, std::string>> out;
  std::error_code ec;
  const fs::path target = fs::weakly_canonical(file, ec);
  fs::path dir = fs::path(file).parent_path();
  if (dir.empty()) dir = ".";
  std::vector<fs::path> candidates;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.path().extension() == ".yaml" && e.path() != fs::path(file))
      candidates.push_back(e.path());
  }
  std::sort(candidates.begin(), candidates.end());
  for (const fs::path& c : candidates) {
    YAML::Node root;
    try {
      root = YAML::LoadFile(c.string());
    } catch (const YAML::Exception&) {
      continue;
    }
    if (!Has(root, "jurisdictions") || !Has(root, "regions")) continue;
    for (const char* s : kSections) {
      const YAML::Node v = root[s];
      if (!v || !v.IsScalar()) continue;
      if (fs::weakly_canonical(dir / v.Scalar(), ec) == target) {
        out.emplace_back(c.string(), s);
        break;
      }
    }
  }
  return out;
}

int CheckDeployment(const std::string& file, bool quiet) {
  auto deployment = LoadDeployment(file);
  if (!deployment.ok()) return ReportError(deployment.status());
  if (!quiet) std::cout << DescribeTopology(*deployment);
  return kExitOk;
}

int Check(const std::string& file, bool quiet) {
  // An unreadable file or invalid YAML: the deployment loader's message.
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) return CheckDeployment(file, quiet);
  absl::StatusOr<YAML::Node> root = LoadYamlFile(file, "configuration");
  if (!root.ok()) return CheckDeployment(file, quiet);
  auto ok = [&](absl::string_view what) {
    if (!quiet) std::cout << file << ": valid " << what << "\n";
    return kExitOk;
  };
  if (Has(*root, "jurisdictions") || Has(*root, "node")) {
    return CheckDeployment(file, quiet);
  }
  if (Has(*root, "auditor")) {
    auto c = audit::LoadAuditorConfig(file);
    if (!c.ok()) return ReportError(c.status());
    return ok("auditor configuration");
  }
  if (Has(*root, "witness")) {
    auto c = audit::LoadWitnessConfig(file);
    if (!c.ok()) return ReportError(c.status());
    return ok("witness configuration");
  }
  if (Has(*root, "tls") && Has(*root, "regions")) {
    auto c = release::LoadServiceConfig(file);
    if (!c.ok()) return ReportError(c.status());
    return ok("key-release service configuration");
  }
  if (Has(*root, "version") || Has(*root, "rules")) {
    auto b = policy::LoadBundle(file);
    if (!b.ok()) return ReportError(b.status());
    return ok(absl::StrCat("policy bundle (", b->rules.size(),
                           " rules; `clover policy check` proves it)"));
  }
  if (Has(*root, "cases")) {
    std::ifstream in(file, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    absl::StatusOr<std::string> dpath =
        policy::CasesDeploymentPath(text.str(), file);
    if (!dpath.ok()) return ReportError(dpath.status());
    std::optional<Deployment> d;
    if (!dpath->empty()) {
      auto loaded = LoadDeployment(*dpath);
      if (!loaded.ok()) return ReportError(loaded.status());
      d = *std::move(loaded);
    }
    auto cases = policy::ParseCases(text.str(), file, d ? &*d : nullptr);
    if (!cases.ok()) return ReportError(cases.status());
    return ok(absl::StrCat("policy test cases (", cases->size(), " cases)"));
  }
  // A section file is checked as part of the deployment that includes it:
  // regions and principals mean nothing without their jurisdictions.
  // Every deployment that includes it must accept it.
  const auto including = IncludingDeployments(file);
  for (const auto& [deployment, section] : including) {
    if (!quiet) {
      std::cout << file << ": the `" << section << "` section of " << deployment
                << "\n";
    }
    if (int rc = CheckDeployment(deployment, quiet); rc != kExitOk) return rc;
  }
  if (!including.empty()) return kExitOk;
  return ReportError(absl::InvalidArgumentError(absl::StrCat(
      file,
      ": not a configuration Clover reads (a deployment or node, auditor, "
      "witness, key-release, policy bundle or policy cases file), nor a "
      "section file a deployment in its directory includes")));
}

}  // namespace

void RegisterConfigCommands(CLI::App& app) {
  auto* config = app.add_subcommand("config", "Configuration tools");
  config->require_subcommand(1);
  auto* check = config->add_subcommand(
      "check",
      "Validate a configuration file (deployment or node, auditor, witness, "
      "key-release, policy bundle, policy cases, or a section file such as "
      "regions.yaml, checked within the deployment that includes it); for a "
      "deployment print its topology");
  auto file = std::make_shared<std::string>();
  auto quiet = std::make_shared<bool>(false);
  check->add_option("file", *file, "Configuration file (YAML)")->required();
  check->add_flag("--quiet,-q", *quiet, "Print nothing on success");
  SetAction(check, [file, quiet] { return Check(*file, *quiet); });
}

}  // namespace clover::cli
