#include "audit/audit_config.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "approvals/attestation.h"
#include "core/config_keys.h"
#include "core/status_macros.h"
#include "core/yaml_error.h"
#include "crypto/secret_key_file.h"
#include "crypto/sha256.h"
#include "crypto/subject_pseudonym.h"
#include "log/note.h"
#include "yaml-cpp/yaml.h"

namespace clover::audit {
namespace {

// Every map the loaders read and the keys they accept (AuditorConfigKeys(),
// WitnessConfigKeys()): a new key goes here, never in an ad-hoc list.
constexpr absl::string_view kTopologyKeysNames[] = {"interval", "regions"};
constexpr KeySet kTopologyKeys{"topology", kTopologyKeysNames};
constexpr absl::string_view kTopologyRegionKeysNames[] = {
    "region", "patroni_urls", "dsn_file", "dcs"};
constexpr KeySet kTopologyRegionKeys{"topology.regions[]",
                                     kTopologyRegionKeysNames};
constexpr absl::string_view kTopologyDcKeysNames[] = {"id", "db_hosts"};
constexpr KeySet kTopologyDcKeys{"topology.regions[].dcs[]",
                                 kTopologyDcKeysNames};
constexpr absl::string_view kFlowsKeysNames[] = {"regions", "retention",
                                                 "entry_retention"};
constexpr KeySet kFlowsKeys{"flows", kFlowsKeysNames};
constexpr absl::string_view kMigrationKeysNames[] = {"interval", "sources"};
constexpr KeySet kMigrationKeys{"migration", kMigrationKeysNames};
constexpr absl::string_view kMigrationSourceKeysNames[] = {
    "source", "dsn_file", "table", "key_column"};
constexpr KeySet kMigrationSourceKeys{"migration.sources[]",
                                      kMigrationSourceKeysNames};
constexpr absl::string_view kApiTokenKeysNames[] = {"name", "role", "sha256",
                                                    "token_file"};
constexpr KeySet kApiTokenKeys{"auditor.api_tokens[]", kApiTokenKeysNames};
constexpr absl::string_view kWitnessRootKeysNames[] = {"witness", "logs"};
constexpr KeySet kWitnessRootKeys{"", kWitnessRootKeysNames};
constexpr absl::string_view kWitnessKeysNames[] = {"listen", "data_dir",
                                                   "key_file"};
constexpr KeySet kWitnessKeys{"witness", kWitnessKeysNames};
constexpr absl::string_view kWitnessLogKeysNames[] = {"origin", "verifier_keys",
                                                      "verifier_key_files"};
constexpr KeySet kWitnessLogKeys{"logs[]", kWitnessLogKeysNames};
constexpr absl::string_view kRootKeysNames[] = {
    "auditor",   "logs",      "policies", "principals", "approvals", "canaries",
    "detectors", "incidents", "topology", "releases",   "migration", "flows"};
constexpr KeySet kRootKeys{"", kRootKeysNames};
constexpr absl::string_view kAuditorKeysNames[] = {"name",
                                                   "listen",
                                                   "data_dir",
                                                   "witness_key_file",
                                                   "journal_key_file",
                                                   "journal_origin",
                                                   "admin_token_sha256",
                                                   "admin_token_file",
                                                   "api_tokens",
                                                   "insecure_no_auth",
                                                   "poll_interval",
                                                   "history_check"};
constexpr KeySet kAuditorKeys{"auditor", kAuditorKeysNames};
constexpr absl::string_view kHistoryCheckKeysNames[] = {"bundles_per_poll"};
constexpr KeySet kHistoryCheckKeys{"auditor.history_check",
                                   kHistoryCheckKeysNames};
constexpr absl::string_view kLogKeysNames[] = {"origin",
                                               "url",
                                               "verifier_keys",
                                               "verifier_key_files",
                                               "traffic_metrics_url",
                                               "region"};
constexpr KeySet kLogKeys{"logs[]", kLogKeysNames};
constexpr absl::string_view kReleaseKeysNames[] = {
    "origin",  "url",       "verifier_keys",  "verifier_key_files",
    "ca_file", "max_delay", "pending_timeout"};
constexpr KeySet kReleaseKeys{"releases[]", kReleaseKeysNames};
constexpr absl::string_view kPoliciesKeysNames[] = {
    "bundles", "auditor_keys", "auditor_key_files", "signing_key_file"};
constexpr KeySet kPoliciesKeys{"policies", kPoliciesKeysNames};
constexpr absl::string_view kPrincipalsKeysNames[] = {"file", "jurisdictions"};
constexpr KeySet kPrincipalsKeys{"principals", kPrincipalsKeysNames};
constexpr absl::string_view kApprovalsKeysNames[] = {
    "approvers", "attestation_keys", "attestation_key_files", "desk"};
constexpr KeySet kApprovalsKeys{"approvals", kApprovalsKeysNames};
constexpr absl::string_view kDeskKeysNames[] = {
    "principal", "attestation_key_file", "nodes"};
constexpr KeySet kDeskKeys{"approvals.desk", kDeskKeysNames};
constexpr absl::string_view kDeskNodeKeysNames[] = {"name", "url",
                                                    "api_key_file", "ca_file"};
constexpr KeySet kDeskNodeKeys{"approvals.desk.nodes[]", kDeskNodeKeysNames};
constexpr absl::string_view kCanaryKeysNames[] = {
    "pseudonym_key_file", "subjects", "pseudonyms", "planted_by"};
constexpr KeySet kCanaryKeys{"canaries[]", kCanaryKeysNames};
constexpr absl::string_view kDetectorsKeysNames[] = {
    "bulk_access",         "bulk_erasure",      "denial_burst",
    "restricted_transfer", "log_stalled_after", "traffic_metric",
    "erasure_purge"};
constexpr KeySet kDetectorsKeys{"detectors", kDetectorsKeysNames};
constexpr absl::string_view kErasurePurgeKeysNames[] = {"window", "slack"};
constexpr KeySet kErasurePurgeKeys{"detectors.erasure_purge",
                                   kErasurePurgeKeysNames};
constexpr absl::string_view kIncidentsKeysNames[] = {"jsonl_file", "webhook"};
constexpr KeySet kIncidentsKeys{"incidents", kIncidentsKeysNames};
constexpr absl::string_view kWebhookKeysNames[] = {"url", "secret_file"};
constexpr KeySet kWebhookKeys{"incidents.webhook", kWebhookKeysNames};
constexpr absl::string_view kBulkAccessKeysNames[] = {"subjects", "window"};
constexpr KeySet kBulkAccessKeys{"detectors.bulk_access", kBulkAccessKeysNames};
constexpr absl::string_view kBulkErasureKeysNames[] = {"subjects", "window"};
constexpr KeySet kBulkErasureKeys{"detectors.bulk_erasure",
                                  kBulkErasureKeysNames};
constexpr absl::string_view kDenialBurstKeysNames[] = {"count", "window"};
constexpr KeySet kDenialBurstKeys{"detectors.denial_burst",
                                  kDenialBurstKeysNames};
constexpr const KeySet* kAuditorKeySets[] = {&kRootKeys,
                                             &kAuditorKeys,
                                             &kApiTokenKeys,
                                             &kHistoryCheckKeys,
                                             &kLogKeys,
                                             &kReleaseKeys,
                                             &kPoliciesKeys,
                                             &kPrincipalsKeys,
                                             &kApprovalsKeys,
                                             &kDeskKeys,
                                             &kDeskNodeKeys,
                                             &kCanaryKeys,
                                             &kDetectorsKeys,
                                             &kBulkAccessKeys,
                                             &kBulkErasureKeys,
                                             &kDenialBurstKeys,
                                             &kErasurePurgeKeys,
                                             &kTopologyKeys,
                                             &kTopologyRegionKeys,
                                             &kTopologyDcKeys,
                                             &kMigrationKeys,
                                             &kMigrationSourceKeys,
                                             &kIncidentsKeys,
                                             &kWebhookKeys,
                                             &kFlowsKeys};
constexpr const KeySet* kWitnessKeySets[] = {&kWitnessRootKeys, &kWitnessKeys,
                                             &kWitnessLogKeys};

class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {
    dir_ = std::filesystem::path(file_).parent_path().string();
  }

  absl::Status Error(const YAML::Node& n, absl::string_view field,
                     absl::string_view msg) const {
    return YamlError(file_, n, field, msg);
  }

  absl::Status Keys(const YAML::Node& n, absl::string_view field,
                    const KeySet& allowed) const {
    if (!n.IsMap()) return Error(n, field, "must be a mapping");
    for (const auto& kv : n) {
      const std::string k = kv.first.as<std::string>();
      if (!allowed.Allows(k)) {
        return Error(kv.first, field.empty() ? k : absl::StrCat(field, ".", k),
                     "unknown key");
      }
    }
    return absl::OkStatus();
  }

  absl::Status Str(const YAML::Node& parent, const char* key,
                   absl::string_view field, bool required,
                   std::string* out) const {
    const YAML::Node n = parent[key];
    if (!n)
      return required ? Error(parent, field, "missing") : absl::OkStatus();
    if (!n.IsScalar()) return Error(n, field, "must be a string");
    *out = n.as<std::string>();
    if (required && out->empty()) return Error(n, field, "must not be empty");
    return absl::OkStatus();
  }

  absl::Status Path(const YAML::Node& parent, const char* key,
                    absl::string_view field, bool required,
                    std::string* out) const {
    CLOVER_RETURN_IF_ERROR(Str(parent, key, field, required, out));
    if (!out->empty()) *out = Resolve(*out);
    return absl::OkStatus();
  }

  absl::Status Duration(const YAML::Node& parent, const char* key,
                        absl::string_view field, absl::Duration* out) const {
    const YAML::Node n = parent[key];
    if (!n) return absl::OkStatus();
    if (!n.IsScalar() || !absl::ParseDuration(n.as<std::string>(), out) ||
        *out <= absl::ZeroDuration() || *out == absl::InfiniteDuration()) {
      return Error(n, field, "must be a positive duration such as \"10m\"");
    }
    return absl::OkStatus();
  }

  // A retention: a duration ("9600h") or whole days ("400d").
  absl::Status Retention(const YAML::Node& parent, const char* key,
                         absl::string_view field, absl::Duration* out) const {
    const YAML::Node n = parent[key];
    if (!n) return absl::OkStatus();
    int64_t days = 0;
    if (n.IsScalar()) {
      absl::string_view v = n.Scalar();
      if (absl::ConsumeSuffix(&v, "d") && absl::SimpleAtoi(v, &days) &&
          days > 0 && days <= 100 * 366) {
        *out = absl::Hours(24 * days);
        return absl::OkStatus();
      }
    }
    CLOVER_RETURN_IF_ERROR(Duration(parent, key, field, out));
    if (*out < absl::Hours(1)) return Error(n, field, "must be at least 1h");
    return absl::OkStatus();
  }

  // `flows: {regions: {REGION: [JURISDICTION, ...]}, retention,
  // entry_retention}`.
  absl::Status Flows(const YAML::Node& fl, AuditorConfig* c) const {
    CLOVER_RETURN_IF_ERROR(Keys(fl, "flows", kFlowsKeys));
    if (const YAML::Node rg = fl["regions"]) {
      if (!rg.IsMap()) {
        return Error(rg, "flows.regions",
                     "must map each region to its jurisdictions");
      }
      for (const auto& kvp : rg) {
        const std::string region = kvp.first.as<std::string>();
        const std::string f = absl::StrCat("flows.regions.", region);
        if (region.empty() || region.find('\x1f') != std::string::npos) {
          return Error(kvp.first, "flows.regions",
                       "a region id: not empty, no control characters");
        }
        if (!kvp.second.IsSequence()) {
          return Error(kvp.second, f, "must be a list of jurisdictions");
        }
        for (const YAML::Node& j : kvp.second) {
          if (!j.IsScalar() || j.Scalar().empty()) {
            return Error(j, f, "must be a list of jurisdictions");
          }
          if (!c->flows.destination_regions.emplace(j.Scalar(), region)
                   .second) {
            return Error(j, f, "jurisdiction listed under two regions");
          }
        }
      }
    }
    CLOVER_RETURN_IF_ERROR(
        Retention(fl, "retention", "flows.retention", &c->flows.retention));
    CLOVER_RETURN_IF_ERROR(Retention(fl, "entry_retention",
                                     "flows.entry_retention",
                                     &c->flows.entry_retention));
    return absl::OkStatus();
  }

  absl::Status Uint(const YAML::Node& parent, const char* key,
                    absl::string_view field, uint64_t* out) const {
    const YAML::Node n = parent[key];
    if (!n) return absl::OkStatus();
    if (!n.IsScalar() || !absl::SimpleAtoi(n.as<std::string>(), out) ||
        *out == 0) {
      return Error(n, field, "must be a positive integer");
    }
    return absl::OkStatus();
  }

  // A detector's `{<count_key>: N, window: D}` section under `detectors`;
  // `keys` is {count_key, "window"}.
  absl::Status CountWindow(const YAML::Node& detectors, const char* name,
                           const KeySet& keys, uint64_t* count,
                           absl::Duration* window) const {
    const YAML::Node n = detectors[name];
    if (!n) return absl::OkStatus();
    const std::string field = absl::StrCat("detectors.", name);
    const std::string count_key(keys.keys[0]);
    CLOVER_RETURN_IF_ERROR(Keys(n, field, keys));
    CLOVER_RETURN_IF_ERROR(
        Uint(n, count_key.c_str(), absl::StrCat(field, ".", count_key), count));
    return Duration(n, "window", field + ".window", window);
  }

  absl::Status StrList(const YAML::Node& parent, const char* key,
                       absl::string_view field,
                       std::vector<std::string>* out) const {
    const YAML::Node n = parent[key];
    if (!n) return absl::OkStatus();
    if (!n.IsSequence()) return Error(n, field, "must be a list of strings");
    for (const auto& item : n) {
      if (!item.IsScalar())
        return Error(item, field, "must be a list of strings");
      out->push_back(item.as<std::string>());
    }
    return absl::OkStatus();
  }

  // `topology: {interval, regions: [{region, patroni_urls, dsn_file, dcs}]}`
  // (audit/topology_watch.h).
  absl::Status Topology(const YAML::Node& t, AuditorConfig* c) const {
    CLOVER_RETURN_IF_ERROR(Keys(t, "topology", kTopologyKeys));
    CLOVER_RETURN_IF_ERROR(
        Duration(t, "interval", "topology.interval", &c->topology_interval));
    const YAML::Node regions = t["regions"];
    if (!regions || !regions.IsSequence() || regions.size() == 0) {
      return Error(regions ? regions : t, "topology.regions",
                   "must list at least one region");
    }
    for (size_t i = 0; i < regions.size(); ++i) {
      const YAML::Node g = regions[i];
      const std::string f = absl::StrCat("topology.regions[", i, "]");
      CLOVER_RETURN_IF_ERROR(Keys(g, f, kTopologyRegionKeys));
      RegionTopologyConfig rc;
      CLOVER_RETURN_IF_ERROR(
          Str(g, "region", f + ".region", true, &rc.region.id));
      for (const RegionTopologyConfig& other : c->topology) {
        if (other.region.id == rc.region.id)
          return Error(g["region"], f + ".region", "listed twice");
      }
      CLOVER_RETURN_IF_ERROR(
          StrList(g, "patroni_urls", f + ".patroni_urls", &rc.patroni_urls));
      if (rc.patroni_urls.empty()) {
        return Error(g["patroni_urls"] ? g["patroni_urls"] : g,
                     f + ".patroni_urls",
                     "must list at least one Patroni REST API URL");
      }
      for (const std::string& u : rc.patroni_urls) {
        if (!absl::StartsWith(u, "http://") &&
            !absl::StartsWith(u, "https://")) {
          return Error(g["patroni_urls"], f + ".patroni_urls",
                       "each must be an http:// or https:// URL");
        }
      }
      std::string dsn_file;
      CLOVER_RETURN_IF_ERROR(
          Path(g, "dsn_file", f + ".dsn_file", false, &dsn_file));
      if (!dsn_file.empty()) {
        // A DSN may hold a password: a secret file, never echoed.
        absl::StatusOr<std::string> dsn = ReadKeyFile(dsn_file, true);
        if (!dsn.ok())
          return Error(g["dsn_file"], f + ".dsn_file", dsn.status().message());
        rc.dsn = *std::move(dsn);
      }
      const YAML::Node dcs = g["dcs"];
      if (!dcs || !dcs.IsSequence() || dcs.size() == 0) {
        return Error(dcs ? dcs : g, f + ".dcs",
                     "must list the region's data centres");
      }
      for (size_t k = 0; k < dcs.size(); ++k) {
        const std::string fd = absl::StrCat(f, ".dcs[", k, "]");
        CLOVER_RETURN_IF_ERROR(Keys(dcs[k], fd, kTopologyDcKeys));
        DataCenter dc;
        CLOVER_RETURN_IF_ERROR(Str(dcs[k], "id", fd + ".id", true, &dc.id));
        for (const DataCenter& other : rc.region.dcs) {
          if (other.id == dc.id)
            return Error(dcs[k]["id"], fd + ".id", "listed twice");
        }
        CLOVER_RETURN_IF_ERROR(
            StrList(dcs[k], "db_hosts", fd + ".db_hosts", &dc.db_hosts));
        rc.region.dcs.push_back(std::move(dc));
      }
      c->topology.push_back(std::move(rc));
    }
    return absl::OkStatus();
  }

  // `migration: {interval, sources: [{source, dsn_file, table, key_column}]}`
  // (audit/legacy_check.h).
  absl::Status Migration(const YAML::Node& m, AuditorConfig* c) const {
    CLOVER_RETURN_IF_ERROR(Keys(m, "migration", kMigrationKeys));
    CLOVER_RETURN_IF_ERROR(
        Duration(m, "interval", "migration.interval", &c->migration.interval));
    const YAML::Node sources = m["sources"];
    if (!sources) return absl::OkStatus();
    if (!sources.IsSequence())
      return Error(sources, "migration.sources", "must be a list");
    for (size_t i = 0; i < sources.size(); ++i) {
      const YAML::Node s = sources[i];
      const std::string f = absl::StrCat("migration.sources[", i, "]");
      CLOVER_RETURN_IF_ERROR(Keys(s, f, kMigrationSourceKeys));
      MigrationSource ms;
      CLOVER_RETURN_IF_ERROR(Str(s, "source", f + ".source", true, &ms.source));
      if (!absl::StartsWith(ms.source, "postgres:")) {
        return Error(s["source"], f + ".source",
                     "must name a PostgreSQL source (\"postgres:...\"); a file "
                     "source cannot be read again");
      }
      for (const MigrationSource& other : c->migration.sources) {
        if (other.source == ms.source)
          return Error(s["source"], f + ".source", "listed twice");
      }
      std::string dsn_file;
      CLOVER_RETURN_IF_ERROR(
          Path(s, "dsn_file", f + ".dsn_file", true, &dsn_file));
      // A DSN may hold a password: a secret file, never echoed.
      absl::StatusOr<std::string> dsn = ReadKeyFile(dsn_file, true);
      if (!dsn.ok())
        return Error(s["dsn_file"], f + ".dsn_file", dsn.status().message());
      ms.dsn = *std::move(dsn);
      CLOVER_RETURN_IF_ERROR(Str(s, "table", f + ".table", true, &ms.table));
      if (!IsPlainSqlIdentifier(ms.table, true)) {
        return Error(s["table"], f + ".table",
                     "must be an identifier (letters, digits, _), optionally "
                     "schema-qualified");
      }
      CLOVER_RETURN_IF_ERROR(
          Str(s, "key_column", f + ".key_column", true, &ms.key_column));
      if (!IsPlainSqlIdentifier(ms.key_column, false)) {
        return Error(s["key_column"], f + ".key_column",
                     "must be an identifier (letters, digits, _)");
      }
      c->migration.sources.push_back(std::move(ms));
    }
    return absl::OkStatus();
  }

  // A key given inline (`key`) or in a file (`key_file`); both forms appear in
  // lists.
  absl::Status KeyStrings(const YAML::Node& parent, const char* inline_key,
                          const char* file_key, absl::string_view field,
                          std::vector<std::string>* out) const {
    CLOVER_RETURN_IF_ERROR(StrList(parent, inline_key, field, out));
    std::vector<std::string> files;
    CLOVER_RETURN_IF_ERROR(StrList(parent, file_key, field, &files));
    for (const std::string& f : files) {
      absl::StatusOr<std::string> k = ReadKeyFile(Resolve(f), false);
      if (!k.ok()) return Error(parent[file_key], field, k.status().message());
      out->push_back(*std::move(k));
    }
    return absl::OkStatus();
  }

  // One credential's token: its hex SHA-256 under `hash_key`, or the token
  // itself in the secret file under `file_key` (exactly one of the two).
  absl::Status Credential(const YAML::Node& n, const char* hash_key,
                          const char* file_key, absl::string_view field,
                          ApiCredential* out) const {
    std::string hex, file;
    CLOVER_RETURN_IF_ERROR(
        Str(n, hash_key, absl::StrCat(field, hash_key), false, &hex));
    CLOVER_RETURN_IF_ERROR(
        Path(n, file_key, absl::StrCat(field, file_key), false, &file));
    if (!hex.empty() && !file.empty()) {
      return Error(n[file_key], absl::StrCat(field, file_key),
                   absl::StrCat("give either ", hash_key, " or ", file_key));
    }
    if (!hex.empty()) {
      bool is_hex = hex.size() == 64;
      for (char ch : hex) is_hex &= absl::ascii_isxdigit(ch) != 0;
      if (!is_hex) {
        return Error(n[hash_key], absl::StrCat(field, hash_key),
                     "must be the 64 hex digits of the token's SHA-256");
      }
      out->sha256 = absl::HexStringToBytes(hex);
      return absl::OkStatus();
    }
    if (!file.empty()) {
      absl::StatusOr<std::string> token = ReadKeyFile(file, true);
      absl::StatusOr<ApiCredential> cred =
          token.ok() ? CredentialForToken(out->name, out->role, *token)
                     : token.status();
      if (!cred.ok()) {
        return Error(n[file_key], absl::StrCat(field, file_key),
                     cred.status().message());
      }
      *out = *std::move(cred);
    }
    return absl::OkStatus();
  }

  // approvals.desk: the auditor's client identity at the approval endpoints.
  absl::Status Desk(const YAML::Node& dk, ApprovalDeskConfig* out) const {
    CLOVER_RETURN_IF_ERROR(Keys(dk, "approvals.desk", kDeskKeys));
    CLOVER_RETURN_IF_ERROR(Str(dk, "principal", "approvals.desk.principal",
                               true, &out->principal));
    std::string key_file;
    CLOVER_RETURN_IF_ERROR(Path(dk, "attestation_key_file",
                                "approvals.desk.attestation_key_file", true,
                                &key_file));
    absl::StatusOr<std::string> key = ReadKeyFile(key_file, true);
    if (!key.ok()) {
      return Error(dk["attestation_key_file"],
                   "approvals.desk.attestation_key_file",
                   key.status().message());
    }
    if (!log::VerifierKeyFromSignerKey(*key).ok()) {
      return Error(dk["attestation_key_file"],
                   "approvals.desk.attestation_key_file",
                   "not a note signing key (type 0x01)");
    }
    out->attestation_signer_key = *std::move(key);
    const YAML::Node list = dk["nodes"];
    if (!list || !list.IsSequence() || list.size() == 0) {
      return Error(dk, "approvals.desk.nodes", "must list at least one node");
    }
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string f = absl::StrCat("approvals.desk.nodes[", i, "]");
      CLOVER_RETURN_IF_ERROR(Keys(list[i], f, kDeskNodeKeys));
      ApprovalDeskNode n;
      CLOVER_RETURN_IF_ERROR(Str(list[i], "name", f + ".name", true, &n.name));
      CLOVER_RETURN_IF_ERROR(Str(list[i], "url", f + ".url", true, &n.url));
      if (!absl::StartsWith(n.url, "http://") &&
          !absl::StartsWith(n.url, "https://")) {
        return Error(list[i]["url"], f + ".url", "must be http(s)://host:port");
      }
      std::string api_key_file;
      CLOVER_RETURN_IF_ERROR(Path(list[i], "api_key_file", f + ".api_key_file",
                                  true, &api_key_file));
      absl::StatusOr<std::string> api_key = ReadKeyFile(api_key_file, true);
      if (!api_key.ok()) {
        return Error(list[i]["api_key_file"], f + ".api_key_file",
                     api_key.status().message());
      }
      n.api_key = *std::move(api_key);
      CLOVER_RETURN_IF_ERROR(
          Path(list[i], "ca_file", f + ".ca_file", false, &n.ca_file));
      for (const ApprovalDeskNode& other : out->nodes) {
        if (other.name == n.name)
          return Error(list[i]["name"], f + ".name", "listed twice");
      }
      out->nodes.push_back(std::move(n));
    }
    return absl::OkStatus();
  }

  absl::Status ApiCredentials(const YAML::Node& a, AuditorConfig* c) const {
    ApiCredential admin{"admin", ApiRole::kAdmin, ""};
    CLOVER_RETURN_IF_ERROR(Credential(a, "admin_token_sha256",
                                      "admin_token_file", "auditor.", &admin));
    if (!admin.sha256.empty()) c->api_credentials.push_back(std::move(admin));
    if (const YAML::Node list = a["api_tokens"]) {
      if (!list.IsSequence())
        return Error(list, "auditor.api_tokens", "must be a list");
      for (size_t i = 0; i < list.size(); ++i) {
        const YAML::Node t = list[i];
        const std::string f = absl::StrCat("auditor.api_tokens[", i, "].");
        CLOVER_RETURN_IF_ERROR(Keys(
            t, absl::StrCat("auditor.api_tokens[", i, "]"), kApiTokenKeys));
        ApiCredential cred;
        CLOVER_RETURN_IF_ERROR(Str(t, "name", f + "name", true, &cred.name));
        std::string role;
        CLOVER_RETURN_IF_ERROR(Str(t, "role", f + "role", true, &role));
        if (role == "admin") {
          cred.role = ApiRole::kAdmin;
        } else if (role == "read") {
          cred.role = ApiRole::kRead;
        } else {
          return Error(t["role"], f + "role", "must be admin or read");
        }
        CLOVER_RETURN_IF_ERROR(Credential(t, "sha256", "token_file", f, &cred));
        if (cred.sha256.empty())
          return Error(t, f + "sha256", "missing (or token_file)");
        for (const ApiCredential& other : c->api_credentials) {
          if (other.name == cred.name)
            return Error(t["name"], f + "name", "listed twice");
          if (other.sha256 == cred.sha256)
            return Error(t, f + "sha256", "same token as another credential");
        }
        c->api_credentials.push_back(std::move(cred));
      }
    }
    if (const YAML::Node b = a["insecure_no_auth"]) {
      if (!b.IsScalar() ||
          (b.as<std::string>() != "true" && b.as<std::string>() != "false")) {
        return Error(b, "auditor.insecure_no_auth", "must be true or false");
      }
      c->insecure_no_auth = b.as<std::string>() == "true";
      if (c->insecure_no_auth && !c->api_credentials.empty()) {
        return Error(b, "auditor.insecure_no_auth",
                     "contradicts the credentials configured");
      }
    }
    return absl::OkStatus();
  }

  std::string Resolve(const std::string& p) const {
    if (p.empty() || p[0] == '/') return p;
    return (std::filesystem::path(dir_) / p).lexically_normal().string();
  }

  const std::string& file() const { return file_; }

  // A followed log's origin, url and verifier keys (each key must parse).
  absl::Status Log(const YAML::Node& l, const std::string& f,
                   FollowedLog* out) const {
    CLOVER_RETURN_IF_ERROR(Str(l, "origin", f + ".origin", true, &out->origin));
    CLOVER_RETURN_IF_ERROR(Str(l, "url", f + ".url", true, &out->url));
    CLOVER_RETURN_IF_ERROR(KeyStrings(l, "verifier_keys", "verifier_key_files",
                                      f + ".verifier_keys",
                                      &out->verifier_keys));
    if (out->verifier_keys.empty())
      return Error(l, f + ".verifier_keys", "missing");
    for (const std::string& k : out->verifier_keys) {
      absl::StatusOr<std::unique_ptr<log::NoteVerifier>> v =
          log::ParseVerifierKey(k);
      if (!v.ok()) return Error(l, f + ".verifier_keys", v.status().message());
    }
    return absl::OkStatus();
  }

 private:
  std::string file_;
  std::string dir_;
};

}  // namespace

absl::StatusOr<std::string> ReadKeyFile(const std::string& path, bool secret) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    return absl::NotFoundError(
        absl::StrCat("cannot read key file '", path, "'"));
  }
  if (secret && (st.st_mode & 077) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "secret file '", path, "' is readable by group or others (chmod 600)"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return absl::NotFoundError(
        absl::StrCat("cannot read key file '", path, "'"));
  std::stringstream ss;
  ss << in.rdbuf();
  std::string v = std::string(absl::StripTrailingAsciiWhitespace(ss.str()));
  if (v.empty())
    return absl::InvalidArgumentError(
        absl::StrCat("key file '", path, "' is empty"));
  return v;
}

absl::StatusOr<ApiCredential> CredentialForToken(std::string name, ApiRole role,
                                                 absl::string_view token) {
  if (token.size() < kMinApiTokenLength) {
    return absl::InvalidArgumentError(absl::StrCat(
        "an API token needs at least ", kMinApiTokenLength, " characters"));
  }
  crypto::Sha256Digest d = crypto::Sha256(token);
  return ApiCredential{
      std::move(name), role,
      std::string(reinterpret_cast<const char*>(d.data()), d.size())};
}

absl::StatusOr<std::string> LogPseudonym(const crypto::SecretKey& root,
                                         absl::string_view subject) {
  CLOVER_ASSIGN_OR_RETURN(crypto::SecretKey key,
                          crypto::DeriveLogSubjectKey(root));
  return crypto::SubjectPseudonym(key, subject);
}

absl::StatusOr<WitnessConfig> LoadWitnessConfig(const std::string& path) {
  CLOVER_ASSIGN_OR_RETURN(YAML::Node root,
                          LoadYamlFile(path, "witness config"));
  const std::string abs =
      std::filesystem::absolute(path).lexically_normal().string();
  Reader r(abs);
  WitnessConfig c;
  c.source_file = abs;
  try {
    CLOVER_RETURN_IF_ERROR(r.Keys(root, "", kWitnessRootKeys));
    const YAML::Node w = root["witness"];
    if (!w) return r.Error(root, "witness", "missing");
    CLOVER_RETURN_IF_ERROR(r.Keys(w, "witness", kWitnessKeys));
    std::string listen;
    CLOVER_RETURN_IF_ERROR(r.Str(w, "listen", "witness.listen", true, &listen));
    size_t colon = listen.rfind(':');
    if (colon == std::string::npos || colon == 0 ||
        !absl::SimpleAtoi(listen.substr(colon + 1), &c.listen_port) ||
        c.listen_port < 0 || c.listen_port > 65535) {
      return r.Error(w["listen"], "witness.listen", "must be HOST:PORT");
    }
    c.listen_host = listen.substr(0, colon);
    CLOVER_RETURN_IF_ERROR(
        r.Path(w, "data_dir", "witness.data_dir", true, &c.data_dir));
    CLOVER_RETURN_IF_ERROR(
        r.Path(w, "key_file", "witness.key_file", true, &c.key_file));
    const YAML::Node logs = root["logs"];
    if (!logs || !logs.IsSequence() || logs.size() == 0) {
      return r.Error(logs ? logs : root, "logs", "must list at least one log");
    }
    for (size_t i = 0; i < logs.size(); ++i) {
      const YAML::Node l = logs[i];
      const std::string f = absl::StrCat("logs[", i, "]");
      CLOVER_RETURN_IF_ERROR(r.Keys(l, f, kWitnessLogKeys));
      FollowedLog fl;
      CLOVER_RETURN_IF_ERROR(
          r.Str(l, "origin", f + ".origin", true, &fl.origin));
      CLOVER_RETURN_IF_ERROR(
          r.KeyStrings(l, "verifier_keys", "verifier_key_files",
                       f + ".verifier_keys", &fl.verifier_keys));
      if (fl.verifier_keys.empty())
        return r.Error(l, f + ".verifier_keys", "missing");
      for (const std::string& k : fl.verifier_keys) {
        absl::StatusOr<std::unique_ptr<log::NoteVerifier>> v =
            log::ParseVerifierKey(k);
        if (!v.ok())
          return r.Error(l, f + ".verifier_keys", v.status().message());
      }
      for (const FollowedLog& other : c.logs) {
        if (other.origin == fl.origin)
          return r.Error(l, f + ".origin", "listed twice");
      }
      c.logs.push_back(std::move(fl));
    }
  } catch (const YAML::Exception& e) {
    return YamlSyntaxError(abs, e);
  }
  return c;
}

std::vector<std::string> AuditorConfigKeys() {
  return ExpandKeySets(kAuditorKeySets);
}

std::vector<std::string> WitnessConfigKeys() {
  return ExpandKeySets(kWitnessKeySets);
}

absl::StatusOr<AuditorConfig> LoadAuditorConfig(const std::string& path) {
  CLOVER_ASSIGN_OR_RETURN(YAML::Node root,
                          LoadYamlFile(path, "auditor config"));
  const std::string abs =
      std::filesystem::absolute(path).lexically_normal().string();
  Reader r(abs);
  AuditorConfig c;
  c.source_file = abs;
  try {
    CLOVER_RETURN_IF_ERROR(r.Keys(root, "", kRootKeys));
    const YAML::Node a = root["auditor"];
    if (!a) return r.Error(root, "auditor", "missing");
    CLOVER_RETURN_IF_ERROR(r.Keys(a, "auditor", kAuditorKeys));
    CLOVER_RETURN_IF_ERROR(r.Str(a, "name", "auditor.name", true, &c.name));
    std::string listen;
    CLOVER_RETURN_IF_ERROR(r.Str(a, "listen", "auditor.listen", true, &listen));
    size_t colon = listen.rfind(':');
    if (colon == std::string::npos ||
        !absl::SimpleAtoi(listen.substr(colon + 1), &c.listen_port) ||
        c.listen_port < 0 || c.listen_port > 65535 || colon == 0) {
      return r.Error(a["listen"], "auditor.listen", "must be HOST:PORT");
    }
    c.listen_host = listen.substr(0, colon);
    CLOVER_RETURN_IF_ERROR(
        r.Path(a, "data_dir", "auditor.data_dir", true, &c.data_dir));
    CLOVER_RETURN_IF_ERROR(r.Path(a, "witness_key_file",
                                  "auditor.witness_key_file", true,
                                  &c.witness_key_file));
    CLOVER_RETURN_IF_ERROR(r.Path(a, "journal_key_file",
                                  "auditor.journal_key_file", true,
                                  &c.journal_key_file));
    CLOVER_RETURN_IF_ERROR(r.Str(a, "journal_origin", "auditor.journal_origin",
                                 false, &c.journal_origin));
    if (c.journal_origin.empty())
      c.journal_origin = absl::StrCat(c.name, "/incidents");
    CLOVER_RETURN_IF_ERROR(r.ApiCredentials(a, &c));
    CLOVER_RETURN_IF_ERROR(r.Duration(
        a, "poll_interval", "auditor.poll_interval", &c.poll_interval));
    if (const YAML::Node h = a["history_check"]) {
      CLOVER_RETURN_IF_ERROR(
          r.Keys(h, "auditor.history_check", kHistoryCheckKeys));
      if (const YAML::Node n = h["bundles_per_poll"]) {
        uint64_t v = 0;
        if (!n.IsScalar() || !absl::SimpleAtoi(n.as<std::string>(), &v) ||
            v > 1024) {
          return r.Error(n, "auditor.history_check.bundles_per_poll",
                         "must be an integer from 0 (off) to 1024");
        }
        c.history_bundles_per_poll = static_cast<int>(v);
      }
    }

    const YAML::Node logs = root["logs"];
    if (!logs || !logs.IsSequence() || logs.size() == 0) {
      return r.Error(logs ? logs : root, "logs", "must list at least one log");
    }
    for (size_t i = 0; i < logs.size(); ++i) {
      const YAML::Node l = logs[i];
      const std::string f = absl::StrCat("logs[", i, "]");
      CLOVER_RETURN_IF_ERROR(r.Keys(l, f, kLogKeys));
      AuditorLogConfig lc;
      CLOVER_RETURN_IF_ERROR(r.Log(l, f, &lc.log));
      CLOVER_RETURN_IF_ERROR(r.Str(l, "traffic_metrics_url",
                                   f + ".traffic_metrics_url", false,
                                   &lc.traffic_metrics_url));
      CLOVER_RETURN_IF_ERROR(
          r.Str(l, "region", f + ".region", false, &lc.region));
      for (const AuditorLogConfig& other : c.logs) {
        if (other.log.origin == lc.log.origin)
          return r.Error(l, f + ".origin", "listed twice");
      }
      c.logs.push_back(std::move(lc));
    }

    if (const YAML::Node rl = root["releases"]) {
      if (!rl.IsSequence()) return r.Error(rl, "releases", "must be a list");
      for (size_t i = 0; i < rl.size(); ++i) {
        const YAML::Node l = rl[i];
        const std::string f = absl::StrCat("releases[", i, "]");
        CLOVER_RETURN_IF_ERROR(r.Keys(l, f, kReleaseKeys));
        ReleaseLogConfig rc;
        CLOVER_RETURN_IF_ERROR(r.Log(l, f, &rc.log));
        CLOVER_RETURN_IF_ERROR(
            r.Path(l, "ca_file", f + ".ca_file", false, &rc.ca_file));
        CLOVER_RETURN_IF_ERROR(
            r.Duration(l, "max_delay", f + ".max_delay", &rc.max_delay));
        CLOVER_RETURN_IF_ERROR(r.Duration(
            l, "pending_timeout", f + ".pending_timeout", &rc.pending_timeout));
        for (const AuditorLogConfig& other : c.logs) {
          if (other.log.origin == rc.log.origin)
            return r.Error(l, f + ".origin", "is also a decision log");
        }
        for (const ReleaseLogConfig& other : c.releases) {
          if (other.log.origin == rc.log.origin)
            return r.Error(l, f + ".origin", "listed twice");
        }
        c.releases.push_back(std::move(rc));
      }
    }

    const YAML::Node p = root["policies"];
    if (!p) return r.Error(root, "policies", "missing");
    CLOVER_RETURN_IF_ERROR(r.Keys(p, "policies", kPoliciesKeys));
    CLOVER_RETURN_IF_ERROR(
        r.StrList(p, "bundles", "policies.bundles", &c.policy_bundles));
    for (std::string& b : c.policy_bundles) b = r.Resolve(b);
    if (c.policy_bundles.empty())
      return r.Error(p, "policies.bundles", "must list a bundle");
    CLOVER_RETURN_IF_ERROR(r.KeyStrings(p, "auditor_keys", "auditor_key_files",
                                        "policies.auditor_keys",
                                        &c.policy_keys));
    if (c.policy_keys.empty())
      return r.Error(p, "policies.auditor_keys", "missing");
    CLOVER_RETURN_IF_ERROR(r.Path(p, "signing_key_file",
                                  "policies.signing_key_file", false,
                                  &c.policy_signing_key_file));
    if (!c.policy_signing_key_file.empty()) {
      absl::StatusOr<std::string> k =
          ReadKeyFile(c.policy_signing_key_file, true);
      if (!k.ok()) {
        return r.Error(p["signing_key_file"], "policies.signing_key_file",
                       k.status().message());
      }
    }

    // Replay decides from the auditor's own signed directory, never from
    // the attributes an entry states: there is no auditor without one.
    const YAML::Node pr = root["principals"];
    if (!pr) {
      return r.Error(root, "principals",
                     "missing: the auditor needs its signed principal "
                     "directory ({file, jurisdictions})");
    }
    CLOVER_RETURN_IF_ERROR(r.Keys(pr, "principals", kPrincipalsKeys));
    CLOVER_RETURN_IF_ERROR(
        r.Path(pr, "file", "principals.file", true, &c.principals_file));
    CLOVER_RETURN_IF_ERROR(r.Path(pr, "jurisdictions",
                                  "principals.jurisdictions", true,
                                  &c.jurisdictions_file));
    // The auditor attests the approvals it issues with the key it signs
    // policies with, unless the config names other keys (or none: []).
    c.attestation_keys = c.policy_keys;
    if (const YAML::Node ap = root["approvals"]) {
      CLOVER_RETURN_IF_ERROR(r.Keys(ap, "approvals", kApprovalsKeys));
      CLOVER_RETURN_IF_ERROR(
          r.StrList(ap, "approvers", "approvals.approvers", &c.approvers));
      if (ap["attestation_keys"] || ap["attestation_key_files"]) {
        c.attestation_keys.clear();
        CLOVER_RETURN_IF_ERROR(
            r.KeyStrings(ap, "attestation_keys", "attestation_key_files",
                         "approvals.attestation_keys", &c.attestation_keys));
        absl::StatusOr<approvals::AttestationVerifier> v =
            approvals::AttestationVerifier::Create(c.attestation_keys);
        if (!v.ok()) {
          return r.Error(ap, "approvals.attestation_keys",
                         v.status().message());
        }
      }
      if (const YAML::Node dk = ap["desk"]) {
        CLOVER_RETURN_IF_ERROR(r.Desk(dk, &c.desk));
      }
    }

    if (const YAML::Node cn = root["canaries"]) {
      if (!cn.IsSequence()) return r.Error(cn, "canaries", "must be a list");
      for (size_t i = 0; i < cn.size(); ++i) {
        const std::string f = absl::StrCat("canaries[", i, "]");
        CLOVER_RETURN_IF_ERROR(r.Keys(cn[i], f, kCanaryKeys));
        CanarySet cs;
        CLOVER_RETURN_IF_ERROR(r.Path(cn[i], "pseudonym_key_file",
                                      f + ".pseudonym_key_file", false,
                                      &cs.pseudonym_key_file));
        CLOVER_RETURN_IF_ERROR(
            r.StrList(cn[i], "subjects", f + ".subjects", &cs.subjects));
        CLOVER_RETURN_IF_ERROR(
            r.StrList(cn[i], "pseudonyms", f + ".pseudonyms", &cs.pseudonyms));
        CLOVER_RETURN_IF_ERROR(
            r.StrList(cn[i], "planted_by", f + ".planted_by", &cs.planted_by));
        if (!cs.subjects.empty()) {
          if (cs.pseudonym_key_file.empty()) {
            return r.Error(cn[i], f + ".pseudonym_key_file",
                           "needed to recognise subjects");
          }
          absl::StatusOr<crypto::SecretKey> key =
              crypto::ReadSecretKeyFile(cs.pseudonym_key_file);
          if (!key.ok())
            return r.Error(cn[i], f + ".pseudonym_key_file",
                           key.status().message());
          for (const std::string& s : cs.subjects) {
            CLOVER_ASSIGN_OR_RETURN(std::string tok, LogPseudonym(*key, s));
            cs.pseudonyms.push_back(std::move(tok));
          }
        }
        for (const std::string& t : cs.pseudonyms)
          c.detectors.canary_pseudonyms.push_back(t);
        for (const std::string& p : cs.planted_by)
          c.detectors.canary_planters.push_back(p);
        c.canaries.push_back(std::move(cs));
      }
    }

    if (const YAML::Node d = root["detectors"]) {
      CLOVER_RETURN_IF_ERROR(r.Keys(d, "detectors", kDetectorsKeys));
      CLOVER_RETURN_IF_ERROR(r.CountWindow(d, "bulk_access", kBulkAccessKeys,
                                           &c.detectors.bulk_subjects,
                                           &c.detectors.bulk_window));
      CLOVER_RETURN_IF_ERROR(r.CountWindow(d, "bulk_erasure", kBulkErasureKeys,
                                           &c.detectors.bulk_erase_subjects,
                                           &c.detectors.bulk_erase_window));
      CLOVER_RETURN_IF_ERROR(r.CountWindow(d, "denial_burst", kDenialBurstKeys,
                                           &c.detectors.denial_burst,
                                           &c.detectors.denial_window));
      if (const YAML::Node b = d["erasure_purge"]) {
        CLOVER_RETURN_IF_ERROR(
            r.Keys(b, "detectors.erasure_purge", kErasurePurgeKeys));
        CLOVER_RETURN_IF_ERROR(r.Duration(
            b, "window", "detectors.erasure_purge.window", &c.erasure.window));
        CLOVER_RETURN_IF_ERROR(r.Duration(
            b, "slack", "detectors.erasure_purge.slack", &c.erasure.slack));
      }
      if (const YAML::Node b = d["restricted_transfer"]) {
        if (!b.IsScalar() ||
            (b.as<std::string>() != "true" && b.as<std::string>() != "false")) {
          return r.Error(b, "detectors.restricted_transfer",
                         "must be true or false");
        }
        c.detectors.restricted_transfer = b.as<std::string>() == "true";
      }
      CLOVER_RETURN_IF_ERROR(r.Duration(d, "log_stalled_after",
                                        "detectors.log_stalled_after",
                                        &c.log_stalled_after));
      CLOVER_RETURN_IF_ERROR(r.Str(d, "traffic_metric",
                                   "detectors.traffic_metric", false,
                                   &c.traffic_metric));
    }

    if (const YAML::Node t = root["topology"]) {
      CLOVER_RETURN_IF_ERROR(r.Topology(t, &c));
    }
    if (const YAML::Node m = root["migration"]) {
      CLOVER_RETURN_IF_ERROR(r.Migration(m, &c));
    }
    if (const YAML::Node fl = root["flows"]) {
      CLOVER_RETURN_IF_ERROR(r.Flows(fl, &c));
    }

    if (const YAML::Node in = root["incidents"]) {
      CLOVER_RETURN_IF_ERROR(r.Keys(in, "incidents", kIncidentsKeys));
      CLOVER_RETURN_IF_ERROR(r.Path(in, "jsonl_file", "incidents.jsonl_file",
                                    false, &c.incidents_jsonl));
      if (const YAML::Node w = in["webhook"]) {
        CLOVER_RETURN_IF_ERROR(r.Keys(w, "incidents.webhook", kWebhookKeys));
        CLOVER_RETURN_IF_ERROR(
            r.Str(w, "url", "incidents.webhook.url", true, &c.webhook_url));
        CLOVER_RETURN_IF_ERROR(r.Path(w, "secret_file",
                                      "incidents.webhook.secret_file", true,
                                      &c.webhook_secret_file));
      }
    }
  } catch (const YAML::Exception& e) {
    return YamlSyntaxError(abs, e);
  }
  return c;
}

}  // namespace clover::audit
