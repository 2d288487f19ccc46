// docs/configuration.md documents exactly the keys the loaders accept: every
// key a loader accepts is in the reference, and every key the reference lists
// is accepted by a loader (src/core/config_keys.h). Also the CLOVER_*
// environment variables the code reads and the policy condition attributes.
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "audit/audit_config.h"
#include "config/deployment.h"
#include "core/test_temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "migrate/mapping.h"
#include "policy/attribute.h"
#include "policy/bundle.h"
#include "policy/request_spec.h"
#include "policy/test_cases.h"
#include "release/release_service.h"

namespace clover {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string ReadText(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

fs::path SourceDir() { return fs::path(CLOVER_SOURCE_DIR); }

// The keys of each kind of file the reference documents: a line
// "<!-- keys: KIND -->" starts a kind; the first cell of each table row after
// it ("| `a.b` | ..."), in backquotes, is a key of that kind.
std::map<std::string, std::set<std::string>> DocumentedKeys(
    absl::string_view markdown) {
  std::map<std::string, std::set<std::string>> out;
  std::string kind;
  for (absl::string_view line : absl::StrSplit(markdown, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (absl::ConsumePrefix(&line, "<!-- keys:")) {
      kind = std::string(absl::StripAsciiWhitespace(
          absl::StripSuffix(absl::StripAsciiWhitespace(line), "-->")));
      out[kind];
      continue;
    }
    if (kind.empty() || !absl::ConsumePrefix(&line, "|")) continue;
    absl::string_view cell = line.substr(0, line.find('|'));
    cell = absl::StripAsciiWhitespace(cell);
    if (cell.size() < 3 || cell.front() != '`' || cell.back() != '`') continue;
    out[kind].insert(std::string(cell.substr(1, cell.size() - 2)));
  }
  return out;
}

// The differences between what a loader accepts and what is documented:
// "undocumented: K" for an accepted key the reference lacks, "not accepted: K"
// for a documented key no loader accepts (a map's own row, e.g. `regions.*`
// above `regions.*.dcs`, is allowed when keys below it are accepted).
std::vector<std::string> Compare(const std::vector<std::string>& accepted,
                                 const std::set<std::string>& documented) {
  std::vector<std::string> out;
  std::set<std::string> acc(accepted.begin(), accepted.end());
  for (const std::string& k : acc) {
    if (!documented.contains(k)) out.push_back("undocumented: " + k);
  }
  for (const std::string& k : documented) {
    if (acc.contains(k)) continue;
    bool parent = false;
    for (const std::string& a : acc) {
      parent = parent || absl::StartsWith(a, k + ".") ||
               absl::StartsWith(a, k + "[]");
    }
    if (!parent) out.push_back("not accepted: " + k);
  }
  return out;
}

std::map<std::string, std::vector<std::string>> AcceptedKeys() {
  return {
      {"deployment", DeploymentConfigKeys()},
      {"auditor", audit::AuditorConfigKeys()},
      {"witness", audit::WitnessConfigKeys()},
      {"key-release", release::ServiceConfigKeys()},
      {"policy-bundle", policy::BundleKeys()},
      {"policy-cases", policy::PolicyCaseKeys()},
      {"policy-request", policy::RequestSpecKeys()},
      {"legacy-mapping", migrate::MappingConfigKeys()},
  };
}

const std::string& Reference() {
  static const auto* text =
      new std::string(ReadText(SourceDir() / "docs/configuration.md"));
  return *text;
}

TEST(ConfigReferenceTest, DocumentsExactlyTheKeysEachLoaderAccepts) {
  ASSERT_FALSE(Reference().empty()) << "docs/configuration.md missing";
  std::map<std::string, std::set<std::string>> documented =
      DocumentedKeys(Reference());
  for (const auto& [kind, keys] : AcceptedKeys()) {
    ASSERT_FALSE(keys.empty()) << kind;
    ASSERT_TRUE(documented.contains(kind))
        << "no <!-- keys: " << kind << " --> section";
    EXPECT_THAT(Compare(keys, documented[kind]), IsEmpty()) << kind;
  }
  std::set<std::string> kinds = {"env"};
  for (const auto& [kind, keys] : AcceptedKeys()) kinds.insert(kind);
  for (const auto& [kind, keys] : documented) {
    EXPECT_TRUE(kinds.contains(kind)) << "unknown section kind " << kind;
  }
}

TEST(ConfigReferenceTest, ComparisonFailsOnAMissingOrAnExtraKey) {
  const std::vector<std::string> accepted = DeploymentConfigKeys();
  std::set<std::string> doc(accepted.begin(), accepted.end());
  EXPECT_THAT(Compare(accepted, doc), IsEmpty());
  // A reference missing one key (as a table without its row would be).
  std::string md = "<!-- keys: deployment -->\n| key | type |\n|---|---|\n";
  for (const std::string& k : accepted) {
    if (k != "node.tls.client_ca_file")
      absl::StrAppend(&md, "| `", k, "` | string |\n");
  }
  EXPECT_THAT(Compare(accepted, DocumentedKeys(md)["deployment"]),
              ElementsAre("undocumented: node.tls.client_ca_file"));
  // A reference listing a key no loader accepts.
  absl::StrAppend(&md, "| `node.tls.client_ca_file` | string |\n",
                  "| `node.tls.min_version` | string |\n");
  EXPECT_THAT(Compare(accepted, DocumentedKeys(md)["deployment"]),
              ElementsAre("not accepted: node.tls.min_version"));
  // A map's own row is fine; a made-up map is not.
  EXPECT_THAT(
      Compare({"regions.*.dcs.*.country"},
              {"regions.*.dcs.*.country", "regions.*.dcs", "regions.*.zones"}),
      ElementsAre("not accepted: regions.*.zones"));
}

// The environment variables read by non-test code (std::getenv("NAME")), all
// documented in the `env` section, and nothing documented that is not read.
TEST(ConfigReferenceTest, DocumentsEveryEnvironmentVariableTheCodeReads) {
  std::set<std::string> read;
  const std::regex getenv_re(R"re(getenv\("([A-Z0-9_]+)"\))re");
  for (const auto& e : fs::recursive_directory_iterator(SourceDir() / "src")) {
    const std::string name = e.path().filename().string();
    if (!e.is_regular_file() || absl::StrContains(name, "test") ||
        !(absl::EndsWith(name, ".cc") || absl::EndsWith(name, ".h"))) {
      continue;
    }
    const std::string text = ReadText(e.path());
    for (std::sregex_iterator it(text.begin(), text.end(), getenv_re), end;
         it != end; ++it) {
      read.insert((*it)[1].str());
    }
  }
  ASSERT_TRUE(read.contains("CLOVER_LOG_LEVEL"));
  std::set<std::string> documented = DocumentedKeys(Reference())["env"];
  for (const std::string& v : read) {
    EXPECT_TRUE(documented.contains(v)) << "undocumented variable " << v;
  }
  for (const std::string& v : documented) {
    EXPECT_TRUE(read.contains(v)) << "documented but never read: " << v;
  }
}

// A `when` condition's keys are attribute names (policy/attribute.h).
TEST(ConfigReferenceTest, DocumentsEveryPolicyConditionAttribute) {
  for (int i = 0; i < policy::kAttributeCount; ++i) {
    const std::string name(policy::ToString(static_cast<policy::Attribute>(i)));
    EXPECT_THAT(Reference(), HasSubstr(absl::StrCat("`", name, "`")));
  }
}

// The key-release loader refuses an unknown key in each of its maps with
// file:line:col and the field (it ignored them in tls, log and listen).
TEST(ConfigReferenceTest, KeyReleaseLoaderRefusesUnknownKeys) {
  test::TempDir tmp("config-reference");
  const fs::path dir = tmp.path();
  const std::string base =
      "listen: {host: 127.0.0.1, port: 0}\n"
      "tls: {cert_file: c.pem, key_file: k.pem, client_ca_file: ca.pem}\n"
      "data_dir: data\n"
      "log: {origin: x/releases, key_file: log.key}\n"
      "regions:\n  eu: {key_file: eu.key, nodes: [CN=n]}\n";
  ASSERT_TRUE(release::LoadServiceConfig([&] {
                std::ofstream(dir / "ok.yaml") << base;
                return (dir / "ok.yaml").string();
              }())
                  .ok());
  const std::pair<std::string, std::string> cases[] = {
      {"tls: {cert_file: c.pem, key_file: k.pem, client_ca_file: ca.pem, "
       "min_version: '1.3'}",
       ":2:66: field 'tls.min_version': unknown field"},
      {"log: {origin: x/releases, key_file: log.key, witness: y}",
       ":4:46: field 'log.witness': unknown field"},
      {"listen: {host: 127.0.0.1, port: 0, backlog: 5}",
       ":1:36: field 'listen.backlog': unknown field"},
  };
  for (const auto& [line, want] : cases) {
    std::string text = base;
    const std::string key = line.substr(0, line.find(':') + 1);
    const size_t at = text.find(key);
    text.replace(at, text.find('\n', at) - at, line);
    const fs::path f = dir / "bad.yaml";
    std::ofstream(f) << text;
    absl::StatusOr<release::ServiceConfig> c =
        release::LoadServiceConfig(f.string());
    ASSERT_FALSE(c.ok()) << line;
    EXPECT_EQ(std::string(c.status().message()), f.string() + want);
  }
}

}  // namespace
}  // namespace clover
