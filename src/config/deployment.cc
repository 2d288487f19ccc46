#include "config/deployment.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/config_keys.h"
#include "core/countries.h"
#include "core/status_macros.h"
#include "core/yaml_error.h"
#include "yaml-cpp/yaml.h"

namespace clover {
namespace {

namespace fs = std::filesystem;

// Where a YAML node came from, so errors can name file:line:column.
struct Source {
  std::string file;  // as the user named it
  fs::path dir;      // directory relative paths resolve against
};

absl::Status ErrorAt(const Source& src, const YAML::Mark& mark,
                     absl::string_view field, absl::string_view message) {
  return YamlError(src.file, mark, field, message);
}

absl::Status ErrorAt(const Source& src, const YAML::Node& node,
                     absl::string_view field, absl::string_view message) {
  return YamlError(src.file, node.Mark(), field, message);
}

std::string Join(absl::string_view parent, absl::string_view child) {
  return parent.empty() ? std::string(child) : absl::StrCat(parent, ".", child);
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  // Configuration files are small regular files; anything else (a device, a
  // FIFO, a huge file) is refused rather than read without bound.
  constexpr uintmax_t kMaxConfigBytes = 16 << 20;
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    return absl::NotFoundError(
        absl::StrCat(path, ": cannot read file (not a regular file)"));
  }
  if (fs::file_size(path, ec) > kMaxConfigBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": larger than 16 MiB"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot read file"));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

absl::StatusOr<YAML::Node> ParseYaml(absl::string_view text,
                                     const Source& src) {
  try {
    return YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return ErrorAt(src, e.mark, "", absl::StrCat("invalid YAML: ", e.msg));
  }
}

// A YAML map as an ordered list of (key, key node, value), refusing duplicate
// and non-scalar keys.
struct Entry {
  std::string key;
  YAML::Node key_node;
  YAML::Node value;
};

absl::StatusOr<std::vector<Entry>> MapEntries(const Source& src,
                                              const YAML::Node& node,
                                              absl::string_view path) {
  if (!node.IsMap()) return ErrorAt(src, node, path, "expected a mapping");
  std::vector<Entry> out;
  absl::flat_hash_set<std::string> seen;
  for (const auto& kv : node) {
    if (!kv.first.IsScalar())
      return ErrorAt(src, kv.first, path, "keys must be plain strings");
    std::string key = kv.first.Scalar();
    if (!seen.insert(key).second) {
      return ErrorAt(src, kv.first, Join(path, key), "duplicate key");
    }
    out.push_back({key, kv.first, kv.second});
  }
  return out;
}

// Every map the loader reads and the keys it accepts (DeploymentConfigKeys()
// lists them for docs/configuration.md): a new key goes here, never in an
// ad-hoc list.
constexpr absl::string_view kRootKeysNames[] = {"node",
                                                "jurisdictions",
                                                "regions",
                                                "schema",
                                                "principals",
                                                "storage",
                                                "log",
                                                "keys",
                                                "policy",
                                                "privacy",
                                                "purposes",
                                                "approvals",
                                                "identity_providers"};
constexpr KeySet kRootKeys{"", kRootKeysNames};
constexpr absl::string_view kJurisdictionKeysNames[] = {"name", "countries"};
constexpr KeySet kJurisdictionKeys{"jurisdictions.*", kJurisdictionKeysNames};
constexpr absl::string_view kRegionKeysNames[] = {"jurisdictions", "dcs"};
constexpr KeySet kRegionKeys{"regions.*", kRegionKeysNames};
constexpr absl::string_view kDcKeysNames[] = {"country", "endpoint",
                                              "db_hosts"};
constexpr KeySet kDcKeys{"regions.*.dcs.*", kDcKeysNames};
constexpr absl::string_view kSchemaKeysNames[] = {"fields"};
constexpr KeySet kSchemaKeys{"schema", kSchemaKeysNames};
constexpr absl::string_view kFieldKeysNames[] = {"category", "restricted",
                                                 "format", "method"};
constexpr KeySet kFieldKeys{"schema.fields.*", kFieldKeysNames};
constexpr absl::string_view kPrincipalKeysNames[] = {
    "id", "kind", "org", "roles", "country", "credentials"};
constexpr KeySet kPrincipalKeys{"principals[]", kPrincipalKeysNames};
constexpr absl::string_view kCredentialKeysNames[] = {"api_key_sha256",
                                                      "cert_subject", "jwt"};
constexpr KeySet kCredentialKeys{"principals[].credentials",
                                 kCredentialKeysNames};
constexpr absl::string_view kJwtKeysNames[] = {
    "issuer", "audience", "public_key_file", "max_lifetime_seconds"};
constexpr KeySet kJwtKeys{"principals[].credentials.jwt", kJwtKeysNames};
// A JWT credential naming an identity provider takes only these instead.
constexpr absl::string_view kJwtProviderKeysNames[] = {"provider", "subject"};
constexpr KeySet kJwtProviderKeys{"principals[].credentials.jwt",
                                  kJwtProviderKeysNames};
constexpr absl::string_view kIdentityProviderKeysNames[] = {
    "id",
    "issuer",
    "audience",
    "jwks_url",
    "jwks_file",
    "ca_file",
    "allow_insecure_http",
    "claim",
    "refresh_seconds",
    "min_refresh_interval_seconds",
    "max_staleness_seconds",
    "fetch_timeout_seconds",
    "leeway_seconds",
    "max_lifetime_seconds"};
constexpr KeySet kIdentityProviderKeys{"identity_providers[]",
                                       kIdentityProviderKeysNames};
constexpr absl::string_view kStorageKeysNames[] = {
    "driver", "postgres_dsn", "postgres_retry_seconds", "patroni_urls"};
constexpr KeySet kStorageKeys{"storage", kStorageKeysNames};
constexpr absl::string_view kNodeKeysNames[] = {
    "id", "region", "dc", "listen", "data_dir", "tls", "max_connections"};
constexpr KeySet kNodeKeys{"node", kNodeKeysNames};
constexpr absl::string_view kTlsKeysNames[] = {"cert_file", "key_file",
                                               "client_ca_file"};
constexpr KeySet kTlsKeys{"node.tls", kTlsKeysNames};
constexpr absl::string_view kLogKeysNames[] = {
    "origin", "key_file", "max_batch_entries", "max_batch_wait_ms",
    "witnesses"};
constexpr KeySet kLogKeys{"log", kLogKeysNames};
constexpr absl::string_view kWitnessKeysNames[] = {"url", "verifier_key"};
constexpr KeySet kWitnessKeys{"log.witnesses[]", kWitnessKeysNames};
constexpr absl::string_view kKeysKeysNames[] = {"kek_file",
                                                "kek",
                                                "pseudonym_key_file",
                                                "retired_kek_files",
                                                "purge_interval_s",
                                                "pseudonym_overlap_s",
                                                "release"};
constexpr KeySet kKeysKeys{"keys", kKeysKeysNames};
constexpr absl::string_view kReleaseKeysNames[] = {
    "url",         "ca_file",       "cert_file",  "key_file",      "public_key",
    "cache_ttl_s", "cache_entries", "timeout_ms", "status_poll_ms"};
constexpr KeySet kReleaseKeys{"keys.release", kReleaseKeysNames};
constexpr absl::string_view kKekKeysNames[] = {"pkcs11"};
constexpr KeySet kKekKeys{"keys.kek", kKekKeysNames};
constexpr absl::string_view kPkcs11KeysNames[] = {"module", "token", "label",
                                                  "pin_file", "retired_labels"};
constexpr KeySet kPkcs11Keys{"keys.kek.pkcs11", kPkcs11KeysNames};
constexpr absl::string_view kPolicyKeysNames[] = {
    "file", "require_signed_policy", "require_signed_principals",
    "auditor_keys"};
constexpr KeySet kPolicyKeys{"policy", kPolicyKeysNames};
constexpr absl::string_view kPrivacyKeysNames[] = {"daily_epsilon_budget",
                                                   "min_cohort"};
constexpr KeySet kPrivacyKeys{"privacy", kPrivacyKeysNames};
constexpr absl::string_view kApprovalsKeysNames[] = {"attestation_keys"};
constexpr KeySet kApprovalsKeys{"approvals", kApprovalsKeysNames};
constexpr const KeySet* kAllKeySets[] = {&kRootKeys,
                                         &kJurisdictionKeys,
                                         &kRegionKeys,
                                         &kDcKeys,
                                         &kSchemaKeys,
                                         &kFieldKeys,
                                         &kPrincipalKeys,
                                         &kCredentialKeys,
                                         &kJwtKeys,
                                         &kStorageKeys,
                                         &kNodeKeys,
                                         &kTlsKeys,
                                         &kLogKeys,
                                         &kWitnessKeys,
                                         &kKeysKeys,
                                         &kReleaseKeys,
                                         &kKekKeys,
                                         &kPkcs11Keys,
                                         &kPolicyKeys,
                                         &kPrivacyKeys,
                                         &kApprovalsKeys,
                                         &kJwtProviderKeys,
                                         &kIdentityProviderKeys};

absl::Status CheckKeys(const Source& src, const std::vector<Entry>& entries,
                       absl::string_view path, const KeySet& allowed) {
  for (const auto& e : entries) {
    if (!allowed.Allows(e.key)) {
      return ErrorAt(src, e.key_node, Join(path, e.key),
                     absl::StrCat("unknown key (allowed: ",
                                  absl::StrJoin(allowed.keys, ", "), ")"));
    }
  }
  return absl::OkStatus();
}

const Entry* Find(const std::vector<Entry>& entries, absl::string_view key) {
  for (const auto& e : entries) {
    if (e.key == key) return &e;
  }
  return nullptr;
}

absl::StatusOr<std::string> ScalarOf(const Source& src, const YAML::Node& node,
                                     absl::string_view path) {
  if (!node.IsScalar() || node.Scalar().empty()) {
    return ErrorAt(src, node, path, "expected a non-empty string");
  }
  return node.Scalar();
}

// Required (or optional, returning `fallback`) string member.
absl::StatusOr<std::string> StringField(const Source& src,
                                        const YAML::Node& map,
                                        const std::vector<Entry>& entries,
                                        absl::string_view path,
                                        absl::string_view key, bool required,
                                        std::string fallback = "") {
  const Entry* e = Find(entries, key);
  if (e == nullptr) {
    if (required)
      return ErrorAt(src, map, Join(path, key), "missing required field");
    return fallback;
  }
  return ScalarOf(src, e->value, Join(path, key));
}

absl::StatusOr<bool> BoolField(const Source& src,
                               const std::vector<Entry>& entries,
                               absl::string_view path, absl::string_view key,
                               bool fallback) {
  const Entry* e = Find(entries, key);
  if (e == nullptr) return fallback;
  if (e->value.IsScalar()) {
    std::string v = e->value.Scalar();
    if (v == "true") return true;
    if (v == "false") return false;
  }
  return ErrorAt(src, e->value, Join(path, key), "expected true or false");
}

absl::StatusOr<int64_t> IntField(const Source& src,
                                 const std::vector<Entry>& entries,
                                 absl::string_view path, absl::string_view key,
                                 int64_t fallback, int64_t min, int64_t max) {
  const Entry* e = Find(entries, key);
  if (e == nullptr) return fallback;
  int64_t v = 0;
  if (!e->value.IsScalar() || !absl::SimpleAtoi(e->value.Scalar(), &v)) {
    return ErrorAt(src, e->value, Join(path, key), "expected an integer");
  }
  if (v < min || v > max) {
    return ErrorAt(src, e->value, Join(path, key),
                   absl::StrCat("must be between ", min, " and ", max));
  }
  return v;
}

absl::StatusOr<std::vector<std::string>> StringList(const Source& src,
                                                    const YAML::Node& node,
                                                    absl::string_view path) {
  std::vector<std::string> out;
  if (node.IsScalar()) {
    out.push_back(node.Scalar());
    return out;
  }
  if (!node.IsSequence())
    return ErrorAt(src, node, path, "expected a list of strings");
  for (size_t i = 0; i < node.size(); ++i) {
    CLOVER_ASSIGN_OR_RETURN(
        std::string s, ScalarOf(src, node[i], absl::StrCat(path, "[", i, "]")));
    out.push_back(std::move(s));
  }
  return out;
}

// An identifier: lower-case letters, digits, '-', '_', '.'; 1..64 chars.
bool IsIdentifier(absl::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '-' ||
          c == '_' || c == '.')) {
      return false;
    }
  }
  return true;
}

absl::Status CheckIdentifier(const Source& src, const YAML::Node& node,
                             absl::string_view path, absl::string_view value) {
  if (!IsIdentifier(value)) {
    return ErrorAt(
        src, node, path,
        absl::StrCat(
            "'", value,
            "' is not a valid id (lower-case letters, digits, '-', '_', '.'; "
            "at most 64 characters)"));
  }
  return absl::OkStatus();
}

absl::Status CheckCountry(const Source& src, const YAML::Node& node,
                          absl::string_view path, absl::string_view code) {
  if (!IsIsoCountryCode(code)) {
    return ErrorAt(
        src, node, path,
        absl::StrCat("'", code, "' is not an ISO 3166-1 alpha-2 country code"));
  }
  return absl::OkStatus();
}

std::string ResolvePath(const Source& src, const std::string& p) {
  fs::path path(p);
  if (path.is_absolute()) return path.lexically_normal().string();
  return (src.dir / path).lexically_normal().string();
}

// A section given either inline or as the name of a YAML file to include.
struct Section {
  YAML::Node node;
  Source src;
};

absl::StatusOr<Section> ResolveSection(const Source& src,
                                       const YAML::Node& node,
                                       absl::string_view path) {
  if (!node.IsScalar()) return Section{node, src};
  std::string file = ResolvePath(src, node.Scalar());
  auto text = ReadFile(file);
  if (!text.ok()) {
    return ErrorAt(src, node, path,
                   absl::StrCat("cannot read included file '", file, "'"));
  }
  Source inner{fs::path(src.file).parent_path().empty()
                   ? node.Scalar()
                   : (fs::path(src.file).parent_path() / node.Scalar())
                         .lexically_normal()
                         .string(),
               fs::path(file).parent_path()};
  CLOVER_ASSIGN_OR_RETURN(YAML::Node parsed, ParseYaml(*text, inner));
  if (parsed.IsNull())
    return ErrorAt(inner, parsed, path, "included file is empty");
  return Section{parsed, inner};
}

absl::StatusOr<FieldFormat> ParseFormat(absl::string_view s) {
  static const std::map<absl::string_view, FieldFormat> kFormats = {
      {"text", FieldFormat::kText},         {"email", FieldFormat::kEmail},
      {"e164", FieldFormat::kE164},         {"ip", FieldFormat::kIp},
      {"date", FieldFormat::kDate},         {"country", FieldFormat::kCountry},
      {"integer", FieldFormat::kInteger},   {"digits", FieldFormat::kDigits},
      {"text_list", FieldFormat::kTextList}};
  auto it = kFormats.find(s);
  if (it == kFormats.end()) return absl::NotFoundError("");
  return it->second;
}

absl::StatusOr<PseudonymMethod> ParseMethod(absl::string_view s) {
  static const std::map<absl::string_view, PseudonymMethod> kMethods = {
      {"hmac", PseudonymMethod::kHmac},
      {"siv", PseudonymMethod::kSiv},
      {"ff1", PseudonymMethod::kFf1},
      {"generalize", PseudonymMethod::kGeneralize},
      {"redact", PseudonymMethod::kRedact}};
  auto it = kMethods.find(s);
  if (it == kMethods.end()) return absl::NotFoundError("");
  return it->second;
}

// Which formats each method can transform.
bool MethodFitsFormat(PseudonymMethod m, FieldFormat f) {
  switch (m) {
    case PseudonymMethod::kFf1:
      return f == FieldFormat::kE164 || f == FieldFormat::kDigits ||
             f == FieldFormat::kInteger;
    case PseudonymMethod::kGeneralize:
      return f == FieldFormat::kIp || f == FieldFormat::kDate ||
             f == FieldFormat::kInteger || f == FieldFormat::kCountry;
    default:
      return true;
  }
}

class Loader {
 public:
  absl::StatusOr<Deployment> Load(absl::string_view text,
                                  const std::string& name) {
    Source src{name, fs::path(name).parent_path()};
    if (src.dir.empty()) src.dir = ".";
    CLOVER_ASSIGN_OR_RETURN(YAML::Node root, ParseYaml(text, src));
    if (root.IsNull()) return ErrorAt(src, root, "", "configuration is empty");
    CLOVER_ASSIGN_OR_RETURN(auto entries, MapEntries(src, root, ""));
    CLOVER_RETURN_IF_ERROR(CheckKeys(src, entries, "", kRootKeys));
    d_.source_file = name;
    for (absl::string_view required :
         {"jurisdictions", "regions", "schema", "principals"}) {
      if (Find(entries, required) == nullptr) {
        return ErrorAt(src, root, required, "missing required section");
      }
    }
    // Order matters: later sections refer to earlier ones.
    CLOVER_RETURN_IF_ERROR(
        WithSection(src, entries, "jurisdictions", &Loader::Jurisdictions));
    CLOVER_RETURN_IF_ERROR(
        WithSection(src, entries, "regions", &Loader::Regions));
    CLOVER_RETURN_IF_ERROR(
        WithSection(src, entries, "schema", &Loader::SchemaSection));
    CLOVER_RETURN_IF_ERROR(WithSection(src, entries, "identity_providers",
                                       &Loader::IdentityProviders));
    if (const Entry* pe = Find(entries, "principals"); pe->value.IsScalar())
      d_.principals_file = ResolvePath(src, pe->value.Scalar());
    CLOVER_RETURN_IF_ERROR(
        WithSection(src, entries, "principals", &Loader::Principals));
    CLOVER_RETURN_IF_ERROR(CheckProviderReferences(src, root));
    CLOVER_RETURN_IF_ERROR(
        WithSection(src, entries, "storage", &Loader::Storage));
    CLOVER_RETURN_IF_ERROR(WithSection(src, entries, "node", &Loader::Node));
    CLOVER_RETURN_IF_ERROR(CheckDsnResidency());
    CLOVER_RETURN_IF_ERROR(WithSection(src, entries, "log", &Loader::Log));
    CLOVER_RETURN_IF_ERROR(WithSection(src, entries, "keys", &Loader::Keys));
    CLOVER_RETURN_IF_ERROR(
        WithSection(src, entries, "policy", &Loader::Policy));
    CLOVER_RETURN_IF_ERROR(
        WithSection(src, entries, "privacy", &Loader::Privacy));
    CLOVER_RETURN_IF_ERROR(
        WithSection(src, entries, "purposes", &Loader::Purposes));
    CLOVER_RETURN_IF_ERROR(
        WithSection(src, entries, "approvals", &Loader::Approvals));
    if (d_.node.has_value()) {
      if (Find(entries, "log") == nullptr) {
        return ErrorAt(src, root, "log",
                       "a node configuration needs a log section");
      }
      if (Find(entries, "keys") == nullptr) {
        return ErrorAt(src, root, "keys",
                       "a node configuration needs a keys section");
      }
      // A node refuses every purpose not declared: without the list it could
      // serve none.
      if (Find(entries, "purposes") == nullptr) {
        return ErrorAt(src, root, "purposes",
                       "a node configuration needs a purposes list");
      }
    }
    return std::move(d_);
  }

 private:
  using SectionFn = absl::Status (Loader::*)(const Source&, const YAML::Node&);

  // Parses the YAML file `path` as a section with `fn`.
  absl::Status LoadFileSection(const std::string& path, SectionFn fn) {
    CLOVER_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
    Source src{path, fs::path(path).parent_path()};
    if (src.dir.empty()) src.dir = ".";
    CLOVER_ASSIGN_OR_RETURN(YAML::Node root, ParseYaml(text, src));
    if (root.IsNull()) return ErrorAt(src, root, "", "file is empty");
    return (this->*fn)(src, root);
  }

 public:
  absl::StatusOr<std::vector<Principal>> LoadDirectory(
      const std::string& principals_path,
      const std::vector<Jurisdiction>* jurisdictions,
      const std::string& jurisdictions_path) {
    if (jurisdictions != nullptr) {
      d_.jurisdictions = *jurisdictions;
    } else {
      CLOVER_RETURN_IF_ERROR(
          LoadFileSection(jurisdictions_path, &Loader::Jurisdictions));
    }
    CLOVER_RETURN_IF_ERROR(
        LoadFileSection(principals_path, &Loader::Principals));
    return std::move(d_.principals);
  }

 private:
  absl::Status WithSection(const Source& src, const std::vector<Entry>& entries,
                           absl::string_view key, SectionFn fn) {
    const Entry* e = Find(entries, key);
    if (e == nullptr) return absl::OkStatus();
    CLOVER_ASSIGN_OR_RETURN(Section section,
                            ResolveSection(src, e->value, key));
    return (this->*fn)(section.src, section.node);
  }

  absl::Status Jurisdictions(const Source& src, const YAML::Node& node) {
    CLOVER_ASSIGN_OR_RETURN(auto entries,
                            MapEntries(src, node, "jurisdictions"));
    if (entries.empty())
      return ErrorAt(src, node, "jurisdictions", "no jurisdiction defined");
    absl::flat_hash_map<std::string, std::string>
        owner;  // country -> jurisdiction
    for (const auto& e : entries) {
      std::string path = Join("jurisdictions", e.key);
      CLOVER_RETURN_IF_ERROR(CheckIdentifier(src, e.key_node, path, e.key));
      CLOVER_ASSIGN_OR_RETURN(auto fields, MapEntries(src, e.value, path));
      CLOVER_RETURN_IF_ERROR(CheckKeys(src, fields, path, kJurisdictionKeys));
      Jurisdiction j;
      j.id = e.key;
      CLOVER_ASSIGN_OR_RETURN(j.name, StringField(src, e.value, fields, path,
                                                  "name", false, e.key));
      const Entry* countries = Find(fields, "countries");
      if (countries == nullptr) {
        return ErrorAt(src, e.value, Join(path, "countries"),
                       "missing required field");
      }
      std::string cpath = Join(path, "countries");
      CLOVER_ASSIGN_OR_RETURN(j.countries,
                              StringList(src, countries->value, cpath));
      if (j.countries.empty())
        return ErrorAt(src, countries->value, cpath, "no countries listed");
      for (size_t i = 0; i < j.countries.size(); ++i) {
        const YAML::Node& item = countries->value.IsSequence()
                                     ? countries->value[i]
                                     : countries->value;
        std::string ipath = absl::StrCat(cpath, "[", i, "]");
        CLOVER_RETURN_IF_ERROR(CheckCountry(src, item, ipath, j.countries[i]));
        auto [it, inserted] = owner.emplace(j.countries[i], j.id);
        if (!inserted) {
          return ErrorAt(
              src, item, ipath,
              absl::StrCat("country ", j.countries[i],
                           " is already in jurisdiction '", it->second,
                           "'; a country belongs to one jurisdiction"));
        }
      }
      d_.jurisdictions.push_back(std::move(j));
    }
    return absl::OkStatus();
  }

  absl::Status Regions(const Source& src, const YAML::Node& node) {
    CLOVER_ASSIGN_OR_RETURN(auto entries, MapEntries(src, node, "regions"));
    if (entries.empty())
      return ErrorAt(src, node, "regions", "no region defined");
    absl::flat_hash_map<std::string, std::string> jurisdiction_home;
    absl::flat_hash_set<std::string> dc_ids;
    for (const auto& e : entries) {
      std::string path = Join("regions", e.key);
      CLOVER_RETURN_IF_ERROR(CheckIdentifier(src, e.key_node, path, e.key));
      CLOVER_ASSIGN_OR_RETURN(auto fields, MapEntries(src, e.value, path));
      CLOVER_RETURN_IF_ERROR(CheckKeys(src, fields, path, kRegionKeys));
      Region r;
      r.id = e.key;
      const Entry* js = Find(fields, "jurisdictions");
      if (js == nullptr) {
        return ErrorAt(src, e.value, Join(path, "jurisdictions"),
                       "missing required field");
      }
      std::string jpath = Join(path, "jurisdictions");
      CLOVER_ASSIGN_OR_RETURN(r.jurisdictions,
                              StringList(src, js->value, jpath));
      for (size_t i = 0; i < r.jurisdictions.size(); ++i) {
        const YAML::Node& item =
            js->value.IsSequence() ? js->value[i] : js->value;
        std::string ipath = absl::StrCat(jpath, "[", i, "]");
        if (d_.FindJurisdiction(r.jurisdictions[i]) == nullptr) {
          return ErrorAt(
              src, item, ipath,
              absl::StrCat("unknown jurisdiction '", r.jurisdictions[i], "'"));
        }
        auto [it, inserted] =
            jurisdiction_home.emplace(r.jurisdictions[i], r.id);
        if (!inserted) {
          return ErrorAt(
              src, item, ipath,
              absl::StrCat("jurisdiction '", r.jurisdictions[i],
                           "' is already stored in region '", it->second, "'"));
        }
      }
      const Entry* dcs = Find(fields, "dcs");
      std::string dpath = Join(path, "dcs");
      if (dcs == nullptr || dcs->value.IsNull() ||
          (dcs->value.IsMap() && dcs->value.size() == 0)) {
        return ErrorAt(src, dcs ? dcs->value : e.value, dpath,
                       "a region needs at least one data centre");
      }
      CLOVER_ASSIGN_OR_RETURN(auto dc_entries,
                              MapEntries(src, dcs->value, dpath));
      for (const auto& dce : dc_entries) {
        std::string dcpath = Join(dpath, dce.key);
        CLOVER_RETURN_IF_ERROR(
            CheckIdentifier(src, dce.key_node, dcpath, dce.key));
        if (!dc_ids.insert(dce.key).second) {
          return ErrorAt(src, dce.key_node, dcpath,
                         "data centre id used twice");
        }
        CLOVER_ASSIGN_OR_RETURN(auto dcf, MapEntries(src, dce.value, dcpath));
        CLOVER_RETURN_IF_ERROR(CheckKeys(src, dcf, dcpath, kDcKeys));
        DataCenter dc;
        dc.id = dce.key;
        CLOVER_ASSIGN_OR_RETURN(
            dc.country,
            StringField(src, dce.value, dcf, dcpath, "country", true));
        CLOVER_RETURN_IF_ERROR(CheckCountry(src, Find(dcf, "country")->value,
                                            Join(dcpath, "country"),
                                            dc.country));
        CLOVER_ASSIGN_OR_RETURN(
            dc.endpoint,
            StringField(src, dce.value, dcf, dcpath, "endpoint", true));
        if (!dc.endpoint.starts_with("http://") &&
            !dc.endpoint.starts_with("https://")) {
          return ErrorAt(src, Find(dcf, "endpoint")->value,
                         Join(dcpath, "endpoint"),
                         "endpoint must be an http:// or https:// URL");
        }
        // Residency: a DC stores the region's subjects, so it must stand in
        // a country one of the region's jurisdictions includes.
        bool allowed = false;
        for (const auto& jid : r.jurisdictions) {
          const Jurisdiction* j = d_.FindJurisdiction(jid);
          allowed =
              allowed || std::find(j->countries.begin(), j->countries.end(),
                                   dc.country) != j->countries.end();
        }
        if (!allowed) {
          return ErrorAt(
              src, Find(dcf, "country")->value, Join(dcpath, "country"),
              absl::StrCat("country ", dc.country,
                           " is in none of the region's jurisdictions (",
                           absl::StrJoin(r.jurisdictions, ", "),
                           "): its data would leave them"));
        }
        if (const Entry* dbh = Find(dcf, "db_hosts")) {
          std::string hpath = Join(dcpath, "db_hosts");
          CLOVER_ASSIGN_OR_RETURN(dc.db_hosts,
                                  StringList(src, dbh->value, hpath));
          for (const auto& h : dc.db_hosts) {
            if (h.empty() || absl::StrContains(h, ' ') ||
                absl::StrContains(h, ',')) {
              return ErrorAt(
                  src, dbh->value, hpath,
                  absl::StrCat("'", h, "' is not HOST or HOST:PORT"));
            }
          }
        }
        r.dcs.push_back(std::move(dc));
      }
      d_.regions.push_back(std::move(r));
    }
    return absl::OkStatus();
  }

  absl::Status SchemaSection(const Source& src, const YAML::Node& node) {
    CLOVER_ASSIGN_OR_RETURN(auto entries, MapEntries(src, node, "schema"));
    CLOVER_RETURN_IF_ERROR(CheckKeys(src, entries, "schema", kSchemaKeys));
    const Entry* fields = Find(entries, "fields");
    if (fields == nullptr)
      return ErrorAt(src, node, "schema.fields", "missing required field");
    CLOVER_ASSIGN_OR_RETURN(auto fentries,
                            MapEntries(src, fields->value, "schema.fields"));
    if (fentries.empty())
      return ErrorAt(src, fields->value, "schema.fields", "no fields defined");
    for (const auto& e : fentries) {
      std::string path = Join("schema.fields", e.key);
      if (!IsIdentifier(e.key) || e.key.find('.') != std::string::npos) {
        return ErrorAt(
            src, e.key_node, path,
            "field names use lower-case letters, digits, '-' and '_'");
      }
      CLOVER_ASSIGN_OR_RETURN(auto f, MapEntries(src, e.value, path));
      CLOVER_RETURN_IF_ERROR(CheckKeys(src, f, path, kFieldKeys));
      FieldSpec spec;
      spec.name = e.key;
      CLOVER_ASSIGN_OR_RETURN(
          spec.category, StringField(src, e.value, f, path, "category", true));
      const auto& cats = KnownCategories();
      if (std::find(cats.begin(), cats.end(), spec.category) == cats.end()) {
        return ErrorAt(
            src, Find(f, "category")->value, Join(path, "category"),
            absl::StrCat("unknown category '", spec.category,
                         "' (known: ", absl::StrJoin(cats, ", "), ")"));
      }
      CLOVER_ASSIGN_OR_RETURN(spec.restricted,
                              BoolField(src, f, path, "restricted", false));
      CLOVER_ASSIGN_OR_RETURN(
          std::string format,
          StringField(src, e.value, f, path, "format", false, "text"));
      auto parsed_format = ParseFormat(format);
      if (!parsed_format.ok()) {
        return ErrorAt(
            src, Find(f, "format")->value, Join(path, "format"),
            absl::StrCat(
                "unknown format '", format,
                "' (known: text, email, e164, ip, date, country, integer, "
                "digits, text_list)"));
      }
      spec.format = *parsed_format;
      CLOVER_ASSIGN_OR_RETURN(
          std::string method,
          StringField(src, e.value, f, path, "method", true));
      auto parsed_method = ParseMethod(method);
      if (!parsed_method.ok()) {
        return ErrorAt(
            src, Find(f, "method")->value, Join(path, "method"),
            absl::StrCat("unknown method '", method,
                         "' (known: hmac, siv, ff1, generalize, redact)"));
      }
      spec.method = *parsed_method;
      if (!MethodFitsFormat(spec.method, spec.format)) {
        return ErrorAt(
            src, Find(f, "method")->value, Join(path, "method"),
            absl::StrCat("method '", method, "' cannot transform format '",
                         format, "'"));
      }
      d_.schema.fields.push_back(std::move(spec));
    }
    return absl::OkStatus();
  }

  absl::Status Principals(const Source& src, const YAML::Node& node) {
    if (!node.IsSequence())
      return ErrorAt(src, node, "principals", "expected a list");
    absl::flat_hash_set<std::string> ids, key_hashes, subjects;
    for (size_t i = 0; i < node.size(); ++i) {
      const YAML::Node& pn = node[i];
      std::string path = absl::StrCat("principals[", i, "]");
      CLOVER_ASSIGN_OR_RETURN(auto f, MapEntries(src, pn, path));
      Principal p;
      CLOVER_ASSIGN_OR_RETURN(p.id, StringField(src, pn, f, path, "id", true));
      CLOVER_RETURN_IF_ERROR(
          CheckIdentifier(src, Find(f, "id")->value, Join(path, "id"), p.id));
      path = absl::StrCat("principals[", p.id, "]");
      CLOVER_RETURN_IF_ERROR(CheckKeys(src, f, path, kPrincipalKeys));
      if (!ids.insert(p.id).second) {
        return ErrorAt(src, Find(f, "id")->value, Join(path, "id"),
                       absl::StrCat("duplicate principal '", p.id, "'"));
      }
      CLOVER_ASSIGN_OR_RETURN(std::string kind,
                              StringField(src, pn, f, path, "kind", true));
      if (kind == "service") {
        p.kind = PrincipalKind::kService;
      } else if (kind == "employee") {
        p.kind = PrincipalKind::kEmployee;
      } else if (kind == "auditor") {
        p.kind = PrincipalKind::kAuditor;
      } else if (kind == "admin") {
        p.kind = PrincipalKind::kAdmin;
      } else {
        return ErrorAt(
            src, Find(f, "kind")->value, Join(path, "kind"),
            absl::StrCat("unknown kind '", kind,
                         "' (known: service, employee, auditor, admin)"));
      }
      CLOVER_ASSIGN_OR_RETURN(p.org,
                              StringField(src, pn, f, path, "org", true));
      if (const Entry* roles = Find(f, "roles")) {
        CLOVER_ASSIGN_OR_RETURN(
            p.roles, StringList(src, roles->value, Join(path, "roles")));
      }
      CLOVER_ASSIGN_OR_RETURN(p.country,
                              StringField(src, pn, f, path, "country", true));
      const YAML::Node& cn = Find(f, "country")->value;
      CLOVER_RETURN_IF_ERROR(
          CheckCountry(src, cn, Join(path, "country"), p.country));
      const Jurisdiction* j = d_.JurisdictionOfCountry(p.country);
      if (j == nullptr) {
        return ErrorAt(
            src, cn, Join(path, "country"),
            absl::StrCat("country ", p.country, " belongs to no jurisdiction"));
      }
      p.jurisdiction = j->id;
      const Entry* creds = Find(f, "credentials");
      if (creds == nullptr) {
        return ErrorAt(src, pn, Join(path, "credentials"),
                       "a principal needs at least one credential");
      }
      CLOVER_RETURN_IF_ERROR(Credential(
          src, creds->value, Join(path, "credentials"), &p.credentials));
      if (p.credentials.jwt.has_value() &&
          !p.credentials.jwt->provider.empty() &&
          p.credentials.jwt->subject.empty()) {
        p.credentials.jwt->subject = p.id;
      }
      if (!p.credentials.api_key_sha256.empty() &&
          !key_hashes.insert(p.credentials.api_key_sha256).second) {
        return ErrorAt(
            src, creds->value, Join(path, "credentials.api_key_sha256"),
            "the same API key hash is configured for two principals");
      }
      if (!p.credentials.cert_subject.empty() &&
          !subjects.insert(p.credentials.cert_subject).second) {
        return ErrorAt(
            src, creds->value, Join(path, "credentials.cert_subject"),
            "the same certificate subject is configured for two principals");
      }
      d_.principals.push_back(std::move(p));
    }
    return absl::OkStatus();
  }

  // `identity_providers`: a list of JWKS-backed token issuers.
  absl::Status IdentityProviders(const Source& src, const YAML::Node& node) {
    if (!node.IsSequence())
      return ErrorAt(src, node, "identity_providers", "expected a list");
    absl::flat_hash_set<std::string> ids, issuers;
    for (size_t i = 0; i < node.size(); ++i) {
      const YAML::Node& pn = node[i];
      std::string path = absl::StrCat("identity_providers[", i, "]");
      CLOVER_ASSIGN_OR_RETURN(auto f, MapEntries(src, pn, path));
      CLOVER_RETURN_IF_ERROR(CheckKeys(src, f, path, kIdentityProviderKeys));
      IdentityProviderConfig c;
      CLOVER_ASSIGN_OR_RETURN(c.id, StringField(src, pn, f, path, "id", true));
      CLOVER_RETURN_IF_ERROR(
          CheckIdentifier(src, Find(f, "id")->value, Join(path, "id"), c.id));
      if (!ids.insert(c.id).second) {
        return ErrorAt(src, Find(f, "id")->value, Join(path, "id"),
                       "duplicate identity provider id");
      }
      CLOVER_ASSIGN_OR_RETURN(c.issuer,
                              StringField(src, pn, f, path, "issuer", true));
      if (!issuers.insert(c.issuer).second) {
        return ErrorAt(src, Find(f, "issuer")->value, Join(path, "issuer"),
                       "two identity providers with the same issuer");
      }
      CLOVER_ASSIGN_OR_RETURN(c.audience,
                              StringField(src, pn, f, path, "audience", true));
      CLOVER_ASSIGN_OR_RETURN(c.jwks_url,
                              StringField(src, pn, f, path, "jwks_url", false));
      CLOVER_ASSIGN_OR_RETURN(
          std::string file, StringField(src, pn, f, path, "jwks_file", false));
      if (!file.empty()) c.jwks_file = ResolvePath(src, file);
      if (c.jwks_url.empty() == c.jwks_file.empty()) {
        return ErrorAt(src, pn, path,
                       "give exactly one of jwks_url, jwks_file");
      }
      CLOVER_ASSIGN_OR_RETURN(
          c.allow_insecure_http,
          BoolField(src, f, path, "allow_insecure_http", false));
      if (!c.jwks_url.empty()) {
        const bool https = absl::StartsWith(c.jwks_url, "https://");
        const bool loopback_http =
            absl::StartsWith(c.jwks_url, "http://127.0.0.1:") ||
            absl::StartsWith(c.jwks_url, "http://[::1]:");
        if (!https && !(c.allow_insecure_http && loopback_http)) {
          return ErrorAt(src, Find(f, "jwks_url")->value,
                         Join(path, "jwks_url"),
                         "must be https:// (plain http only to 127.0.0.1 or "
                         "[::1] with allow_insecure_http, for tests)");
        }
      }
      CLOVER_ASSIGN_OR_RETURN(std::string ca,
                              StringField(src, pn, f, path, "ca_file", false));
      if (!ca.empty()) c.ca_file = ResolvePath(src, ca);
      CLOVER_ASSIGN_OR_RETURN(
          c.claim, StringField(src, pn, f, path, "claim", false, "sub"));
      struct Span {
        const char* key;
        absl::Duration* out;
        int64_t fallback, min, max;
      };
      for (const Span& d : std::initializer_list<Span>{
               {"refresh_seconds", &c.refresh_interval, 300, 10, 86400},
               {"min_refresh_interval_seconds", &c.min_refresh_interval, 30, 1,
                3600},
               {"max_staleness_seconds", &c.max_staleness, 86400, 60,
                30 * 86400},
               {"fetch_timeout_seconds", &c.fetch_timeout, 5, 1, 60},
               {"leeway_seconds", &c.leeway, 60, 0, 300},
               {"max_lifetime_seconds", &c.max_lifetime, 86400, 60,
                30 * 86400}}) {
        CLOVER_ASSIGN_OR_RETURN(
            int64_t v, IntField(src, f, path, d.key, d.fallback, d.min, d.max));
        *d.out = absl::Seconds(v);
      }
      if (c.max_staleness < c.refresh_interval) {
        return ErrorAt(src, pn, Join(path, "max_staleness_seconds"),
                       "must be at least refresh_seconds");
      }
      d_.identity_providers.push_back(std::move(c));
    }
    return absl::OkStatus();
  }

  // Every principal naming a provider names a declared one, and no two
  // principals of one provider share a subject.
  absl::Status CheckProviderReferences(const Source& src,
                                       const YAML::Node& root) {
    absl::flat_hash_set<std::string> seen;
    for (const Principal& p : d_.principals) {
      if (!p.credentials.jwt.has_value() || p.credentials.jwt->provider.empty())
        continue;
      const JwtCredential& j = *p.credentials.jwt;
      const std::string path =
          absl::StrCat("principals[", p.id, "].credentials.jwt.provider");
      bool known = false;
      for (const auto& c : d_.identity_providers)
        known = known || c.id == j.provider;
      if (!known) {
        return ErrorAt(src, root, path,
                       absl::StrCat("unknown identity provider '", j.provider,
                                    "' (declare it in identity_providers)"));
      }
      if (!seen.insert(absl::StrCat(j.provider, "\n", j.subject)).second) {
        return ErrorAt(src, root, path,
                       absl::StrCat("two principals map subject '", j.subject,
                                    "' of provider '", j.provider, "'"));
      }
    }
    return absl::OkStatus();
  }

  absl::Status Credential(const Source& src, const YAML::Node& node,
                          const std::string& path, Credentials* out) {
    CLOVER_ASSIGN_OR_RETURN(auto f, MapEntries(src, node, path));
    if (const Entry* clear = Find(f, "api_key")) {
      // Never echo the value: it is a secret.
      return ErrorAt(
          src, clear->key_node, Join(path, "api_key"),
          "API key given in clear text; store its SHA-256 as api_key_sha256 "
          "(`printf %s KEY | sha256sum`)");
    }
    CLOVER_RETURN_IF_ERROR(CheckKeys(src, f, path, kCredentialKeys));
    if (const Entry* h = Find(f, "api_key_sha256")) {
      CLOVER_ASSIGN_OR_RETURN(
          out->api_key_sha256,
          ScalarOf(src, h->value, Join(path, "api_key_sha256")));
      const std::string& hex = out->api_key_sha256;
      bool ok =
          hex.size() == 64 && std::all_of(hex.begin(), hex.end(), [](char c) {
            return absl::ascii_isdigit(c) || (c >= 'a' && c <= 'f');
          });
      if (!ok) {
        return ErrorAt(
            src, h->value, Join(path, "api_key_sha256"),
            "expected 64 lower-case hex digits (SHA-256 of the key)");
      }
    }
    if (const Entry* s = Find(f, "cert_subject")) {
      CLOVER_ASSIGN_OR_RETURN(
          out->cert_subject,
          ScalarOf(src, s->value, Join(path, "cert_subject")));
    }
    if (const Entry* jwt = Find(f, "jwt")) {
      std::string jpath = Join(path, "jwt");
      CLOVER_ASSIGN_OR_RETURN(auto jf, MapEntries(src, jwt->value, jpath));
      JwtCredential j;
      if (Find(jf, "provider") != nullptr) {
        // Keys, issuer, audience and lifetime come from the provider.
        CLOVER_RETURN_IF_ERROR(CheckKeys(src, jf, jpath, kJwtProviderKeys));
        CLOVER_ASSIGN_OR_RETURN(
            j.provider,
            StringField(src, jwt->value, jf, jpath, "provider", true));
        CLOVER_ASSIGN_OR_RETURN(
            j.subject,
            StringField(src, jwt->value, jf, jpath, "subject", false));
        out->jwt = std::move(j);
        return absl::OkStatus();
      }
      CLOVER_RETURN_IF_ERROR(CheckKeys(src, jf, jpath, kJwtKeys));
      CLOVER_ASSIGN_OR_RETURN(
          j.issuer, StringField(src, jwt->value, jf, jpath, "issuer", true));
      CLOVER_ASSIGN_OR_RETURN(j.audience, StringField(src, jwt->value, jf,
                                                      jpath, "audience", true));
      CLOVER_ASSIGN_OR_RETURN(
          std::string key,
          StringField(src, jwt->value, jf, jpath, "public_key_file", true));
      j.public_key_file = ResolvePath(src, key);
      CLOVER_ASSIGN_OR_RETURN(int64_t lifetime,
                              IntField(src, jf, jpath, "max_lifetime_seconds",
                                       24 * 3600, 60, 30 * 24 * 3600));
      j.max_lifetime = absl::Seconds(lifetime);
      out->jwt = std::move(j);
    }
    if (out->api_key_sha256.empty() && out->cert_subject.empty() &&
        !out->jwt.has_value()) {
      return ErrorAt(src, node, path,
                     "no credential: give api_key_sha256, cert_subject or jwt");
    }
    return absl::OkStatus();
  }

  absl::Status Storage(const Source& src, const YAML::Node& node) {
    CLOVER_ASSIGN_OR_RETURN(auto f, MapEntries(src, node, "storage"));
    CLOVER_RETURN_IF_ERROR(CheckKeys(src, f, "storage", kStorageKeys));
    CLOVER_ASSIGN_OR_RETURN(
        std::string driver,
        StringField(src, node, f, "storage", "driver", false, "rocksdb"));
    if (driver == "rocksdb") {
      d_.storage.driver = StorageDriver::kRocksDb;
    } else if (driver == "postgres") {
      d_.storage.driver = StorageDriver::kPostgres;
      CLOVER_ASSIGN_OR_RETURN(
          d_.storage.postgres_dsn,
          StringField(src, node, f, "storage", "postgres_dsn", true));
      CLOVER_ASSIGN_OR_RETURN(
          int64_t retry,
          IntField(src, f, "storage", "postgres_retry_seconds", 10, 0, 300));
      d_.storage.postgres_retry = absl::Seconds(retry);
      dsn_source_ = src;
      dsn_node_ = Find(f, "postgres_dsn")->value;
      if (const Entry* pu = Find(f, "patroni_urls")) {
        CLOVER_ASSIGN_OR_RETURN(
            d_.storage.patroni_urls,
            StringList(src, pu->value, "storage.patroni_urls"));
        for (const auto& u : d_.storage.patroni_urls) {
          if (!u.starts_with("http://") && !u.starts_with("https://")) {
            return ErrorAt(src, pu->value, "storage.patroni_urls",
                           "each must be an http:// or https:// URL");
          }
        }
      }
    } else {
      return ErrorAt(src, Find(f, "driver")->value, "storage.driver",
                     absl::StrCat("unknown driver '", driver,
                                  "' (known: rocksdb, postgres)"));
    }
    return absl::OkStatus();
  }

  // Residency of storage: every host the DSN names must be a declared
  // database host of a DC of the node's region (of any region in a
  // deployment-wide file), or the region's data could be written elsewhere.
  absl::Status CheckDsnResidency() {
    if (d_.storage.driver != StorageDriver::kPostgres) return absl::OkStatus();
    const std::string field = "storage.postgres_dsn";
    absl::StatusOr<std::vector<DsnHost>> hosts =
        ParseDsnHosts(d_.storage.postgres_dsn);
    if (!hosts.ok()) {
      return ErrorAt(dsn_source_, dsn_node_, field, hosts.status().message());
    }
    std::vector<const Region*> regions;
    if (d_.node.has_value()) {
      regions.push_back(d_.FindRegion(d_.node->region));
    } else {
      for (const Region& r : d_.regions) regions.push_back(&r);
    }
    for (const DsnHost& h : *hosts) {
      bool declared = false;
      for (const Region* r : regions) {
        for (const DataCenter& dc : r->dcs) {
          declared = declared || DbHostMatches(dc.db_hosts, h);
        }
      }
      if (!declared) {
        return ErrorAt(
            dsn_source_, dsn_node_, field,
            absl::StrCat("host ", h.host, " port ", h.port,
                         " is not a declared db_hosts entry of a data centre "
                         "of region ",
                         d_.node.has_value() ? d_.node->region : "(any)",
                         ": the region's data must stay in its DCs"));
      }
    }
    return absl::OkStatus();
  }

  absl::Status Node(const Source& src, const YAML::Node& node) {
    CLOVER_ASSIGN_OR_RETURN(auto f, MapEntries(src, node, "node"));
    CLOVER_RETURN_IF_ERROR(CheckKeys(src, f, "node", kNodeKeys));
    NodeConfig n;
    CLOVER_ASSIGN_OR_RETURN(n.id,
                            StringField(src, node, f, "node", "id", true));
    CLOVER_RETURN_IF_ERROR(
        CheckIdentifier(src, Find(f, "id")->value, "node.id", n.id));
    CLOVER_ASSIGN_OR_RETURN(n.region,
                            StringField(src, node, f, "node", "region", true));
    const Region* region = d_.FindRegion(n.region);
    if (region == nullptr) {
      return ErrorAt(src, Find(f, "region")->value, "node.region",
                     absl::StrCat("unknown region '", n.region, "'"));
    }
    CLOVER_ASSIGN_OR_RETURN(n.dc,
                            StringField(src, node, f, "node", "dc", true));
    bool dc_in_region =
        std::any_of(region->dcs.begin(), region->dcs.end(),
                    [&](const DataCenter& dc) { return dc.id == n.dc; });
    if (!dc_in_region) {
      return ErrorAt(src, Find(f, "dc")->value, "node.dc",
                     absl::StrCat("data centre '", n.dc, "' is not in region '",
                                  n.region, "'"));
    }
    CLOVER_ASSIGN_OR_RETURN(std::string listen,
                            StringField(src, node, f, "node", "listen", true));
    size_t colon = listen.rfind(':');
    int port = 0;
    if (colon == std::string::npos || colon == 0 ||
        !absl::SimpleAtoi(listen.substr(colon + 1), &port) || port < 0 ||
        port > 65535) {
      return ErrorAt(src, Find(f, "listen")->value, "node.listen",
                     absl::StrCat("expected HOST:PORT, got '", listen, "'"));
    }
    n.listen_host = listen.substr(0, colon);
    if (n.listen_host.size() > 2 && n.listen_host.front() == '[' &&
        n.listen_host.back() == ']') {
      n.listen_host = n.listen_host.substr(1, n.listen_host.size() - 2);
    }
    n.listen_port = port;
    CLOVER_ASSIGN_OR_RETURN(
        std::string dir, StringField(src, node, f, "node", "data_dir", true));
    n.data_dir = ResolvePath(src, dir);
    CLOVER_ASSIGN_OR_RETURN(
        int64_t max_connections,
        IntField(src, f, "node", "max_connections", 1024, 1, 1 << 20));
    n.max_connections = static_cast<int>(max_connections);
    if (const Entry* tls = Find(f, "tls")) {
      CLOVER_ASSIGN_OR_RETURN(auto tf, MapEntries(src, tls->value, "node.tls"));
      CLOVER_RETURN_IF_ERROR(CheckKeys(src, tf, "node.tls", kTlsKeys));
      TlsConfig t;
      CLOVER_ASSIGN_OR_RETURN(
          std::string cert,
          StringField(src, tls->value, tf, "node.tls", "cert_file", true));
      CLOVER_ASSIGN_OR_RETURN(
          std::string key,
          StringField(src, tls->value, tf, "node.tls", "key_file", true));
      CLOVER_ASSIGN_OR_RETURN(std::string ca,
                              StringField(src, tls->value, tf, "node.tls",
                                          "client_ca_file", false));
      t.cert_file = ResolvePath(src, cert);
      t.key_file = ResolvePath(src, key);
      if (!ca.empty()) t.client_ca_file = ResolvePath(src, ca);
      n.tls = std::move(t);
    }
    d_.node = std::move(n);
    return absl::OkStatus();
  }

  absl::Status Log(const Source& src, const YAML::Node& node) {
    CLOVER_ASSIGN_OR_RETURN(auto f, MapEntries(src, node, "log"));
    CLOVER_RETURN_IF_ERROR(CheckKeys(src, f, "log", kLogKeys));
    CLOVER_ASSIGN_OR_RETURN(d_.log.origin,
                            StringField(src, node, f, "log", "origin", true));
    for (char c : d_.log.origin) {
      if (c == '\n' || c == ' ' || static_cast<unsigned char>(c) < 0x21) {
        return ErrorAt(src, Find(f, "origin")->value, "log.origin",
                       "origin must be one line without spaces");
      }
    }
    CLOVER_ASSIGN_OR_RETURN(std::string key,
                            StringField(src, node, f, "log", "key_file", true));
    d_.log.key_file = ResolvePath(src, key);
    CLOVER_ASSIGN_OR_RETURN(
        int64_t max_entries,
        IntField(src, f, "log", "max_batch_entries", 4096, 1, 1 << 20));
    CLOVER_ASSIGN_OR_RETURN(
        int64_t wait_ms,
        IntField(src, f, "log", "max_batch_wait_ms", 0, 0, 10000));
    d_.log.max_batch_entries = static_cast<int>(max_entries);
    d_.log.max_batch_wait = absl::Milliseconds(wait_ms);
    if (const Entry* w = Find(f, "witnesses")) {
      if (!w->value.IsSequence())
        return ErrorAt(src, w->value, "log.witnesses", "expected a list");
      for (size_t i = 0; i < w->value.size(); ++i) {
        const YAML::Node& wn = w->value[i];
        const std::string path = absl::StrCat("log.witnesses[", i, "]");
        CLOVER_ASSIGN_OR_RETURN(auto wf, MapEntries(src, wn, path));
        CLOVER_RETURN_IF_ERROR(CheckKeys(src, wf, path, kWitnessKeys));
        LogWitnessConfig c;
        CLOVER_ASSIGN_OR_RETURN(c.url,
                                StringField(src, wn, wf, path, "url", true));
        if (!absl::StartsWith(c.url, "http://") &&
            !absl::StartsWith(c.url, "https://")) {
          return ErrorAt(src, Find(wf, "url")->value, Join(path, "url"),
                         "must be an http:// or https:// URL");
        }
        CLOVER_ASSIGN_OR_RETURN(
            c.verifier_key,
            StringField(src, wn, wf, path, "verifier_key", true));
        d_.log.witnesses.push_back(std::move(c));
      }
    }
    return absl::OkStatus();
  }

  absl::Status Keys(const Source& src, const YAML::Node& node) {
    CLOVER_ASSIGN_OR_RETURN(auto f, MapEntries(src, node, "keys"));
    CLOVER_RETURN_IF_ERROR(CheckKeys(src, f, "keys", kKeysKeys));
    const Entry* hsm = Find(f, "kek");
    if (hsm != nullptr && Find(f, "kek_file") != nullptr) {
      return ErrorAt(src, hsm->key_node, "keys.kek",
                     "give either keys.kek_file or keys.kek, not both (a "
                     "file KEK being retired goes in keys.retired_kek_files)");
    }
    if (hsm != nullptr) {
      CLOVER_RETURN_IF_ERROR(Pkcs11Kek(src, hsm->value));
    } else {
      CLOVER_ASSIGN_OR_RETURN(
          std::string kek, StringField(src, node, f, "keys", "kek_file", true));
      d_.keys.kek_file = ResolvePath(src, kek);
    }
    CLOVER_ASSIGN_OR_RETURN(
        std::string pk,
        StringField(src, node, f, "keys", "pseudonym_key_file", true));
    d_.keys.pseudonym_key_file = ResolvePath(src, pk);
    if (const Entry* retired = Find(f, "retired_kek_files")) {
      CLOVER_ASSIGN_OR_RETURN(
          std::vector<std::string> files,
          StringList(src, retired->value, "keys.retired_kek_files"));
      for (const std::string& file : files)
        d_.keys.retired_kek_files.push_back(ResolvePath(src, file));
    }
    CLOVER_ASSIGN_OR_RETURN(
        int64_t purge_s,
        IntField(src, f, "keys", "purge_interval_s", 86400, 1, 86400));
    d_.keys.purge_interval = absl::Seconds(purge_s);
    CLOVER_ASSIGN_OR_RETURN(int64_t overlap_s,
                            IntField(src, f, "keys", "pseudonym_overlap_s",
                                     30 * 86400, 0, 365 * 86400));
    d_.keys.pseudonym_overlap = absl::Seconds(overlap_s);
    if (const Entry* release = Find(f, "release")) {
      CLOVER_RETURN_IF_ERROR(KeyRelease(src, release->value));
    }
    return absl::OkStatus();
  }

  absl::Status KeyRelease(const Source& src, const YAML::Node& node) {
    const char* path = "keys.release";
    CLOVER_ASSIGN_OR_RETURN(auto f, MapEntries(src, node, path));
    CLOVER_RETURN_IF_ERROR(CheckKeys(src, f, path, kReleaseKeys));
    KeyReleaseConfig r;
    CLOVER_ASSIGN_OR_RETURN(r.url,
                            StringField(src, node, f, path, "url", true));
    if (!absl::StartsWith(r.url, "https://")) {
      return ErrorAt(src, Find(f, "url")->value, "keys.release.url",
                     "must be an https:// URL");
    }
    while (absl::EndsWith(r.url, "/")) r.url.pop_back();
    for (auto [key, out] : {std::pair{"ca_file", &r.ca_file},
                            std::pair{"cert_file", &r.cert_file},
                            std::pair{"key_file", &r.key_file}}) {
      CLOVER_ASSIGN_OR_RETURN(std::string v,
                              StringField(src, node, f, path, key, true));
      *out = ResolvePath(src, v);
    }
    CLOVER_ASSIGN_OR_RETURN(
        r.public_key, StringField(src, node, f, path, "public_key", false));
    CLOVER_ASSIGN_OR_RETURN(int64_t ttl,
                            IntField(src, f, path, "cache_ttl_s", 60, 0, 3600));
    r.cache_ttl = absl::Seconds(ttl);
    CLOVER_ASSIGN_OR_RETURN(
        r.cache_entries,
        IntField(src, f, path, "cache_entries", 100'000, 0, 10'000'000));
    CLOVER_ASSIGN_OR_RETURN(
        int64_t timeout_ms,
        IntField(src, f, path, "timeout_ms", 2000, 50, 60'000));
    r.timeout = absl::Milliseconds(timeout_ms);
    CLOVER_ASSIGN_OR_RETURN(
        int64_t poll_ms,
        IntField(src, f, path, "status_poll_ms", 5000, 0, 3'600'000));
    r.status_poll = absl::Milliseconds(poll_ms);
    d_.keys.release = std::move(r);
    return absl::OkStatus();
  }

  // keys.kek: {pkcs11: {module, token, label, pin_file, retired_labels}}.
  absl::Status Pkcs11Kek(const Source& src, const YAML::Node& node) {
    CLOVER_ASSIGN_OR_RETURN(auto f, MapEntries(src, node, "keys.kek"));
    CLOVER_RETURN_IF_ERROR(CheckKeys(src, f, "keys.kek", kKekKeys));
    const Entry* p = Find(f, "pkcs11");
    if (p == nullptr)
      return ErrorAt(src, node, "keys.kek.pkcs11", "missing required field");
    const std::string path = "keys.kek.pkcs11";
    CLOVER_ASSIGN_OR_RETURN(auto pf, MapEntries(src, p->value, path));
    CLOVER_RETURN_IF_ERROR(CheckKeys(src, pf, path, kPkcs11Keys));
    Pkcs11KekConfig c;
    CLOVER_ASSIGN_OR_RETURN(
        c.module, StringField(src, p->value, pf, path, "module", true));
    // A bare library name is left to dlopen's search path.
    if (c.module.find('/') != std::string::npos)
      c.module = ResolvePath(src, c.module);
    CLOVER_ASSIGN_OR_RETURN(
        c.token, StringField(src, p->value, pf, path, "token", true));
    if (c.token.size() > 32) {
      return ErrorAt(src, Find(pf, "token")->value, Join(path, "token"),
                     "a PKCS#11 token label has at most 32 bytes");
    }
    CLOVER_ASSIGN_OR_RETURN(
        std::string pin,
        StringField(src, p->value, pf, path, "pin_file", true));
    c.pin_file = ResolvePath(src, pin);
    CLOVER_ASSIGN_OR_RETURN(
        c.label, StringField(src, p->value, pf, path, "label", true));
    std::vector<std::pair<std::string, YAML::Node>> labels = {
        {c.label, Find(pf, "label")->value}};
    if (const Entry* r = Find(pf, "retired_labels")) {
      CLOVER_ASSIGN_OR_RETURN(
          c.retired_labels,
          StringList(src, r->value, Join(path, "retired_labels")));
      for (size_t k = 0; k < c.retired_labels.size(); ++k) {
        labels.emplace_back(c.retired_labels[k],
                            r->value.IsSequence() ? r->value[k] : r->value);
      }
    }
    for (size_t i = 0; i < labels.size(); ++i) {
      const std::string& l = labels[i].first;
      bool printable = !l.empty() && l.size() <= 200;
      for (char ch : l) printable = printable && ch > 0x20 && ch < 0x7f;
      if (!printable || absl::StartsWith(l, "epoch:")) {
        return ErrorAt(src, labels[i].second, Join(path, "label"),
                       absl::StrCat("'", l,
                                    "' is not a usable key label (1 to 200 "
                                    "printable ASCII characters without "
                                    "spaces, not starting with 'epoch:')"));
      }
      for (size_t j = 0; j < i; ++j) {
        if (labels[j].first == l) {
          return ErrorAt(src, labels[i].second, Join(path, "retired_labels"),
                         absl::StrCat("label '", l, "' is given twice"));
        }
      }
    }
    d_.keys.pkcs11_kek = std::move(c);
    return absl::OkStatus();
  }

  absl::Status Policy(const Source& src, const YAML::Node& node) {
    CLOVER_ASSIGN_OR_RETURN(auto f, MapEntries(src, node, "policy"));
    CLOVER_RETURN_IF_ERROR(CheckKeys(src, f, "policy", kPolicyKeys));
    CLOVER_ASSIGN_OR_RETURN(std::string file,
                            StringField(src, node, f, "policy", "file", true));
    d_.policy.file = ResolvePath(src, file);
    CLOVER_ASSIGN_OR_RETURN(
        d_.policy.require_signed_policy,
        BoolField(src, f, "policy", "require_signed_policy", false));
    if (const Entry* keys = Find(f, "auditor_keys")) {
      CLOVER_ASSIGN_OR_RETURN(
          d_.policy.auditor_keys,
          StringList(src, keys->value, "policy.auditor_keys"));
    }
    if (d_.policy.require_signed_policy && d_.policy.auditor_keys.empty()) {
      return ErrorAt(
          src, node, "policy.auditor_keys",
          "require_signed_policy needs at least one auditor verifier key");
    }
    CLOVER_ASSIGN_OR_RETURN(
        d_.policy.require_signed_principals,
        BoolField(src, f, "policy", "require_signed_principals", false));
    if (d_.policy.require_signed_principals) {
      if (d_.policy.auditor_keys.empty()) {
        return ErrorAt(src, node, "policy.auditor_keys",
                       "require_signed_principals needs at least one auditor "
                       "verifier key");
      }
      // Only a file can carry a detached signature.
      if (d_.principals_file.empty()) {
        return ErrorAt(src, node, "policy.require_signed_principals",
                       "the principals section must name a file (signed with "
                       "`clover policy sign --principals`), not be inline");
      }
    }
    return absl::OkStatus();
  }

  absl::Status Privacy(const Source& src, const YAML::Node& node) {
    CLOVER_ASSIGN_OR_RETURN(auto f, MapEntries(src, node, "privacy"));
    CLOVER_RETURN_IF_ERROR(CheckKeys(src, f, "privacy", kPrivacyKeys));
    if (const Entry* e = Find(f, "daily_epsilon_budget")) {
      double v = 0;
      if (!e->value.IsScalar() || !absl::SimpleAtod(e->value.Scalar(), &v) ||
          !(v > 0) || v > 1e6) {
        return ErrorAt(src, e->value, "privacy.daily_epsilon_budget",
                       "expected a positive number");
      }
      d_.privacy.daily_epsilon_budget = v;
    }
    if (const Entry* e = Find(f, "min_cohort")) {
      int v = 0;
      // One or two subjects would let an aggregate single a person out.
      if (!e->value.IsScalar() || !absl::SimpleAtoi(e->value.Scalar(), &v) ||
          v < 2 || v > 1000000) {
        return ErrorAt(src, e->value, "privacy.min_cohort",
                       "expected an integer from 2 to 1000000");
      }
      d_.privacy.min_cohort = v;
    }
    return absl::OkStatus();
  }

  // The keys are parsed where they are used (gateway/node.cc): core/ reads
  // no key formats.
  absl::Status Approvals(const Source& src, const YAML::Node& node) {
    CLOVER_ASSIGN_OR_RETURN(auto f, MapEntries(src, node, "approvals"));
    CLOVER_RETURN_IF_ERROR(CheckKeys(src, f, "approvals", kApprovalsKeys));
    if (const Entry* keys = Find(f, "attestation_keys")) {
      CLOVER_ASSIGN_OR_RETURN(
          d_.approvals.attestation_keys,
          StringList(src, keys->value, "approvals.attestation_keys"));
    }
    return absl::OkStatus();
  }

  absl::Status Purposes(const Source& src, const YAML::Node& node) {
    if (!node.IsSequence() || node.size() == 0) {
      return ErrorAt(src, node, "purposes",
                     "expected a non-empty list of purposes");
    }
    absl::flat_hash_set<std::string> seen;
    for (size_t i = 0; i < node.size(); ++i) {
      std::string path = absl::StrCat("purposes[", i, "]");
      CLOVER_ASSIGN_OR_RETURN(std::string p, ScalarOf(src, node[i], path));
      // The gateway's purpose syntax (X-Clover-Purpose): no '.'.
      bool valid = p.size() <= 64;
      for (char c : p) {
        valid = valid && (absl::ascii_islower(c) || absl::ascii_isdigit(c) ||
                          c == '_' || c == '-');
      }
      if (!valid) {
        return ErrorAt(src, node[i], path,
                       absl::StrCat("'", p,
                                    "' is not a valid purpose (lower-case "
                                    "letters, digits, '-', '_'; at most 64 "
                                    "characters)"));
      }
      if (!seen.insert(p).second) {
        return ErrorAt(src, node[i], path,
                       absl::StrCat("purpose '", p, "' is listed twice"));
      }
      d_.purposes.push_back(std::move(p));
    }
    return absl::OkStatus();
  }

  Deployment d_;
  // Where storage.postgres_dsn was given, for CheckDsnResidency's error.
  Source dsn_source_;
  YAML::Node dsn_node_;
};

}  // namespace

absl::string_view ToString(PrincipalKind kind) {
  switch (kind) {
    case PrincipalKind::kService:
      return "service";
    case PrincipalKind::kEmployee:
      return "employee";
    case PrincipalKind::kAuditor:
      return "auditor";
    case PrincipalKind::kAdmin:
      return "admin";
  }
  return "unknown";
}

absl::string_view ToString(PseudonymMethod method) {
  switch (method) {
    case PseudonymMethod::kHmac:
      return "hmac";
    case PseudonymMethod::kSiv:
      return "siv";
    case PseudonymMethod::kFf1:
      return "ff1";
    case PseudonymMethod::kGeneralize:
      return "generalize";
    case PseudonymMethod::kRedact:
      return "redact";
  }
  return "unknown";
}

absl::string_view ToString(FieldFormat format) {
  switch (format) {
    case FieldFormat::kText:
      return "text";
    case FieldFormat::kEmail:
      return "email";
    case FieldFormat::kE164:
      return "e164";
    case FieldFormat::kIp:
      return "ip";
    case FieldFormat::kDate:
      return "date";
    case FieldFormat::kCountry:
      return "country";
    case FieldFormat::kInteger:
      return "integer";
    case FieldFormat::kDigits:
      return "digits";
    case FieldFormat::kTextList:
      return "text_list";
  }
  return "unknown";
}

absl::string_view ToString(StorageDriver driver) {
  return driver == StorageDriver::kRocksDb ? "rocksdb" : "postgres";
}

const std::vector<std::string>& KnownCategories() {
  static const auto* kCategories = new std::vector<std::string>{
      "contact", "identity",  "network",  "behavior",   "content",
      "device",  "financial", "location", "preference", "health"};
  return *kCategories;
}

const FieldSpec* Schema::Find(absl::string_view name) const {
  for (const auto& f : fields) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

const Jurisdiction* Deployment::FindJurisdiction(absl::string_view id) const {
  for (const auto& j : jurisdictions) {
    if (j.id == id) return &j;
  }
  return nullptr;
}

const Jurisdiction* Deployment::JurisdictionOfCountry(
    absl::string_view country) const {
  for (const auto& j : jurisdictions) {
    if (std::find(j.countries.begin(), j.countries.end(), country) !=
        j.countries.end()) {
      return &j;
    }
  }
  return nullptr;
}

const Region* Deployment::FindRegion(absl::string_view id) const {
  for (const auto& r : regions) {
    if (r.id == id) return &r;
  }
  return nullptr;
}

const Region* Deployment::HomeRegionOfJurisdiction(
    absl::string_view jurisdiction) const {
  for (const auto& r : regions) {
    if (std::find(r.jurisdictions.begin(), r.jurisdictions.end(),
                  jurisdiction) != r.jurisdictions.end()) {
      return &r;
    }
  }
  return nullptr;
}

const Principal* Deployment::FindPrincipal(absl::string_view id) const {
  for (const auto& p : principals) {
    if (p.id == id) return &p;
  }
  return nullptr;
}

bool Deployment::IsDeclaredPurpose(absl::string_view purpose) const {
  return std::find(purposes.begin(), purposes.end(), purpose) != purposes.end();
}

absl::StatusOr<std::vector<Principal>> LoadPrincipalDirectory(
    const std::string& principals_path, const std::string& jurisdictions_path) {
  return Loader().LoadDirectory(principals_path, nullptr, jurisdictions_path);
}

absl::StatusOr<std::vector<Principal>> LoadPrincipalDirectory(
    const std::string& principals_path,
    const std::vector<Jurisdiction>& jurisdictions) {
  return Loader().LoadDirectory(principals_path, &jurisdictions, "");
}

absl::StatusOr<Deployment> ParseDeployment(absl::string_view yaml,
                                           const std::string& name) {
  return Loader().Load(yaml, name);
}

std::vector<std::string> DeploymentConfigKeys() {
  return ExpandKeySets(kAllKeySets);
}

absl::StatusOr<Deployment> LoadDeployment(const std::string& path) {
  CLOVER_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  return ParseDeployment(text, path);
}

namespace {

// Splits a libpq keyword/value string into its pairs ('quoted values' with
// \-escapes, as libpq reads them).
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> DsnPairs(
    absl::string_view dsn) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t i = 0;
  auto skip_space = [&] {
    while (i < dsn.size() && absl::ascii_isspace(dsn[i])) ++i;
  };
  while (true) {
    skip_space();
    if (i >= dsn.size()) break;
    size_t k = i;
    while (i < dsn.size() && dsn[i] != '=' && !absl::ascii_isspace(dsn[i])) ++i;
    std::string key(dsn.substr(k, i - k));
    skip_space();
    if (i >= dsn.size() || dsn[i] != '=') {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot read the DSN: '", key, "' has no '='"));
    }
    ++i;
    skip_space();
    std::string value;
    if (i < dsn.size() && dsn[i] == '\'') {
      ++i;
      while (i < dsn.size() && dsn[i] != '\'') {
        if (dsn[i] == '\\' && i + 1 < dsn.size()) ++i;
        value.push_back(dsn[i++]);
      }
      if (i >= dsn.size()) {
        return absl::InvalidArgumentError(
            "cannot read the DSN: unterminated quoted value");
      }
      ++i;
    } else {
      while (i < dsn.size() && !absl::ascii_isspace(dsn[i])) {
        if (dsn[i] == '\\' && i + 1 < dsn.size()) ++i;
        value.push_back(dsn[i++]);
      }
    }
    out.emplace_back(std::move(key), std::move(value));
  }
  return out;
}

}  // namespace

absl::StatusOr<std::vector<DsnHost>> ParseDsnHosts(absl::string_view dsn) {
  std::vector<std::string> hosts, ports;
  if (absl::StartsWith(dsn, "postgresql://") ||
      absl::StartsWith(dsn, "postgres://")) {
    absl::string_view rest = dsn.substr(dsn.find("://") + 3);
    size_t end = rest.find_first_of("/?");
    absl::string_view authority = rest.substr(0, end);
    if (size_t at = authority.rfind('@'); at != absl::string_view::npos) {
      authority = authority.substr(at + 1);
    }
    if (end != absl::string_view::npos &&
        absl::StrContains(rest.substr(end), "host")) {
      // host=/hostaddr= in the query would override the authority.
      return absl::InvalidArgumentError(
          "a URI DSN must name its hosts in the authority, not the query");
    }
    for (absl::string_view part : absl::StrSplit(authority, ',')) {
      if (part.empty()) continue;
      std::string host(part), port;
      size_t colon = part.rfind(':');
      if (!part.empty() && part.front() == '[') {
        size_t close = part.find(']');
        if (close == absl::string_view::npos) {
          return absl::InvalidArgumentError("cannot read the DSN's hosts");
        }
        host = std::string(part.substr(1, close - 1));
        if (close + 1 < part.size() && part[close + 1] == ':') {
          port = std::string(part.substr(close + 2));
        }
      } else if (colon != absl::string_view::npos) {
        host = std::string(part.substr(0, colon));
        port = std::string(part.substr(colon + 1));
      }
      hosts.push_back(host);
      ports.push_back(port.empty() ? "5432" : port);
    }
  } else {
    CLOVER_ASSIGN_OR_RETURN(auto pairs, DsnPairs(dsn));
    for (const auto& [k, v] : pairs) {
      if (k == "host" || k == "hostaddr") {
        // libpq connects to hostaddr when both are given; either names where
        // the data goes, so both must be declared.
        for (absl::string_view h : absl::StrSplit(v, ',')) {
          hosts.push_back(std::string(h));
        }
      } else if (k == "port") {
        ports = absl::StrSplit(v, ',');
      } else if (k == "service") {
        return absl::InvalidArgumentError(
            "a service= DSN hides its hosts in a service file: name them");
      }
    }
    // One port for all hosts, or one per host (libpq's rule); the hosts of
    // hostaddr= pair with the same ports.
    std::vector<std::string> expanded;
    for (size_t i = 0; i < hosts.size(); ++i) {
      std::string port = ports.size() == 1 ? ports[0]
                         : ports.empty()   ? ""
                                           : ports[i % ports.size()];
      expanded.push_back(port.empty() ? "5432" : port);
    }
    ports = std::move(expanded);
  }
  std::vector<DsnHost> out;
  for (size_t i = 0; i < hosts.size(); ++i) {
    if (hosts[i].empty()) {
      return absl::InvalidArgumentError(
          "the DSN has an empty host: libpq would pick a default one");
    }
    out.push_back({hosts[i], ports[i]});
  }
  if (out.empty()) {
    return absl::InvalidArgumentError(
        "the DSN names no host: libpq would pick a default one; name them");
  }
  return out;
}

bool DbHostMatches(const std::vector<std::string>& db_hosts, const DsnHost& h) {
  for (const std::string& e : db_hosts) {
    std::string host = e, port;
    if (!e.empty() && e.front() == '[') {
      size_t close = e.find(']');
      if (close == std::string::npos) continue;
      host = e.substr(1, close - 1);
      if (close + 1 < e.size() && e[close + 1] == ':') {
        port = e.substr(close + 2);
      }
    } else if (!e.empty() && e.front() != '/' &&
               std::count(e.begin(), e.end(), ':') == 1) {
      host = e.substr(0, e.find(':'));
      port = e.substr(e.find(':') + 1);
    }
    if (host == h.host && (port.empty() || port == h.port)) return true;
  }
  return false;
}

std::string DescribeTopology(const Deployment& d) {
  std::string out;
  absl::StrAppend(&out, "Deployment ", d.source_file, "\n");
  if (d.node.has_value()) {
    absl::StrAppend(&out, "This node: ", d.node->id, " in DC ", d.node->dc,
                    " of region ", d.node->region, ", listening on ",
                    d.node->listen_host, ":", d.node->listen_port, ", data in ",
                    d.node->data_dir, "\n");
  }
  absl::StrAppend(&out, "\nRegions (where data lives):\n");
  for (const auto& r : d.regions) {
    absl::StrAppend(&out, "  ", r.id, ":\n");
    for (const auto& dc : r.dcs) {
      absl::StrAppend(&out, "    DC ", dc.id, " (", dc.country, ") ",
                      dc.endpoint, "\n");
    }
    for (const auto& jid : r.jurisdictions) {
      const Jurisdiction* j = d.FindJurisdiction(jid);
      absl::StrAppend(&out, "    stores users of ", jid, " (", j->name,
                      "): ", absl::StrJoin(j->countries, " "), "\n");
    }
  }
  std::vector<std::string> homeless;
  for (const auto& j : d.jurisdictions) {
    if (d.HomeRegionOfJurisdiction(j.id) == nullptr) homeless.push_back(j.id);
  }
  if (!homeless.empty()) {
    absl::StrAppend(&out, "  no region (writes refused): ",
                    absl::StrJoin(homeless, ", "), "\n");
  }
  absl::StrAppend(&out, "\nSchema: ", d.schema.fields.size(), " fields\n");
  for (const auto& f : d.schema.fields) {
    absl::StrAppend(&out, "  ", f.name, " [", f.category,
                    f.restricted ? ", restricted" : "", "] ",
                    ToString(f.format), " -> ", ToString(f.method), "\n");
  }
  absl::StrAppend(&out, "\nPrincipals: ", d.principals.size(), "\n");
  for (const auto& p : d.principals) {
    absl::StrAppend(&out, "  ", p.id, " (", ToString(p.kind), ", ", p.org,
                    ", roles ", absl::StrJoin(p.roles, "/"), ") works in ",
                    p.country, " -> jurisdiction ", p.jurisdiction, "\n");
  }
  absl::StrAppend(&out, "\nStorage: ", ToString(d.storage.driver), "\n");
  return out;
}

}  // namespace clover
